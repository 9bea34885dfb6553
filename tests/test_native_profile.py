"""Per-layer profile: parsing ncnn's NCNN_BENCHMARK lines, medians, totals, the profiling build variant."""
import pytest

from rifebuild.core.errors import NativeError
from rifebuild.native import profile as native_profile
from rifebuild.native import targets as native_targets

# Two forward passes as ncnn 1.0.20261020's benchmark.cpp prints them (format "%-24s %-30s %8.2lfms    |").
PASS = [
    ("Concat", "cat_0", "{:.2f}", ""),
    ("Convolution", "conv_49", "{:.2f}",
     "[320, 184,   4 *16] -> [320, 184,   8 *8]         kernel: 3 x 3     stride: 1 x 1"),
    ("rife.Warp", "warp_0", "{:.2f}", ""),
]


def _stderr(times_per_pass):
    lines = ["some other log line"]
    for times in times_per_pass:
        for (kind, name, fmt, shape), ms in zip(PASS, times):
            lines.append(f"{kind:<24} {name:<30} {fmt.format(ms):>8}ms    | {shape}".rstrip())
    return "\n".join(lines) + "\n"


def test_parse_takes_per_layer_median_of_timed_passes():
    text = _stderr([[50.0, 50.0, 50.0], [1.0, 10.0, 4.0], [3.0, 12.0, 5.0], [2.0, 11.0, 6.0]])
    rows = native_profile.parse_layer_times(text, runs=4, skip=1)
    assert [(r["type"], r["name"], r["ms"]) for r in rows] == [
        ("Concat", "cat_0", 2.0), ("Convolution", "conv_49", 11.0), ("rife.Warp", "warp_0", 5.0)]
    assert rows[1]["shape"].startswith("[320, 184,   4 *16] -> [320, 184,   8 *8]")
    assert native_profile.totals_by_type(rows) == {"Convolution": 11.0, "rife.Warp": 5.0, "Concat": 2.0}


def test_parse_refuses_output_of_a_normal_build():
    with pytest.raises(NativeError, match="profiling build"):
        native_profile.parse_layer_times('{"median_ms": 1.0}\n', runs=2, skip=1)
    with pytest.raises(NativeError, match="profiling build"):
        native_profile.parse_layer_times(_stderr([[1, 2, 3]]), runs=2, skip=1)  # lines of one pass, two expected


def test_format_lists_types_with_ratio():
    rows8 = [{"type": "Convolution", "name": "c", "shape": "", "ms": 8.0}, {"type": "rife.Warp", "name": "w", "shape": "", "ms": 5.0}]
    rows32 = [{"type": "Convolution", "name": "c", "shape": "", "ms": 10.0}, {"type": "rife.Warp", "name": "w", "shape": "", "ms": 5.0}]
    side = lambda rows, prec: {"precision": prec, "by_type": native_profile.totals_by_type(rows),  # noqa: E731
                               "sum_of_layers_ms": sum(r["ms"] for r in rows)}
    text = native_profile.format_profile({"width": 64, "height": 32, "threads": 2, "loops": 3, "rounds": 2,
                                          "model": side(rows8, "int8"), "baseline": side(rows32, "fp32")})
    rows = {line.split()[0]: line.split()[-3:] for line in text.splitlines()[2:]}
    assert rows["Convolution"] == ["8.0", "10.0", "0.80"]
    assert rows["(all"] == ["13.0", "15.0", "0.87"]


def test_profiling_variant_is_a_separate_build():
    host = native_targets.target_spec("host", isa="avx2")
    prof = native_targets.profiling_variant(host)
    assert prof.name == "host-profile" and prof.cmake_args == host.cmake_args
    assert prof.ncnn_options["NCNN_BENCHMARK"] == "ON" and "NCNN_BENCHMARK" not in host.ncnn_options


def test_profile_of_a_missing_binary_or_model_is_one_sentence(tmp_path):
    with pytest.raises(NativeError, match="does not exist"):
        native_profile.profile_once(tmp_path / "rife-bench", tmp_path, "int8", 96, 64, 1, 0, 1)
