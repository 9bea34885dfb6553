import copy

import numpy as np
import pytest
import torch
from conftest import BLEND_PARAM, TINY_H, TINY_W

from rifebuild.evaluate import metrics
from rifebuild.evaluate.reference import fixed_inputs
from rifebuild.evaluate.runtimes import NcnnSession, run_ncnn, run_torch
from rifebuild.model import spec
from rifebuild.ncnn import graph as nm
from rifebuild.ncnn import passes as P
from rifebuild.ncnn.graph import Layer, Model


def warp_only_model(height=8, width=12) -> Model:
    """Input image + flow -> rife.Warp -> out0: the smallest model with one warp."""
    return Model([
        Layer("Input", "image", [], ["image"], {0: str(width), 1: str(height), 2: "3"}),
        Layer("Input", "flow", [], ["flow"], {0: str(width), 1: str(height), 2: "2"}),
        Layer(P.WARP_TYPE, "warp_0", ["image", "flow"], ["out0"]),
    ])


def run_warp_model(model: Model, tmp_path, image, flow) -> np.ndarray:
    import ncnn

    nm.write(model, tmp_path / "w.param", tmp_path / "w.bin")
    net = ncnn.Net()
    net.opt.use_vulkan_compute = False
    net.load_param(str(tmp_path / "w.param"))
    net.load_model(str(tmp_path / "w.bin"))
    ex = net.create_extractor()
    ex.input("image", ncnn.Mat(image))
    ex.input("flow", ncnn.Mat(flow))
    _, out = ex.extract("out0")
    result = np.array(out).copy()
    del out, ex
    net.clear()
    return result


def test_lowered_warp_matches_torch_grid_sample_even_far_out_of_range(tmp_path):
    rng = np.random.default_rng(0)
    h, w = 8, 12
    image = rng.random((3, h, w), dtype=np.float32)
    flow = (rng.standard_normal((2, h, w)) * 6).astype(np.float32)
    flow[:, :2] *= 50  # far outside the frame: must clamp to the border
    model = warp_only_model(h, w)
    assert P.lower_warp(model, h, w) == 1
    assert "GridSample" in model.layer_types() and "rife.Warp" not in model.layer_types()
    got = run_warp_model(model, tmp_path, image, flow)
    from rifebuild.model.ifnet import warp

    want = warp(torch.from_numpy(image)[None], torch.from_numpy(flow)[None])[0].numpy()
    assert np.abs(got - want).max() < 1e-5


def test_rewrite_then_lower_roundtrips_structure(tmp_path):
    model = warp_only_model()
    P.lower_warp(model, 8, 12)
    assert P.rewrite_warp(model) == 1
    assert model.layer_types() == {"Input": 2, "rife.Warp": 1}
    assert model.layers[-1].inputs == ["image", "flow"]


def test_rewrite_refuses_unknown_grid_construction():
    model = warp_only_model()
    P.lower_warp(model, 8, 12)
    for layer in model.layers:
        if layer.type == "BinaryOp" and layer.name.endswith("nx"):
            layer.set(2, 99.0)  # a scale that matches no 8x12 grid
    with pytest.raises(P.WarpPatternError, match="flow scaling"):
        P.rewrite_warp(model)


def test_dead_layer_removal_trims_splits():
    model = Model([
        Layer("Input", "in0", [], ["a"]),
        Layer("Split", "s", ["a"], ["a1", "a2", "a3"]),
        Layer("ReLU", "r1", ["a1"], ["b"]),
        Layer("ReLU", "dead", ["a2"], ["c"]),
        Layer("Sigmoid", "r2", ["a3"], ["d"]),
        Layer("BinaryOp", "add", ["b", "d"], ["out0"], {0: "0"}),
    ])
    model.layers.remove(model.layer("dead"))
    P.remove_dead_layers(model, ["out0"])
    assert model.layer("s").outputs == ["a1", "a3"]
    model.layers.remove(model.layer("r2"))
    model.layer("add").inputs = ["b", "b"]
    P.remove_dead_layers(model, ["out0"])
    assert "Split" not in model.layer_types()  # a one-way split is bypassed
    assert model.layer("r1").inputs == ["a"]


def test_rewrite_of_real_pnnx_model(pnnx_model, tmp_path):
    model = nm.read(*pnnx_model)
    before_bytes = len(model.bin_bytes())
    assert P.rewrite_warp(model) == 8
    types = model.layer_types()
    assert types["rife.Warp"] == 8 and "GridSample" not in types
    grid_memorydata = [l for l in model.layers if l.type == "MemoryData" and l.get(2) == 2]
    assert grid_memorydata == []  # no resolution-bound constants left
    assert len(model.bin_bytes()) == before_bytes - TINY_H * TINY_W * 2 * 4
    assert P.model_outputs(model) == ["out0"]
    produced = {b for l in model.layers for b in l.outputs}
    assert all(b in produced for l in model.layers for b in l.inputs)
    for layer in model.layers:
        if layer.type == "Split":
            assert len(layer.outputs) >= 2


@pytest.mark.parametrize("height, width", [(TINY_H, TINY_W), (96, 128)])
def test_rife_warp_model_lowered_at_any_resolution_matches_torch(pnnx_model, net, tmp_path, height, width):
    model = nm.read(*pnnx_model)
    P.rewrite_warp(model)
    P.lower_warp(model, height, width)
    nm.write(model, tmp_path / "l.param", tmp_path / "l.bin")
    inputs = fixed_inputs(height, width, seed=1, timestep=0.3)
    result = metrics.compare(run_ncnn(tmp_path / "l.param", tmp_path / "l.bin", inputs), run_torch(net, inputs))
    assert result["max_abs_err"] <= 1e-3


def test_fp16_storage_converts_typed_weights_only(pnnx_model):
    model = nm.read(*pnnx_model)
    fp32_size = len(model.bin_bytes())
    changed = P.to_fp16_storage(model)
    assert changed == 44  # 40 Convolution + 4 Deconvolution weight blobs
    for layer in model.layers:
        for weight in layer.weights:
            assert (weight.tag == nm.TAG_FP16) == (weight.data.dtype == np.float16)
    assert len(model.bin_bytes()) < 0.55 * fp32_size


def test_fold_channel_scales_keeps_the_output(pnnx_model, net, tmp_path):
    model = nm.read(*pnnx_model)
    P.rewrite_warp(model)
    assert P.fold_channel_scales(model) == 32  # one beta per ResConv, 8 per block
    assert "MemoryData" not in model.layer_types()
    P.lower_warp(model, TINY_H, TINY_W)
    nm.write(model, tmp_path / "f.param", tmp_path / "f.bin")
    inputs = fixed_inputs(TINY_H, TINY_W, seed=2, timestep=0.5)
    out = run_ncnn(tmp_path / "f.param", tmp_path / "f.bin", inputs)
    assert metrics.compare(out, run_torch(net, inputs))["max_abs_err"] <= 1e-3


@pytest.mark.parametrize("name", ["rife-v4.6", "rife-v4.25"])
def test_the_dropin_pads_inside_to_its_multiple_and_crops_back(name, converted, tmp_path):
    """Any frame size, including ones that are no multiple of the version's padding (32; 64 for 4.25):
    out0 has the input's size and equals PyTorch on the frames zero-padded at bottom/right to the
    multiple (the timestep map padded with t), cropped back."""
    result, multiple = converted(name), spec.get(name).arch.padding
    for h, w in ((37, 53), (multiple + 1, 2 * multiple - 1)):
        ph, pw = spec.round_up(h, w, multiple)
        inputs = fixed_inputs(h, w, seed=1, timestep=0.3)
        padded = {k: np.pad(v, ((0, 0), (0, ph - h), (0, pw - w)), mode="edge" if k == "in2" else "constant")
                  for k, v in inputs.items()}
        want = run_torch(result.net, padded)[:, :h, :w]
        lowered = copy.deepcopy(result.model)
        P.lower_warp(lowered, ph, pw)  # the warps run at the padded size inside
        nm.write(lowered, tmp_path / "m.param", tmp_path / "m.bin")
        with NcnnSession(tmp_path / "m.param", tmp_path / "m.bin") as session:
            got = session.run(inputs)["out0"]
        assert got.shape == (3, h, w)
        assert np.abs(got - want).max() < 1e-4, (name, h, w)


def test_pad_inside_is_idempotent_and_uses_power_of_two_scales():
    model = Model(nm.parse_param(BLEND_PARAM))
    assert P.pad_inside(model, 128) is True
    text = model.param_text()
    assert P.pad_inside(model, 128) is False and model.param_text() == text
    scales = {layer.params[1] for layer in model.layers if layer.type == "Interp"}
    assert scales == {"0.0078125", "128.0"}  # exact in float: ncnn's (int)(size * scale) is floor, then exact
    assert model.layers[-1].type == "Crop" and model.layers[-1].inputs[1].startswith("in0")
    with pytest.raises(P.WarpPatternError, match="power of two"):
        P.pad_inside(Model(nm.parse_param(BLEND_PARAM)), 48)
