"""Latency of rife-bench models and the ncnn-Python baseline, timed in turns."""
from __future__ import annotations

import json
import time
from pathlib import Path

from rifebuild.core.errors import NativeError
from rifebuild.native.run import bench_args, call


def bench(binary: Path, model_dir: Path, width: int, height: int, threads: int = 1, warmup: int = 1,
          loops: int = 5, precision: str = "fp32", runner: tuple[str, ...] = ()) -> dict:
    """rife-bench bench: per-run latencies, median, min, peak RSS, ncnn version, target."""
    out = call(binary, bench_args(model_dir, width, height, threads, warmup, loops, precision), runner)
    return json.loads(out)

def _pooled(runs: list[dict]) -> dict:
    """One record from several bench runs of the same configuration: latencies pooled, median over all."""
    import numpy as np

    ms = [m for r in runs for m in r["latency_ms"]]
    cpu = [m for r in runs for m in r.get("cpu_ms", [])]
    merged = {**runs[0], "loops": len(ms), "rounds": len(runs), "latency_ms": ms, "cpu_ms": cpu,
              "median_ms": round(float(np.median(ms)), 3), "min_ms": round(min(ms), 3)}
    if "peak_rss_kb" in runs[0]:
        merged["peak_rss_kb"] = max(r["peak_rss_kb"] for r in runs)
    return merged


def bench_alternating(binary: Path, model_dir: Path, width: int, height: int, threads: list[int], warmup: int,
                      loops: int, rounds: int, precision: str = "fp32", baseline_dir: Path | None = None,
                      stock_dir: Path | None = None, runner: tuple[str, ...] = ()) -> dict:
    """Latency of `model_dir` per thread count, with its baselines timed in turn in the same run.

    Why rounds: on a shared machine the load drifts over seconds; letting the model, the fp32
    baseline (`baseline_dir`) and the ncnn-Python baseline (`stock_dir`) take turns `rounds` times
    exposes them to the same drift, so the ratios hold even when the absolute numbers move.
    """
    runs = {t: {"model": [], "baseline": [], "python": []} for t in threads}
    for _ in range(rounds):
        for t in threads:
            runs[t]["model"].append(bench(binary, model_dir, width, height, t, warmup, loops, precision, runner))
            if baseline_dir:
                runs[t]["baseline"].append(bench(binary, baseline_dir, width, height, t, warmup, loops, "fp32",
                                                 runner))
            if stock_dir:
                runs[t]["python"].append(bench_python_ncnn(Path(stock_dir) / "flownet.param",
                                                           Path(stock_dir) / "flownet.bin", width, height, t,
                                                           warmup, loops))
    model = [_pooled(runs[t]["model"]) for t in threads]
    record = {"rife_bench": model}
    if baseline_dir:
        base = [_pooled(runs[t]["baseline"]) for t in threads]
        record["fp32_baseline"] = base
        record["ratio_vs_fp32"] = [round(m["median_ms"] / b["median_ms"], 3) for m, b in zip(model, base)]
    if stock_dir:
        py = [_pooled(runs[t]["python"]) for t in threads]
        record["ncnn_python"] = py
        record["speedup_vs_python"] = [round(x["median_ms"] / m["median_ms"], 3) for m, x in zip(model, py)]
    return record


def bench_python_ncnn(param: Path, bin_: Path, width: int, height: int, threads: int = 1, warmup: int = 1,
                      loops: int = 5) -> dict:
    """Baseline: the ncnn Python package running a stock (GridSample) model on the same inputs shape.

    The net is loaded (fp32 options) by runner.NcnnSession; only the inference itself is timed.
    """
    import ncnn
    import numpy as np

    from rifebuild.evaluate.runtimes import NcnnSession

    rng = np.random.default_rng(0)
    frames = [ncnn.Mat(rng.random((3, height, width), dtype=np.float32)) for _ in range(2)]
    t = ncnn.Mat(np.full((1, height, width), 0.5, np.float32))
    ms, cpu_ms = [], []
    try:
        session = NcnnSession(param, bin_, threads)
    except RuntimeError as exc:
        raise NativeError(f"{exc} with the ncnn Python package; re-export the stock model.") from exc
    with session:
        for i in range(warmup + loops):
            c0 = time.process_time()
            t0 = time.perf_counter()
            with session.net.create_extractor() as ex:
                ex.input("in0", frames[0])
                ex.input("in1", frames[1])
                ex.input("in2", t)
                ex.extract("out0")
            if i >= warmup:
                ms.append((time.perf_counter() - t0) * 1e3)
                cpu_ms.append((time.process_time() - c0) * 1e3)
    return {"runner": "ncnn-python", "ncnn_version": ncnn.__version__, "width": width, "height": height,
            "threads": threads, "latency_ms": [round(m, 3) for m in ms], "cpu_ms": [round(m, 3) for m in cpu_ms],
            "median_ms": round(float(np.median(ms)), 3), "min_ms": round(min(ms), 3)}
