"""Error metrics between an artifact's output and its reference (images in [0,1])."""
from __future__ import annotations

import math

import numpy as np


def compare(output: np.ndarray, reference: np.ndarray) -> dict[str, float]:
    if output.shape != reference.shape:
        raise ValueError(f"output shape {output.shape} != reference shape {reference.shape}")
    diff = np.abs(output.astype(np.float64) - reference.astype(np.float64))
    mse = float(np.mean(diff ** 2))
    return {
        "max_abs_err": float(diff.max()),
        "mean_abs_err": float(diff.mean()),
        "psnr_db": psnr_from_mse(mse),  # None when identical (JSON has no infinity)
    }


def psnr_from_mse(mse: float, peak: float = 1.0) -> float | None:
    return None if mse == 0 else 10.0 * math.log10(peak * peak / mse)
