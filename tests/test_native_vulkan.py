"""The Vulkan build (host-vulkan) on this machine's Vulkan device (Mesa's lavapipe in CI): rife.Warp's
shader against torch grid_sample (pack1 and pack4 images, sub-pixel coordinates past x = 1024 in fp16),
the whole model with every layer on the GPU against PyTorch at two sizes (fp32, fp16, int8), and the
one-sentence failures (CPU-only build, no driver, a layer without a Vulkan path)."""
from __future__ import annotations

import copy
import json
import os
import subprocess

import numpy as np
import pytest
from conftest import TINY_H, TINY_W
from test_native import WARP_PARAM, _torch_warp, _warp_inputs

from rifebuild.calibration import triplets as calibdata
from rifebuild.core.errors import NativeError
from rifebuild.evaluate import metrics
from rifebuild.evaluate.reference import fixed_inputs
from rifebuild.evaluate.runtimes import run_torch
from rifebuild.int8 import calibrate
from rifebuild.int8 import quantize as int8
from rifebuild.native import run as native_run
from rifebuild.native.vulkan import count_devices
from rifebuild.ncnn import graph as ncnn_model
from rifebuild.ncnn import passes as ncnn_passes

GPU = 0
# Bounds of the whole synthetic-weights model on lavapipe vs PyTorch (config native.vulkan: the same
# numbers gate the trained model's verify-vulkan records).
FP32_MAX_ABS_ERR, FP16_MAX_ABS_ERR, INT8_MIN_PSNR = 1e-3, 2e-2, 30.0


@pytest.fixture(scope="module")
def warp_param(tmp_path_factory):
    path = tmp_path_factory.mktemp("warp") / "warp.param"
    path.write_text(WARP_PARAM)
    return path


@pytest.mark.parametrize("channels", [3, 8])  # 3: pack1 (frames); 8: pack4 (feature maps)
def test_warp_shader_matches_grid_sample(gpu_binary, warp_param, channels):
    image, flow = _warp_inputs(c=channels)
    got = native_run.dump(gpu_binary, {"image": image, "flow": flow}, param=warp_param, gpu=GPU)
    np.testing.assert_allclose(got, _torch_warp(image, flow), atol=1e-5)


@pytest.mark.parametrize("channels", [3, 4])
def test_warp_fp16_keeps_subpixel_coordinates_past_1024(gpu_binary, warp_param, channels):
    """fp16 storage + arithmetic: x + fx in fp16 has a step of 1 past x = 1024 (it would snap to whole
    pixels); the shader computes coordinates in fp32, so only the storage rounding of the values
    remains. Compared with torch on the same fp16-rounded inputs."""
    rng = np.random.default_rng(3)
    image = rng.random((channels, 4, 1536), dtype=np.float32)
    flow = np.stack([np.full((4, 1536), 0.375, np.float32), np.full((4, 1536), 0.25, np.float32)])
    got = native_run.dump(gpu_binary, {"image": image, "flow": flow}, param=warp_param, gpu=GPU, precision="fp16")
    want = _torch_warp(image.astype(np.float16).astype(np.float32), flow.astype(np.float16).astype(np.float32))
    assert np.abs(got - want)[:, :, 1024:].max() <= 2e-3


@pytest.fixture(scope="module")
def vulkan_models(pnnx_model, tmp_path_factory):
    """The drop-in model (synthetic weights; it pads inside) and its int8 quantization, as rife-bench model
    folders."""
    model = ncnn_model.read(*pnnx_model)
    ncnn_passes.make_dropin(model, "pnnx model", 4, padding=32)
    triplets = calibdata.builtin_triplets("calibration", 2, TINY_H, TINY_W, seed=0, max_motion=3)
    scales = calibrate.calibrate(model, triplets, "kl", threads=1)
    quantized = copy.deepcopy(model)
    int8.quantize_model(quantized, scales["weight_scales"], scales["input_scales"])
    folders = {}
    for name, m in (("float", model), ("int8", quantized)):
        folder = tmp_path_factory.mktemp(name)
        ncnn_model.write(m, folder / "flownet.param", folder / "flownet.bin")
        folders[name] = folder
    return folders


@pytest.mark.parametrize("height, width", [(TINY_H, TINY_W), (96, 128)])
@pytest.mark.parametrize("precision", ["fp32", "fp16", "int8"])
def test_whole_model_on_the_gpu_matches_pytorch(gpu_binary, vulkan_models, net, precision, height, width):
    """Every layer on Vulkan (rife-bench fails otherwise) and the output within bounds vs PyTorch."""
    inputs = fixed_inputs(height, width, seed=1, timestep=0.3)
    folder = vulkan_models["int8" if precision == "int8" else "float"]
    got = native_run.dump(gpu_binary, inputs, model_dir=folder, precision=precision,
                          gpu=GPU)
    result = metrics.compare(got, run_torch(net, inputs).reshape(got.shape))
    if precision == "int8":
        assert result["psnr_db"] >= INT8_MIN_PSNR
    else:
        assert result["max_abs_err"] <= (FP32_MAX_ABS_ERR if precision == "fp32" else FP16_MAX_ABS_ERR)


def test_padding_inside_runs_on_the_gpu(gpu_binary, pnnx_model, net, tmp_path):
    """The padding layers (Padding, nearest Interp by 1/m and m, two-input Crop) on Vulkan: the v4.6 graph
    told to pad to 64 inside, at 96x160 (a multiple of 32, not of 64), gives PyTorch's frame on the
    inputs zero-padded to 128x192 (timestep map: t) and cropped back."""
    model = ncnn_model.read(*pnnx_model)
    ncnn_passes.make_dropin(model, "pnnx model", 4, padding=64)
    ncnn_model.write(model, tmp_path / "flownet.param", tmp_path / "flownet.bin")
    inputs = fixed_inputs(96, 160, seed=1, timestep=0.3)
    got = native_run.dump(gpu_binary, inputs, model_dir=tmp_path, gpu=GPU)
    padded = {k: np.pad(v, ((0, 0), (0, 32), (0, 32)), mode="edge" if k == "in2" else "constant")
              for k, v in inputs.items()}
    want = run_torch(net, padded)[:, :96, :160]
    assert got.shape[-2:] == (96, 160)  # cropped back to the size it was given
    assert np.abs(got.reshape(want.shape) - want).max() <= FP32_MAX_ABS_ERR


def test_auto_precision_on_the_gpu_runs_the_int8_model_as_int8(gpu_binary, vulkan_models):
    """--precision auto (the default) reads int8 from the .param on the GPU too, and fp32 on the int8
    model is refused there as on the CPU (it would read int8 weights as floats)."""
    for folder, want in ((vulkan_models["int8"], "int8"), (vulkan_models["float"], "fp32")):
        out = json.loads(native_run.call(gpu_binary, ["bench", "--model", folder, "--width", TINY_W,
                                                      "--height", TINY_H, "--loops", 1, "--gpu", GPU]))
        assert out["precision"] == want and out["device"] != "cpu"
    with pytest.raises(NativeError, match="is an int8 model"):
        native_run.bench(gpu_binary, vulkan_models["int8"], TINY_W, TINY_H, loops=1, precision="fp32", gpu=GPU)


def test_a_layer_without_vulkan_path_fails_naming_it(gpu_binary, tmp_path):
    (tmp_path / "g.param").write_text("7767517\n3 3\nInput image 0 1 image\nInput grid 0 1 grid\n"
                                      "GridSample gs_0 2 1 image grid out0\n")
    with pytest.raises(NativeError, match=r"run on the CPU: gs_0 \(GridSample\)"):
        native_run.dump(gpu_binary, {"image": np.zeros((3, 8, 8), np.float32), "grid": np.zeros((8, 8, 2), np.float32)},
                        param=tmp_path / "g.param", gpu=GPU)


def test_cpu_build_refuses_gpu(host_binary, blend_model):
    with pytest.raises(NativeError, match="CPU-only: build the host-vulkan target"):
        native_run.bench(host_binary, blend_model, 64, 32, loops=1, gpu=GPU)


def test_no_vulkan_driver_is_one_sentence(vulkan_binary, blend_model):
    """No driver (here: the loader pointed at a driver list that does not exist): one sentence, exit 2."""
    env = {**os.environ, "VK_ICD_FILENAMES": "/nonexistent.json", "VK_DRIVER_FILES": "/nonexistent.json"}
    proc = subprocess.run([str(vulkan_binary), "bench", "--model", str(blend_model), "--width", "64", "--height", "32",
                           "--gpu", "0"], capture_output=True, text=True, env=env)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines()[-1].startswith("rife-bench: --gpu 0: no Vulkan device found;")


def test_interpolate_folder_on_the_gpu(gpu_binary, blend_model, tmp_path):
    """3 frames -> 5 (originals + 2 midpoints), pipelined over 2 workers; the blend model's midpoint is
    the frames' mean. The JSON names the device."""
    from PIL import Image

    frames = tmp_path / "in"
    frames.mkdir()
    rng = np.random.default_rng(0)
    pixels = [rng.integers(0, 256, (40, 70, 3), dtype=np.uint8) for _ in range(3)]
    for i, p in enumerate(pixels):
        Image.fromarray(p).save(frames / f"{i:03d}.ppm")
    out = json.loads(native_run.call(gpu_binary, ["interpolate", "--model", blend_model, "--in-dir", frames,
                                                  "--out-dir", tmp_path / "out", "--jobs", 2, "--gpu", GPU]))
    assert out["pairs"] == 2 and out["jobs"] == 2 and out["device"] != "cpu" and out["ms_per_frame"] > 0
    assert out["precision"] == "fp32"  # auto, resolved from the model
    assert out["transfer"] == "u8"  # the default on a GPU: frames converted there
    written = sorted(p.name for p in (tmp_path / "out").iterdir())
    assert written == [f"{i:08d}.ppm" for i in range(5)]
    for i in range(2):
        mid = np.asarray(Image.open(tmp_path / "out" / f"{2 * i + 1:08d}.ppm"), np.int32)
        want = (pixels[i].astype(np.int32) + pixels[i + 1]) / 2
        assert np.abs(mid - want).max() <= 1
        assert np.array_equal(np.asarray(Image.open(tmp_path / "out" / f"{2 * i:08d}.ppm")), pixels[i])


def _interpolate_folder(binary, model, frames, out, precision, transfer):
    native_run.call(binary, ["interpolate", "--model", model, "--in-dir", frames, "--out-dir", out, "--precision",
                             precision, "--transfer", transfer, "--gpu", GPU])
    from PIL import Image

    return [np.asarray(Image.open(p), np.int32) for p in sorted(out.iterdir())]


@pytest.mark.parametrize("precision", ["fp32", "fp16", "int8"])
def test_frames_converted_on_the_gpu_equal_the_cpu_conversion(gpu_binary, vulkan_models, precision, tmp_path):
    """--transfer u8 (8-bit frames up and down; pad by edge replication, timestep map, crop and quantization in
    shaders) gives the frames of --transfer float (the same steps on the CPU, float blobs transferred), at a
    size that needs padding on both sides and whose byte count is no multiple of 4 (45x75 -> 64x96)."""
    from PIL import Image

    frames = tmp_path / "in"
    frames.mkdir()
    rng = np.random.default_rng(4)
    base = rng.integers(0, 256, (45, 75, 3), dtype=np.uint8)
    for i in range(2):
        Image.fromarray(np.roll(base, 2 * i, axis=1)).save(frames / f"{i:03d}.ppm")
    model = vulkan_models["int8" if precision == "int8" else "float"]
    want = _interpolate_folder(gpu_binary, model, frames, tmp_path / "float", precision, "float")
    got = _interpolate_folder(gpu_binary, model, frames, tmp_path / "u8", precision, "u8")
    assert len(got) == len(want) == 3
    for g, w in zip(got, want):
        assert g.shape == w.shape == (45, 75, 3)
        if precision == "fp32":
            assert np.abs(g - w).max() <= 1
        else:
            assert metrics.compare(g.astype(np.float32) / 255, w.astype(np.float32) / 255, with_ssim=False)["psnr_db"] >= 50
    assert not np.array_equal(got[1], want[0])  # the midpoint is the net's frame, not a copy of a frame


def test_transfer_u8_needs_a_gpu(vulkan_binary, blend_model, tmp_path):
    with pytest.raises(NativeError, match="--transfer u8 converts frames on the GPU and needs --gpu N"):
        native_run.call(vulkan_binary, ["interpolate", "--model", blend_model, "--in-dir", tmp_path, "--out-dir",
                                        tmp_path / "out", "--transfer", "u8"])


def test_bench_on_the_gpu_names_the_device(gpu_binary, blend_model):
    """The JSON names the device; without --warmup a GPU run warms up 3 times (allocations, first uploads)."""
    out = json.loads(native_run.call(gpu_binary, ["bench", "--model", blend_model, "--width", 64, "--height", 32,
                                                  "--loops", 2, "--gpu", GPU]))
    assert out["device"].endswith("device 0)")
    assert out["target"] == "host-vulkan" and out["warmup"] == 3 and len(out["latency_ms"]) == 2


def test_vulkan_target_is_the_cpu_target_with_vulkan_on(ncnn_root):
    from rifebuild.native import targets

    cpu = targets.ncnn_cmake_options(targets.target_spec("host", isa="avx2"), ncnn_root, "1.0.20261020")
    gpu = targets.ncnn_cmake_options(targets.target_spec("host-vulkan", isa="avx2"), ncnn_root, "1.0.20261020")
    assert set(gpu) - set(cpu) == {"-DNCNN_VULKAN=ON", "-DNCNN_SIMPLEVK=ON", "-DNCNN_SYSTEM_GLSLANG=OFF"}
    assert "-DNCNN_VULKAN=OFF" in cpu and targets.target_spec("host-vulkan").vulkan
    assert (ncnn_root / "glslang" / "CMakeLists.txt").is_file()  # the sdist carries the glslang it builds
    assert "host-vulkan" not in targets.native_targets({"targets": None, "android_ndk": None})  # released if listed


def test_vulkan_verify_auto_needs_a_device_in_ci(monkeypatch):
    from rifebuild.native import vulkan

    monkeypatch.setattr(vulkan, "count_devices", lambda: 0)
    monkeypatch.setenv("CI", "true")
    with pytest.raises(NativeError, match="no Vulkan device, and CI=true requires the GPU checks"):
        vulkan.verify_on_vulkan("auto")
    assert vulkan.verify_on_vulkan(False) is False
    monkeypatch.setenv("CI", "false")
    assert vulkan.verify_on_vulkan("auto") is False
    monkeypatch.setattr(vulkan, "count_devices", lambda: 1)
    assert vulkan.verify_on_vulkan("auto") is True


def test_device_probe_agrees_with_rife_bench(vulkan_binary, blend_model):
    """count_devices() (the workflow's gate) sees a device exactly when rife-bench --gpu 0 finds one."""
    proc = subprocess.run([str(vulkan_binary), "bench", "--model", str(blend_model), "--width", "64", "--height", "32",
                           "--loops", "1", "--gpu", "0"], capture_output=True, text=True)
    assert (proc.returncode == 0) == (count_devices() > 0)
