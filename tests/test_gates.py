"""Every verification gate driven into failure: it raises one sentence with the numbers and the config
key of its bound, and writes no record (so the rule fails and nothing downstream looks verified).

Each gate is also fed a reference whose output holds NaN, with a bound nothing finite could miss: a
non-finite score must fail, never pass by comparing false. (The MNN gate's test is in test_mnn.py and
the native binaries' in test_native.py, next to the fixtures that build them.)"""
from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import pytest
from conftest import TINY_H, TINY_W

from rifebuild.calibration import triplets as calibdata
from rifebuild.core.errors import VerificationError
from rifebuild.evaluate import verify
from rifebuild.evaluate.reference import load_reference, write_reference
from rifebuild.export import trace
from rifebuild.int8 import calibrate
from rifebuild.int8 import quantize as int8
from rifebuild.ncnn import graph, passes


def nan_copy(reference: Path, dest: Path) -> Path:
    inputs, out0 = load_reference(reference)
    out0 = out0.copy()
    out0[0, 0, 0] = np.nan
    np.savez(dest, **inputs, out0=out0)
    return dest


@pytest.fixture(scope="module")
def reference(tmp_path_factory, net) -> Path:
    path = tmp_path_factory.mktemp("ref") / f"{TINY_H}x{TINY_W}.npz"
    write_reference(net, TINY_H, TINY_W, seed=0, timestep=0.5, dest=path)
    return path


@pytest.fixture(scope="module")
def warp_dir(tmp_path_factory, pnnx_model) -> Path:
    model = graph.read(*pnnx_model)
    passes.rewrite_warp(model)
    passes.fold_channel_scales(model)
    folder = tmp_path_factory.mktemp("warp")
    graph.write(model, folder / "flownet.param", folder / "flownet.bin")
    return folder


@pytest.fixture(scope="module")
def onnx_model(tmp_path_factory, net) -> Path:
    path = tmp_path_factory.mktemp("onnx") / "flownet.onnx"
    trace.export_onnx(net, TINY_H, TINY_W, 17, path)
    return path


def assert_gate_fails(run, out: Path, *phrases: str) -> None:
    with pytest.raises(VerificationError) as failure:
        run()
    for phrase in phrases:
        assert phrase in str(failure.value)
    assert not out.exists()
    assert not list(out.parent.glob(f".{out.name}*")), "a temp file was left behind"


def test_onnx_gate(onnx_model, reference, tmp_path):
    out = tmp_path / "flownet.onnx.verify.json"
    assert_gate_fails(lambda: verify.verify_onnx(onnx_model, [reference], 1e-12, 1, out), out,
                      "exceeds the bound 1e-12", "verify.onnx_max_abs_err")
    nan = nan_copy(reference, tmp_path / "nan.npz")
    assert_gate_fails(lambda: verify.verify_onnx(onnx_model, [nan], 1e9, 1, out), out, "nan")
    verify.verify_onnx(onnx_model, [reference], 1e-4, 1, out)  # the same gate passes on a good artifact
    assert out.exists()


@pytest.mark.parametrize("precision, strict, failing, passing, key", [
    ("fp32", {"max_abs_err": 1e-12}, "exceeds the bound 1e-12", {"max_abs_err": 1e-3}, "fp32_max_abs_err"),
    ("fp16", {"min_psnr_db": 150.0}, "is below the bound 150", {"min_psnr_db": 60.0}, "fp16_min_psnr_db")])
def test_ncnn_gate(warp_dir, reference, precision, strict, failing, passing, key, tmp_path):
    out = tmp_path / "verify.json"
    assert_gate_fails(lambda: verify.verify_ncnn(warp_dir, [reference], precision, strict, 1, out), out,
                      failing, f"verify.{key}")
    nan = nan_copy(reference, tmp_path / "nan.npz")
    assert_gate_fails(lambda: verify.verify_ncnn(warp_dir, [nan], precision, {k: 1e9 if k == "max_abs_err" else -1e9
                                                                                for k in passing}, 1, out), out, "nan")
    verify.verify_ncnn(warp_dir, [reference], precision, passing, 1, out)
    assert out.exists()


def test_int8_gate(warp_dir, synthetic_ckpt, tmp_path):
    data = tmp_path / "data"
    calibdata.write_cache("builtin", {"calibration": 2, "evaluation": 1}, (TINY_H, TINY_W), [], 0, 3, data)
    model = graph.read(warp_dir / "flownet.param", warp_dir / "flownet.bin")
    triplets = calibdata.read_cache(data, "calibration", TINY_H, TINY_W)
    scales = calibrate.calibrate(model, triplets, "kl", threads=1)
    quantized = copy.deepcopy(model)
    int8.quantize_model(quantized, scales["weight_scales"], scales["input_scales"])
    int8_dir = tmp_path / "int8"
    int8_dir.mkdir()
    graph.write(quantized, int8_dir / "flownet.param", int8_dir / "flownet.bin")
    out = tmp_path / "int8.verify.json"

    def run(bound: float):
        return verify.verify_int8(int8_dir, warp_dir, synthetic_ckpt, data, 1, bound, out, model="rife-v4.6")

    assert_gate_fails(lambda: run(500.0), out, "is below the bound 500 dB", "int8.min_psnr_vs_fp32")
    assert_gate_fails(lambda: run(float("nan")), out, "is below the bound nan dB")  # a NaN bound passes nothing
    run(20.0)
    assert out.exists()
