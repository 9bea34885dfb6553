"""Native runtime: libncnn + rife-bench built for host and linux-arm64 (once per session, cached),
the rife.Warp layer against torch grid_sample, the qemu run, rife-bench's error paths."""
from __future__ import annotations

import shutil

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from conftest import BUILD_DIR, default_config

from rifebuild.core.errors import NativeError, VerificationError
from rifebuild.native import build as native_build
from rifebuild.native import check as native_check
from rifebuild.native import run as native_run
from rifebuild.native import targets as native_targets

WARP_PARAM = """7767517
3 3
Input image 0 1 image
Input flow 0 1 flow
rife.Warp warp_0 2 1 image flow out0
"""


@pytest.fixture(scope="session")
def warp_param(tmp_path_factory):
    path = tmp_path_factory.mktemp("warp") / "warp.param"
    path.write_text(WARP_PARAM)
    return path


def _warp_inputs(c=3, h=37, w=45, seed=0):
    rng = np.random.default_rng(seed)
    image = rng.random((c, h, w), dtype=np.float32)
    flow = (rng.standard_normal((2, h, w)) * 4).astype(np.float32)
    far = rng.random((h, w)) < 0.2  # far outside the frame in every direction
    flow[:, far] = rng.choice([-1e4, -300.0, 300.0, 1e4], size=(2, int(far.sum()))).astype(np.float32)
    flow[0, 0, :5] = [0.0, w - 1.0, -(w - 1.0), 0.5, w * 2.0]  # exact borders and beyond
    return image, flow


def _torch_warp(image, flow):
    c, h, w = image.shape
    ys, xs = torch.meshgrid(torch.arange(h, dtype=torch.float32), torch.arange(w, dtype=torch.float32), indexing="ij")
    f = torch.from_numpy(flow)
    gx = (xs + f[0]) * 2 / (w - 1) - 1
    gy = (ys + f[1]) * 2 / (h - 1) - 1
    grid = torch.stack([gx, gy], dim=-1)[None]
    out = F.grid_sample(torch.from_numpy(image)[None], grid, mode="bilinear", padding_mode="border",
                        align_corners=True)
    return out[0].numpy()


def test_only_needed_layers_and_one_isa(ncnn_root):
    opts = native_targets.ncnn_cmake_options(native_targets.target_spec("host", isa="avx2"), ncnn_root, "1.0.20261020")
    on = {o.split("=")[0][len("-DWITH_LAYER_"):] for o in opts if o.startswith("-DWITH_LAYER_") and o.endswith("=ON")}
    assert on == {n.lower() for n in native_targets.NEEDED_LAYERS}
    assert "-DNCNN_AVX512=OFF" in opts and "-DNCNN_RUNTIME_CPU=OFF" in opts and "-DNCNN_VULKAN=OFF" in opts
    arm = native_targets.ncnn_cmake_options(native_targets.target_spec("linux-arm64"), ncnn_root, "1.0.20261020")
    assert "-DNCNN_ARM82=ON" in arm and "-DNCNN_ARM86SVE=OFF" in arm and "-DNCNN_ARM84I8MM=OFF" in arm


def test_host_isa_from_cpu_flags(tmp_path):
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text("flags\t: fpu sse2 avx avx2 fma f16c\n")
    assert native_targets.host_isa(cpuinfo) == "avx2"
    cpuinfo.write_text("flags\t: fpu sse2\n")
    assert native_targets.host_isa(cpuinfo) == "sse2"
    with pytest.raises(NativeError, match="host_isa"):
        native_targets.target_spec("host", isa="avx9")


def test_android_without_ndk_is_one_sentence(monkeypatch):
    for var in ("ANDROID_NDK", "ANDROID_NDK_HOME", "ANDROID_NDK_ROOT"):
        monkeypatch.delenv(var, raising=False)
    assert "android-arm64" not in native_targets.default_targets()
    with pytest.raises(NativeError, match="needs the Android NDK"):
        native_targets.target_spec("android-arm64")


def test_a_configured_ndk_that_is_missing_is_named(monkeypatch, tmp_path):
    """(failed before: the error only said an NDK was needed, and default targets dropped android silently)"""
    for var in ("ANDROID_NDK", "ANDROID_NDK_HOME", "ANDROID_NDK_ROOT"):
        monkeypatch.delenv(var, raising=False)
    missing = str(tmp_path / "android-ndk-r27")
    message = (f"native.android_ndk = {missing!r}: no such folder; set it to the NDK folder (the one holding "
               "build/cmake/android.toolchain.cmake) or leave it empty")
    for call in (lambda: native_targets.target_spec("android-arm64", missing),
                 lambda: native_targets.default_targets(missing)):
        with pytest.raises(NativeError) as info:
            call()
        assert str(info.value) == message
    monkeypatch.setenv("ANDROID_NDK", str(tmp_path))
    with pytest.raises(NativeError, match=rf"needs the Android NDK \(ANDROID_NDK='{tmp_path}' \(a folder without "
                                          r"build/cmake/android.toolchain.cmake, so not an NDK\)\): set ANDROID_NDK"):
        native_targets.target_spec("android-arm64")


def test_linux_arm64_without_its_tools_is_named_and_not_a_default(monkeypatch, tmp_path):
    """`make setup` installs no cross toolchain or qemu (the default run does not need them): then the
    default targets leave linux-arm64 out, and naming it says what to install."""
    monkeypatch.setenv("PATH", str(tmp_path))  # none of aarch64-linux-gnu-gcc/g++, qemu-aarch64-static here
    for var in ("ANDROID_NDK", "ANDROID_NDK_HOME", "ANDROID_NDK_ROOT"):
        monkeypatch.delenv(var, raising=False)
    assert native_targets.default_targets() == ["host"]
    with pytest.raises(NativeError, match=r"linux-arm64 needs aarch64-linux-gnu-gcc.*make setup-dev"):
        native_targets.target_spec("linux-arm64")
    for tool in native_targets.ARM64_TOOLS:
        (tmp_path / tool).write_text("#!/bin/sh\n")
        (tmp_path / tool).chmod(0o755)
    assert "linux-arm64" in native_targets.default_targets()
    assert native_targets.target_spec("linux-arm64").runner == ("qemu-aarch64-static",)


@pytest.mark.skipif(native_targets.find_ndk() is None, reason="no Android NDK (set ANDROID_NDK to build android-arm64)")
def test_android_build(ncnn_root, tmp_path):
    info = native_build.build_target("android-arm64", ncnn_root, default_config()["ncnn_version"],
                               tmp_path / "rife-bench", BUILD_DIR)
    assert info["size_bytes"] > 0


@pytest.mark.parametrize("threads", [1, 2])
def test_warp_matches_grid_sample(binaries, warp_param, threads):
    image, flow = _warp_inputs()
    got = native_run.dump(binaries["host"], {"image": image, "flow": flow}, param=warp_param, threads=threads)
    want = _torch_warp(image, flow)
    assert got.shape == want.shape
    assert np.abs(got - want).max() <= 1e-5


def test_warp_non_finite_flow_clamps_to_border(binaries, warp_param):
    """A NaN or infinite flow must not read outside the image: NaN samples at 0, +/-inf at the border."""
    image, _ = _warp_inputs(h=8, w=8)
    flow = np.zeros((2, 8, 8), np.float32)
    flow[:, 2, 3] = [np.nan, np.inf]
    flow[:, 4, 5] = [-np.inf, np.nan]
    flow[:, 6, 1] = [np.inf, -np.inf]
    got = native_run.dump(binaries["host"], {"image": image, "flow": flow}, param=warp_param)
    want = image.copy()
    want[:, 2, 3] = image[:, 7, 0]
    want[:, 4, 5] = image[:, 0, 0]
    want[:, 6, 1] = image[:, 0, 7]
    assert np.array_equal(got, want)


@pytest.mark.parametrize("precision", ["fp16", "int8"])
def test_warp_ignores_storage_precision(binaries, warp_param, precision):
    image, flow = _warp_inputs(c=8, h=16, w=24, seed=1)  # 8 channels: ncnn would pack them by 8
    got = native_run.dump(binaries["host"], {"image": image, "flow": flow}, param=warp_param, precision=precision)
    assert np.abs(got - _torch_warp(image, flow)).max() <= 2e-3


def test_linux_arm64_under_qemu_matches_host(binaries, warp_param, blend_model):
    if shutil.which("qemu-aarch64-static") is None:
        pytest.fail("qemu-aarch64-static is missing: run scripts/setup.sh (installs qemu-user-static).")
    image, flow = _warp_inputs(h=32, w=32, seed=2)
    host = native_run.dump(binaries["host"], {"image": image, "flow": flow}, param=warp_param)
    arm = native_run.dump(binaries["linux-arm64"], {"image": image, "flow": flow}, param=warp_param,
                      runner=native_targets.runner_for("linux-arm64"), threads=2)
    assert np.abs(arm - host).max() <= 1e-3
    assert np.abs(arm - _torch_warp(image, flow)).max() <= 1e-5
    rec = native_run.bench(binaries["linux-arm64"], blend_model, 64, 32, loops=1, runner=native_targets.runner_for("linux-arm64"))
    assert rec["target"] == "linux-arm64"


def test_interpolate_pads_and_crops(binaries, blend_model, tmp_path):
    from PIL import Image

    rng = np.random.default_rng(3)
    a = rng.integers(0, 256, (50, 70, 3), dtype=np.uint8)  # not a multiple of 32
    b = rng.integers(0, 256, (50, 70, 3), dtype=np.uint8)
    Image.fromarray(a).save(tmp_path / "a.png")
    Image.fromarray(b).save(tmp_path / "b.jpg", quality=100)
    b = np.asarray(Image.open(tmp_path / "b.jpg").convert("RGB"))
    out = native_run.interpolate(binaries["host"], blend_model, tmp_path / "a.png", tmp_path / "b.jpg",
                             tmp_path / "out.png", timestep=0.25)
    got = np.asarray(Image.open(out)).astype(np.float64)
    want = a * 0.75 + b * 0.25
    assert got.shape == (50, 70, 3)
    assert np.abs(got - want).max() <= 1.0


def test_align_sets_the_size_multiple_of_every_mode(binaries, blend_model, tmp_path):
    """--align: 64 for rife-v4.25/4.26, 128 for 4.25-lite; interpolate pads to it, the other modes check it."""
    from PIL import Image

    rng = np.random.default_rng(4)
    frames = [rng.integers(0, 256, (50, 70, 3), dtype=np.uint8) for _ in range(2)]
    for i, frame in enumerate(frames):
        Image.fromarray(frame).save(tmp_path / f"{i}.png")
    out = native_run.interpolate(binaries["host"], blend_model, tmp_path / "0.png", tmp_path / "1.png",
                                 tmp_path / "out.png", align=128)
    assert np.abs(np.asarray(Image.open(out)).astype(np.float64) - (frames[0] * 0.5 + frames[1] * 0.5)).max() <= 1.0
    common = ["--model", blend_model, "--width", 96, "--height", 64, "--loops", 1]
    native_run.call(binaries["host"], ["bench", *common])  # 32 (the default) divides 96x64
    with pytest.raises(NativeError, match=r"96x64 \(WxH\) .* multiples of 64"):
        native_run.call(binaries["host"], ["bench", *common, "--align", 64])
    with pytest.raises(NativeError, match=r"--align must be a positive multiple of 32 .* got 48"):
        native_run.call(binaries["host"], ["bench", *common, "--align", 48])


def test_bench_json(binaries, blend_model):
    rec = native_run.bench(binaries["host"], blend_model, 64, 32, threads=2, warmup=1, loops=3)
    assert len(rec["latency_ms"]) == 3 == len(rec["cpu_ms"]) and rec["min_ms"] <= rec["median_ms"]
    assert rec["target"] == "host" and rec["ncnn_version"] == "1.0.20261020" and rec["peak_rss_kb"] > 0


def test_error_missing_model(binaries, tmp_path):
    with pytest.raises(NativeError, match=r"model file .*flownet.param not found"):
        native_run.bench(binaries["host"], tmp_path, 64, 32)


def test_error_size_not_multiple_of_32(binaries, blend_model):
    with pytest.raises(NativeError, match="multiples of 32"):
        native_run.bench(binaries["host"], blend_model, 100, 32)
    with pytest.raises(NativeError, match="multiples of 32"):
        x = np.zeros((3, 30, 32), np.float32)
        native_run.dump(binaries["host"], {"in0": x, "in1": x, "in2": x[:1]}, model_dir=blend_model)


def test_error_unreadable_image(binaries, blend_model, tmp_path):
    (tmp_path / "bad.png").write_bytes(b"not an image")
    with pytest.raises(NativeError, match="Cannot read image .*bad.png"):
        native_run.interpolate(binaries["host"], blend_model, tmp_path / "bad.png", tmp_path / "bad.png", tmp_path / "o.png")
    with pytest.raises(NativeError, match="not an 8-bit binary PPM"):
        native_run.call(binaries["host"], ["interpolate", "--model", blend_model, "--in0", tmp_path / "bad.png",
                                       "--in1", tmp_path / "bad.png", "--out", tmp_path / "o.ppm"])
    assert not (tmp_path / "o.png").exists() and not (tmp_path / "o.ppm").exists()


def test_error_mismatched_frames(binaries, blend_model, tmp_path):
    from PIL import Image

    Image.new("RGB", (64, 32)).save(tmp_path / "a.png")
    Image.new("RGB", (32, 32)).save(tmp_path / "b.png")
    with pytest.raises(NativeError, match="differ in size"):
        native_run.interpolate(binaries["host"], blend_model, tmp_path / "a.png", tmp_path / "b.png", tmp_path / "o.png")


def test_error_layer_missing_from_slim_build(binaries, tmp_path):
    (tmp_path / "flownet.param").write_text("7767517\n2 2\nInput in0 0 1 in0\nSoftmax sm 1 1 in0 out0\n")
    (tmp_path / "flownet.bin").write_bytes(b"")
    with pytest.raises(NativeError, match="cannot parse model file"):
        native_run.dump(binaries["host"], {"in0": np.zeros((1, 4, 4), np.float32)}, model_dir=tmp_path)


def test_error_unknown_input_blob(binaries, warp_param):
    x = np.zeros((2, 4, 4), np.float32)
    with pytest.raises(NativeError, match="no input blob named 'flw'"):
        native_run.dump(binaries["host"], {"image": x, "flw": x}, param=warp_param)


def test_native_gates_fail_and_write_no_record(binaries, blend_model, tmp_path):
    """rife-bench vs PyTorch (a wrong or NaN reference) and the cross-target check (an unreachable
    PSNR bound) raise and leave no record; the same calls pass on good data."""
    rng = np.random.default_rng(0)
    inputs = {"in0": rng.random((3, 32, 64), dtype=np.float32), "in1": rng.random((3, 32, 64), dtype=np.float32),
              "in2": np.full((1, 32, 64), 0.25, np.float32)}
    expected = inputs["in0"] + (inputs["in1"] - inputs["in0"]) * 0.25
    good, wrong, nan = tmp_path / "good.npz", tmp_path / "wrong.npz", tmp_path / "nan.npz"
    np.savez(good, **inputs, out0=expected)
    np.savez(wrong, **inputs, out0=expected + 0.01)
    expected_nan = expected.copy()
    expected_nan[1, 2, 3] = np.nan
    np.savez(nan, **inputs, out0=expected_nan)
    out = tmp_path / "records" / "verify.json"
    out.parent.mkdir()
    for reference, tolerance, phrase in ((wrong, 1e-3, "exceeds the bound 0.001"), (nan, 1e9, "nan")):
        with pytest.raises(VerificationError, match=phrase):
            native_check.verify(binaries["host"], blend_model, [reference], out, tolerance=tolerance, threads=1)
        assert list(out.parent.iterdir()) == []
    native_check.verify(binaries["host"], blend_model, [good], out, tolerance=1e-5, threads=1)
    assert out.exists()
    cross = tmp_path / "records" / "cross_check.json"
    with pytest.raises(VerificationError, match="is below the bound 1000 dB"):
        native_check.cross_check(binaries["host"], binaries["host"], blend_model, (), "host", cross,
                                 height=32, width=64, min_psnr=1000)
    assert not cross.exists()


# ---------------------------------------------------------------------------------------------
# Models that run one way only: int8 (int8 weights), fp16 storage, a stock model fixed to one size


def _frames(tmp_path, height, width, seed=5):
    from PIL import Image

    rng = np.random.default_rng(seed)
    frames = [rng.integers(0, 256, (height, width, 3), dtype=np.uint8) for _ in range(2)]
    for i, frame in enumerate(frames):
        Image.fromarray(frame).save(tmp_path / f"f{i}.png")
    return frames, tmp_path / "f0.png", tmp_path / "f1.png"


def _inputs():
    from rifebuild.ncnn.graph import Layer

    return [Layer("Input", name, [], [name]) for name in ("in0", "in1", "in2")]


def _write(folder, layers):
    from rifebuild.ncnn import graph

    folder.mkdir(parents=True, exist_ok=True)
    graph.write(graph.Model(layers), folder / "flownet.param", folder / "flownet.bin")
    return folder


def _identity_conv(folder, tag):
    """out0 = in0 through a 1x1 Convolution: int8 weights (int8_scale_term 2) or fp16-stored ones."""
    from rifebuild.ncnn.graph import TAG_FP16, TAG_INT8, Layer, Weight

    params = {0: "3", 1: "1", 5: "0", 6: "9"}
    if tag == TAG_INT8:
        weights = [Weight(np.eye(3, dtype=np.int8).ravel() * 127, TAG_INT8), Weight(np.full(3, 127.0, np.float32)),
                   Weight(np.array([127.0], np.float32))]
        params[8] = "2"
    else:
        weights = [Weight(np.eye(3, dtype=np.float16).ravel(), TAG_FP16)]
    return _write(folder, [*_inputs(), Layer("Convolution", "conv", ["in0"], ["out0"], params, weights)])


def test_an_int8_model_runs_as_int8_without_being_told(host_binary, tmp_path):
    """(failed before: `native interpolate --model ...-int8` without --precision int8 crashed rife-bench)"""
    from PIL import Image

    from rifebuild.ncnn.graph import TAG_INT8

    model = _identity_conv(tmp_path / "rife-v4.6-int8", TAG_INT8)
    (frame0, _), a, b = _frames(tmp_path, 64, 96)
    out = native_run.interpolate(host_binary, model, a, b, tmp_path / "out.png")
    assert np.abs(np.asarray(Image.open(out)).astype(int) - frame0).max() <= 2  # in0, through int8
    rec = native_run.bench(host_binary, model, 96, 64, loops=1, precision="auto")
    assert rec["precision"] == "int8"
    with pytest.raises(NativeError) as info:
        native_run.interpolate(host_binary, model, a, b, tmp_path / "o.png", precision="fp32")
    assert str(info.value) == (f"rife-bench: model {model}/flownet.param is an int8 model (its convolutions carry "
                               "int8 scales) and runs only with --precision int8, not fp32; pass --precision int8 or "
                               "leave --precision out.")


def test_an_fp16_folder_runs_as_fp16_without_being_told(host_binary, tmp_path):
    from PIL import Image

    from rifebuild.ncnn.graph import TAG_FP16

    model = _identity_conv(tmp_path / "rife-v4.6-fp16", TAG_FP16)
    assert native_run.model_precision(model) == "fp16"
    (frame0, _), a, b = _frames(tmp_path, 64, 96)
    out = native_run.interpolate(host_binary, model, a, b, tmp_path / "out.png")
    assert np.abs(np.asarray(Image.open(out)).astype(int) - frame0).max() <= 1


def test_a_stock_model_refuses_other_sizes_naming_its_own(host_binary, tmp_path):
    """A GridSample model on a baked 64x96 grid (failed before: at 128x160 it wrote a wrong frame silently)."""
    from PIL import Image

    from rifebuild.ncnn.graph import Layer, Weight
    from rifebuild.ncnn.passes import base_grid

    model = _write(tmp_path / "rife-v4.6-stock-64x96", [
        *_inputs(), Layer("MemoryData", "warp_base_grid", [], ["grid"], {0: "96", 1: "64", 2: "2"},
                          [Weight(base_grid(64, 96).ravel())]),
        Layer("GridSample", "warp_0_sample", ["in0", "grid"], ["out0"], {0: "1", 1: "2", 2: "1", 3: "1"})])
    (frame0, _), a, b = _frames(tmp_path, 64, 96)
    out = native_run.interpolate(host_binary, model, a, b, tmp_path / "out.png")
    assert np.abs(np.asarray(Image.open(out)).astype(int) - frame0).max() <= 1  # its own size: fine
    _, a, b = _frames(tmp_path, 128, 160)
    with pytest.raises(NativeError) as info:
        native_run.interpolate(host_binary, model, a, b, tmp_path / "o.png")
    assert str(info.value) == (f"rife-bench: model {model} is fixed to 64x96 (HxW: a stock GridSample model), so it "
                               "cannot run at 128x160; use the rife.Warp model (any size) or the stock model built "
                               "for this size.")
    assert not (tmp_path / "o.png").exists()
    with pytest.raises(NativeError, match=r"is fixed to 64x96 .* cannot run at 128x160"):
        native_run.bench(host_binary, model, 160, 128, loops=1)
