"""Metrics against independent oracles: scikit-image PSNR and SSIM, a numpy MS-SSIM (Wang et al. 2003)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.ndimage import correlate1d
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from hifft.images.metrics import bpp, masked_rmse, max_abs_error, ms_ssim, psnr, ssim
from hifft.images.preprocess import ImageError

pytest.importorskip("pytorch_msssim")


def _blob(shape=(192, 192)):
    yy, xx = np.mgrid[: shape[0], : shape[1]]
    return np.exp(-((xx - 60) ** 2 + (yy - 80) ** 2) / 900.0) * 0.8 + 0.1


def _valid_gauss(a, w):
    for ax in (0, 1):
        a = correlate1d(a, w, axis=ax, mode="constant")
    r = len(w) // 2
    return a[r:-r, r:-r]


def reference_ms_ssim(x, y, data_range=1.0):
    """MS-SSIM written from Wang, Simoncelli & Bovik 2003: contrast-structure at scales 1–4,
    the full SSIM at scale 5, 11-tap Gaussian σ = 1.5 (valid region), 2×2 mean downsampling."""
    t = np.arange(11) - 5.0
    w = np.exp(-(t**2) / (2 * 1.5**2))
    w /= w.sum()
    c1, c2 = (0.01 * data_range) ** 2, (0.03 * data_range) ** 2
    weights = [0.0448, 0.2856, 0.3001, 0.2363, 0.1333]
    val = 1.0
    for lev, wt in enumerate(weights):
        mx, my = _valid_gauss(x, w), _valid_gauss(y, w)
        sxx = _valid_gauss(x * x, w) - mx**2
        syy = _valid_gauss(y * y, w) - my**2
        sxy = _valid_gauss(x * y, w) - mx * my
        cs = (2 * sxy + c2) / (sxx + syy + c2)
        if lev == len(weights) - 1:
            val *= (((2 * mx * my + c1) / (mx**2 + my**2 + c1)) * cs).mean() ** wt
        else:
            val *= max(cs.mean(), 0) ** wt
            x = x.reshape(x.shape[0] // 2, 2, x.shape[1] // 2, 2).mean(axis=(1, 3))
            y = y.reshape(y.shape[0] // 2, 2, y.shape[1] // 2, 2).mean(axis=(1, 3))
    return val


@pytest.mark.parametrize("sigma", [0.01, 0.05, 0.2])
def test_psnr_ssim_and_ms_ssim_match_independent_implementations(rng, sigma):
    a = _blob()
    b = a + rng.normal(0, sigma, a.shape)
    assert psnr(a, b)[0] == pytest.approx(peak_signal_noise_ratio(a, b, data_range=1.0), rel=1e-12)
    sk = structural_similarity(a, b, data_range=1.0, gaussian_weights=True, sigma=1.5, use_sample_covariance=False)
    assert ssim(a, b)[0] == pytest.approx(sk, abs=1e-5)
    assert ms_ssim(a, b)[0] == pytest.approx(reference_ms_ssim(a, b), abs=1e-5)


def test_metrics_are_per_image_and_identical_images_are_perfect(rng):
    a = np.stack([_blob(), _blob()[::-1]])
    b = a.copy()
    b[1] += rng.normal(0, 0.05, b[1].shape)
    assert psnr(a, b)[0] == np.inf and np.isfinite(psnr(a, b)[1])
    np.testing.assert_allclose(ms_ssim(a, b)[0], 1.0, atol=1e-6)
    assert ms_ssim(a, b)[1] < 0.95
    err = max_abs_error(a, b)
    assert err[0] == 0 and err[1] == pytest.approx(np.abs(a[1] - b[1]).max())


def test_masked_rmse_and_max_error_use_only_the_masked_pixels():
    a = np.zeros((1, 4, 4))
    b = np.zeros((1, 4, 4))
    b[0, 0, :2] = 3.0  # inside the mask
    b[0, 3, 3] = 100.0  # outside
    m = np.zeros((4, 4), bool)
    m[0] = True
    assert masked_rmse(a, b, m)[0] == pytest.approx(np.sqrt((9 + 9) / 4))
    assert max_abs_error(a, b, m)[0] == 3.0


def test_bpp_is_counted_from_bytes():
    assert bpp(410, 256 * 256) == pytest.approx(410 * 8 / 65536)
    np.testing.assert_allclose(bpp(np.array([100, 200]), 800), [1.0, 2.0])


def test_small_images_and_mismatched_shapes_are_refused():
    with pytest.raises(ImageError, match=r"at least 161 pixels.*got 64×64"):
        ms_ssim(np.ones((64, 64)), np.ones((64, 64)))
    with pytest.raises(ImageError, match="differ in shape"):
        psnr(np.ones((4, 4)), np.ones((4, 5)))
