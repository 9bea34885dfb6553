"""Fixed verification inputs and the PyTorch reference output for them.

Inputs are a rendered scene from the bundled evaluation photos (rifebuild.calibration.triplets): a
background under a small affine motion with foreground patches moving on their own (edges, texture,
occlusions). A trained network's flow on such frames behaves as on video; on noise or on smooth
blobs it does not, and bounds set there either fail for trained weights (noise magnifies float
differences through chaotic flow) or hide fp16 errors (smooth fields). Every artifact is compared on
the same data: results/reference/<model>/<H>x<W>.npz holds in0, in1, in2, out0.
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
MOTION_PX_PER_448 = 12.0


def smooth_field(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    """A smooth random RGB image [3, H+2*MARGIN, W+2*MARGIN] in [0,1]: room to crop shifted frames."""
    coarse = torch.from_numpy(rng.random((1, 3, height // 16 + 2, width // 16 + 2), dtype=np.float32))
    big = F.interpolate(coarse, size=(height + 2 * MARGIN, width + 2 * MARGIN), mode="bicubic",
                        align_corners=False)
    return big.clamp(0.0, 1.0)[0].numpy()


def fixed_inputs(height: int, width: int, seed: int, timestep: float) -> Inputs:
    """Frames 0 and 1 of one seeded scene of the evaluation photos, with motion proportional to the width
    (MOTION_PX_PER_448 pixels at 448 wide, like the calibration triplets at the default size)."""
    from rifebuild.calibration import triplets as cal

    photos = cal.BUILTIN_PHOTOS["evaluation"]
    background, foreground = (cal.builtin_photo(photos[(seed + i) % len(photos)]) for i in (0, 1))
    rng = np.random.default_rng([seed, height, width])
    frame0, _, frame1 = cal.render_triplet(background, foreground, height, width, rng,
                                           MOTION_PX_PER_448 * width / 448)
    return {"in0": frame0, "in1": frame1, "in2": np.full((1, height, width), timestep, np.float32)}


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
