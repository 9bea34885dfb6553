"""int8 math and the .table format; expectations are computed here, independently of rifebuild.quant."""
import math

import numpy as np
import pytest

from rifebuild.int8 import quant


def kl_by_loops(p: np.ndarray, threshold: int) -> float:
    """The KL definition written out bin by bin (reference: ncnn's quantize docs / ncnn2table)."""
    levels = 128
    width = threshold / levels
    clip = [p[j] + 1e-4 for j in range(threshold)]
    clip[-1] += p[threshold:].sum()

    def overlap(j, k):
        start, end = j * width, (threshold if j == levels - 1 else (j + 1) * width)
        return max(0.0, min(end, k + 1) - max(start, k))

    expand = [1e-4] * threshold
    for j in range(levels):
        ks = range(int(math.floor(j * width)), min(threshold, int(math.ceil((j + 1) * width))))
        average = sum(overlap(j, k) * p[k] for k in ks) / width
        for k in ks:
            expand[k] += overlap(j, k) * average
    return sum(c * math.log(c / e) for c, e in zip(clip, expand))


@pytest.mark.parametrize("threshold", [128, 129, 200, 333, 1024, 2047])
def test_kl_divergence_matches_the_definition(threshold):
    counts = np.random.default_rng(1).integers(0, 100, quant.NUM_BINS).astype(np.float64)
    p = counts / counts.sum()
    assert quant.kl_divergence(p, threshold) == pytest.approx(kl_by_loops(p, threshold), rel=1e-9)


def test_kl_threshold_clips_a_lone_outlier():
    rng = np.random.default_rng(0)
    x = np.abs(rng.standard_normal(100_000)).astype(np.float32)
    x[0] = 40.0  # one outlier: absmax is 10x the bulk
    hist = quant.histogram(x, 40.0)
    assert hist.sum() == x.size and hist[-1] == 1
    threshold = quant.kl_threshold(hist, 40.0)
    assert 2.5 < threshold < 8.0  # the Gaussian bulk, not the outlier
    assert threshold == pytest.approx((quant.kl_threshold_bin(hist) + 0.5) * 40.0 / 2048)


def test_kl_threshold_keeps_the_range_of_a_uniform_distribution():
    x = np.linspace(0.001, 1.0, 200_000, dtype=np.float32)
    threshold = quant.kl_threshold(quant.histogram(x, 1.0), 1.0)
    assert threshold > 0.9  # nothing to clip


def test_histogram_skips_zeros_and_uses_abs():
    hist = quant.histogram(np.array([0.0, -1.0, 0.5, 1.0, 0.0]), 1.0)
    assert hist.sum() == 3 and hist[1024] == 1 and hist[2047] == 2


def test_aciq_threshold():
    absmax, n = 10.0, 50_000
    const = 0.175 * (1 + math.sqrt(math.pi * math.log(4)))
    expected = 3.92403714 * absmax * 2 * const / math.sqrt(2 * math.log(n))
    assert quant.aciq_threshold(absmax, n) == pytest.approx(expected, rel=1e-6)
    assert quant.aciq_threshold(absmax, n, bits=6) == pytest.approx(expected * 3.28691474 / 3.92403714, rel=1e-6)
    assert quant.aciq_threshold(absmax, 20) == absmax  # the Gaussian clip never exceeds the range


def test_weight_scales_per_output_channel_and_six_bit_for_winograd():
    w = np.array([[1.0, -2.0], [0.5, 0.25], [0.0, 0.0]], np.float32)
    assert np.allclose(quant.weight_scales(w, 3, six_bit=False), [63.5, 254.0, 1.0])
    assert np.allclose(quant.weight_scales(w, 3, six_bit=True), [15.5, 62.0, 1.0])
    assert quant.is_winograd_3x3s1((3, 3), (1, 1), (1, 1))
    assert not quant.is_winograd_3x3s1((3, 3), (2, 2), (1, 1))


def test_quantize_rounds_half_away_from_zero_and_clamps():
    q = quant.quantize(np.array([0.5, -0.5, 1.49, 300.0, -300.0]), 1.0)
    assert q.tolist() == [1, -1, 1, 127, -127] and q.dtype == np.int8


def test_table_write_parse_roundtrip(tmp_path):
    weights = {"conv_a": np.array([127.5, 31.25], np.float32), "conv_b": np.array([2.0], np.float32)}
    inputs = {"conv_a": 12.5, "conv_b": 0.125}
    quant.write_table(tmp_path / "t.table", weights, inputs)
    text = (tmp_path / "t.table").read_text()
    # ncnn's layout: weight lines (<name>_param_0) first, then input-scale lines, "%f" values.
    assert text.splitlines() == ["conv_a_param_0 127.500000 31.250000 ", "conv_b_param_0 2.000000 ",
                                 "conv_a 12.500000 ", "conv_b 0.125000 "]
    w, i = quant.read_table(tmp_path / "t.table")
    assert set(w) == {"conv_a", "conv_b"} and np.allclose(w["conv_a"], [127.5, 31.25])
    assert i == inputs


@pytest.mark.parametrize("text, message", [
    ("conv_a_param_0 1.0 x\n", "must be numbers"),
    ("conv_a\n", "has no scales"),
    ("conv_a 1.0 2.0\n", "must be one number"),
])
def test_bad_table(text, message):
    with pytest.raises(quant.TableError, match=message):
        quant.parse_table(text)
