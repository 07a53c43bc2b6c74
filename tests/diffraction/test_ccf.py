"""CCF maps against a direct numpy computation and known angular symmetries; batched Azimuthal."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

from hifft.config import ConfigError, validate
from hifft.diffraction.ccf import CCF, ccf_maps, polar_template
from hifft.diffraction.config import CCFConfig
from hifft.reduce import Azimuthal


def direct_polar(img: np.ndarray, n_q: int, n_phi: int, r_min: float, r_max: float) -> np.ndarray:
    """I(q, φ) written out: pixel loops per polar bin, empty bins at their ring's mean."""
    rows, cols = img.shape
    yy, xx = np.meshgrid(np.arange(rows) - (rows - 1) / 2, np.arange(cols) - (cols - 1) / 2, indexing="ij")
    r = np.hypot(yy, xx) / (min(rows, cols) / 2)
    phi = np.degrees(np.arctan2(yy, xx))
    edges = np.linspace(r_min, r_max, n_q + 1)
    qb = np.clip(np.digitize(r, edges) - 1, 0, n_q - 1)
    inside = (r >= r_min) & (r <= r_max)
    pb = np.clip(np.floor((phi + 180.0) / 360.0 * n_phi).astype(int), 0, n_phi - 1)
    polar = np.full((n_q, n_phi), np.nan)
    for i in range(n_q):
        for k in range(n_phi):
            sel = inside & (qb == i) & (pb == k)
            if sel.any():
                polar[i, k] = img[sel].mean()
        ring = np.nanmean(polar[i])
        polar[i] = np.where(np.isnan(polar[i]), ring, polar[i])
    return polar


def direct_coefficients(polar: np.ndarray, order: int) -> np.ndarray:
    """I_n(q) by an explicit DFT sum over the sector centres (the first sector starts at φ = −180°)."""
    n_phi = polar.shape[1]
    centres = np.radians(-180.0 + (np.arange(n_phi) + 0.5) * 360.0 / n_phi)
    return (polar * np.exp(-1j * order * centres)[None, :]).sum(axis=1) / n_phi


def direct_ccf(img: np.ndarray, n_q: int, n_phi: int, order: int, r_min: float, r_max: float,
               reduce: str = "abs") -> np.ndarray:
    """The map written out: direct polar bins and DFT, products per (i, j)."""
    polar = direct_polar(img, n_q, n_phi, r_min, r_max)
    i_n = direct_coefficients(polar, order)
    out = np.empty((n_q, n_q))
    for i in range(n_q):
        for j in range(n_q):
            if j <= i:
                out[i, j] = np.mean(polar[i] * polar[j])
            else:
                z = np.conj(i_n[i]) * i_n[j]
                out[i, j] = abs(z) if reduce == "abs" else z.real
    return out / np.mean([np.mean(polar[i] ** 2) for i in range(n_q)])


def radial_image(n: int, modulation, width: float = 0.5) -> np.ndarray:
    yy, xx = np.meshgrid(np.arange(n) - (n - 1) / 2, np.arange(n) - (n - 1) / 2, indexing="ij")
    r = np.hypot(yy, xx) / (n / 2)
    phi = np.arctan2(yy, xx)
    return np.exp(-0.5 * (r / width) ** 2) * modulation(r, phi)


@pytest.mark.parametrize("reduce", ["abs", "real"])
def test_maps_equal_the_direct_computation(reduce):
    rng = np.random.default_rng(3)
    base = radial_image(64, lambda r, p: 1 + 0.3 * np.cos(8 * p + 4 * r) + 0.2 * np.cos(3 * p))
    imgs = (1000 * base[None] + rng.uniform(0, 50, (3, 64, 64))).astype(np.float32)
    got = ccf_maps(imgs, n_q=12, n_phi=32, order=8, r_min=0.2, r_max=1.0, reduce=reduce)
    assert got.shape == (3, 12, 12) and got.dtype == np.float32
    for k in range(3):
        want = direct_ccf(imgs[k].astype(np.float64), 12, 32, 8, 0.2, 1.0, reduce)
        np.testing.assert_allclose(got[k], want, rtol=2e-5, atol=1e-7)
    one = ccf_maps(imgs[0], n_q=12, n_phi=32, order=8, r_min=0.2, r_max=1.0, reduce=reduce)
    np.testing.assert_array_equal(one, got[0])


def test_eightfold_modulation_gives_the_order_8_term_and_isotropy_none():
    m, n_phi = 0.5, 64
    mod = radial_image(256, lambda r, p: 1 + m * np.cos(8 * p))
    iso = radial_image(256, lambda r, p: np.ones_like(r))
    maps = ccf_maps(np.stack([mod, iso]), n_q=16, n_phi=n_phi, order=8, r_min=0.3, r_max=1.0)
    diag = np.diagonal(maps, axis1=1, axis2=2)
    iu = np.triu_indices(16, k=1)
    il = np.tril_indices(16, k=-1)
    norm = np.sqrt(diag[:, :, None] * diag[:, None, :])
    ratio = maps / norm
    # sectors average cos 8φ down by s8 = sinc(8Δφ/2); |I8|² = (m s8 / 2)², mean I² = 1 + (m s8)²/2 (× f²)
    s8 = np.sinc(8 / n_phi)
    expect = (m * s8 / 2) ** 2 / (1 + (m * s8) ** 2 / 2)
    np.testing.assert_allclose(ratio[0][iu], expect, rtol=0.05)
    assert np.abs(ratio[1][iu]).max() < 0.02 * expect
    # the same angular pattern at every radius: the zero-lag correlation is complete
    np.testing.assert_allclose(ratio[0][il], 1.0, atol=2e-3)
    np.testing.assert_allclose(ratio[1][il], 1.0, atol=2e-3)


def test_real_part_keeps_the_relative_phase():
    img = radial_image(128, lambda r, p: 1 + 0.5 * np.where(r < 0.6, 1.0, -1.0) * np.cos(8 * p))
    kw = dict(n_q=8, n_phi=32, order=8, r_min=0.3, r_max=0.9)
    a, re = ccf_maps(img, reduce="abs", **kw), ccf_maps(img, reduce="real", **kw)
    iu = np.triu_indices(8, k=1)
    assert (np.abs(re[iu]) <= a[iu] + 1e-7).all()
    centres = 0.3 + (np.arange(8) + 0.5) * 0.075
    inner = centres < 0.6
    cross = inner[iu[0]] != inner[iu[1]]
    assert (re[iu][cross] < 0).all() and (re[iu][~cross] > 0).all() and (a[iu] > 0).all()
    np.testing.assert_array_equal(np.tril(re), np.tril(a))


def test_maps_do_not_change_under_flips_and_gain():
    rng = np.random.default_rng(0)
    img = (radial_image(64, lambda r, p: 1 + 0.4 * np.cos(8 * p + 1.0) + 0.3 * np.sin(5 * p)) * 500
           + rng.uniform(0, 20, (64, 64)))
    # 30 sectors of 12°: no pixel centre of an even-sized image lies on a sector edge,
    # and the edges are symmetric under both flips, so the maps must agree to rounding
    kw = dict(n_q=10, n_phi=30, order=8, r_min=0.2, r_max=1.0)
    ref = ccf_maps(img, **kw)
    for other in (img[:, ::-1], img[::-1, :], 7.5 * img):
        np.testing.assert_allclose(ccf_maps(np.ascontiguousarray(other), **kw), ref, rtol=1e-5, atol=1e-7)
    assert not ccf_maps(np.zeros((64, 64)), **kw).any()


@pytest.mark.parametrize("n_phi", [None, 12])
def test_batched_bin_means_equal_the_per_frame_call(n_phi):
    rng = np.random.default_rng(1)
    frames = rng.gamma(2.0, 10.0, (4, 40, 56))
    frames[1, 3:7, 10:30] = np.nan
    frames[2, 0, 0] = np.inf
    az = Azimuthal(polar_template((40, 56)), bins=9, q_min=0.1, q_max=1.2, n_phi=n_phi)
    got = az.bin_means(frames)
    shape = (9,) if n_phi is None else (9, n_phi)
    assert got.shape == (4, *shape)
    for k in range(4):
        one = frames[k].copy()
        one[~np.isfinite(one)] = np.nan  # the per-frame kernel skips NaN only
        np.testing.assert_allclose(got[k], az(one)["I"].values, rtol=1e-12, equal_nan=True)
    np.testing.assert_allclose(az.bin_means(xr.DataArray(frames[0])), got[0], rtol=1e-12, equal_nan=True)
    with pytest.raises(ValueError, match=r"frames: expected shape \(n, 40, 56\)"):
        az.bin_means(np.zeros((2, 40, 50)))


def test_order_channels_equal_the_direct_computation():
    rng = np.random.default_rng(5)
    base = radial_image(64, lambda r, p: 1 + 0.3 * np.cos(2 * p + 3 * r) + 0.2 * np.sin(3 * p - 2 * r))
    imgs = (1000 * base[None] + rng.uniform(0, 50, (2, 64, 64))).astype(np.float32)
    kw = dict(n_q=10, n_phi=32, order=8, r_min=0.2, r_max=1.0)
    got = ccf_maps(imgs, orders=[1, 2, 3], **kw)
    assert got.shape == (2, 4, 10, 10) and got.dtype == np.float32
    np.testing.assert_array_equal(got[:, 0], ccf_maps(imgs, **kw))  # the seed's map first, unchanged
    for k, img in enumerate(imgs):
        polar = direct_polar(img.astype(np.float64), 10, 32, 0.2, 1.0)
        s = np.mean(polar ** 2)
        for c, n in enumerate([1, 2, 3], start=1):
            i_n = direct_coefficients(polar, n)
            z = np.conj(i_n)[:, None] * i_n[None, :]
            want = np.where(np.arange(10)[:, None] >= np.arange(10)[None, :], z.real, np.abs(z.imag)) / s
            np.testing.assert_allclose(got[k, c], want, rtol=2e-4, atol=1e-6)
    assert ccf_maps(imgs[0], orders=[1, 2, 3], **kw).shape == (4, 10, 10)
    assert CCF((64, 64), CCFConfig(orders=[1, 2, 3], n_q=10)).map_shape == (4, 10, 10)


def test_odd_orders_tell_a_one_sided_pattern_from_its_centrosymmetric_twin():
    # order 1 vanishes on a centrosymmetric pattern, not on a one-sided one (seed 003's 'asymmetric')
    one_sided = radial_image(64, lambda r, p: 1 + 0.5 * np.cos(p) * (r > 0.5))
    kw = dict(n_q=8, n_phi=32, order=8, r_min=0.2, r_max=1.0)
    a = ccf_maps(one_sided, orders=[1, 2], **kw)
    b = ccf_maps(np.ascontiguousarray(one_sided[::-1, ::-1]), orders=[1, 2], **kw)  # rotation by π
    np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-7)  # rotation invariant
    sym = 0.5 * (one_sided + one_sided[::-1, ::-1])
    c = ccf_maps(sym, orders=[1, 2], **kw)
    assert np.abs(a[1]).max() > 0.01 and np.abs(c[1]).max() < 1e-4


def test_order_channels_do_not_change_under_flips_and_gain():
    rng = np.random.default_rng(0)
    img = (radial_image(64, lambda r, p: 1 + 0.4 * np.cos(3 * p + 2 * r) + 0.3 * np.sin(5 * p - r)) * 500
           + rng.uniform(0, 20, (64, 64)))
    kw = dict(n_q=10, n_phi=30, order=8, r_min=0.2, r_max=1.0, orders=[1, 3, 5])
    ref = ccf_maps(img, **kw)
    assert np.abs(ref[1:][:, np.triu_indices(10, k=1)[0], np.triu_indices(10, k=1)[1]]).max() > 1e-3
    for other in (img[:, ::-1], img[::-1, :], 7.5 * img):
        np.testing.assert_allclose(ccf_maps(np.ascontiguousarray(other), **kw), ref, rtol=1e-5, atol=1e-7)


def test_bad_settings_are_named():
    with pytest.raises(ConfigError, match=r"orders: 16 must be ≥ 1 and below n_phi / 2 = 16"):
        validate(CCFConfig, {"orders": [2, 16]})
    with pytest.raises(ConfigError, match=r"orders: repeated entries"):
        validate(CCFConfig, {"orders": [2, 2]})
    with pytest.raises(ConfigError, match=r"order: 8 needs n_phi > 16"):
        validate(CCFConfig, {"order": 8, "n_phi": 16})
    with pytest.raises(ConfigError, match="r_min"):
        validate(CCFConfig, {"r_min": 0.9, "r_max": 0.5})
    with pytest.raises(ValueError, match=r"radial bin 0 .* holds no pixel; use fewer n_q"):
        CCF((16, 16), CCFConfig(n_q=200, r_min=0.01))
    with pytest.raises(ValueError, match=r"expected images \(n, 32, 32\)"):
        CCF((32, 32), CCFConfig(n_q=8))(np.zeros((2, 30, 30)))
