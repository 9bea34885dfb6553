"""Error metrics between an artifact's output and its reference (images [C,H,W] in [0,1]).

One policy for identical images: PSNR is capped at PSNR_CAP_DB (JSON has no infinity), everywhere.
Non-finite outputs give non-finite metrics, which no bound accepts (see record.meets).
"""
from __future__ import annotations

import math

import numpy as np

PSNR_CAP_DB = 100.0


def psnr(output: np.ndarray, reference: np.ndarray) -> float:
    """PSNR in dB with peak 1.0, capped at PSNR_CAP_DB; NaN when the output is not finite."""
    mse = float(np.mean((output.astype(np.float64) - reference.astype(np.float64)) ** 2))
    if not math.isfinite(mse):
        return math.nan
    return PSNR_CAP_DB if mse == 0 else min(PSNR_CAP_DB, 10.0 * math.log10(1.0 / mse))


def ssim(output: np.ndarray, reference: np.ndarray) -> float:
    """Mean SSIM (Gaussian window, sigma 1.5, 11 taps; valid region only), scikit-image's implementation."""
    from skimage.metrics import structural_similarity

    _same_shape(output, reference)
    if not np.isfinite(output).all():
        return math.nan
    return float(structural_similarity(output.astype(np.float64), reference.astype(np.float64), data_range=1.0,
                                       channel_axis=0, gaussian_weights=True, sigma=1.5,
                                       use_sample_covariance=False))


def compare(output: np.ndarray, reference: np.ndarray, with_ssim: bool = True) -> dict[str, float]:
    """max/mean absolute error, PSNR and (optionally) SSIM of one output against its reference."""
    _same_shape(output, reference)
    diff = np.abs(output.astype(np.float64) - reference.astype(np.float64))
    result = {"max_abs_err": float(diff.max()), "mean_abs_err": float(diff.mean()), "psnr_db": psnr(output, reference)}
    if with_ssim:
        result["ssim"] = ssim(output, reference)
    return result


def compare_frames(outputs: list[np.ndarray], references: list[np.ndarray]) -> dict[str, float]:
    """Metrics over several frames: errors and PSNR/SSIM averaged (as interpolation papers report),
    the largest error and the worst frame's PSNR beside them."""
    rows = [compare(o, r) for o, r in zip(outputs, references, strict=True)]
    if not rows:
        raise ValueError("no frames to compare")
    return {"max_abs_err": max(r["max_abs_err"] for r in rows),
            "mean_abs_err": float(np.mean([r["mean_abs_err"] for r in rows])),
            "psnr_db": float(np.mean([r["psnr_db"] for r in rows])),
            "worst_psnr_db": min(r["psnr_db"] for r in rows) if all(map(math.isfinite, (r["psnr_db"] for r in rows)))
            else math.nan,
            "ssim": float(np.mean([r["ssim"] for r in rows])), "frames": len(rows)}


def _same_shape(output: np.ndarray, reference: np.ndarray) -> None:
    if output.shape != reference.shape:
        raise ValueError(f"output shape {output.shape} != reference shape {reference.shape}")
