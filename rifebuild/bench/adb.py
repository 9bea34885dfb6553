"""The same benchmark on a phone: push rife-bench and the models with adb, run, pull the JSON back.

The device is `bench.adb_serial`, else $ANDROID_SERIAL; with neither, the phone table says "no device
configured" (the linux-arm64 binary is still checked under qemu by the native stage). The binary is
the android-arm64 build when an NDK built one, else the fully static linux-arm64 one, which runs on
Android too. fp32, fp16 and int8 take turns `rounds` times per size and thread count; each turn is
one `rife-bench bench` (warm-up runs, then `loops` timed runs), and the ratios to fp32 come from the
same rounds, as on the host.
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
from rifebuild.core.errors import BenchError
from rifebuild.native.run import bench_args

REMOTE = "/data/local/tmp/rife-build"
NO_DEVICE = "no device configured (set bench.adb_serial or ANDROID_SERIAL to benchmark a phone)"
PRECISIONS = ("fp32", "fp16", "int8")


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
                log=print, adb: Adb | None = None) -> dict:
    """The phone record: results per precision, size and thread count, or the no-device note. `adb`: the
    device connect() checked already."""
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
    runs: dict[tuple, list[dict]] = {}
    with tempfile.TemporaryDirectory(prefix="rife-phone-") as tmp:
        for height, width in dict.fromkeys(sizes):
            for t in threads:
                for r in range(rounds):
                    for precision in models:
                        name = f"{precision}-{height}x{width}-t{t}-r{r}.json"
                        args = bench_args(f"{REMOTE}/{precision}", width, height, t, warmup, loops, precision)
                        adb.shell(f"{REMOTE}/rife-bench {shlex.join(map(str, args))} > {REMOTE}/out/{name}")
                        adb("pull", f"{REMOTE}/out/{name}", str(Path(tmp) / name))
                        record = json.loads((Path(tmp) / name).read_text())
                        runs.setdefault((precision, height, width, t), []).append(record)
                        log(f"phone {precision} {height}x{width} {t} thread(s): {record['median_ms']:.1f} ms")
    adb.shell(f"rm -rf {REMOTE}")
    return {"device": device, "binary": target, "warmup": warmup, "loops": loops, "rounds": rounds,
            "results": pooled(runs)}


def pooled(runs: dict[tuple, list[dict]]) -> list[dict]:
    """One row per precision, size and threads: every timed run of every round pooled, max peak RSS,
    median over fp32's median from the same rounds."""
    out = []
    for (precision, height, width, t), records in runs.items():
        ms = [m for r in records for m in r["latency_ms"]]
        out.append({"precision": precision, "size": f"{height}x{width}", "threads": t, **summary(ms),
                    "peak_rss_mb": round(max(r["peak_rss_kb"] for r in records) / 1024, 1),
                    "target": records[0]["target"], "latency_ms": ms})
    for row in out:
        base = next((b for b in out if b["precision"] == "fp32" and b["size"] == row["size"]
                     and b["threads"] == row["threads"]), None)
        row["ratio_vs_fp32"] = round(row["median_ms"] / base["median_ms"], 3) if base else None
    return out
