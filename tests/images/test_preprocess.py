"""Preprocessing: the log scale and its inverse, crops, masks, and refused images (named by index)."""

from __future__ import annotations

import numpy as np
import pytest

from hifft.images.preprocess import DEAD, GAP, ImageError, LogScale, masked_input, split_counts


def _intensities(rng, n=3, shape=(64, 64)):
    """Positive intensities over ~7 decades, like GISAXS images."""
    return (10.0 ** rng.uniform(-9, -2, size=(n, *shape))).astype(np.float32)


def test_forward_is_the_written_formula_and_inverse_restores_intensities(rng):
    img = _intensities(rng)
    sc = LogScale.fit(img, decades=6, size=(64, 64))
    # ε = 1e-6 × the 99.9th percentile; lo = log10 ε; hi = log10(max + ε) rounded up to 0.1 decade
    eps = float(np.percentile(img, 99.9)) * 1e-6
    assert sc.epsilon == pytest.approx(eps, rel=1e-12)
    assert sc.lo == pytest.approx(np.log10(eps), rel=1e-12)
    assert sc.hi == pytest.approx(np.ceil(10 * np.log10(float(img.max()) + eps)) / 10)
    x = sc.forward(img)
    expect = (np.log10(img.astype(np.float64) + eps) - np.log10(eps)) / (sc.hi - sc.lo)
    np.testing.assert_allclose(x, expect, rtol=1e-6, atol=1e-7)
    assert x.min() >= 0 and x.max() <= 1
    back = sc.inverse(x)
    # float32 log images: |Δ log10| ≲ 1e-7 × 7 decades → relative error of I + ε below 1e-5
    np.testing.assert_allclose(back + eps, img + eps, rtol=1e-5)
    assert back.dtype == np.float32 and back.min() >= 0
    # the scale survives the trip through a model file's dict
    assert LogScale.from_dict(sc.to_dict()) == sc


def test_an_image_of_zeros_maps_to_zero_and_decodes_to_zero():
    sc = LogScale(epsilon=1e-8, lo=-8.0, hi=-2.0, size=(4, 4))
    assert np.all(sc.normalise(np.zeros((1, 4, 4), np.float32)) == 0)
    assert np.all(sc.inverse(np.full((1, 4, 4), -0.1)) == 0)  # below the floor: clamped to I = 0


def test_detector_images_are_cropped_and_other_sizes_refused_naming_both(rng):
    sc = LogScale(epsilon=1e-8, lo=-8.0, hi=-2.0, size=(192, 192), crop=(2, 4))
    det = rng.random((2, 196, 200)).astype(np.float32)
    np.testing.assert_array_equal(sc.crop_images(det), det[:, 2:194, 4:196])
    same = rng.random((192, 192)).astype(np.float32)
    np.testing.assert_array_equal(sc.crop_images(same)[0], same)
    with pytest.raises(ImageError, match=r"150×150 pixels.*192×192.*at least 194×196"):
        sc.crop_images(rng.random((150, 150)))
    with pytest.raises(ImageError, match=r"shape \(2, 3, 4, 5\)"):
        sc.crop_images(np.ones((2, 3, 4, 5)))


@pytest.mark.parametrize(("bad", "index", "why"), [
    (np.nan, 2, "NaN or infinite"),
    (np.inf, 1, "NaN or infinite"),
    (-1e-6, 2, "negative intensities"),
    ("zero", 1, "all zero"),
])
def test_bad_images_are_refused_naming_the_index(rng, bad, index, why):
    img = _intensities(rng, n=3, shape=(16, 16))
    if bad == "zero":
        img[index] = 0
    else:
        img[index, 5, 7] = bad
    sc = LogScale(epsilon=1e-9, lo=-9.0, hi=-2.0, size=(16, 16))
    with pytest.raises(ImageError, match=rf"stack: image {index} .*{why}"):
        sc.forward(img, what="stack")


def test_counts_conventions_become_a_mask_and_odd_values_are_refused():
    c = np.array([[[3, GAP, 0], [DEAD, 7, 1]]], dtype=np.float32)
    values, mask = split_counts(c)
    np.testing.assert_array_equal(mask, [[[True, False, True], [False, True, True]]])
    np.testing.assert_array_equal(values, [[[3, 0, 0], [0, 7, 1]]])
    odd = np.concatenate([c, c])
    odd[1, 0, 2] = -3
    with pytest.raises(ImageError, match=r"image 1 holds -3\.0"):
        split_counts(odd)
    with pytest.raises(ImageError, match="image 0 has no positive count"):
        split_counts(np.full((1, 2, 2), GAP))
    with pytest.raises(ImageError, match="image 0 holds nan"):
        split_counts(np.full((1, 2, 2), np.nan))


def test_mask_channel_and_missing_pixels():
    x = np.full((1, 2, 3), 0.5, np.float32)
    m = np.array([[[True, False, True], [True, True, False]]])
    inp = masked_input(x, m, mask_channel=True)
    assert inp.shape == (1, 2, 2, 3)
    np.testing.assert_array_equal(inp[0, 0], np.where(m[0], 0.5, 0.0))
    np.testing.assert_array_equal(inp[0, 1], m[0].astype(np.float32))
    assert masked_input(x, None, mask_channel=False).shape == (1, 1, 2, 3)
    with pytest.raises(ImageError, match="no mask channel"):
        masked_input(x, m, mask_channel=False)


@pytest.mark.parametrize(("kw", "match"), [
    ({"epsilon": 0.0, "lo": 0.0, "hi": 1.0}, "epsilon"),
    ({"epsilon": 1.0, "lo": 1.0, "hi": 1.0}, "lo < hi"),
])
def test_bad_scales_are_refused(kw, match):
    with pytest.raises(ValueError, match=match):
        LogScale(**kw)
