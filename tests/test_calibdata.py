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
