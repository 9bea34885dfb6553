"""Every RIFE v4 version through the ncnn chain at small sizes, measured: the model-family table.

Per version: synthetic checkpoint in its key layout -> TorchScript -> pnnx -> the drop-in model (rife.Warp
rewrite, ResConv beta fold, flow0.. named: the warp_rewrite rule's make_dropin) -> fp32 and fp16-storage
models, each lowered to stock GridSample at two sizes that respect the version's padding multiple and run with the ncnn Python package against PyTorch; optionally
int8 (calibrated on builtin triplets) and the rife-bench latency of the fp32 model and that int8 model
(rifebuild.report.latency). Plus what a version costs: parameters, FLOPs (convolutions, at 736x1280
padded to its multiple, counted on the meta device so no memory or compute is spent) and the ncnn
model's layer counts. The same steps the per-model rules run; here in one call, so the tests and
`rifebuild report family` prove and measure every version without a workflow run.
"""
from __future__ import annotations

import copy
import dataclasses
import time
from pathlib import Path

import numpy as np

from rifebuild.bench.flops import model_flops
from rifebuild.checkpoint import load as checkpoint
from rifebuild.evaluate.reference import fixed_inputs
from rifebuild.evaluate.runtimes import NcnnSession, run_torch
from rifebuild.export.trace import export_torchscript
from rifebuild.model import pins, spec
from rifebuild.model.ifnet import IFNet
from rifebuild.ncnn import graph, passes
from rifebuild.ncnn.pnnx import convert_with_pnnx
from rifebuild.report import latency as bench_latency

FLOPS_SIZE = (736, 1280)


def check_sizes(pad: int) -> tuple[tuple[int, int], tuple[int, int]]:
    """Two small sizes that are multiples of `pad`: the export (trace) size and another one
    (64x96 and 96x128 for the 32-multiple versions; 64x128 and 128x192 for 64; 128x128 and 128x256 for 128)."""
    h, w = spec.round_up(64, 96, pad)
    return (h, w), (spec.round_up(96, 96, pad)[0], w + pad)


@dataclasses.dataclass
class Converted:
    """One version converted: its PyTorch net, the rife.Warp model (fp32 weights) and its fp16 copy."""

    version: spec.Version
    net: IFNet
    model: graph.Model
    fp16: graph.Model
    export_size: tuple[int, int]
    seconds: float


def convert(name: str, work: Path, seed: int = 0) -> Converted:
    """Synthetic checkpoint of `name` -> the rife.Warp ncnn model, through the real tools (pnnx)."""
    start = time.perf_counter()
    version = spec.get(name)
    work = Path(work)
    checkpoint.save_state_dict(checkpoint.synthetic_state_dict(seed, version.name), work / "flownet.pkl")
    net = checkpoint.load_ifnet(work / "flownet.pkl", version.name)
    h, w = check_sizes(version.arch.padding)[0]
    export_torchscript(net, h, w, work / "flownet.pt")
    convert_with_pnnx(work / "flownet.pt", h, w, work / "pnnx.param", work / "pnnx.bin", log=work / "pnnx.log")
    model = graph.read(work / "pnnx.param", work / "pnnx.bin")
    passes.make_dropin(model, str(work / "pnnx.param"), blocks=len(version.arch.widths),  # as the warp_rewrite rule
                       padding=version.arch.padding, ensemble=version.ensemble)
    fp16 = copy.deepcopy(model)
    passes.to_fp16_storage(fp16)
    return Converted(version, net, model, fp16, (h, w), time.perf_counter() - start)


def max_abs_error(model: graph.Model, net: IFNet, height: int, width: int, folder: Path, fp16: bool = False,
                  threads: int = 2) -> float:
    """Max |ncnn - PyTorch| on the fixed verification inputs, the rife.Warp model lowered to this size."""
    lowered = copy.deepcopy(model)
    passes.lower_warp(lowered, height, width)
    folder.mkdir(parents=True, exist_ok=True)
    graph.write(lowered, folder / "m.param", folder / "m.bin")
    inputs = fixed_inputs(height, width, seed=1, timestep=0.3)
    with NcnnSession(folder / "m.param", folder / "m.bin", threads, fp16=fp16) as session:
        out = session.run(inputs)["out0"]
    return float(np.abs(out - run_torch(net, inputs)).max())


def int8_model(converted: Converted, frames: int = 2, threads: int = 2) -> graph.Model:
    """Calibrate (KL, builtin triplets at the export size) and quantize every Convolution to int8."""
    from rifebuild.calibration.triplets import builtin_triplets
    from rifebuild.int8.calibrate import calibrate
    from rifebuild.int8.quantize import quantize_model

    h, w = converted.export_size
    triplets = builtin_triplets("calibration", frames, h, w, seed=0, max_motion=3)
    scales = calibrate(converted.model, triplets, "kl", threads=threads)
    model = copy.deepcopy(converted.model)
    quantize_model(model, scales["weight_scales"], scales["input_scales"])
    return model


def flops(name: str, height: int, width: int) -> tuple[int, tuple[int, int]]:
    """Convolution FLOPs of one interpolation at height x width padded to the version's multiple."""
    h, w = spec.round_up(height, width, spec.get(name).arch.padding)
    return model_flops(name, h, w), (h, w)


def describe(name: str, work: Path, threads: int = 2, int8: bool = False,
             latency: bench_latency.Plan | None = None) -> dict:
    """One row of the family table; `supported` is False (with the reason) if any step fails. `latency`
    times the fp32 model and the int8 one (quantized for it even without `int8`) with rife-bench."""
    version = spec.get(name)
    arch = version.arch
    total, flops_at = flops(version.name, *FLOPS_SIZE)
    row = {"model": version.name, "number": version.number, "padding": arch.padding,
           "params": sum(int(np.prod(s)) for s in checkpoint.layout(arch).values()),
           "flops": total, "flops_size": list(flops_at), "official": pins.load()[version.base].url,
           "same_architecture": spec.same_architecture(version), "notes": notes(arch)}
    try:
        converted = convert(version.name, work)
        row["layers"] = converted.model.layer_types()
        row["errors"] = {}
        quantized = int8_model(converted, threads=threads) if int8 or latency else None
        if quantized is not None:
            row["int8_size_pct"] = round(100 * len(quantized.bin_bytes()) / len(converted.model.bin_bytes()), 1)
        for h, w in check_sizes(arch.padding):
            key = f"{h}x{w}"
            row["errors"][key] = {
                "fp32": max_abs_error(converted.model, converted.net, h, w, work / key, threads=threads),
                "fp16": max_abs_error(converted.fp16, converted.net, h, w, work / key, fp16=True, threads=threads)}
            if quantized is not None:
                row["errors"][key]["int8"] = max_abs_error(quantized, converted.net, h, w, work / key, threads=threads)
        if latency is not None:
            row["latency"] = bench_latency.measure(latency, {"fp32": converted.model, "int8": quantized},
                                                   arch.padding, work / "latency")
        row["seconds"] = round(converted.seconds, 1)
        row["supported"] = True
    except Exception as exc:  # noqa: BLE001 (the table reports why a version does not convert)
        row["supported"] = False
        row["why_not"] = f"{type(exc).__name__}: {str(exc).strip().splitlines()[0][:200] if str(exc).strip() else ''}"
    return row


def same_as(row: dict, version: spec.Version) -> dict:
    """`row` for another version of the same architecture: its synthetic checkpoint, and so every model
    converted from it, is identical, so the measurements are not repeated."""
    return {**row, "model": version.name, "number": version.number, "official": pins.load()[version.base].url,
            "notes": "; ".join(filter(None, [row["notes"], f"converts exactly as {row['model']}"]))}


def notes(arch: spec.ArchSpec) -> str:
    """What a reader of the table needs to know about this architecture's conversion."""
    out = []
    if arch.rescale_retry:
        out.append("static: without the original's >32 px retry at doubled scales (data-dependent)")
    if arch.resconv_groups > 1:
        out.append(f"ResConv groups={arch.resconv_groups} (ConvolutionDepthWise, stays float in int8)")
    if arch.head:
        out.append(f"encoder {arch.head.out} ch")
    if arch.block_feat:
        out.append(f"block features {arch.block_feat} ch")
    if not arch.ensemble:
        out.append("no ensemble")
    return "; ".join(out)


def markdown(rows: list[dict]) -> str:
    """The family table: one row per version."""
    sizes = ["size 1", "size 2"]
    head = ["model", "ok", "pad", "params", "GFLOPs (size)", "ncnn layers (Conv/Deconv/Warp/all)",
            *[f"fp32 / fp16 / int8 err, {s}" for s in sizes], "int8 size", bench_latency.COLUMN, "notes"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for row in rows:
        layers = row.get("layers", {})
        errs = []
        for key, e in (row.get("errors") or {}).items():
            errs.append(f"{key}: " + " / ".join(f"{e[p]:.1e}" if p in e else "-" for p in ("fp32", "fp16", "int8")))
        errs += ["-"] * (2 - len(errs))
        conv = layers.get("Convolution", 0) + layers.get("ConvolutionDepthWise", 0)
        cells = [row["model"], "yes" if row["supported"] else f"no: {row.get('why_not', '')}", str(row["padding"]),
                 f"{row['params']:,}", f"{row['flops'] / 1e9:.1f} ({row['flops_size'][0]}x{row['flops_size'][1]})",
                 f"{conv}/{layers.get('Deconvolution', 0)}/{layers.get('rife.Warp', 0)}/{sum(layers.values())}"
                 if layers else "-", *errs, f"{row['int8_size_pct']}%" if "int8_size_pct" in row else "-",
                 bench_latency.cell(row.get("latency")), row["notes"]]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"
