"""Per-layer timing of a RIFE ncnn model through rife-bench: where the milliseconds go.

Why a second libncnn: ncnn prints per-layer times only when built with NCNN_BENCHMARK=ON, and that
build times every layer (a little slower), so the benchmarked rife-bench stays without it. The
profiling build lives in <build_dir>/host-profile and is made only when a profile is asked for.
With --baseline-model-dir the two models run alternately in one process group, so their per-layer
numbers are comparable (fp32 vs int8: which layers gain, which stay float, what is left over).
"""
from __future__ import annotations

import re
import statistics
from pathlib import Path

from rifebuild.core.errors import NativeError
from rifebuild.native.run import bench_args, run_rife_bench

# ncnn's benchmark.cpp: "%-24s %-30s %8.2lfms    |" then optional "in_shape -> out_shape  kernel/stride".
LAYER_LINE = re.compile(r"^(?P<type>\S+)\s+(?P<name>\S+)\s+(?P<ms>\d+\.\d+)ms\s+\|\s*(?P<shape>.*?)\s*$")


def parse_layer_times(stderr: str, runs: int, skip: int) -> list[dict]:
    """Per-layer median over the timed runs, in execution order.

    ncnn prints one line per executed layer per forward pass; rife-bench makes `runs` passes, the
    first `skip` of which are warm-up.
    """
    lines = [m for m in (LAYER_LINE.match(line) for line in stderr.splitlines()) if m]
    if not lines or runs <= skip or len(lines) % runs:
        raise NativeError(f"expected per-layer lines for {runs} forward passes from an NCNN_BENCHMARK build of "
                          f"rife-bench, got {len(lines)}; is the binary a profiling build (--profile)?")
    per_run = len(lines) // runs
    rows = []
    for i in range(per_run):
        timed = [lines[r * per_run + i] for r in range(skip, runs)]
        first = timed[0]
        if any((m["type"], m["name"]) != (first["type"], first["name"]) for m in timed):
            raise NativeError("forward passes executed different layers; cannot line the profile up")
        rows.append({"type": first["type"], "name": first["name"], "shape": first["shape"],
                     "ms": round(statistics.median(float(m["ms"]) for m in timed), 3)})
    return rows


def totals_by_type(rows: list[dict]) -> dict[str, float]:
    totals: dict[str, float] = {}
    for row in rows:
        totals[row["type"]] = totals.get(row["type"], 0.0) + row["ms"]
    return {k: round(v, 3) for k, v in sorted(totals.items(), key=lambda kv: -kv[1])}


def profile_once(binary: Path, model_dir: Path, precision: str, width: int, height: int, threads: int,
                 warmup: int, loops: int) -> tuple[list[dict], float]:
    """One rife-bench bench run; returns its per-layer rows and its median wall time."""
    import json

    proc = run_rife_bench(binary, bench_args(model_dir, width, height, threads, warmup, loops, precision))
    return parse_layer_times(proc.stderr, warmup + loops, warmup), json.loads(proc.stdout)["median_ms"]


def profile(binary: Path, model_dir: Path, precision: str = "int8", baseline_dir: Path | None = None,
            width: int = 1280, height: int = 736, threads: int = 2, warmup: int = 1, loops: int = 5,
            rounds: int = 2) -> dict:
    """Per-layer medians of `model_dir` (and of the fp32 `baseline_dir`, alternating) over `rounds`."""
    runs = {"model": [], "baseline": []}
    walls = {"model": [], "baseline": []}
    for _ in range(rounds):
        for key, folder, prec in (("model", model_dir, precision), ("baseline", baseline_dir, "fp32")):
            if folder is None:
                continue
            rows, wall = profile_once(binary, folder, prec, width, height, threads, warmup, loops)
            runs[key].append(rows)
            walls[key].append(wall)
    record = {"width": width, "height": height, "threads": threads, "loops": loops, "rounds": rounds}
    for key in ("model", "baseline"):
        if not runs[key]:
            continue
        rows = [dict(r, ms=round(statistics.median(run[i]["ms"] for run in runs[key]), 3))
                for i, r in enumerate(runs[key][0])]
        record[key] = {"dir": str(model_dir if key == "model" else baseline_dir),
                       "precision": precision if key == "model" else "fp32",
                       "median_wall_ms": round(statistics.median(walls[key]), 3),
                       "sum_of_layers_ms": round(sum(r["ms"] for r in rows), 3),
                       "by_type": totals_by_type(rows), "layers": rows}
    return record


def format_profile(record: dict) -> str:
    """Plain-text table: time per layer type for the model vs the baseline (per layer: the JSON)."""
    model, base = record["model"], record.get("baseline")
    lines = [f"{record['width']}x{record['height']}, {record['threads']} threads, median of "
             f"{record['loops']} loops x {record['rounds']} rounds (ms)"]
    head = f"{'layer type':<16}{model['precision']:>10}"
    if base:
        head += f"{'fp32':>10}{'ratio':>8}"
    lines.append(head)
    types = list(dict.fromkeys([*model["by_type"], *(base["by_type"] if base else {})]))
    for t in types + ["(all layers)"]:
        got = model["sum_of_layers_ms"] if t == "(all layers)" else model["by_type"].get(t, 0.0)
        line = f"{t:<16}{got:>10.1f}"
        if base:
            ref = base["sum_of_layers_ms"] if t == "(all layers)" else base["by_type"].get(t, 0.0)
            line += f"{ref:>10.1f}" + (f"{got / ref:>8.2f}" if ref else f"{'-':>8}")
        lines.append(line)
    return "\n".join(lines) + "\n"
