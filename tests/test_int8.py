"""int8 model writer: byte layout, requantize fusion, and the real model in ncnn vs fp32."""
import copy
import struct

import numpy as np
import pytest
from conftest import TINY_H, TINY_W

from rifebuild.calibration import triplets as calibdata
from rifebuild.evaluate import metrics
from rifebuild.evaluate.runtimes import NcnnSession
from rifebuild.int8 import calibrate, quant
from rifebuild.int8 import quantize as int8
from rifebuild.ncnn import graph as ncnn_model
from rifebuild.ncnn import passes as ncnn_passes
from rifebuild.ncnn.graph import TAG_FP32, TAG_INT8, Layer, Model, Weight

INT8_PSNR_BOUND_DB = 40.0  # int8 vs fp32 ncnn, synthetic weights, 64x96 (measured: 52.8 dB)


def conv(name, src, dst, cin, cout, k=1, weights=None, act=0):
    w = np.arange(cout * cin * k * k, dtype=np.float32) / 10 - 0.3 if weights is None else weights
    params = {0: str(cout), 1: str(k), 11: str(k), 4: str(k // 2), 5: "1", 6: str(w.size)}
    if act:
        params.update({9: "2", -23310: "1,0.2"})
    return Layer("Convolution", name, [src], [dst], params,
                 [Weight(w, TAG_FP32), Weight(np.linspace(-0.1, 0.1, cout).astype(np.float32))])


def test_int8_conv_byte_layout(tmp_path):
    layer = conv("c0", "in0", "out0", cin=1, cout=2)  # weights [-0.3, -0.2]
    model = Model([Layer("Input", "in0", [], ["in0"], {0: "4", 1: "4", 2: "1"}), layer])
    int8.quantize_conv(layer, np.array([127 / 0.3, 127 / 0.2], np.float32), 20.0)
    ncnn_model.write(model, tmp_path / "m.param", tmp_path / "m.bin")
    raw = (tmp_path / "m.bin").read_bytes()
    assert struct.unpack_from("<I", raw, 0)[0] == 0x000D4B38  # int8 tag
    assert struct.unpack_from("<2b", raw, 4) == (-127, -127)
    # 2 int8 values padded to 4 bytes, then raw fp32: bias[2], weight scales[2], input scale[1]
    assert len(raw) == 4 + 4 + 4 * (2 + 2 + 1)
    assert np.allclose(np.frombuffer(raw, np.float32, 2, 8), [-0.1, 0.1])
    assert np.allclose(np.frombuffer(raw, np.float32, 2, 16), [127 / 0.3, 127 / 0.2])
    assert np.frombuffer(raw, np.float32, 1, 24)[0] == 20.0
    assert "8=2" in (tmp_path / "m.param").read_text().split()
    again = ncnn_model.read(tmp_path / "m.param", tmp_path / "m.bin")
    assert again.layers[1].weights[0].tag == TAG_INT8 and len(again.layers[1].weights) == 4


def two_conv_model(requantize: bool) -> Model:
    rng = np.random.default_rng(0)
    a = conv("a", "in0", "mid", 3, 8, k=3, weights=rng.standard_normal(8 * 3 * 9).astype(np.float32) * 0.2, act=1)
    b = conv("b", "mid", "out0", 8, 4, k=1, weights=rng.standard_normal(4 * 8).astype(np.float32) * 0.2)
    model = Model([Layer("Input", "in0", [], ["in0"], {0: "16", 1: "16", 2: "3"}), a, b])
    scales = {n: quant.weight_scales(l.weights[0].data, l.get(0), six_bit=n == "a") for n, l in (("a", a), ("b", b))}
    summary = int8.quantize_model(model, scales, {"a": 100.0, "b": 40.0}, requantize=requantize)
    assert summary["requantize_fused"] == (["a"] if requantize else [])
    return model


def run_single(model: Model, tmp_path, x):
    import ncnn

    ncnn_model.write(model, tmp_path / "m.param", tmp_path / "m.bin")
    net = ncnn.Net()
    net.opt.num_threads = 1
    assert net.load_param(str(tmp_path / "m.param")) == 0 and net.load_model(str(tmp_path / "m.bin")) == 0
    ex = net.create_extractor()
    mat = ncnn.Mat(x)
    ex.input("in0", mat)
    _, out = ex.extract("out0")
    result = np.array(out).copy()
    del out, ex, mat
    net.clear()
    return result


def test_requantize_fusion_layout_and_same_result_in_ncnn(tmp_path):
    x = np.random.default_rng(1).random((3, 16, 16), dtype=np.float32)
    fused = two_conv_model(requantize=True)
    a = fused.layer("a")
    assert a.get(8) == 102 and a.weights[-1].data.tolist() == [40.0]  # b's input scale as a's output scale
    plain = run_single(two_conv_model(requantize=False), tmp_path, x)
    assert np.allclose(run_single(fused, tmp_path, x), plain, atol=1e-5)


def test_float_layers_must_exist():
    model = Model([conv("a", "in0", "out0", 1, 1)])
    with pytest.raises(int8.Int8Error, match="not Convolution layers"):
        int8.quantize_model(model, {}, {}, float_layers=["nope"])
    with pytest.raises(int8.Int8Error, match="no scales for"):
        int8.quantize_model(model, {}, {})


@pytest.fixture(scope="module")
def warp_model(pnnx_model):
    model = ncnn_model.read(*pnnx_model)
    ncnn_passes.rewrite_warp(model)
    ncnn_passes.fold_channel_scales(model)
    return model


@pytest.fixture(scope="module")
def tiny_calibration(warp_model):
    triplets = calibdata.builtin_triplets("calibration", 2, TINY_H, TINY_W, seed=0, max_motion=3)
    return triplets, calibrate.calibrate(warp_model, triplets, "kl", threads=1)


def lowered_outputs(model, folder, inputs):
    lowered = copy.deepcopy(model)
    ncnn_passes.lower_warp(lowered, TINY_H, TINY_W)
    ncnn_model.write(lowered, folder / "m.param", folder / "m.bin")
    with NcnnSession(folder / "m.param", folder / "m.bin", threads=1) as session:
        return [session.run(x)["out0"] for x in inputs]


def test_int8_model_of_synthetic_weights_runs_in_ncnn_close_to_fp32(warp_model, tiny_calibration, tmp_path):
    triplets, result = tiny_calibration
    assert len(result["weight_scales"]) == 40  # every Convolution; Deconvolutions stay float
    model = copy.deepcopy(warp_model)
    summary = int8.quantize_model(model, result["weight_scales"], result["input_scales"])
    assert len(summary["int8"]) == 40 and summary["requantize_fused"]
    assert {l.type for l in model.layers if l.weights and l.weights[0].tag == TAG_INT8} == {"Convolution"}
    assert "rife.Warp" in model.param_text() and "GridSample" not in model.param_text()
    ncnn_model.write(model, tmp_path / "int8.param", tmp_path / "int8.bin")
    ncnn_model.write(warp_model, tmp_path / "fp32.param", tmp_path / "fp32.bin")
    assert (tmp_path / "int8.bin").stat().st_size <= 0.3 * (tmp_path / "fp32.bin").stat().st_size
    inputs = [calibdata.model_inputs(t) for t in calibdata.builtin_triplets("evaluation", 1, TINY_H, TINY_W, 0, 3)]
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    fp32 = lowered_outputs(warp_model, tmp_path / "a", inputs)
    quantized = lowered_outputs(model, tmp_path / "b", inputs)
    psnr = metrics.compare(quantized[0], fp32[0])["psnr_db"]
    assert psnr >= INT8_PSNR_BOUND_DB


@pytest.mark.parametrize("method", ["aciq", "eq"])
def test_other_methods_give_a_scale_per_layer(warp_model, tiny_calibration, method):
    triplets, kl = tiny_calibration
    result = calibrate.calibrate(warp_model, triplets[:1], method, threads=1, eq_frames=1, eq_steps=4)
    assert set(result["input_scales"]) == set(kl["input_scales"])
    assert all(s > 0 and np.isfinite(s) for s in result["input_scales"].values())


def test_sensitivity_table(warp_model, tiny_calibration, tmp_path):
    triplets, result = tiny_calibration
    rows = int8.sensitivity(warp_model, result["weight_scales"], result["input_scales"], triplets[:1], threads=1)
    assert len(rows) == 40 and [r["rank"] for r in rows] == list(range(1, 41))
    assert rows[0]["psnr_db"] <= rows[-1]["psnr_db"]
    int8.write_sensitivity(tmp_path / "s.tsv", rows, keep_float=2)
    assert int8.most_sensitive(tmp_path / "s.tsv", 2) == [rows[0]["layer"], rows[1]["layer"]]
    assert (tmp_path / "s.tsv").read_text().splitlines()[1].endswith("\t1")
