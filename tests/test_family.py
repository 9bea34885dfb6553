"""Every RIFE v4 architecture through the real chain: synthetic checkpoint -> TorchScript -> pnnx -> rife.Warp
rewrite -> fp16 -> stock lowering, run with ncnn at two sizes vs PyTorch; int8 on a non-4.6 version; the
rife-bench latency of fp32 and int8 (`report family --latency`) at a tiny size.

One version per distinct architecture (aliases share it: test_versions checks): rife-v4.7 in the unit tier,
all 17 in the slow tier (make test-all; about 4 minutes on 2 idle cores).
"""
import copy

import numpy as np
import pytest
from conftest import TINY_H, TINY_W

from rifebuild.core.errors import ReportError
from rifebuild.evaluate import metrics
from rifebuild.evaluate.reference import fixed_inputs
from rifebuild.evaluate.runtimes import NcnnSession
from rifebuild.model import spec
from rifebuild.native.targets import NEEDED_LAYERS
from rifebuild.ncnn import graph, passes
from rifebuild.ncnn.graph import TAG_INT8, Layer, Model
from rifebuild.report import latency
from rifebuild.report.family import check_sizes, describe, int8_model, markdown, max_abs_error

FP32_BOUND, FP16_BOUND = 1e-3, 5e-3  # config verify.fp32_max_abs_err / fp16_max_abs_err
INT8_PSNR_BOUND_DB = 35.0  # int8 vs fp32 ncnn, synthetic weights (rife-v4.7 at 64x96: measured ~50 dB)
ARCHITECTURES = [v.name for v in spec.VERSIONS.values() if spec.same_architecture(v)[0] == v.name]  # first of each


# The unit tier converts one architecture besides v4.6 (rife-v4.7: encoder Head and feature warps; its
# int8 and ONNX tests reuse the conversion); the slow tier (make test-all, CI on a schedule) all of them.
UNIT_TIER = {"rife-v4.7"}


def _params():
    for name in ARCHITECTURES:
        if name == "rife-v4.6":
            continue  # converted by the session fixtures; its own tests (and the byte-identity test) cover it
        yield pytest.param(name, id=name, marks=() if name in UNIT_TIER else pytest.mark.slow)


def expected_warps(arch: spec.ArchSpec) -> int:
    """Two frames per block, plus the two encoder feature maps at every block after the first."""
    blocks = len(arch.widths)
    return 2 * blocks + (2 * (blocks - 1) if arch.head else 0)


def test_the_family_has_17_architectures_covering_every_feature():
    archs = [spec.get(n).arch for n in ARCHITECTURES]
    assert len(ARCHITECTURES) == 17 and {a.padding for a in archs} == {32, 64, 128}
    assert {a.act for a in archs} == {"prelu", "leaky"} and {a.resconv for a in archs} == {True, False}
    assert {a.head.convs for a in archs if a.head} == {1, 3} and any(a.resconv_groups > 1 for a in archs)


@pytest.mark.parametrize("name", list(_params()))
def test_version_converts_and_matches_pytorch_at_two_sizes(name, converted, tmp_path):
    result = converted(name)
    arch = result.version.arch
    types = result.model.layer_types()
    assert types.get("rife.Warp") == expected_warps(arch)
    assert "GridSample" not in types and "MemoryData" not in types  # no resolution-bound grid; betas folded
    missing = set(types) - {"rife.Warp", *NEEDED_LAYERS}
    assert not missing, f"{name}: add {sorted(missing)} to NEEDED_LAYERS, or rife-bench cannot load it"
    assert passes.model_outputs(result.model) == ["out0"]
    heads = [h.outputs[0] for h in passes.ifblock_heads(result.model)]  # rife-ncnn-vulkan's TTA blobs
    assert heads == [f"flow{i}" for i in range(len(arch.widths))]
    assert [l.name for l in result.model.layers if l.type == "Input"] == ["in0", "in1", "in2"]
    readers = [b for layer in result.model.layers for b in layer.inputs]
    assert len(readers) == len(set(readers))  # one reader per blob, as ncnn's light mode needs
    for h, w in check_sizes(arch.padding):
        assert h % arch.padding == 0 and w % arch.padding == 0
        fp32 = max_abs_error(result.model, result.net, h, w, tmp_path / f"{h}x{w}", threads=1)
        assert fp32 <= FP32_BOUND, f"{name} fp32 at {h}x{w}: {fp32}"
    h, w = check_sizes(arch.padding)[1]
    fp16 = max_abs_error(result.fp16, result.net, h, w, tmp_path / "fp16", fp16=True, threads=1)
    assert fp16 <= FP16_BOUND, f"{name} fp16 at {h}x{w}: {fp16}"


def test_int8_calibration_and_quantization_of_a_version_with_encoder_warps(converted, tmp_path):
    """ncnn2table crashes on rife.Warp publicly; this project calibrates itself, also for the feature warps."""
    result = converted("rife-v4.7")
    quantized = int8_model(result, frames=2, threads=1)
    convs = [l for l in quantized.layers if l.type == "Convolution"]
    assert all(l.weights[0].tag == TAG_INT8 for l in convs) and len(convs) == 42  # 40 in blocks + 2 encoder
    assert "rife.Warp" in quantized.layer_types() and len(quantized.bin_bytes()) < 0.3 * len(result.model.bin_bytes())
    inputs = fixed_inputs(TINY_H, TINY_W, seed=3, timestep=0.5)
    outputs = []
    for label, model in (("fp32", result.model), ("int8", quantized)):
        lowered = copy.deepcopy(model)
        passes.lower_warp(lowered, TINY_H, TINY_W)
        graph.write(lowered, tmp_path / f"{label}.param", tmp_path / f"{label}.bin")
        with NcnnSession(tmp_path / f"{label}.param", tmp_path / f"{label}.bin", threads=1) as session:
            outputs.append(session.run(inputs)["out0"])
    assert metrics.compare(outputs[1], outputs[0])["psnr_db"] >= INT8_PSNR_BOUND_DB


def test_split_shared_blobs_gives_every_blob_one_reader():
    model = Model([
        Layer("Input", "in0", [], ["a"]),
        Layer("Input", "in1", [], ["b"]),
        Layer("Split", "s", ["b"], ["b0", "b1"]),
        Layer("rife.Warp", "w0", ["a", "b0"], ["c"]),
        Layer("rife.Warp", "w1", ["a", "b0"], ["d"]),
        Layer("BinaryOp", "add", ["c", "d"], ["e"], {0: "0"}),
        Layer("BinaryOp", "mul", ["e", "b1"], ["out0"], {0: "2"}),
    ])
    assert passes.split_shared_blobs(model) == 2
    assert model.layer("w0").inputs == ["a_split_0", "b0"] and model.layer("w1").inputs == ["a_split_1", "b0_1"]
    assert model.layers[1].type == "Split" and model.layers[1].outputs == ["a_split_0", "a_split_1"]
    assert model.layer("s").outputs == ["b0", "b0_1", "b1"]  # an existing Split grows instead of a second one
    assert passes.split_shared_blobs(model) == 0


@pytest.mark.slow
def test_v46_model_is_byte_identical_to_the_v46_only_implementation(pnnx_model, tmp_path):
    """The rife.Warp model of the default config at 64x96, as the v4.6-only IFNet produced it (sha256 taken
    before the model family existed; same torch and pnnx pins)."""
    import hashlib

    assert (TINY_H, TINY_W) == (64, 96)
    model = graph.read(*pnnx_model)
    passes.rewrite_warp(model)
    passes.fold_channel_scales(model)
    assert hashlib.sha256(model.param_text().encode()).hexdigest() == (
        "5d998e153073842d1a9881c588a8104f230dea76be6b54b9ba85cb3c82a79437")
    assert hashlib.sha256(model.bin_bytes()).hexdigest() == (
        "21fd2a9427658863626747bd424e3b23fe2973c4ef0e919812c62157c67bd960")
    assert np.isfinite(np.concatenate([w.as_float32().ravel() for l in model.layers for w in l.weights])).all()


@pytest.mark.parametrize("name, any_size", [("rife-v4.7", False),
                                            pytest.param("rife-v4.26-heavy", True, marks=pytest.mark.slow)])
def test_onnx_export_of_other_versions_matches_pytorch(name, any_size, converted, tmp_path):
    """Fixed-size ONNX (the ncnn branch's check) and the any-size ONNX the MNN branch converts, whose
    warps of encoder features must follow the runtime shape too."""
    from rifebuild.evaluate.runtimes import run_onnx, run_torch
    from rifebuild.export.trace import export_onnx

    result = converted(name)
    sizes = check_sizes(result.version.arch.padding)
    export_onnx(result.net, *sizes[0], 17, tmp_path / "m.onnx", any_size=any_size)
    for h, w in sizes if any_size else sizes[:1]:
        inputs = fixed_inputs(h, w, seed=2, timestep=0.7)
        err = np.abs(run_onnx(tmp_path / "m.onnx", inputs, threads=1) - run_torch(result.net, inputs)).max()
        assert err <= 1e-4, f"{name} ONNX at {h}x{w}: {err}"


def test_latency_times_fp32_and_the_tables_int8_model_with_rife_bench(host_binary, tmp_path):
    """--latency on the simplest architecture at the tiny size: both models run in rife-bench, in turns."""
    row = describe("rife-v4", tmp_path, threads=1, latency=latency.Plan(host_binary, TINY_H, TINY_W, threads=1, runs=1))
    assert row["supported"], row.get("why_not")
    timed = row["latency"]
    assert timed["size"] == f"{TINY_H}x{TINY_W}" and timed["threads"] == 1
    for precision in ("fp32", "int8"):
        assert timed[precision]["n"] == 1 and 0 < timed[precision]["median_ms"] < float("inf")
    assert timed["int8_vs_fp32"] == round(timed["int8"]["median_ms"] / timed["fp32"]["median_ms"], 3)
    assert "int8" in row["errors"][f"{TINY_H}x{TINY_W}"] and "int8_size_pct" in row  # the timed int8 model
    table = markdown([row]).splitlines()
    assert latency.COLUMN in table[0]
    column = table[0].split(" | ").index(latency.COLUMN)
    assert table[2].split(" | ")[column].startswith(f"{timed['fp32']['median_ms']:.1f} / {timed['int8']['median_ms']:.1f}")


def test_latency_size_follows_the_padding_and_a_missing_binary_fails_first(tmp_path):
    plan = latency.Plan(tmp_path / "rife-bench")
    assert [plan.size(p) for p in (32, 64, 128)] == [(736, 1280), (768, 1280), (768, 1280)]
    with pytest.raises(ReportError, match="does not exist; build it first"):
        plan.check()


def test_family_cli_quantizes_what_it_times_and_reuses_rows_of_one_architecture(monkeypatch, tmp_path):
    """--latency quantizes every version (the timed int8 model is the table's), a bare --int8 every version
    too, and a version of an architecture already described reuses its row."""
    import json

    from rifebuild.cli import main
    from rifebuild.report import family

    calls = []

    def fake_describe(name, work, threads, int8=False, latency=None):
        calls.append((name, int8, latency))
        return {"model": name, "number": "", "padding": 32, "params": 1, "flops": 1e9, "flops_size": [736, 1280],
                "official": "", "notes": "", "supported": True}

    monkeypatch.setattr(family, "describe", fake_describe)
    binary = tmp_path / "rife-bench"
    binary.write_bytes(b"")
    models = ["--models", "rife-v4.6", "rife-v4.7", "rife-v4.8"]  # 4.8 is 4.7's architecture
    assert main(["report", "family", *models, "--latency", f"--latency-bin={binary}", "--latency-size=64x96",
                 f"--out={tmp_path / 'a.json'}"]) == 0
    assert [(n, i) for n, i, _ in calls] == [("rife-v4.6", True), ("rife-v4.7", True)]
    assert calls[0][2] == latency.Plan(binary, 64, 96, threads=2, runs=8)
    assert [r["model"] for r in json.loads((tmp_path / "a.json").read_text())] == models[1:]
    calls.clear()
    assert main(["report", "family", *models[:2], "--int8", f"--out={tmp_path / 'b.json'}"]) == 0
    assert calls == [("rife-v4.6", True, None)]
    calls.clear()
    assert main(["report", "family", *models[:3], "--int8", "rife-v4.7", f"--out={tmp_path / 'c.json'}"]) == 0
    assert calls == [("rife-v4.6", False, None), ("rife-v4.7", True, None)]
    calls.clear()  # an ensemble variant is another graph of the same architecture: described, not reused
    assert main(["report", "family", "--models", "rife-v4.6", "rife-v4.6-ensemble", "rife-v4.7-ensemble",
                 "rife-v4.8-ensemble", f"--out={tmp_path / 'd.json'}"]) == 0
    assert [n for n, _, _ in calls] == ["rife-v4.6", "rife-v4.6-ensemble", "rife-v4.7-ensemble"]
    rows = json.loads((tmp_path / "d.json").read_text())
    assert rows[-1]["model"] == "rife-v4.8-ensemble" and rows[-1]["official"].endswith("flownet_v4.8.pkl")
