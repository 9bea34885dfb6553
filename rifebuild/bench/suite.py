"""The host benchmark: every cell of the matrix timed in turns, FLOPs and peak, sizes and quality beside.

Output (results/bench/bench.json): one row per variant, size and thread count with median, p90, min,
the number of timed runs, peak RSS, the ratio to the baseline's median from the same rounds, the
achieved GFLOP/s and its fraction of the sgemm peak measured in the same rounds with the same
threads; the variants that could not run and why; every artifact's size; each variant's recorded
quality against ground truth (from the verification records, nothing re-measured); and the timed
window (wall-clock start and end), which the tests compare with every other job of the run.
GPU rows (rife-bench-vulkan-*) name their device and mode and say whether the device is software (lavapipe
computes on the CPU cores: no GPU figure); their % of peak is empty (the peak is the CPU's).
"""
from __future__ import annotations

import json
import os
import platform
import tempfile
import time
from pathlib import Path

from rifebuild.bench import matrix
from rifebuild.bench.flops import gflop_per_s, model_flops
from rifebuild.bench.peak import peak_gflops
from rifebuild.bench.runner import GAP_S, summary, time_cell
from rifebuild.core import args
from rifebuild.core.errors import BenchError

# variant -> (verification record, ground-truth subject in it) for the quality axis of the plots.
# The int8 record also scored PyTorch and the fp32 ncnn model (which rife-bench fp32 and the stock
# GridSample model run within 1e-3 of) on the same frames; variants without a score are named.
QUALITY = {
    "pytorch": ("ncnn-int8.verify", "pytorch"),
    "ncnn-python": ("ncnn-int8.verify", "ncnn-fp32"),
    "rife-bench-fp32": ("ncnn-int8.verify", "ncnn-fp32"),
    "rife-bench-int8": ("ncnn-int8.verify", "artifact"),
    **{f"mnn-{v}": (f"mnn-{v}.verify", "artifact") for v in ("fp32", "fp16", "wq8", "int8")},
}


def parse_roles(pairs: list[str]) -> dict[str, Path]:
    return args.parse_roles(pairs, BenchError, "benchmark inputs")


def artifact_sizes(roles: dict[str, Path]) -> list[dict]:
    """Bytes of every model file the report sizes (the checkpoint, ONNX, ncnn .bin, .mnn)."""
    items = [("checkpoint", roles["checkpoint"])] if "checkpoint" in roles else []
    items += [(r[:-len(".model")], p) for r, p in roles.items() if r.endswith(".model")]
    return [{"artifact": key, "path": str(path), "bytes": path.stat().st_size} for key, path in items]


def quality(roles: dict[str, Path], variants: list[str]) -> dict:
    """Each variant's first recorded ground-truth score (PSNR, SSIM, resolution, record)."""
    out = {}
    for key in variants:
        role, subject = QUALITY.get(key, (None, None))
        if role not in roles:
            continue
        record = json.loads(roles[role].read_text())
        score = next((g for g in record.get("ground_truth", []) if g["subject"] == subject), None)
        if score:
            out[key] = {"psnr_db": score["psnr_db"], "ssim": score.get("ssim"),
                        "resolution": "{}x{}".format(*score["resolution"]), "record": str(roles[role]),
                        "subject": subject}
    return out


def machine() -> dict:
    model = ""
    try:
        model = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                      if line.startswith("model name")), "")
    except OSError:
        pass
    return {"cpu": model or platform.processor(), "cpus_available": len(os.sched_getaffinity(0)),
            "cpus_online": os.cpu_count(), "machine": platform.machine()}


def gpu_label(variant: matrix.Variant, run: matrix.Run, info: dict) -> str:
    """'rife-bench fp16 on Vulkan device 0, llvmpipe (software: ...), interpolate, 3 jobs'."""
    device = info.get("device", f"device {run.gpu}")
    label = f"{variant.label} device {run.gpu}, {device.split(' (')[0]}"
    label += " (software: CPU cores, no GPU figure)" if info.get("software") else ""
    return label + (f", interpolate, {info.get('jobs')} jobs" if run.mode == "interpolate" else ", one frame")


def rows(cell: matrix.Cell, timed: dict, flops: int, labels: dict[str, str]) -> list[dict]:
    base = summary(timed[matrix.BASELINE]["latency_ms"])["median_ms"]
    out = []
    for run in cell.runs:
        if run.key == "sgemm":
            continue
        t, v = timed[run.key], matrix.BY_KEY[run.of]
        s = summary(t["latency_ms"])
        row = {"variant": run.of, "label": gpu_label(v, run, t["info"]) if v.gpu else labels[run.key],
               "runtime": v.runtime, "precision": v.precision, "size": cell.size, "height": cell.height,
               "width": cell.width, "threads": cell.threads, **s, "peak_rss_mb": round(t["peak_rss_kb"] / 1024, 1),
               "ratio_vs_baseline": round(s["median_ms"] / base, 3), "gflop_per_s": gflop_per_s(flops, s["median_ms"]),
               "latency_ms": t["latency_ms"], "cpu_ms": t["cpu_ms"],
               "version": t["info"].get("version") or t["info"].get("ncnn_version")}
        if v.gpu:
            row.update({"gpu": run.gpu, "mode": run.mode, "device": t["info"].get("device"),
                        "software": bool(t["info"].get("software")), "jobs": t["info"].get("jobs") or None,
                        "pairs": t["info"].get("pairs") or None})
        out.append(row)
    return out


def write_clips(folder: Path, sizes: list[tuple[int, int]], frames: int) -> None:
    """<folder>/<H>x<W>/: the synthetic clip the GPU rows interpolate (rifebuild.native.gpu_bench's)."""
    from rifebuild.native.gpu_bench import synthetic_frames

    for height, width in dict.fromkeys(sizes):
        synthetic_frames(folder / f"{height}x{width}", height, width, frames)


def run_host(roles: dict[str, Path], sizes: list[tuple[int, int]], threads: list[int], variants: list[str],
             warmup: int, rounds: int, job_threads: int, cores: int, *, model: str, gpus: list[int] = (),
             gpu_frames: int = 8, gpu_jobs: int = 3, log=print) -> dict:
    """The host record; `gpus`: the Vulkan devices the GPU variants run on, interpolating a clip of
    `gpu_frames` frames with `gpu_jobs` workers per turn."""
    with tempfile.TemporaryDirectory(prefix="rife-bench-clips-") as clips:
        gpu = matrix.Gpu(tuple(gpus), gpu_jobs, Path(clips), gpu_frames)
        if gpus and any(matrix.BY_KEY[v].gpu for v in variants if v in matrix.BY_KEY):
            write_clips(Path(clips), sizes, gpu_frames)
        return _run_host(roles, sizes, threads, variants, warmup, rounds, job_threads, cores, model, gpu, log)


def _run_host(roles, sizes, threads, variants, warmup, rounds, job_threads, cores, model, gpu, log) -> dict:
    cells, not_run = matrix.plan(roles, sizes, threads, variants, warmup, model=model, gpu=gpu)
    labels = {**{v.key: v.label for v in matrix.VARIANTS}, "sgemm": f"sgemm {matrix.SGEMM_N} (peak)"}
    flops = {}
    for cell in cells:
        if cell.size not in flops:
            flops[cell.size] = model_flops(model, cell.height, cell.width)
            log(f"{cell.size}: {flops[cell.size] / 1e9:.2f} GFLOP per frame")
    results, peaks = [], {}
    start = time.time()
    for cell in cells:
        timed = time_cell(cell, rounds, labels, log=log)
        gemm = peak_gflops(timed["sgemm"]["latency_ms"], matrix.SGEMM_N)
        peaks[str(cell.threads)] = max(peaks.get(str(cell.threads), 0.0), gemm)
        results += rows(cell, timed, flops[cell.size], labels)
    end = time.time()
    for row in results:  # a GPU's work against the CPU's sgemm peak would mean nothing
        row["fraction_of_peak"] = None if "gpu" in row else round(row["gflop_per_s"] / peaks[str(row["threads"])], 4)
    return {"baseline": matrix.BASELINE, "window": {"start": start, "end": end},
            "exclusive": {"job_threads": job_threads, "cores": cores, "all_cores_held": job_threads >= cores},
            "machine": machine(), "sizes": list(dict.fromkeys(c.size for c in cells)), "threads": threads,
            "warmup": warmup, "rounds": rounds, "gap_s": GAP_S, "flops": flops,
            "gpu": {"devices": list(gpu.devices), "jobs": gpu.jobs, "frames": gpu.frames},
            "sgemm": {"n": matrix.SGEMM_N, "peak_gflop_per_s": peaks}, "results": results, "not_run": not_run,
            "artifacts": artifact_sizes(roles), "quality": quality(roles, variants)}
