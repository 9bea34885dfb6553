"""Floating-point operations per interpolated frame, counted by torch's flop counter on the PyTorch model.

The count depends on the architecture and the frame size only, so it runs on the meta device: no
weights, no arithmetic, a second or two even at 736x1280. torch counts a multiply-add as two flops
(convolutions, transposed convolutions; the warps' sampling and the element-wise ops are not
counted), the usual convention for GFLOP/s. Every variant is measured against the same count, int8
ones included: "achieved GFLOP/s" is the fp32 model's work per second of that runtime.
"""
from __future__ import annotations

import math

from rifebuild.core.errors import BenchError


def model_flops(model: str, height: int, width: int) -> int:
    """FLOPs of one interpolation by RIFE model `model` (an ensemble id counts its ensemble forward) at
    height x width (a multiple of its padding)."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    from rifebuild.model import spec
    from rifebuild.model.ifnet import ExportModel, IFNet

    with torch.device("meta"):
        version = spec.get(model)
        net = ExportModel(IFNet(version.arch, ensemble=version.ensemble)).eval()
        args = [torch.zeros(1, c, height, width) for c in (3, 3, 1)]
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        net(*args)
    flops = counter.get_total_flops()
    if not (isinstance(flops, int) and flops > 0):
        raise BenchError(f"torch's flop counter gave {flops} for {model} at {height}x{width}; cannot compute GFLOP/s")
    return flops


def gflop_per_s(flops: int, ms: float) -> float:
    value = flops / (ms / 1e3) / 1e9
    if not math.isfinite(value):
        raise BenchError(f"GFLOP/s of {flops} flops in {ms} ms is not finite")
    return round(value, 2)
