"""int8 quantization math as ncnn's own tools define it, plus ncnn's .table file format.

- Weight scales are per output channel, 127 / max|w| ... except 3x3 stride-1 dilation-1
  convolutions, which ncnn runs with int8 winograd F(4,3): their weights must fit in 6 bits, so
  their scale is 31 / max|w| (ncnn2table does the same).
- Activation (bottom blob) scales are one per layer: 127 / threshold, the threshold from KL
  (histogram of |x| in 2048 bins over [0, absmax], best of thresholds 128..2047 bins when the
  clipped distribution is squeezed into 128 levels), ACIQ (Gaussian clip from absmax and the blob
  size) or EQ (KL refined by a cosine-similarity search on the layer's int8 output).
- The table: one line `<layer>_param_0 s0 s1 ...` per layer (weight scales), then one line
  `<layer> s` per layer (input scale); ncnn2int8 reads it by these keys.
"""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from rifebuild.core.errors import TableError
from rifebuild.core.files import atomic_write_bytes

NUM_BINS = 2048
TARGET_BINS = 128
KL_EPS = 1e-4



def c_round(x: np.ndarray) -> np.ndarray:
    """C's round(): halves away from zero (what ncnn's float2int8 does)."""
    return np.sign(x) * np.floor(np.abs(x) + 0.5)


def quantize(x: np.ndarray, scale) -> np.ndarray:
    """float -> int8 values as ncnn does: round(x * scale) clamped to [-127, 127]."""
    return np.clip(c_round(np.asarray(x, np.float32) * scale), -127, 127).astype(np.int8)


def is_winograd_3x3s1(kernel: tuple[int, int], stride: tuple[int, int], dilation: tuple[int, int]) -> bool:
    return kernel == (3, 3) and stride == (1, 1) and dilation == (1, 1)


def weight_scales(weight: np.ndarray, num_output: int, six_bit: bool) -> np.ndarray:
    """Per-output-channel scales: (31 if six_bit else 127) / max|w|; a zero channel gets 1."""
    absmax = np.abs(weight.reshape(num_output, -1)).max(axis=1).astype(np.float32)
    levels = np.float32(31 if six_bit else 127)
    safe = np.where(absmax > 0, absmax, 1).astype(np.float32)
    return np.where(absmax > 0, levels / safe, 1).astype(np.float32)


# ---------------------------------------------------------------------------------------------
# activation thresholds


def histogram(x: np.ndarray, absmax: float) -> np.ndarray:
    """|x| in NUM_BINS bins over [0, absmax] (zeros skipped, as ncnn2table does)."""
    a = np.abs(x[x != 0]).astype(np.float64)
    if absmax <= 0 or a.size == 0:
        return np.zeros(NUM_BINS, np.int64)
    index = np.minimum((a / absmax * NUM_BINS).astype(np.int64), NUM_BINS - 1)
    return np.bincount(index, minlength=NUM_BINS).astype(np.int64)


def kl_divergence(p: np.ndarray, threshold: int) -> float:
    """KL(reference || 128-level quantization) of normalised histogram `p` clipped at `threshold` bins.

    Reference: the first `threshold` bins, the clipped tail added to the last one. Candidate: the
    first `threshold` bins (tail not included) cut into 128 equal, fractional-width levels; each
    level's average is spread back over the fine bins it covers. Both get +1e-4 per bin.
    """
    per_bin = threshold / TARGET_BINS
    clip = p[:threshold].astype(np.float64)
    clip[-1] += p[threshold:].sum()
    clip += KL_EPS
    # Piecewise-linear cumulative mass, so fractional level edges take fractional bins.
    cum = np.concatenate([[0.0], np.cumsum(p[:threshold], dtype=np.float64)])
    edges = np.arange(TARGET_BINS + 1) * per_bin
    edges[-1] = threshold
    whole = np.minimum(np.floor(edges).astype(np.int64), threshold - 1)
    at = cum[whole] + (edges - whole) * p[whole]
    average = np.diff(at) / per_bin  # [128]
    # Fine bin k overlaps level floor(k / per_bin) and, when a level edge falls inside it, the next.
    k = np.arange(threshold)
    first = np.minimum((k / per_bin).astype(np.int64), TARGET_BINS - 1)
    split = np.minimum(edges[first + 1], k + 1)
    expand = average[first] * (split - k)
    rest = first + 1 < TARGET_BINS
    expand[rest] += average[np.minimum(first + 1, TARGET_BINS - 1)][rest] * (k + 1 - split)[rest]
    expand += KL_EPS
    return float(np.sum(clip * np.log(clip / expand)))


def kl_threshold_bin(hist: np.ndarray) -> int:
    """The fine-bin count (128..2047) whose 128-level quantization has the least KL divergence."""
    total = hist.sum()
    if total == 0:
        return NUM_BINS - 1
    p = hist.astype(np.float64) / total
    best, best_kl = TARGET_BINS, math.inf
    for threshold in range(TARGET_BINS, NUM_BINS):
        kl = kl_divergence(p, threshold)
        if kl < best_kl:
            best, best_kl = threshold, kl
    return best


def kl_threshold(hist: np.ndarray, absmax: float) -> float:
    """Threshold in activation units: the centre of the best bin, as ncnn2table places it."""
    return (kl_threshold_bin(hist) + 0.5) * absmax / NUM_BINS


ACIQ_ALPHA = (0.0, 1.71063519, 2.15159277, 2.55913646, 2.93620062, 3.28691474, 3.6151146, 3.92403714)


def aciq_threshold(absmax: float, count: int, bits: int = 8) -> float:
    """ACIQ's Gaussian clip: sigma estimated from absmax and the sample count, times alpha(bits)."""
    gaussian_const = (0.5 * 0.35) * (1 + math.sqrt(math.pi * math.log(4)))
    std = (absmax * 2 * gaussian_const) / math.sqrt(2 * math.log(count))
    return min(absmax, ACIQ_ALPHA[bits - 1] * std)


def scale_of(threshold: float) -> float:
    return 127.0 / threshold if threshold > 0 else 1.0


# ---------------------------------------------------------------------------------------------
# simulated int8 convolution (for EQ's search)


def conv_int8_sim(x, weight, bias, w_scales, x_scale: float, stride: int, pad: int, activation):
    """What ncnn's int8 Convolution computes: int8 input and weights, int32 sums, dequantized."""
    import torch
    import torch.nn.functional as F

    xq = torch.clamp(torch.round(x * x_scale), -127, 127)
    out = F.conv2d(xq, weight, None, stride, pad)  # `weight` already holds the int8 values
    out = out / (x_scale * w_scales.view(1, -1, 1, 1))
    if bias is not None:
        out = out + bias.view(1, -1, 1, 1)
    return activation(out)


def cosine(a, b) -> float:
    a, b = a.reshape(-1).double(), b.reshape(-1).double()
    denom = float(a.norm() * b.norm())
    return float(a @ b) / denom if denom > 0 else 1.0


# ---------------------------------------------------------------------------------------------
# the .table file


def format_table(weight_scales_of: dict[str, np.ndarray], input_scale_of: dict[str, float]) -> str:
    """ncnn's layout: all `<name>_param_0` weight-scale lines, then all `<name>` input-scale lines."""
    lines = [" ".join([f"{name}_param_0", *[f"{float(s):f}" for s in scales]]) + " "
             for name, scales in weight_scales_of.items()]
    lines += [f"{name} {float(s):f} " for name, s in input_scale_of.items()]
    return "\n".join(lines) + "\n"


def write_table(path: Path | str, weight_scales_of: dict[str, np.ndarray], input_scale_of: dict[str, float]) -> None:
    atomic_write_bytes(path, format_table(weight_scales_of, input_scale_of).encode())


def parse_table(text: str, path: Path | str = "<table>") -> tuple[dict[str, np.ndarray], dict[str, float]]:
    """Inverse of format_table; also reads tables written by ncnn2table."""
    weights: dict[str, np.ndarray] = {}
    inputs: dict[str, float] = {}
    for lineno, line in enumerate(text.splitlines(), start=1):
        parts = line.split()
        if not parts:
            continue
        try:
            values = [float(v) for v in parts[1:]]
        except ValueError:
            raise TableError(f"{path}:{lineno}: scales must be numbers: {line.strip()[:80]!r}") from None
        if not values:
            raise TableError(f"{path}:{lineno}: key {parts[0]!r} has no scales")
        key = parts[0]
        if "_param_" in key:
            weights[key.rsplit("_param_", 1)[0]] = np.array(values, np.float32)
        else:
            if len(values) != 1:
                raise TableError(f"{path}:{lineno}: input scale of {key!r} must be one number, got {len(values)}")
            inputs[key] = values[0]
    return weights, inputs


def read_table(path: Path | str) -> tuple[dict[str, np.ndarray], dict[str, float]]:
    return parse_table(Path(path).read_text(), path)
