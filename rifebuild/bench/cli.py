"""Benchmark: every runtime timed in turns on this machine (and a phone via adb), FLOPs, peak, plots."""
from __future__ import annotations

from pathlib import Path

from rifebuild.core import threads
from rifebuild.core.args import PATH, action, resolution, rife_model

ROLE = (["--input"], {"action": "append", "default": [], "metavar": "ROLE=PATH"})


def run(a) -> None:
    """Time the matrix on the host, then on the phone if one is configured; writes bench.json + phone.json."""
    import json
    import time

    from rifebuild.bench.adb import PRECISIONS, bench_phone, connect, device_serial
    from rifebuild.bench.matrix import resolve_threads
    from rifebuild.bench.suite import parse_roles, run_host
    from rifebuild.core.files import atomic_write_json

    roles = parse_roles(a.input)
    phone_target = next((t for t in ("android-arm64", "linux-arm64") if f"native-{t}.binary" in roles), None)
    serial, phone_binary = device_serial(a.adb_serial), roles.get(f"native-{phone_target}.binary")
    device = connect(serial, phone_binary)  # a wrong serial fails now, not after the host's rounds
    job_threads = threads.count(1)
    record = run_host(roles, a.sizes, resolve_threads(a.bench_threads, job_threads), a.variants, a.warmup,
                      a.rounds, job_threads, a.cores, rife_model=a.rife_model)
    models = {p: roles[f"ncnn-{p}.model"].parent for p in PRECISIONS if f"ncnn-{p}.model" in roles}
    phone = bench_phone(serial, phone_binary, phone_target, models, a.sizes, a.phone_threads, a.warmup,
                        a.phone_loops, a.phone_rounds, adb=device)
    record["window"]["end"] = time.time()  # the phone run (qemu, with the stand-in adb) is in the window too
    atomic_write_json(a.phone_out, phone)
    atomic_write_json(a.out, record)
    from rifebuild.bench.tables import latency_tsv

    print(latency_tsv(record), end="")
    print(json.dumps({k: phone[k] for k in ("device", "note") if k in phone}))


def worker(a) -> None:
    """One runtime in its own process, timed per `run` line on stdin (internal: `bench run` starts these)."""
    from rifebuild.bench.worker import serve

    serve(a.runtime, a.model, a.size[0], a.size[1], threads.count(1), a.warmup, rife_model=a.rife_model)


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


def _size(text: str) -> tuple[int, int]:
    h, _, w = text.partition("x")
    return int(h), int(w)


def register(actions) -> None:
    action(actions, "run", run, ROLE, rife_model(),
           (["--sizes"], {"type": resolution, "nargs": "+", "required": True, "help": "HxW sizes to time"}),
           (["--bench-threads"], {"nargs": "+", "default": ["1", "all"], "help": "thread counts or `all`"}),
           (["--variants"], {"nargs": "+", "required": True}), (["--warmup"], {"type": int, "default": 1}),
           (["--rounds"], {"type": int, "default": 5}),
           (["--cores"], {"type": int, "required": True, "help": "the run's --cores (to tell whether all were held)"}),
           (["--adb-serial"], {"default": ""}),
           (["--phone-threads"], {"type": int, "nargs": "+", "default": [1, 4]}),
           (["--phone-loops"], {"type": int, "default": 2}), (["--phone-rounds"], {"type": int, "default": 2}),
           (["--out"], PATH), (["--phone-out"], PATH))
    action(actions, "worker", worker, (["--runtime"], {"required": True}), (["--model"], {"required": True}),
           rife_model(),
           (["--size"], {"type": _size, "required": True, "help": "HxW (sgemm: NxN)"}),
           (["--warmup"], {"type": int, "default": 1}))
    action(actions, "plots", plots, (["--bench"], PATH), (["--phone"], PATH), (["--latency-png"], PATH),
           (["--quality-png"], PATH), (["--size-png"], PATH), (["--latency-tsv"], PATH), (["--phone-tsv"], PATH))
