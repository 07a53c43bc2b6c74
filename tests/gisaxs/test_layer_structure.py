"""The voxel route against analytic form factors; interference functions and placements."""

from __future__ import annotations

import math

import numpy as np
import pytest

from hifft.gisaxs import (
    Beam,
    Cylinder,
    Detector,
    Geometry,
    Hemisphere,
    LayerError,
    Material,
    Sample,
    SizeDistribution,
    amplitude,
    coherent_intensity,
    dwba_terms,
    ensemble_intensity,
    lattice_2d,
    layer_amplitude,
    layer_image,
    particle_cross_section,
    place,
    radial_paracrystal,
    realisation_average,
    voxelize,
)
from hifft.volume import from_array

DEG = math.pi / 180
SI = Material("Si", 3.168e-6, 3.108e-8)


def _terms(n=40, approximation="dwba"):
    g = Geometry(Beam(1.0, 0.2 * DEG), Detector.angular((0, 2), (-2, 2), (n, n)))
    return g, dwba_terms(g, Sample(SI), approximation)


def test_voxelized_hemisphere_matches_the_analytic_dwba_image():
    _, t = _terms()
    hs = Hemisphere(50.0)
    ref = np.abs(amplitude(hs.amplitude, t)) ** 2
    d = 1.25
    rho = voxelize([hs], np.array([[64.0, 64.0]]), (45, 102, 102), d, contrast=1.0, supersample=2)
    assert rho.sum() * d**3 == pytest.approx(hs.volume, rel=2e-3)
    got = np.abs(layer_amplitude(rho, t, spacing=d, pad=4)) ** 2
    m = ref > 1e-4 * ref.max()
    assert np.median(np.abs(got[m] - ref[m]) / ref[m]) < 0.02
    assert np.argmax(got.max(axis=1)) == np.argmax(ref.max(axis=1))


def test_tasks_split_over_planes_give_the_same_sum_and_volume_input_works():
    _, t = _terms(12)
    zz, yy, xx = np.meshgrid(np.arange(9) * 4.0, np.arange(32) * 5.0, np.arange(32) * 5.0, indexing="ij")
    rho = np.exp(-((xx - 80) ** 2 + (yy - 75) ** 2) / (2 * 15.0**2) - zz / 20.0).astype(np.float32)
    vol = from_array(rho, spacing=(4.0, 5.0, 5.0))
    one = layer_amplitude(vol, t, pad=4, planes_per_task=9)
    many = layer_amplitude(vol, t, pad=4, planes_per_task=2)
    np.testing.assert_allclose(many, one, rtol=1e-10, atol=1e-10 * np.abs(one).max())
    # oracle: the direct (non-uniform) DFT of the whole voxel grid at one pixel; the difference is the
    # lateral spline interpolation only
    g_qx, g_qy, g_qz = t.q_x[5, 7], t.q_y[5, 7], t.q_z[:, 5, 7]
    z = (np.arange(9) + 0.5) * 4.0
    y = np.arange(32) * 5.0
    x = np.arange(32) * 5.0
    lat = np.einsum("zyx,y,x->z", rho.astype(float), np.exp(-1j * g_qy * y), np.exp(-1j * g_qx * x))
    s = lambda v: np.sinc(v / np.pi)  # noqa: E731
    terms_f = [np.sum(lat * np.exp(-1j * qz * z)) * 5.0 * 5.0 * 4.0 * s(g_qx * 2.5) * s(g_qy * 2.5) * s(qz * 2.0)
               for qz in g_qz]
    direct = np.sum(t.weight[:, 5, 7] * np.array(terms_f))
    assert abs(one[5, 7] - direct) < 0.01 * abs(direct)


def test_layer_image_scales_with_area():
    g, _ = _terms(10)
    rho = voxelize([Cylinder(radius=20.0, length=20.0)], np.array([[40.0, 40.0]]), (6, 32, 32), 5.0, 2.0)
    img = layer_image(rho, g, Sample(SI), spacing=5.0, pad=2)
    xs = particle_cross_section(Cylinder(radius=20.0, length=20.0).amplitude, dwba_terms(g, Sample(SI)), 2.0)
    m = xs > 1e-3 * xs.max()
    ratio = np.median(img[m] / xs[m])
    assert ratio == pytest.approx(1 / (32 * 5.0) ** 2, rel=0.05)


def test_bad_layers_are_refused_naming_the_field():
    _, t = _terms(8)
    with pytest.raises(LayerError, match="taller than the box"):
        voxelize([Hemisphere(50.0)], np.array([[50.0, 50.0]]), (8, 40, 40), 5.0)
    with pytest.raises(LayerError, match="spacing"):
        layer_amplitude(np.zeros((4, 8, 8), np.float32), t)
    with pytest.raises(LayerError, match="Nyquist"):
        layer_amplitude(np.ones((4, 8, 8), np.float32), t, spacing=100.0)
    with pytest.raises(LayerError, match="pad"):
        layer_amplitude(np.ones((4, 8, 8), np.float32), t, spacing=2.0, pad=0)
    with pytest.raises(LayerError, match="memory_budget"):
        layer_amplitude(np.ones((4, 8, 8), np.float32), t, spacing=2.0, memory_budget=10)


def test_one_island_coherent_equals_its_cross_section_per_area():
    _, t = _terms(12)
    cyl = Cylinder(radius=30.0, length=20.0)
    one = coherent_intensity([cyl], np.array([[123.0, -40.0]]), t, 3.0, area=1e6)
    np.testing.assert_allclose(one, particle_cross_section(cyl.amplitude, t, 3.0) / 1e6, rtol=1e-12)


def test_random_islands_average_to_the_dilute_ensemble():
    _, t = _terms(16)
    cyl = Cylinder(radius=20.0, length=20.0)
    box, n = 4000.0, 40

    def make(rng):
        return coherent_intensity([cyl] * n, place("random", box, rng, number=n), t, 1.0, box**2)

    avg = realisation_average(make, 60, seed=1)
    dilute = ensemble_intensity(cyl, t, 1.0, n / box**2)
    m = (t.q_y.__abs__() > 0.01) & (dilute > 1e-3 * dilute.max())  # away from q_∥ = 0 (the box's own peak)
    assert np.median(avg[m] / dilute[m]) == pytest.approx(1.0, abs=0.1)


def test_decoupling_and_lma_limits():
    _, t = _terms(10)
    cyl = Cylinder(radius=20.0, length=20.0)
    s = radial_paracrystal(80.0, 8.0)
    mono = ensemble_intensity(cyl, t, 1.0, 1e-4, interference=s)
    lma = ensemble_intensity(cyl, t, 1.0, 1e-4, interference=s, approximation="lma")
    np.testing.assert_allclose(mono, lma, rtol=1e-12)  # one size: DA = LMA
    spread = ensemble_intensity(cyl, t, 1.0, 1e-4, size=SizeDistribution(0.2))
    direct = sum(w * particle_cross_section(cyl.scaled(float(x)).amplitude, t, 1.0)
                 for x, w in zip(*SizeDistribution(0.2).nodes(), strict=True)) * 1e-4
    np.testing.assert_allclose(spread, direct, rtol=1e-12)
    with pytest.raises(ValueError, match="sigma"):
        SizeDistribution(-0.1)


def test_radial_paracrystal_peak_and_limits():
    d, om = 100.0, 5.0
    s = radial_paracrystal(d, om)
    q = np.linspace(0.001, 1.5, 15000)
    sq = s(q, 0 * q)
    assert q[np.argmax(sq)] == pytest.approx(2 * math.pi / d, rel=0.03)
    assert sq[-1] == pytest.approx(1.0, abs=1e-3)  # no order left at large q
    # independent oracle: the Hosemann sum over neighbours, 1 + 2 Σ_n Re P^n
    p = np.exp(-0.5 * (q * om) ** 2 + 1j * q * d)
    series = 1 + 2 * np.real(sum(p**k for k in range(1, 400)))
    ok = np.abs(p) < 0.95  # where the series has converged after 400 neighbours
    np.testing.assert_allclose(sq[ok], series[ok], rtol=1e-6, atol=1e-6)


def test_lattice_peaks_at_reciprocal_vectors_and_placements():
    s = lattice_2d(100.0, 100.0, math.pi / 2, domain=2000.0)
    q = np.linspace(0.0, 0.15, 1501)
    sq = s(q, 0 * q)
    peaks = q[1:-1][(sq[1:-1] > sq[:-2]) & (sq[1:-1] > sq[2:]) & (sq[1:-1] > 1)]
    np.testing.assert_allclose(peaks, [2 * math.pi / 100.0, 4 * math.pi / 100.0], atol=2e-4)
    rng = np.random.default_rng(0)
    sq_pts = place("square", 1000.0, rng, distance=100.0)
    assert sq_pts.shape == (100, 2)
    hard = place("hard", 1000.0, rng, number=30, diameter=80.0)
    d = hard[:, None] - hard[None]
    d -= 1000.0 * np.round(d / 1000.0)
    dist = np.hypot(d[..., 0], d[..., 1]) + np.eye(30) * 1e9
    assert dist.min() >= 80.0
    para = place("paracrystal_2d", 1000.0, rng, distance=100.0, omega=10.0)
    steps = np.diff(para.reshape(10, 10, 2)[:, :, 0], axis=1)
    assert steps.mean() == pytest.approx(100.0, abs=4.0) and steps.std() == pytest.approx(10.0, rel=0.3)
    with pytest.raises(ValueError, match="placement"):
        place("spiral", 10.0, rng)
