"""Calibration/evaluation data: builtin triplets, Vimeo-90K and video folders, splits, bad data."""
import numpy as np
import pytest
from PIL import Image

from rifebuild.calibration import triplets as cd
from rifebuild.calibration.triplets import CalibrationDataError


def save(path, h=64, w=96, value=0):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.full((h, w, 3), value, np.uint8)).save(path)


def vimeo(root, names, h=64, w=96):
    for i, name in enumerate(names):
        for k in (1, 2, 3):
            save(root / "sequences" / name / f"im{k}.png", h, w, value=10 * i + k)
    return root


def test_builtin_is_deterministic_and_sized():
    a = cd.builtin_triplets("calibration", 2, 64, 96, seed=3, max_motion=4)
    b = cd.builtin_triplets("calibration", 2, 64, 96, seed=3, max_motion=4)
    assert len(a) == 2 and all(f.shape == (3, 64, 96) and f.dtype == np.float32 for f in a[0])
    assert all(np.array_equal(x, y) for ta, tb in zip(a, b) for x, y in zip(ta, tb))
    frame0, middle, frame1 = a[0]
    assert not np.array_equal(frame0, frame1)  # there is motion
    assert 0.0 <= middle.min() and middle.max() <= 1.0


def test_builtin_motion_scales_with_the_rendered_size():
    """Rendered at twice the size with motion given at the small size, the scene is the small one
    upscaled: 2x2-averaged back down, frames 0 and 1 match the small render as closely as the middle
    frame (which no motion moves) does; a render with the same pixel motion at the large size does not."""
    def down(frame):
        return frame.reshape(3, 64, 2, 96, 2).mean(axis=(2, 4))

    small = cd.builtin_triplets("evaluation", 2, 64, 96, seed=1, max_motion=6)
    scaled = cd.builtin_triplets("evaluation", 2, 128, 192, seed=1, max_motion=6, motion_at=(64, 96))
    fixed = cd.builtin_triplets("evaluation", 2, 128, 192, seed=1, max_motion=6)
    for s, a, b in zip(small, scaled, fixed):
        resampling = np.abs(down(a[1]) - s[1]).mean()  # t=0.5 does not move: bilinear resampling alone
        assert np.array_equal(a[1], b[1])
        for k in (0, 2):
            err_scaled, err_fixed = np.abs(down(a[k]) - s[k]).mean(), np.abs(down(b[k]) - s[k]).mean()
            assert err_scaled <= 1.1 * resampling and err_fixed >= 1.5 * err_scaled
    assert all(np.array_equal(x, y) for x, y in zip(small[0], cd.builtin_triplets(
        "evaluation", 1, 64, 96, seed=1, max_motion=6, motion_at=(64, 96))[0]))  # same size: unchanged


def test_builtin_splits_use_disjoint_photos():
    assert not set(cd.BUILTIN_PHOTOS["calibration"]) & set(cd.BUILTIN_PHOTOS["evaluation"])
    cal = cd.builtin_triplets("calibration", 1, 32, 32, 0, 4)[0][1]
    ev = cd.builtin_triplets("evaluation", 1, 32, 32, 0, 4)[0][1]
    assert not np.array_equal(cal, ev)


def test_vimeo_layout_with_and_without_lists(tmp_path):
    root = vimeo(tmp_path / "v", ["00001/0001", "00001/0002", "00002/0001"])
    cal = cd.directory_triplets(root, "calibration", 1, 1, 32, 32)
    ev = cd.directory_triplets(root, "evaluation", 1, 1, 32, 32)
    assert cal[0][0][0, 0, 0] == pytest.approx(1 / 255) and ev[0][0][0, 0, 0] == pytest.approx(21 / 255)
    (root / "tri_trainlist.txt").write_text("00001/0002\n")
    (root / "tri_testlist.txt").write_text("00001/0001\n")
    assert cd.directory_triplets(root, "calibration", 1, 1, 32, 32)[0][0][0, 0, 0] == pytest.approx(11 / 255)


def test_video_folder_splits_do_not_share_frames(tmp_path):
    for i in range(9):
        save(tmp_path / "f" / f"frame{i:03d}.png", value=i)
    cal = cd.directory_triplets(tmp_path / "f", "calibration", 1, 1, 32, 32)
    ev = cd.directory_triplets(tmp_path / "f", "evaluation", 1, 1, 32, 32)
    assert [round(f[0, 0, 0] * 255) for f in cal[0]] == [0, 1, 2]
    assert [round(f[0, 0, 0] * 255) for f in ev[0]] == [6, 7, 8]


def test_cache_roundtrip_and_skip_of_too_large_extra_resolution(tmp_path):
    root = vimeo(tmp_path / "v", ["a/1", "a/2"])
    manifest = cd.write_cache(str(root), {"calibration": 1, "evaluation": 1}, (32, 64), [(128, 128)], 0, 4,
                              tmp_path / "cache")
    assert [m["resolution"] for m in manifest["written"]] == [[32, 64], [32, 64]]
    assert manifest["skipped"][0]["resolution"] == [128, 128]
    triplets = cd.read_cache(tmp_path / "cache", "evaluation", 32, 64)
    assert len(triplets) == 1 and triplets[0][0].shape == (3, 32, 64)
    assert not list(tmp_path.glob(".cache.*"))  # no temp folder left


def test_missing_directory(tmp_path):
    with pytest.raises(CalibrationDataError, match="not an existing directory"):
        cd.directory_triplets(tmp_path / "nope", "calibration", 1, 1, 32, 32)


def test_empty_directory(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(CalibrationDataError, match="the directory is empty"):
        cd.directory_triplets(tmp_path / "empty", "calibration", 1, 1, 32, 32)


def test_non_image_file(tmp_path):
    for i in range(6):
        save(tmp_path / "f" / f"{i}.png")
    (tmp_path / "f" / "notes.txt").write_text("hello")
    with pytest.raises(CalibrationDataError, match="notes.txt: not an image file"):
        cd.directory_triplets(tmp_path / "f", "calibration", 1, 1, 32, 32)


def test_unreadable_image(tmp_path):
    root = vimeo(tmp_path / "v", ["a/1", "a/2"])
    (root / "sequences/a/1/im2.png").write_bytes(b"not a png")
    with pytest.raises(CalibrationDataError, match="im2.png: not a readable image"):
        cd.directory_triplets(root, "calibration", 1, 1, 32, 32)


def _png_header(path, width, height):
    """A PNG whose header claims width x height (no pixel data: only the header is read before the guard)."""
    import struct
    import zlib

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
                     + chunk(b"IEND", b""))


def test_decompression_bomb_is_one_sentence(tmp_path):
    """A 20000x20000 frame (failed before: a DecompressionBombError traceback)."""
    root = vimeo(tmp_path / "v", ["a/1", "a/2"])
    _png_header(root / "sequences/a/1/im2.png", 20000, 20000)
    limit = 2 * Image.MAX_IMAGE_PIXELS
    with pytest.raises(CalibrationDataError) as info:
        cd.directory_triplets(root, "calibration", 1, 1, 32, 32)
    assert str(info.value) == (f"{root / 'sequences/a/1/im2.png'}: image has more than the {limit} pixels (179 "
                               "megapixels) that are decoded safely (a decompression-bomb guard); scale it down or "
                               "remove it from calibration.data")


def test_frames_of_different_sizes(tmp_path):
    root = vimeo(tmp_path / "v", ["a/1", "a/2"])
    save(root / "sequences/a/1/im3.png", 64, 128)
    with pytest.raises(CalibrationDataError, match="differ in size"):
        cd.directory_triplets(root, "calibration", 1, 1, 32, 32)


def test_frames_smaller_than_the_resolution(tmp_path):
    root = vimeo(tmp_path / "v", ["a/1", "a/2"])
    with pytest.raises(cd.FrameTooSmall, match="smaller than the requested 256x448"):
        cd.directory_triplets(root, "calibration", 1, 1, 256, 448)


def test_too_few_triplets_for_both_splits(tmp_path):
    root = vimeo(tmp_path / "v", ["a/1", "a/2"])
    with pytest.raises(CalibrationDataError, match="need 3"):
        cd.directory_triplets(root, "calibration", 2, 1, 32, 32)


def test_video_frames_in_natural_order(tmp_path):
    for i in range(1, 13):  # frame1 .. frame12: name order would put frame10-12 after frame1
        save(tmp_path / "f" / f"frame{i}.png", value=i)
    cal = cd.directory_triplets(tmp_path / "f", "calibration", 2, 1, 32, 32)
    ev = cd.directory_triplets(tmp_path / "f", "evaluation", 1, 2, 32, 32)
    assert [[round(f[0, 0, 0] * 255) for f in t] for t in cal] == [[1, 2, 3], [4, 5, 6]]
    assert [round(f[0, 0, 0] * 255) for f in ev[0]] == [10, 11, 12]


def test_frames_without_numbers_keep_name_order(tmp_path):
    for i, name in enumerate("abcdef"):
        save(tmp_path / "f" / f"{name}.png", value=i)
    cal = cd.directory_triplets(tmp_path / "f", "calibration", 1, 1, 32, 32)
    assert [round(f[0, 0, 0] * 255) for f in cal[0]] == [0, 1, 2]


@pytest.mark.parametrize("names, message", [
    (["frame1.png", "frame01.png", "frame2.png"], "frame01.png and frame1.png both have frame number 1"),
    (["clip1_001.png", "clip2_001.png", "clip1_002.png"], "clip1_001.png and clip2_001.png both have frame number 1"),
    (["frame1.png", "frame2.png", "poster.png"], "poster.png has no number but frame1.png has one"),
])
def test_ambiguous_frame_order_is_refused(tmp_path, names, message):
    for name in names:
        save(tmp_path / "f" / name)
    with pytest.raises(CalibrationDataError) as info:
        cd.directory_triplets(tmp_path / "f", "calibration", 1, 0, 32, 32)
    assert str(info.value) == (f"{tmp_path / 'f'}: the frames cannot be ordered: {message}; rename the frames so "
                               "that each carries its own frame number (frame0001.png, frame0002.png, ...)")


def _png16(path, pixels):
    """A 16-bit PNG (grayscale [H,W] or RGB [H,W,3] uint16) written byte by byte: Pillow cannot write RGB16."""
    import struct
    import zlib

    height, width = pixels.shape[:2]
    color_type = 2 if pixels.ndim == 3 else 0
    raw = b"".join(b"\x00" + pixels[y].astype(">u2").tobytes() for y in range(height))

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 16, color_type, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw))
                     + chunk(b"IEND", b""))


def test_16bit_grayscale_png_is_scaled(tmp_path):
    ramp = np.linspace(0, 65535, 32 * 48).round().astype(np.uint16).reshape(32, 48)
    Image.fromarray(ramp).save(tmp_path / "g.png")  # Pillow writes mode I;16 as a 16-bit grayscale PNG
    with Image.open(tmp_path / "g.png") as check:
        assert check.mode == "I;16"
    image = cd.load_image(tmp_path / "g.png")
    assert image.shape == (3, 32, 48) and image.dtype == np.float32
    assert np.array_equal(image[0], image[1]) and np.array_equal(image[0], image[2])
    np.testing.assert_allclose(image[0], ramp / 65535.0, atol=1e-6)
    assert image.mean() == pytest.approx(0.5, abs=1e-3)  # not ~99.5% white


def test_16bit_rgb_png_is_scaled(tmp_path):
    rng = np.random.default_rng(0)
    pixels = rng.integers(0, 65536, size=(16, 24, 3)).astype(np.uint16)
    _png16(tmp_path / "rgb.png", pixels)
    image = cd.load_image(tmp_path / "rgb.png")
    assert image.shape == (3, 16, 24)
    np.testing.assert_allclose(image, pixels.transpose(2, 0, 1) / 65535.0, atol=1 / 255)


def test_8bit_grayscale_becomes_three_channels(tmp_path):
    Image.fromarray(np.full((8, 8), 51, np.uint8)).save(tmp_path / "l.png")
    image = cd.load_image(tmp_path / "l.png")
    assert image.shape == (3, 8, 8) and np.allclose(image, 0.2)


def test_16bit_frames_through_a_video_folder(tmp_path):
    (tmp_path / "f").mkdir()
    for i in range(6):
        Image.fromarray(np.full((40, 40), 13107 * i, np.uint16)).save(tmp_path / "f" / f"{i}.png")
    cal = cd.directory_triplets(tmp_path / "f", "calibration", 1, 1, 32, 32)
    assert [round(float(f.mean()), 3) for f in cal[0]] == [0.0, 0.2, 0.4]
