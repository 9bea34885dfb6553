"""MNN branch, with the real tools: dynamic-shape ONNX, every .mnn variant, quantizer config, safety.

All models use synthetic weights at small sizes (64x96 and 96x160), so no checkpoint is needed.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from rifebuild.calibration.triplets import read_triplets
from rifebuild.checkpoint.load import load_ifnet, save_state_dict, synthetic_state_dict
from rifebuild.core.errors import CalibrationDataError, CalibrationError
from rifebuild.evaluate.record import validate
from rifebuild.evaluate.reference import write_reference
from rifebuild.mnn.samples import quant_config, write_sequence_samples, write_synthetic_frames

SIZES = ((64, 96), (96, 160))
ROOT = Path(__file__).absolute().parent.parent


def cli(*args, check=True, stage="mnn") -> subprocess.CompletedProcess:
    """`rifebuild mnn ...` (or another stage) from the repository root, as the Snakemake rules call it."""
    proc = subprocess.run([sys.executable, "-m", "rifebuild", stage, *map(str, args)], cwd=ROOT,
                          capture_output=True, text=True)
    if check and proc.returncode != 0:
        raise AssertionError(f"rifebuild {stage} {args[0]} failed:\n{proc.stdout}\n{proc.stderr}")
    return proc


def evaluate(*args, check=True) -> subprocess.CompletedProcess:
    """`rifebuild evaluate mnn ...`: the one evaluator, as the verify_mnn rule calls it."""
    proc = subprocess.run([sys.executable, "-m", "rifebuild", "evaluate", "mnn", *map(str, args)], cwd=ROOT,
                          capture_output=True, text=True)
    if check and proc.returncode != 0:
        raise AssertionError(f"rifebuild evaluate mnn failed:\n{proc.stdout}\n{proc.stderr}")
    return proc


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> dict[str, Path]:
    """Checkpoint, references, dynamic ONNX, the four .mnn variants: built once for the module."""
    d = tmp_path_factory.mktemp("mnn")
    paths = {"weights": d / "flownet.pkl", "onnx": d / "flownet.onnx", "check": d / "onnx.check.json",
             "frames": d / "frames", "samples": d / "calibration"}
    write_synthetic_frames(paths["frames"], 4, 64, 96)
    save_state_dict(synthetic_state_dict(0, "rife-v4.6"), paths["weights"])
    net = load_ifnet(paths["weights"], "rife-v4.6")
    paths["references"] = [d / f"{h}x{w}.npz" for h, w in SIZES]
    for (h, w), ref in zip(SIZES, paths["references"]):
        write_reference(net, h, w, 0, 0.5, ref)
    # the any-size ONNX as the export stage makes it and the evaluate stage checks it (rules/export.smk)
    cli("onnx", "--model", "rife-v4.6", "--checkpoint", paths["weights"], "--out", paths["onnx"], stage="export")
    cli("onnx", "--onnx", paths["onnx"], "--max-abs-err", "1e-4", "--out", paths["check"], "--reference",
        *paths["references"], stage="evaluate")
    for variant, name in (("fp32", "flownet.mnn"), ("fp16", "flownet-fp16.mnn"), ("wq8", "flownet-wq8.mnn")):
        paths[variant] = d / name
        cli("convert", "--onnx", paths["onnx"], "--variant", variant, "--out", paths[variant])
    cli("samples", "--frames", paths["frames"], "--out", paths["samples"], "--resolution", "64x96")
    paths["int8"], paths["quant_json"] = d / "flownet-int8.mnn", d / "flownet-int8.quant.json"
    cli("quantize", "--src", paths["fp32"], "--samples", paths["samples"], "--out", paths["int8"],
        "--config-out", paths["quant_json"], "--feature-method", "EMA", "--weight-method", "MAX_ABS")
    return paths


def test_dynamic_onnx_matches_pytorch_at_two_sizes(built):
    check = json.loads(built["check"].read_text())
    assert check["details"]["input_dims"] == [[1, 3, "height", "width"], [1, 3, "height", "width"],
                                              [1, 1, "height", "width"]]
    assert [c["resolution"] for c in check["checks"]] == [list(s) for s in SIZES]
    assert all(c["max_abs_err"] < 1e-4 for c in check["checks"])


# PSNR vs PyTorch fp32 (dB) each variant must reach at both sizes with synthetic weights.
MIN_PSNR = {"fp32": 80.0, "fp16": 60.0, "wq8": 45.0, "int8": 35.0}


@pytest.mark.parametrize("variant", sorted(MIN_PSNR))
def test_variant_runs_at_two_sizes(built, variant, tmp_path):
    out = tmp_path / "verify.json"
    evaluate("--model", "rife-v4.6", "--mnn", built[variant], "--reference", *built["references"], "--out", out,
             "--eval", built["frames"], "--checkpoint", built["weights"], "--min-psnr", MIN_PSNR[variant])
    record = json.loads(out.read_text())
    validate(record)
    assert [c["resolution"] for c in record["checks"]] == [list(s) for s in SIZES]
    for row in record["checks"]:
        assert row["against"] == "pytorch" and row["psnr_db"] > MIN_PSNR[variant]
        assert row["ssim"] > 0.99
        assert len(row["inputs_sha256"]) == 64
    assert record["tool_versions"]["mnn"] and record["precision"] == variant
    assert {g["subject"]: g["frames"] for g in record["ground_truth"]} == {"artifact": 4, "pytorch": 4}


def test_verify_below_minimum_psnr_fails_clearly(built, tmp_path):
    out = tmp_path / "verify.json"
    proc = evaluate("--model", "rife-v4.6", "--mnn", built["wq8"], "--reference", built["references"][0], "--out", out,
                    "--eval", built["frames"], "--checkpoint", built["weights"], "--min-psnr", 500, check=False)
    assert proc.returncode == 2 and "is below the bound 500 dB" in proc.stderr and "mnn.min_psnr_db" in proc.stderr
    assert not out.exists()


def test_quantizer_config_and_sequence_layout(built):
    config = json.loads(built["quant_json"].read_text())
    assert config["input_type"] == "sequence"
    assert config["feature_quantize_method"] == "EMA" and config["weight_quantize_method"] == "MAX_ABS"
    assert config["inputs"] == [{"name": "in0", "shape": [1, 3, 64, 96]}, {"name": "in1", "shape": [1, 3, 64, 96]},
                                {"name": "in2", "shape": [1, 1, 64, 96]}]
    assert config["used_sample_num"] == 4 and Path(config["path"]) == built["samples"]
    sample = built["samples"] / "0000"
    assert sorted(p.name for p in sample.iterdir()) == ["in0.txt", "in1.txt", "in2.txt", "input.json"]
    assert json.loads((sample / "input.json").read_text())["inputs"] == config["inputs"]
    in0 = np.loadtxt(sample / "in0.txt", dtype=np.float32)
    assert in0.shape == (3 * 64, 96)  # NCHW order, one image row per line
    expected = np.load(built["frames"] / "0000" / "in0.npy").reshape(3 * 64, 96)
    assert np.abs(in0 - expected).max() < 1e-5
    assert np.all(np.loadtxt(sample / "in2.txt") == 0.5)


def test_unknown_skip_ops_are_refused(built, tmp_path):
    """(failed before: MNN's quantizer ignored an unknown mnn.int8.skip_ops name, silently)"""
    from rifebuild.mnn.build import build_int8, op_names

    conv = next(name for name, kind in op_names(built["fp32"]).items() if kind == "Convolution")
    with pytest.raises(CalibrationError) as info:
        build_int8(built["fp32"], built["samples"], tmp_path / "int8.mnn", tmp_path / "q.json", "EMA", "MAX_ABS",
                   skip_ops=[conv, "/net/block0/conv0/Conv"])
    assert str(info.value) == (f"mnn.int8.skip_ops: '/net/block0/conv0/Conv' is not an op of {built['fp32']}; use the "
                               f"names of its ops (named after their outputs, e.g. {conv!r})")
    assert not (tmp_path / "q.json").exists()


def test_calibration_frames_from_png_triplets_are_cropped(tmp_path):
    from PIL import Image

    folder = tmp_path / "frames" / "a"
    folder.mkdir(parents=True)
    for name in ("im1", "im2", "im3"):
        Image.fromarray(np.full((70, 100, 3), 128, np.uint8)).save(folder / f"{name}.png")
    samples = read_triplets(tmp_path / "frames")
    assert samples[0]["in0"].shape == (3, 70, 100) and "gt" in samples[0]
    assert write_sequence_samples(samples, tmp_path / "out", 64, 96) == 1
    assert np.loadtxt(tmp_path / "out" / "0000" / "in1.txt").shape == (3 * 64, 96)


@pytest.mark.parametrize("content, reason", [
    ("corrupt", "not a valid .npy file"), ("object", "an object array, which is never unpickled"),
    ("shape", "holds a float32 array of shape (64, 96), not a float32 [3,H,W] frame"),
    ("nan", "holds NaN or infinite values")])
def test_bad_npy_in_eval_dir_is_one_sentence(tmp_path, content, reason):
    """mnn.eval_dir with a corrupt or object-array in0.npy (failed before: a traceback)."""
    folder = tmp_path / "eval" / "a"
    folder.mkdir(parents=True)
    np.save(folder / "in1.npy", np.zeros((3, 64, 96), np.float32))
    if content == "corrupt":
        (folder / "in0.npy").write_bytes(b"\x93NUMPY garbage")
    elif content == "object":
        np.save(folder / "in0.npy", np.array([{"a": 1}, None], dtype=object), allow_pickle=True)
    elif content == "shape":
        np.save(folder / "in0.npy", np.zeros((64, 96), np.float32))
    else:
        np.save(folder / "in0.npy", np.full((3, 64, 96), np.nan, np.float32))
    with pytest.raises(CalibrationDataError) as info:
        read_triplets(tmp_path / "eval")
    assert str(info.value).startswith(f"{folder / 'in0.npy'}: {reason}")


def test_bad_calibration_input_is_one_clear_sentence(tmp_path, built):
    with pytest.raises(CalibrationDataError, match="calibration/evaluation split not found"):
        read_triplets(tmp_path / "missing")
    with pytest.raises(CalibrationError, match=r"mnn.int8.feature_method 'KLD' is unknown; use one of KL, ADMM, EMA"):
        quant_config(tmp_path, 1, 64, 96, "KLD", "MAX_ABS")
    with pytest.raises(CalibrationError, match="mnn.int8.weight_method"):
        quant_config(tmp_path, 1, 64, 96, "EMA", "MIN_MAX")
    proc = cli("quantize", "--src", built["fp32"], "--samples", tmp_path / "none", "--out", tmp_path / "x.mnn",
               "--config-out", tmp_path / "x.json", check=False)
    assert proc.returncode == 2
    assert proc.stderr.strip().startswith("rifebuild mnn quantize: error: ") and "no calibration samples" in proc.stderr
    assert not (tmp_path / "x.mnn").exists()


def test_converter_failure_leaves_no_model(tmp_path):
    bogus = tmp_path / "bogus.onnx"
    bogus.write_bytes(b"not an onnx model")
    proc = cli("convert", "--onnx", bogus, "--variant", "fp32", "--out", tmp_path / "x.mnn", check=False)
    assert proc.returncode == 2 and "MNN mnnconvert" in proc.stderr
    assert list(tmp_path.iterdir()) == [bogus]


def installed_distributions() -> list[str]:
    code = ("import importlib.metadata as m, json; "
            "print(json.dumps(sorted(f\"{d.metadata['Name']}=={d.version}\" for d in m.distributions())))")
    return json.loads(subprocess.check_output([sys.executable, "-c", code], text=True))


def test_the_tools_child_has_no_network(monkeypatch):
    """run_tool's child: a new network namespace where one can be made, and Python sockets refused."""
    from rifebuild.mnn import tools

    probe = "import socket; socket.create_connection(('192.0.2.1', 443), timeout=2)"
    if tools._can_unshare_network():
        proc = subprocess.run(tools.offline([sys.executable, "-c", probe]), capture_output=True, text=True)
        assert proc.returncode != 0 and "Network is unreachable" in proc.stderr
    child = tools._CHILD.replace("import _tools", "import socket; socket.create_connection(('192.0.2.1', 443))", 1)
    monkeypatch.setattr(tools, "_CHILD", child)
    monkeypatch.setattr(tools, "_can_unshare_network", lambda: False)  # the guard alone must hold too
    with pytest.raises(tools.MnnToolError, match="network access is disabled while MNN tools run"):
        tools.run_tool("mnnconvert", [])


def test_mnn_tools_work_offline_and_leave_the_venv_unchanged(built, tmp_path):
    before = installed_distributions()
    env = dict(os.environ)
    for args in (["convert", "--onnx", built["onnx"], "--variant", "fp16", "--out", tmp_path / "a.mnn"],
                 ["quantize", "--src", built["fp32"], "--samples", built["samples"], "--out", tmp_path / "b.mnn",
                  "--config-out", tmp_path / "b.json"]):
        proc = subprocess.run([sys.executable, "-m", "rifebuild", "mnn", *map(str, args)], cwd=ROOT,
                              env=env, capture_output=True, text=True)
        assert proc.returncode == 0, proc.stderr
    assert not [p.name for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temp or side files left
    assert (tmp_path / "a.mnn").stat().st_size > 0 and (tmp_path / "b.mnn").stat().st_size > 0
    after = installed_distributions()
    assert after == before
    assert not any(name.lower().startswith("aliyun") for name in after)


def test_conversion_is_byte_identical(built, tmp_path):
    # MNN stamps a random UUID into each model; mnn_tools derives it from the content instead.
    cli("convert", "--onnx", built["onnx"], "--variant", "fp32", "--out", tmp_path / "again.mnn")
    assert (tmp_path / "again.mnn").read_bytes() == built["fp32"].read_bytes()
