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


def ssim(output: np.ndarray, reference: np.ndarray) -> float:
    """Mean SSIM of two [C,H,W] images in [0,1] (Gaussian window 11, sigma 1.5, per channel).

    Only the valid region counts (no padding artefacts). The window is separable, so it runs as two
    11-tap passes in float64 (scipy), fast enough for every evaluation frame at 736x1280.
    """
    from scipy.ndimage import correlate1d

    if output.shape != reference.shape:
        raise ValueError(f"output shape {output.shape} != reference shape {reference.shape}")
    g = np.exp(-((np.arange(11) - 5.0) ** 2) / (2 * 1.5 ** 2))
    g /= g.sum()

    def blur(z):
        return correlate1d(correlate1d(z, g, axis=-2), g, axis=-1)[..., 5:-5, 5:-5]

    x, y = output.astype(np.float64), reference.astype(np.float64)
    mx, my = blur(x), blur(y)
    vx, vy, cxy = blur(x * x) - mx ** 2, blur(y * y) - my ** 2, blur(x * y) - mx * my
    c1, c2 = 0.01 ** 2, 0.03 ** 2
    s = ((2 * mx * my + c1) * (2 * cxy + c2)) / ((mx ** 2 + my ** 2 + c1) * (vx + vy + c2))
    return float(s.mean())
