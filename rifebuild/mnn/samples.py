"""Calibration data and config for MNN's offline int8 quantizer.

RIFE has three inputs, so the quantizer's image mode cannot be used. Its multi-input form
("input_type": "sequence") reads one folder per sample, holding `<input name>.txt` (whitespace
separated floats in NCHW order, one image row per line) and `input.json` with the shapes; the
config's `inputs` lists the same names and shapes.

Frames come from a directory of triplets, one sub-folder per sample, sorted by name:
  - PNG: im1.png, im2.png, im3.png (im1/im3 are the inputs, im2 the true middle frame), or
  - NumPy: in0.npy, in1.npy ([3,H,W] float32 RGB in [0,1]), optional gt.npy.
Frames are centre-cropped to `size` (H, W multiples of 32).
"""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np

from rifebuild.calibration.triplets import center_crop
from rifebuild.core.errors import CalibrationError

FEATURE_METHODS = ("KL", "ADMM", "EMA")
WEIGHT_METHODS = ("MAX_ABS", "ADMM")
INPUT_CHANNELS = (("in0", 3), ("in1", 3), ("in2", 1))



def write_synthetic_frames(dest: Path | str, count: int, height: int, width: int, seed: int = 100) -> None:
    """Deterministic stand-in triplets in npy form: a smooth random image under an even pixel shift,
    so the true middle frame (half the shift) is known exactly.

    For tests of the MNN branch; the workflow uses the calibration and evaluation splits of
    rifebuild.calibration."""
    from rifebuild.evaluate.reference import smooth_field

    dest = Path(dest)
    tmp = dest.with_name(f".{dest.name}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    for i in range(count):
        rng = np.random.default_rng(seed + i)
        big = smooth_field(rng, height, width)
        dy, dx = (2 * int(v) for v in rng.integers(0, 5, size=2))  # even shifts up to 8 px
        crop = lambda oy, ox: np.ascontiguousarray(big[:, 8 - oy:8 - oy + height, 8 - ox:8 - ox + width])  # noqa: E731
        folder = tmp / f"{i:04d}"
        folder.mkdir(parents=True)
        np.save(folder / "in0.npy", crop(0, 0))
        np.save(folder / "gt.npy", crop(dy // 2, dx // 2))
        np.save(folder / "in1.npy", crop(dy, dx))
    _replace_dir(tmp, dest)


def _replace_dir(tmp: Path, dest: Path) -> None:
    shutil.rmtree(dest, ignore_errors=True)
    tmp.rename(dest)


def check_size(height: int, width: int) -> None:
    if height % 32 or width % 32 or height <= 0 or width <= 0:
        raise CalibrationError(f"size {height}x{width}: height and width must be positive multiples of 32")


def input_shapes(height: int, width: int) -> list[dict]:
    return [{"name": name, "shape": [1, c, height, width]} for name, c in INPUT_CHANNELS]


def write_sequence_samples(samples: list[dict[str, np.ndarray]], dest: Path | str, height: int, width: int,
                           timestep: float = 0.5) -> int:
    """Write samples in the quantizer's sequence layout into `dest` (replaced whole); return count."""
    check_size(height, width)
    dest = Path(dest)
    tmp = dest.with_name(f".{dest.name}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    shapes = json.dumps({"inputs": input_shapes(height, width)}, indent=1, sort_keys=True)
    for index, sample in enumerate(samples):
        folder = tmp / f"{index:04d}"
        folder.mkdir()
        where = f"calibration sample {index}"
        arrays = {"in0": center_crop(sample["in0"], height, width, where),
                  "in1": center_crop(sample["in1"], height, width, where),
                  "in2": np.full((1, height, width), timestep, np.float32)}
        for name, array in arrays.items():
            np.savetxt(folder / f"{name}.txt", array.reshape(-1, width), fmt="%.5f")
        (folder / "input.json").write_text(shapes + "\n")
    _replace_dir(tmp, dest)
    return len(samples)


def quant_config(samples_dir: Path | str, num_samples: int, height: int, width: int,
                 feature_method: str, weight_method: str, batch_size: int = 8,
                 skip_ops: list[str] | None = None) -> dict:
    """The quantizer's JSON config (sequence form) built from the `mnn.int8` config keys."""
    if feature_method not in FEATURE_METHODS:
        raise CalibrationError(f"mnn.int8.feature_method {feature_method!r} is unknown; "
                               f"use one of {', '.join(FEATURE_METHODS)}")
    if weight_method not in WEIGHT_METHODS:
        raise CalibrationError(f"mnn.int8.weight_method {weight_method!r} is unknown; "
                               f"use one of {', '.join(WEIGHT_METHODS)}")
    check_size(height, width)
    return {
        "input_type": "sequence",
        "path": str(samples_dir),  # as given: keep the JSON free of machine paths
        "used_sample_num": num_samples,
        "inputs": input_shapes(height, width),
        "feature_quantize_method": feature_method,
        "weight_quantize_method": weight_method,
        "feature_clamp_value": 127,
        "weight_clamp_value": 127,
        "quant_bits": 8,
        "batch_size": min(batch_size, num_samples),
        "skip_quant_op_names": list(skip_ops or []),
        "debug": False,
    }


