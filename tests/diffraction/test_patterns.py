"""Ewald-sphere images of droplets against analytic oracles, and the detector nuisances."""

from __future__ import annotations

import numpy as np
import pytest

from hifft.diffraction.config import DetectorConfig, GridConfig
from hifft.diffraction.patterns import (
    HC_EV_ANGSTROM,
    Nuisance,
    PatternError,
    active_pixels,
    detector_counts,
    ewald_intensity,
    expected_signal,
    grid_for,
    make_detector,
    render,
    spacings,
    two_theta,
    wavelength_of,
)
from hifft.grid import Grid
from hifft.volume import shapes

from .conftest import WAVELENGTH, one_body, turn

#: zeros of the sphere amplitude: tan x = x
SPHERE_ZEROS = (4.493409, 7.725252, 10.904122, 14.066194)


def sphere_intensity(q: np.ndarray, radius: float, box_volume: float) -> np.ndarray:
    """Absolute I(q) in 1/cm of one sphere of contrast 1e-6/Å² in a box (DESIGN.md scale)."""
    x = q * radius
    f = 3 * (np.sin(x) - x * np.cos(x)) / x**3
    v = 4 / 3 * np.pi * radius**3
    return 1e-4 * v**2 * f**2 / box_volume


def ewald_q(det, wavelength: float) -> np.ndarray:
    """|q| = 4π sin θ / λ per pixel, from the pixel positions (independent of the reducer)."""
    y, x = det.positions()
    two_th = np.arctan2(np.hypot(x, y), det.distance)
    return 4 * np.pi * np.sin(two_th / 2) / wavelength


def test_wavelength_matches_seed_range():
    assert wavelength_of(19.0) == pytest.approx(652.5, rel=1e-3)  # λ ≈ 65 nm at 19 eV
    assert wavelength_of(35.0) == pytest.approx(354.2, rel=1e-3)
    assert pytest.approx(12398.42, rel=1e-6) == HC_EV_ANGSTROM


def test_sphere_rings_sit_at_form_factor_minima():
    det_cfg = DetectorConfig(shape=160, polarization="none", solid_angle=False)
    det = make_detector(det_cfg)
    radius = 2500.0
    inten, grid, _ = render(one_body(shapes.Sphere(radius=radius, sld=1.0)), WAVELENGTH, det, det_cfg,
                            GridConfig())
    assert grid is not None
    q = ewald_q(det, WAVELENGTH)
    inside = two_theta(det) <= 30.0
    edges = np.linspace(0, q[inside].max(), 90)
    idx = np.digitize(q[inside], edges) - 1
    hits = np.bincount(idx, minlength=len(edges))[:-1]
    sums = np.bincount(idx, weights=inten[inside], minlength=len(edges))[:-1]
    keep = hits > 0
    prof = sums[keep] / hits[keep]
    xc = (0.5 * (edges[1:] + edges[:-1]) * radius)[keep]
    minima = xc[1:-1][(prof[1:-1] < prof[:-2]) & (prof[1:-1] < prof[2:])]
    bin_x = (edges[1] - edges[0]) * radius
    assert len(minima) == len(SPHERE_ZEROS)
    np.testing.assert_allclose(minima, SPHERE_ZEROS, atol=bin_x + 0.05)
    # absolute scale, band by band (the outer bands test the voxel aliasing at 2θ → 30°)
    model = sphere_intensity(q, radius, float(np.prod(grid.box)))
    tt = two_theta(det)
    for lo, hi in ((0, 10), (10, 20), (20, 30)):
        band = (tt >= lo) & (tt < hi)
        assert inten[band].sum() / model[band].sum() == pytest.approx(1.0, abs=0.08)


def point_asymmetry(img: np.ndarray) -> float:
    """Σ|I(p) − I(−p)| / Σ(I(p) + I(−p)); 0 for a point-symmetric detector image."""
    flip = img[::-1, ::-1]
    return float(np.abs(img - flip).sum() / (img + flip).sum())


def test_centrosymmetry_holds_for_z_mirror_bodies_and_breaks_for_tilted_ones(det, det_cfg):
    """On the Ewald sphere I(−q_⊥, q_z) = I(q_⊥, −q_z) (Friedel): the image is point-symmetric
    when the body is mirror-symmetric about a plane normal to the beam, not otherwise."""
    grid_cfg = GridConfig(real_oversampling=4.0)
    ell = shapes.Ellipsoid(radius_polar=4000.0, radius_equatorial=1600.0, sld=1.0)
    sphere, _, _ = render(one_body(shapes.Sphere(radius=2000.0, sld=1.0)), WAVELENGTH, det, det_cfg, grid_cfg)
    in_plane, _, _ = render(one_body(ell, turn("y", 90)), WAVELENGTH, det, det_cfg, grid_cfg)  # axis along x
    tilted, _, _ = render(one_body(ell, turn("y", 45)), WAVELENGTH, det, det_cfg, grid_cfg)    # 45° out of plane
    assert point_asymmetry(sphere) < 1e-5
    assert point_asymmetry(in_plane) < 1e-5
    assert point_asymmetry(tilted) > 0.05
    # a mirror about the detector's x axis (y → −y) holds for all three: the bodies lie in the x–z plane
    assert np.abs(tilted - tilted[::-1, :]).max() <= 1e-5 * tilted.max()


def test_grid_follows_wavelength_and_extent():
    cfg = GridConfig()
    d_xy, d_z = spacings(WAVELENGTH, 30.0, cfg.q_oversampling, cfg.z_stretch)
    g = grid_for(np.array([5000.0, 2000.0, 3000.0]), WAVELENGTH, cfg, 30.0)
    assert g.spacing == pytest.approx((d_z, d_xy, d_xy))
    assert d_xy == pytest.approx(WAVELENGTH / (2 * cfg.q_oversampling * 0.5))  # Nyquist = 1.5 k sin 30°
    for n, box, ext in zip(g.shape, g.box, (3000.0, 2000.0, 5000.0), strict=True):
        assert n % 2 == 0 and box >= cfg.real_oversampling * ext
    with pytest.raises(PatternError, match=r"grid\.max_size"):
        grid_for(np.array([1e6, 1.0, 1.0]), WAVELENGTH, cfg, 30.0)


# ---- nuisances ------------------------------------------------------------------
def nuisance(**kw) -> Nuisance:
    base = dict(flux=1e6, gain=1.0, hole_radius=3.0, straylight=0.0, straylight_width=4.0, uniform=0.0,
                saturation=10.0)
    return Nuisance(**{**base, **kw})


@pytest.fixture(scope="module")
def signal(det, det_cfg):
    inten, _, _ = render(one_body(shapes.Sphere(radius=2000.0, sld=1.0)), WAVELENGTH, det, det_cfg,
                         GridConfig(real_oversampling=4.0))
    return inten


def test_expected_signal_carries_the_flux(det, det_cfg, signal):
    act = active_pixels(det, 3.0, 30.0)
    s = expected_signal(signal, det, DetectorConfig(shape=96), 2e5, act)
    assert s.sum() == pytest.approx(2e5)
    assert (s[~act] == 0).all()


def test_hole_and_corners_read_zero(det, det_cfg, signal):
    nz = nuisance(straylight=0.5, uniform=0.3)
    act = active_pixels(det, nz.hole_radius, 30.0)
    img, _ = detector_counts(expected_signal(signal, det, det_cfg, nz.flux, act), det, det_cfg, nz, 65535.0,
                             np.random.default_rng(1))
    tt = two_theta(det)
    assert img.dtype == np.float32 and img.shape == det.shape
    assert (img[tt < nz.hole_radius] == 0).all() and (tt < nz.hole_radius).sum() > 0
    assert (img[tt > 30.0] == 0).all() and (tt > 30.0).sum() > 0
    assert (img[act] > 0).mean() > 0.9


def test_saturation_caps_the_brightest_pixels(det, det_cfg, signal):
    nz = nuisance(saturation=0.2, gain=1.5)
    act = active_pixels(det, nz.hole_radius, 30.0)
    mean = expected_signal(signal, det, det_cfg, nz.flux, act)
    img, lv = detector_counts(mean, det, det_cfg, nz, 65535.0, np.random.default_rng(2))
    assert lv["saturation_level"] == pytest.approx(0.2 * 1.5 * mean.max())
    assert img.max() <= np.float32(lv["saturation_level"])
    assert (img == np.float32(lv["saturation_level"])).sum() >= 3
    img2, lv2 = detector_counts(mean, det, det_cfg, nuisance(saturation=5.0), 100.0, np.random.default_rng(2))
    assert lv2["saturation_level"] == 100.0 and img2.max() == 100.0  # the ADC's largest value


def test_poisson_and_uniform_noise_statistics(det, det_cfg):
    nz = nuisance(gain=1.0)
    act = active_pixels(det, nz.hole_radius, 30.0)
    flat = np.where(act, 50.0, 0.0)
    img, _ = detector_counts(flat, det, det_cfg, nz, 1e9, np.random.default_rng(3))
    v = img[act].astype(np.float64)
    n = v.size
    assert abs(v.mean() - 50.0) < 5 * np.sqrt(50.0 / n)
    assert v.var() == pytest.approx(50.0, rel=0.1)  # Poisson: variance = mean
    assert np.array_equal(v, np.round(v))
    nz_u = nuisance(uniform=0.4, flux=1e5)
    img, _ = detector_counts(np.zeros(det.shape), det, det_cfg, nz_u, 1e9, np.random.default_rng(4))
    b = 0.4 * 1e5 / act.sum()
    u = img[act]
    assert u.min() >= 0 and u.max() <= b
    assert u.mean() == pytest.approx(b / 2, rel=0.05)


def test_straylight_decays_from_the_hole(det, det_cfg):
    nz = nuisance(straylight=2.0, straylight_width=3.0)
    img, _ = detector_counts(np.zeros(det.shape), det, det_cfg, nz, 1e9, np.random.default_rng(5))
    tt = two_theta(det)
    near = img[(tt >= 3.0) & (tt < 5.0)].mean()
    far = img[(tt >= 20.0) & (tt < 30.0)].mean()
    ref = 1e6 / active_pixels(det, 3.0, 30.0).sum()
    assert near == pytest.approx(2.0 * ref * np.exp(-1.0 / 3.0), rel=0.2)
    assert far < 0.01 * near


# ---- bad input ------------------------------------------------------------------
def test_bad_inputs_are_refused(det, det_cfg):
    g = Grid((8, 16, 16), (600.0, 300.0, 300.0))
    with pytest.raises(PatternError, match=r"rho: shape \(8, 16, 8\)"):
        ewald_intensity(np.zeros((8, 16, 8)), g, WAVELENGTH, det, 30.0)
    rho = np.zeros(g.shape)
    rho[3, 4, 5] = np.nan
    with pytest.raises(PatternError, match="rho: non-finite"):
        ewald_intensity(rho, g, WAVELENGTH, det, 30.0)
    with pytest.raises(PatternError, match="extent"):
        grid_for(np.array([1.0, np.inf, 1.0]), WAVELENGTH, GridConfig(), 30.0)
    with pytest.raises(PatternError, match="extent"):
        grid_for(np.array([1.0, 1.0]), WAVELENGTH, GridConfig(), 30.0)
    with pytest.raises(PatternError, match="energy"):
        wavelength_of(-3.0)
    with pytest.raises(PatternError, match="signal: shape"):
        detector_counts(np.zeros((10, 10)), det, det_cfg, nuisance(), 1e4, np.random.default_rng(0))
    with pytest.raises(PatternError, match="signal: expected photons must be finite"):
        detector_counts(np.full(det.shape, -1.0), det, det_cfg, nuisance(), 1e4, np.random.default_rng(0))
    with pytest.raises(PatternError, match="intensity: values"):
        expected_signal(np.full(det.shape, np.nan), det, det_cfg, 1e5, np.ones(det.shape, bool))
