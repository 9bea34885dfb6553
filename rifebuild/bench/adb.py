"""The same benchmark on a phone: push rife-bench and the models with adb, run, pull the JSON back.

The device is `bench.adb_serial`, else $ANDROID_SERIAL; with neither, the phone table says "no device
configured" (the linux-arm64 binary is still checked under qemu by the native stage). The binary is
the android-arm64 build when an NDK built one, else the fully static linux-arm64 one, which runs on
Android too; the android-arm64-vulkan build, when the run has one, is preferred and also times the
phone's GPU (Vulkan device 0): one frame (`bench --gpu 0`) and the throughput of interpolating a
synthetic clip (`interpolate --in-dir --gpu 0`, ms per interpolated frame), per precision. fp32, fp16 and
int8 take turns `rounds` times per size and thread count (GPU: per size); each turn is one
`rife-bench bench` (warm-up runs, then `loops` timed runs) or one clip, and the ratios to fp32 come
from the same rounds and the same device and mode, as on the host.
"""
from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import tempfile
from pathlib import Path

from rifebuild.bench.runner import summary
from rifebuild.bench.suite import write_clips
from rifebuild.core.errors import BenchError
from rifebuild.native.run import bench_args, gpu_args
from rifebuild.native.targets import VULKAN_SUFFIX

REMOTE = "/data/local/tmp/rife-build"
NO_DEVICE = "no device configured (set bench.adb_serial or ANDROID_SERIAL to benchmark a phone)"
PRECISIONS = ("fp32", "fp16", "int8")
# The phone binary, first built first: the Vulkan build also times the GPU; linux-arm64 is static and runs
# on Android too.
PHONE_TARGETS = ("android-arm64-vulkan", "android-arm64", "linux-arm64")
PHONE_GPU = 0  # the phone's Vulkan device


def device_serial(configured: str) -> str | None:
    return configured or os.environ.get("ANDROID_SERIAL") or None


class Adb:
    """adb -s SERIAL ...: every failure is one sentence naming the device and the step."""

    def __init__(self, serial: str):
        self.serial = serial
        self.exe = shutil.which("adb")
        if self.exe is None:
            raise BenchError(f"bench.adb_serial (or ANDROID_SERIAL) names device {serial!r} but `adb` is not on PATH; "
                             "install Android's platform-tools or unset it")

    def __call__(self, *args: str) -> str:
        proc = subprocess.run([self.exe, "-s", self.serial, *args], capture_output=True, text=True)
        if proc.returncode != 0:
            lines = (proc.stderr or proc.stdout).strip().splitlines()
            raise BenchError(f"adb {args[0]} on device {self.serial} failed: {lines[-1] if lines else proc.returncode}")
        return proc.stdout

    def shell(self, command: str) -> str:
        """Run `command` on the device; its exit status is echoed back (old adb does not pass it on)."""
        out = self("shell", f"{command}; echo __rc=$?")
        body, _, rc = out.rstrip().rpartition("__rc=")
        if rc.strip() != "0":
            raise BenchError(f"on device {self.serial}, `{command}` failed (exit status {rc.strip()}): "
                             f"{body.strip().splitlines()[-1] if body.strip() else 'no message'}")
        return body

    def getprop(self, name: str) -> str:
        try:
            return self.shell(f"getprop {name}").strip()
        except BenchError:
            return ""


def connect(serial: str | None, binary: Path | None) -> Adb | None:
    """The configured phone, checked (adb, an arm64 binary, the device attached and ready) before the host's
    timing rounds, so a wrong bench.adb_serial fails at once instead of after them; None: no phone."""
    if not serial:
        return None
    if binary is None:
        raise BenchError(f"bench.adb_serial names device {serial!r} but no arm64 rife-bench is built; add "
                         "linux-arm64 (or android-arm64 with an NDK) to native.targets")
    adb = Adb(serial)
    try:
        state = adb("get-state").strip()
    except BenchError as exc:
        raise BenchError(f"bench.adb_serial (or ANDROID_SERIAL) names device {serial!r}, which adb cannot reach "
                         f"({str(exc).rpartition(': ')[2]}); check `adb devices` or fix the serial") from None
    if state != "device":
        raise BenchError(f"device {serial} is {state!r}, not ready; check `adb devices` (authorize the computer)")
    return adb


def bench_phone(serial: str | None, binary: Path | None, target: str, models: dict[str, Path],
                sizes: list[tuple[int, int]], threads: list[int], warmup: int, loops: int, rounds: int,
                log=print, adb: Adb | None = None, gpu_frames: int = 8, gpu_jobs: int = 3) -> dict:
    """The phone record: results per precision, size, thread count, device and mode, or the no-device
    note. `adb`: the device connect() checked already. A -vulkan `target` times the GPU too (a clip of
    `gpu_frames` frames interpolated over `gpu_jobs` workers)."""
    if not serial:
        return {"device": None, "note": NO_DEVICE, "results": []}
    adb = adb or connect(serial, binary)
    device = {"serial": serial, "model": adb.getprop("ro.product.model"), "abi": adb.getprop("ro.product.cpu.abi")}
    adb.shell(f"rm -rf {REMOTE} && mkdir -p {REMOTE}/out")
    adb("push", str(binary), f"{REMOTE}/rife-bench")
    adb.shell(f"chmod 755 {REMOTE}/rife-bench")
    for precision, model in models.items():
        adb.shell(f"mkdir -p {REMOTE}/{precision}")
        for name in ("flownet.param", "flownet.bin"):
            adb("push", str(Path(model) / name), f"{REMOTE}/{precision}/{name}")
    gpu = target.endswith(VULKAN_SUFFIX)
    runs: dict[tuple, list[dict]] = {}
    with tempfile.TemporaryDirectory(prefix="rife-phone-") as tmp:

        def turn(name: str, args: list, key: tuple) -> dict:
            adb.shell(f"{REMOTE}/rife-bench {shlex.join(map(str, args))} > {REMOTE}/out/{name}")
            adb("pull", f"{REMOTE}/out/{name}", str(Path(tmp) / name))
            record = json.loads((Path(tmp) / name).read_text())
            if "ms_per_frame" in record:  # a clip: one sample per turn, ms per interpolated frame
                record["latency_ms"], record["median_ms"] = [record["ms_per_frame"]], record["ms_per_frame"]
            runs.setdefault(key, []).append(record)
            log(f"phone {' '.join(map(str, key))}: {record['median_ms']:.1f} ms")
            return record

        if gpu:
            push_clips(adb, Path(tmp) / "clips", sizes, gpu_frames)
        for height, width in dict.fromkeys(sizes):
            for t in threads:
                for r in range(rounds):
                    for precision in models:
                        args = bench_args(f"{REMOTE}/{precision}", width, height, t, warmup, loops, precision)
                        turn(f"{precision}-{height}x{width}-t{t}-r{r}.json", args,
                             (precision, height, width, t, "cpu", "single"))
            for r in range(rounds if gpu else 0):
                for precision in models:
                    on = f"gpu{PHONE_GPU}"
                    args = bench_args(f"{REMOTE}/{precision}", width, height, 1, warmup, loops, precision, PHONE_GPU)
                    turn(f"{precision}-{height}x{width}-{on}-r{r}.json", args, (precision, height, width, 1, on, "single"))
                    args = ["interpolate", "--model", f"{REMOTE}/{precision}", "--in-dir", f"{REMOTE}/clips/{height}x{width}",
                            "--out-dir", f"{REMOTE}/out/clip", "--jobs", gpu_jobs, "--precision", precision,
                            *gpu_args(PHONE_GPU)]
                    turn(f"{precision}-{height}x{width}-{on}-clip-r{r}.json", args,
                         (precision, height, width, 1, on, "interpolate"))
    adb.shell(f"rm -rf {REMOTE}")
    return {"device": device, "binary": target, "warmup": warmup, "loops": loops, "rounds": rounds,
            **({"gpu": {"device": PHONE_GPU, "frames": gpu_frames, "jobs": gpu_jobs}} if gpu else {}),
            "results": pooled(runs)}


def push_clips(adb: Adb, local: Path, sizes: list[tuple[int, int]], frames: int) -> None:
    """The synthetic clip of every size (the host's GPU rows interpolate the same), frame by frame."""
    write_clips(local, sizes, frames)
    for height, width in dict.fromkeys(sizes):
        folder = f"{height}x{width}"
        adb.shell(f"mkdir -p {REMOTE}/clips/{folder}")
        for frame in sorted((local / folder).glob("*.ppm")):
            adb("push", str(frame), f"{REMOTE}/clips/{folder}/{frame.name}")


def pooled(runs: dict[tuple, list[dict]]) -> list[dict]:
    """One row per precision, size, threads, device (cpu, gpu0) and mode (single, interpolate): every
    timed run of every round pooled, max peak RSS, median over fp32's median from the same rounds, device
    and mode."""
    out = []
    for (precision, height, width, t, on, mode), records in runs.items():
        ms = [m for r in records for m in r["latency_ms"]]
        out.append({"precision": precision, "size": f"{height}x{width}", "threads": t, "on": on, "mode": mode,
                    **summary(ms), "peak_rss_mb": round(max(r["peak_rss_kb"] for r in records) / 1024, 1),
                    "target": records[0]["target"], "device": records[0].get("device", "cpu"),
                    "software": bool(records[0].get("software")), "latency_ms": ms})
    for row in out:
        base = next((b for b in out if b["precision"] == "fp32" and b["size"] == row["size"]
                     and b["threads"] == row["threads"] and b["on"] == row["on"] and b["mode"] == row["mode"]), None)
        row["ratio_vs_fp32"] = round(row["median_ms"] / base["median_ms"], 3) if base else None
    return out
