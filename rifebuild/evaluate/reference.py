"""Fixed verification inputs and the PyTorch reference output for them.

Inputs are smooth, seeded image pairs with a known shift (flow-like content, not noise), so every
artifact is compared on the same data: results/reference/<H>x<W>.npz holds in0, in1, in2, out0.
"""
from __future__ import annotations

import hashlib
import io
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from rifebuild.core.files import atomic_write_bytes
from rifebuild.evaluate.runtimes import Inputs, run_torch
from rifebuild.model.ifnet import IFNet

MARGIN = 8


def smooth_field(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    """A smooth random RGB image [3, H+2*MARGIN, W+2*MARGIN] in [0,1]: room to crop shifted frames."""
    coarse = torch.from_numpy(rng.random((1, 3, height // 16 + 2, width // 16 + 2), dtype=np.float32))
    big = F.interpolate(coarse, size=(height + 2 * MARGIN, width + 2 * MARGIN), mode="bicubic",
                        align_corners=False)
    return big.clamp(0.0, 1.0)[0].numpy()


def fixed_inputs(height: int, width: int, seed: int, timestep: float) -> Inputs:
    rng = np.random.default_rng(seed)
    big = smooth_field(rng, height, width)
    dy, dx = (int(v) for v in rng.integers(1, 8, size=2))
    in0 = big[:, 8:8 + height, 8:8 + width]
    in1 = big[:, 8 - dy:8 - dy + height, 8 - dx:8 - dx + width]
    in2 = np.full((1, height, width), timestep, np.float32)
    return {"in0": np.ascontiguousarray(in0), "in1": np.ascontiguousarray(in1), "in2": in2}


def write_reference(net: IFNet, height: int, width: int, seed: int, timestep: float, dest: Path | str) -> None:
    inputs = fixed_inputs(height, width, seed, timestep)
    out0 = run_torch(net, inputs)
    buf = io.BytesIO()
    np.savez(buf, **inputs, out0=out0)  # uncompressed savez holds no timestamps: deterministic
    atomic_write_bytes(dest, buf.getvalue())


def load_reference(path: Path | str) -> tuple[Inputs, np.ndarray]:
    with np.load(path) as data:
        inputs = {k: data[k] for k in ("in0", "in1", "in2")}
        return inputs, data["out0"]


def inputs_digest(inputs: Inputs) -> str:
    digest = hashlib.sha256()
    for key in sorted(inputs):
        digest.update(key.encode())
        digest.update(np.ascontiguousarray(inputs[key]).tobytes())
    return digest.hexdigest()
