"""Benchmark: every runtime timed in turns on this machine (and a phone via adb), FLOPs, peak, plots."""
from __future__ import annotations

import argparse
from pathlib import Path

from rifebuild.core import threads
from rifebuild.core.args import PATH, action, model, out, resolution

ROLE = (["--input"], {"action": "append", "default": [], "metavar": "ROLE=PATH",
                      "help": "an artifact or record of the run, as ROLE=PATH (the bench rule passes every one)"})


def run(a) -> None:
    """Time the matrix on the host, then on the phone if one is configured; writes bench.json + phone.json."""
    import json
    import time

    from rifebuild.bench.adb import PHONE_TARGETS, PRECISIONS, bench_phone, connect, device_serial
    from rifebuild.bench.matrix import resolve_threads
    from rifebuild.bench.suite import parse_roles, run_host
    from rifebuild.core.files import atomic_write_json

    roles = parse_roles(a.input)
    phone_target = next((t for t in PHONE_TARGETS if f"native-{t}.binary" in roles), None)
    serial, phone_binary = device_serial(a.adb_serial), roles.get(f"native-{phone_target}.binary")
    device = connect(serial, phone_binary)  # a wrong serial fails now, not after the host's rounds
    job_threads = threads.count(1)
    record = run_host(roles, a.sizes, resolve_threads(a.bench_threads, job_threads), a.variants, a.warmup,
                      a.rounds, job_threads, a.cores, model=a.model, gpus=a.gpu_devices, gpu_frames=a.gpu_frames,
                      gpu_jobs=a.gpu_jobs)
    models = {p: roles[f"ncnn-{p}.model"].parent for p in PRECISIONS if f"ncnn-{p}.model" in roles}
    phone = bench_phone(serial, phone_binary, phone_target, models, a.sizes, a.phone_threads, a.warmup,
                        a.phone_loops, a.phone_rounds, adb=device, gpu_frames=a.gpu_frames, gpu_jobs=a.gpu_jobs)
    record["window"]["end"] = time.time()  # the phone run (qemu, with the stand-in adb) is in the window too
    atomic_write_json(a.phone_out, phone)
    atomic_write_json(a.out, record)
    from rifebuild.bench.tables import latency_tsv

    print(latency_tsv(record), end="")
    print(json.dumps({k: phone[k] for k in ("device", "note") if k in phone}))


def worker(a) -> None:
    """One runtime in its own process, timed per `run` line on stdin (internal: `bench run` starts these)."""
    from rifebuild.bench.worker import serve

    serve(a.runtime, a.artifact, a.size[0], a.size[1], threads.count(1), a.warmup, model=a.model)


def plots(a) -> None:
    """bench.json + phone.json -> the figures (PNG) and tables (TSV) for the report and Snakemake's report."""
    import json

    from rifebuild.bench import plots as figures
    from rifebuild.bench.tables import latency_tsv, phone_tsv
    from rifebuild.core.files import atomic_write_bytes

    bench = json.loads(Path(a.bench).read_text())
    phone = json.loads(Path(a.phone).read_text())
    figures.latency_figure(bench, a.latency_png)
    figures.quality_figure(bench, a.quality_png)
    figures.size_figure(bench, a.size_png)
    atomic_write_bytes(a.latency_tsv, latency_tsv(bench).encode())
    atomic_write_bytes(a.phone_tsv, phone_tsv(phone).encode())


def _devices(text: str) -> list[int]:
    """'0,1' -> [0, 1]; '' -> [] (no Vulkan device timed)."""
    try:
        devices = [int(d) for d in text.split(",") if d.strip()]
    except ValueError:
        devices = [-1]
    if any(d < 0 for d in devices):
        raise argparse.ArgumentTypeError(f"{text!r} is not a comma-separated list of Vulkan device indices")
    return devices


def _size(text: str) -> tuple[int, int]:
    h, _, w = text.partition("x")
    return int(h), int(w)


def register(actions) -> None:
    action(actions, "run", run, ROLE, model(),
           (["--sizes"], {"type": resolution, "nargs": "+", "required": True, "help": "HxW sizes to time"}),
           (["--bench-threads"], {"nargs": "+", "default": ["1", "all"], "help": "thread counts or `all`"}),
           (["--variants"], {"help": "what to time (bench.variants)", "nargs": "+", "required": True}),
           (["--warmup"], {"help": "untimed runs per variant after loading", "type": int, "default": 1}),
           (["--rounds"], {"help": "rounds; each variant runs once per round", "type": int, "default": 5}),
           (["--cores"], {"type": int, "required": True, "help": "the run's --cores (to tell whether all were held)"}),
           (["--adb-serial"], {"help": "phone to benchmark via adb; empty: $ANDROID_SERIAL, else none", "default": ""}),
           (["--phone-threads"], {"help": "thread counts on the phone", "type": int, "nargs": "+", "default": [1, 4]}),
           (["--phone-loops"], {"help": "timed runs per turn on the phone", "type": int, "default": 2}),
           (["--phone-rounds"], {"help": "turns of fp32, fp16 and int8 on the phone", "type": int, "default": 2}),
           (["--gpu-devices"], {"type": _devices, "default": [],
                                "help": "Vulkan devices the rife-bench-vulkan variants run on, e.g. 0,1 (bench.gpu.devices)"}),
           (["--gpu-frames"], {"type": int, "default": 8, "help": "frames of the clip the GPU interpolate rows time"}),
           (["--gpu-jobs"], {"type": int, "default": 3, "help": "rife-bench interpolate --jobs of the GPU rows"}),
           out(), (["--phone-out"], {**PATH, "help": "phone.json to write"}))
    action(actions, "worker", worker,
           (["--runtime"], {"required": True,
                            "help": "torch, onnxruntime, ncnn, mnn or sgemm"}),
           (["--artifact"], {"required": True,
                             "help": "what the runtime loads: checkpoint, ONNX, ncnn folder or .mnn (sgemm: -)"}),
           model(required=False),
           (["--size"], {"type": _size, "required": True, "help": "HxW (sgemm: NxN)"}),
           (["--warmup"], {"help": "untimed runs per variant after loading", "type": int, "default": 1}))
    action(actions, "plots", plots, (["--bench"], {**PATH, "help": "bench.json (`bench run`)"}),
           (["--phone"], {**PATH, "help": "phone.json (`bench run`)"}),
           (["--latency-png"], {**PATH, "help": "latency figure to write"}),
           (["--quality-png"], {**PATH, "help": "quality-vs-latency figure to write"}),
           (["--size-png"], {**PATH, "help": "artifact size figure to write"}),
           (["--latency-tsv"], {**PATH, "help": "latency table to write"}),
           (["--phone-tsv"], {**PATH, "help": "phone table to write"}))
