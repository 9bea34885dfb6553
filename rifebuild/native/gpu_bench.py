"""Time rife-bench on a Vulkan GPU: fp32, fp16 and int8 at several sizes, single frame (`bench`: upload,
every layer on the GPU, download) and interpolate throughput (`interpolate --in-dir`: frames read,
pipelined over --jobs workers, written) -> one JSON record and a Markdown table.

Why apart from the benchmark stage: the GPU machine that answers "does int8 pay on this GPU" usually has
none of the workflow, only rife-bench, the two model folders and python3 with numpy. Run as
`python3 -m rifebuild.native.gpu_bench` (or `rifebuild native gpu-bench`); scripts/gpu-bench.sh builds
rife-bench there first.
"""
from __future__ import annotations

import argparse
import json
import shutil
import tempfile
from pathlib import Path

from rifebuild.core.args import resolution
from rifebuild.native.run import bench, call, gpu_args

PRECISIONS = ("fp32", "fp16", "int8")
SIZES = ((256, 448), (736, 1280), (1088, 1920))


def synthetic_frames(folder: Path, height: int, width: int, count: int) -> list[Path]:
    """`count` PPM frames of a smooth texture panning 3 px right and 1 px down per frame (real motion,
    so the flow blocks do real work; timing does not depend on content otherwise)."""
    import numpy as np

    folder.mkdir(parents=True, exist_ok=True)
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    paths = []
    for k in range(count):
        x, y = xs - 3 * k, ys - k
        rgb = np.stack([np.sin(x / 23) * np.cos(y / 31), np.sin((x + y) / 17), np.cos(x / 41 - y / 13)], -1)
        pixels = ((rgb * 0.5 + 0.5) * 255).astype(np.uint8)
        path = folder / f"{k:08d}.ppm"
        path.write_bytes(f"P6\n{width} {height}\n255\n".encode() + pixels.tobytes())
        paths.append(path)
    return paths


def throughput(binary: Path, model_dir: Path, frames: Path, precision: str, gpu: int, jobs: int) -> dict:
    """rife-bench interpolate over the folder (one untimed pair first): ms per interpolated frame."""
    with tempfile.TemporaryDirectory(prefix="rife-gpu-out-") as out:
        return json.loads(call(binary, ["interpolate", "--model", model_dir, "--in-dir", frames, "--out-dir", out,
                                        "--precision", precision, "--jobs", jobs, *gpu_args(gpu)]))


def run(binary: Path, models: dict[str, Path], sizes=SIZES, gpu: int = 0, frames: int = 16, jobs=(1, 3),
        warmup: int = 3, loops: int = 20, work: Path | None = None) -> dict:
    """Every precision at every size: `bench` (single frame, median of `loops`) and `interpolate` over
    `frames` frames with each --jobs count."""
    version = call(binary, ["version"]).strip()
    rows = []
    work = Path(work or tempfile.mkdtemp(prefix="rife-gpu-frames-"))
    try:
        for h, w in sizes:
            folder = work / f"{h}x{w}"
            synthetic_frames(folder, h, w, frames)
            for precision in PRECISIONS:
                if precision not in models:
                    continue
                single = bench(binary, models[precision], w, h, warmup=warmup, loops=loops, precision=precision,
                               gpu=gpu)
                row = {"size": f"{h}x{w}", "precision": precision, "device": single["device"],
                       "single_median_ms": single["median_ms"], "single_min_ms": single["min_ms"],
                       "interpolate": {}}
                for j in jobs:
                    row["interpolate"][str(j)] = throughput(binary, models[precision], folder, precision, gpu, j)
                rows.append(row)
                print(json.dumps(row), flush=True)
            shutil.rmtree(folder)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return {"version": version, "frames": frames, "warmup": warmup, "loops": loops, "rows": rows}


def accuracy(binary: Path, models: dict[str, Path], references: list[Path], gpu: int = 0) -> list[dict]:
    """Each precision on the GPU against PyTorch references (rifebuild.evaluate.reference npz files):
    a real GPU's fp16 arithmetic is not lavapipe's (which may compute fp16 in fp32)."""
    from rifebuild.evaluate.metrics import compare
    from rifebuild.evaluate.reference import load_reference
    from rifebuild.native.run import dump

    rows = []
    for path in references:
        inputs, want = load_reference(path)
        for precision, model_dir in models.items():
            got = dump(binary, inputs, model_dir=model_dir, precision=precision, gpu=gpu)
            m = compare(got, want.reshape(got.shape))
            rows.append({"size": f"{got.shape[-2]}x{got.shape[-1]}", "precision": precision,
                         "max_abs_err": m["max_abs_err"], "psnr_db": m["psnr_db"]})
            print(json.dumps(rows[-1]), flush=True)
    return rows


def table(record: dict) -> str:
    """Markdown: one row per size x precision; ms per frame (single frame; interpolate per --jobs)."""
    jobs = sorted({j for r in record["rows"] for j in r["interpolate"]}, key=int)
    head = ["size", "precision", "single frame ms (median)"] + [f"interpolate ms/frame, jobs {j}" for j in jobs]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in record["rows"]:
        cells = [r["size"], r["precision"], f"{r['single_median_ms']:.2f}"]
        cells += [f"{r['interpolate'][j]['ms_per_frame']:.2f} ({r['interpolate'][j]['fps']:.0f} fps)" for j in jobs]
        lines.append("| " + " | ".join(cells) + " |")
    device = record["rows"][0]["device"] if record["rows"] else "?"
    text = f"{record['version']} on {device}\n\n" + "\n".join(lines) + "\n"
    if record.get("accuracy"):
        text += "\n| size | precision | max abs err vs PyTorch | PSNR dB |\n|---|---|---|---|\n"
        text += "".join(f"| {r['size']} | {r['precision']} | {r['max_abs_err']:.2e} | {r['psnr_db']:.2f} |\n"
                        for r in record["accuracy"])
    return text


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bin", type=Path, required=True, help="the host-vulkan rife-bench binary")
    parser.add_argument("--model-dir", type=Path, required=True,
                        help="rife.Warp fp32 model folder (flownet.param + flownet.bin; the fp32 and fp16 runs)")
    parser.add_argument("--int8-model-dir", type=Path, default=None, help="the int8 model folder; none: no int8 runs")
    parser.add_argument("--gpu", type=int, default=0, help="Vulkan device index")
    parser.add_argument("--frames", type=int, default=16, help="frames of the interpolate throughput folder")
    parser.add_argument("--loops", type=int, default=20, help="timed single-frame runs per size and precision")
    parser.add_argument("--sizes", nargs="+", type=resolution, default=list(SIZES), help="HxW, e.g. 736x1280")
    parser.add_argument("--references", type=Path, nargs="*", default=[], help="PyTorch reference npz files")
    parser.add_argument("--out", type=Path, required=True, help="the JSON record to write")
    a = parser.parse_args(argv)
    models = {"fp32": a.model_dir, "fp16": a.model_dir, **({"int8": a.int8_model_dir} if a.int8_model_dir else {})}
    record = run(a.bin, models, a.sizes, gpu=a.gpu, frames=a.frames, loops=a.loops)
    record["accuracy"] = accuracy(a.bin, models, a.references, a.gpu)
    a.out.write_text(json.dumps(record, indent=1) + "\n")
    print(table(record))


if __name__ == "__main__":
    main()
