import numpy as np
import pytest

from rifebuild.evaluate import metrics


def ssim_direct(a: np.ndarray, b: np.ndarray) -> float:
    """SSIM written the slow, obvious way: a full 11x11 Gaussian window at every valid position."""
    g = np.exp(-((np.arange(11) - 5.0) ** 2) / (2 * 1.5 ** 2))
    w = np.outer(g, g) / np.outer(g, g).sum()
    values = []
    for x, y in zip(a.astype(np.float64), b.astype(np.float64)):
        for i in range(x.shape[0] - 10):
            for j in range(x.shape[1] - 10):
                px, py = x[i:i + 11, j:j + 11], y[i:i + 11, j:j + 11]
                mx, my = (w * px).sum(), (w * py).sum()
                vx, vy = (w * px * px).sum() - mx ** 2, (w * py * py).sum() - my ** 2
                cxy = (w * px * py).sum() - mx * my
                values.append(((2 * mx * my + 1e-4) * (2 * cxy + 9e-4))
                              / ((mx ** 2 + my ** 2 + 1e-4) * (vx + vy + 9e-4)))
    return float(np.mean(values))


def test_ssim_matches_the_direct_definition():
    rng = np.random.default_rng(0)
    a = rng.random((2, 20, 24)).astype(np.float32)
    b = np.clip(a + 0.1 * rng.standard_normal(a.shape), 0, 1).astype(np.float32)
    assert metrics.ssim(a, b) == pytest.approx(ssim_direct(a, b), abs=1e-12)
    assert metrics.ssim(a, a) == pytest.approx(1.0)


def test_compare_and_psnr():
    a = np.zeros((3, 16, 16), np.float32)
    b = a.copy()
    b[0, 0, 0] = 0.5
    result = metrics.compare(b, a)
    assert result["max_abs_err"] == 0.5
    assert result["mean_abs_err"] == pytest.approx(0.5 / 768)
    assert result["psnr_db"] == pytest.approx(10 * np.log10(768 / 0.25))
    assert metrics.compare(a, a)["psnr_db"] == metrics.PSNR_CAP_DB  # identical: one cap, JSON-safe
    nan = b.copy()
    nan[1, 2, 3] = np.nan
    assert all(np.isnan(v) for k, v in metrics.compare(nan, a).items() if k != "max_abs_err")
    with pytest.raises(ValueError, match="shape"):
        metrics.compare(a, a[:2])


def test_ssim_is_scikit_images_on_real_photos():
    """Pins our SSIM to scikit-image's (the one implementation) on real photos, not only noise."""
    from skimage import data
    from skimage.metrics import structural_similarity

    a = np.ascontiguousarray(data.astronaut()[:96, :128].transpose(2, 0, 1), np.float32) / 255
    b = np.ascontiguousarray(data.astronaut()[2:98, 3:131].transpose(2, 0, 1), np.float32) / 255
    assert metrics.ssim(a, b) == pytest.approx(ssim_direct(a, b), abs=1e-9)
    assert metrics.ssim(a, b) == pytest.approx(structural_similarity(
        a.astype(np.float64), b.astype(np.float64), data_range=1.0, channel_axis=0, gaussian_weights=True,
        sigma=1.5, use_sample_covariance=False), abs=1e-12)


def test_worst_frame_bound_fails_a_check_whose_mean_passes(tmp_path):
    from rifebuild.evaluate import record as rec

    good = np.full((3, 16, 16), 0.5, np.float32)
    off = good.copy()
    off[:, :4] += 0.1  # one bad frame: mean over two frames still high, the worst frame low
    scores = metrics.compare_frames([good, off], [good, good])
    assert scores["worst_psnr_db"] < 30 < scores["psnr_db"]
    bound = {"min_psnr_db": 30.0, "min_worst_psnr_db": 30.0}
    record = rec.new(tmp_path, "test", "int8")
    record["checks"].append(rec.check("pytorch", (16, 16), scores, bound))
    with pytest.raises(rec.VerificationError, match=r"worst-frame PSNR 2\d\.\d\d dB vs pytorch at 16x16 is below "
                                                    r"the bound 30 dB") as info:
        rec.finish(record, tmp_path / "v.json")
    assert "PSNR" in str(info.value) and str(info.value).count("below") == 1  # the mean met its bound
    assert not (tmp_path / "v.json").exists()
    record["checks"][0] = rec.check("pytorch", (16, 16), scores, {"min_psnr_db": 30.0, "min_worst_psnr_db": 20.0})
    rec.finish(record, tmp_path / "v.json")  # both met: written, and valid against the schema
    nan = {**scores, "worst_psnr_db": float("nan")}
    assert not rec.check("pytorch", (16, 16), nan, {"min_psnr_db": 30.0})["passed"]  # NaN never passes
