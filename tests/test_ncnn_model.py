import struct

import numpy as np
import pytest

from rifebuild.ncnn import graph as nm
from rifebuild.ncnn.graph import Layer, Model, NcnnModelError, Weight


def tiny_conv_model(tag=nm.TAG_FP32, dtype=np.float32) -> Model:
    conv = Layer("Convolution", "conv0", ["in0"], ["c0"],
                 {0: "2", 1: "1", 11: "1", 5: "1", 6: "6"},
                 [Weight(np.arange(6, dtype=dtype), tag), Weight(np.array([0.5, -0.5], np.float32))])
    return Model([Layer("Input", "in0", [], ["in0"], {0: "4", 1: "4", 2: "3"}), conv])


def test_roundtrip_of_pnnx_output_is_byte_identical(pnnx_model, tmp_path):
    param, bin_ = pnnx_model
    model = nm.read(param, bin_)
    nm.write(model, tmp_path / "a.param", tmp_path / "a.bin")
    assert (tmp_path / "a.param").read_bytes() == param.read_bytes()
    assert (tmp_path / "a.bin").read_bytes() == bin_.read_bytes()
    types = model.layer_types()
    assert types["Convolution"] == 40 and types["Deconvolution"] == 4 and types["GridSample"] == 8


def test_typed_weights_layout(tmp_path):
    model = tiny_conv_model()
    nm.write(model, tmp_path / "m.param", tmp_path / "m.bin")
    raw = (tmp_path / "m.bin").read_bytes()
    assert struct.unpack_from("<I", raw, 0)[0] == 0  # fp32 tag
    assert np.array_equal(np.frombuffer(raw, np.float32, 6, 4), np.arange(6))
    assert np.array_equal(np.frombuffer(raw, np.float32, 2, 28), [0.5, -0.5])  # bias: raw, untagged
    again = nm.read(tmp_path / "m.param", tmp_path / "m.bin")
    assert again.layers[1].get(0) == 2 and again.layers[1].weights[0].tag == 0


@pytest.mark.parametrize("tag, dtype, nbytes", [(nm.TAG_FP16, np.float16, 4 + 12), (nm.TAG_INT8, np.int8, 4 + 8)])
def test_fp16_and_int8_blobs_are_padded_to_4_bytes(tmp_path, tag, dtype, nbytes):
    model = tiny_conv_model(tag, dtype)
    nm.write(model, tmp_path / "m.param", tmp_path / "m.bin")
    assert len((tmp_path / "m.bin").read_bytes()) == nbytes + 8
    again = nm.read(tmp_path / "m.param", tmp_path / "m.bin")
    assert again.layers[1].weights[0].data.dtype == dtype
    assert np.array_equal(again.layers[1].weights[0].as_float32(), np.arange(6))


def test_param_values_typed_access():
    layer = Layer("Crop", "c", ["a"], ["b"], {-23310: "1,4", 2: "0.125", 0: "3"})
    assert layer.get(-23310) == [4]
    assert layer.get(2) == 0.125 and layer.get(0) == 3 and layer.get(9, 7) == 7
    layer.set(-23309, [0, 2])
    layer.set(1, 0.5)
    assert layer.params[-23309] == "2,0,2" and layer.params[1] == "0.5"


def test_truncated_bin(tmp_path):
    nm.write(tiny_conv_model(), tmp_path / "m.param", tmp_path / "m.bin")
    raw = (tmp_path / "m.bin").read_bytes()
    (tmp_path / "m.bin").write_bytes(raw[:-4])
    with pytest.raises(NcnnModelError, match="truncated at layer 'conv0'"):
        nm.read(tmp_path / "m.param", tmp_path / "m.bin")


def test_trailing_bytes(tmp_path):
    nm.write(tiny_conv_model(), tmp_path / "m.param", tmp_path / "m.bin")
    with open(tmp_path / "m.bin", "ab") as f:
        f.write(b"\0" * 8)
    with pytest.raises(NcnnModelError, match="8 trailing bytes"):
        nm.read(tmp_path / "m.param", tmp_path / "m.bin")


def test_unknown_weighted_layer_is_refused(tmp_path):
    (tmp_path / "m.param").write_text("7767517\n1 1\nLSTM lstm 0 1 x 0=4\n")
    (tmp_path / "m.bin").write_bytes(b"")
    with pytest.raises(NcnnModelError, match="'LSTM', whose weight layout"):
        nm.read(tmp_path / "m.param", tmp_path / "m.bin")


@pytest.mark.parametrize("text, message", [
    ("hello\n", "not an ncnn .param"),
    ("7767517\nx\n", "line 2"),
    ("7767517\n2 1\nInput in0 0 1 in0\n", "header says 2 layers"),
    ("7767517\n1 1\nInput in0 0 2 in0\n", "fewer blobs"),
])
def test_malformed_param(tmp_path, text, message):
    (tmp_path / "m.param").write_text(text)
    (tmp_path / "m.bin").write_bytes(b"")
    with pytest.raises(NcnnModelError, match=message):
        nm.read(tmp_path / "m.param", tmp_path / "m.bin")
