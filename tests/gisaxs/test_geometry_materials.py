"""Geometry (exact q per pixel, flat detectors, bad input) and materials (xraydb n, Fresnel)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from hifft.gisaxs import Beam, Detector, Geometry, GeometryError, Material, MaterialError, fresnel_r, material

DEG = math.pi / 180


def test_q_is_kf_minus_ki_for_every_pixel():
    beam = Beam.create("0.4 deg", wavelength="0.096 nm")
    g = Geometry(beam, Detector.angular((0, 4), (-2, 4), (7, 9)))
    k = 2 * math.pi / 0.96
    ki = k * np.array([math.cos(0.4 * DEG), 0.0, -math.sin(0.4 * DEG)])
    af, tf = g.detector.alpha_f, g.detector.two_theta_f
    kf = k * np.stack([np.cos(af) * np.cos(tf), np.cos(af) * np.sin(tf), np.sin(af)])
    q = kf - ki[:, None, None]
    np.testing.assert_allclose(g.q_x, q[0], atol=1e-15)
    np.testing.assert_allclose(g.q_y, q[1], atol=1e-15)
    np.testing.assert_allclose(g.q_z, q[2], atol=1e-15)
    assert np.all(g.q_x < 0) and np.any(g.q_x != 0)  # q_x kept, not zero
    # bin centres half a bin inside the edges, like BornAgain's SphericalDetector
    np.testing.assert_allclose(np.degrees(g.detector.alpha_axis[[0, -1]]), [2 / 7, 4 - 2 / 7])
    # solid angles sum to the window's solid angle: Δ2θ · (sin α_max − sin α_min)
    assert g.detector.solid_angle.sum() == pytest.approx(6 * DEG * math.sin(4 * DEG), rel=1e-12)


def test_energy_and_wavelength_agree():
    assert Beam.create(0.4, energy="12.915 keV").wavelength == pytest.approx(0.96, rel=1e-3)
    assert Beam.create(0.4, energy=12.915).wavelength == pytest.approx(0.96, rel=1e-3)
    assert Beam.create("7 mrad", wavelength=1.0).alpha_i == pytest.approx(0.007)


def test_flat_detector_direct_beam_and_solid_angle():
    beam = Beam.create(0.4, wavelength=1.0)
    det = Detector.flat((101, 81), distance="2 m", pixel_size="172 um", beam_center=(10, 40), beam=beam)
    # the direct beam hits (10, 40): exit angle −α_i, in-plane 0
    assert det.alpha_f[10, 40] == pytest.approx(-beam.alpha_i, abs=1e-12)
    assert det.two_theta_f[10, 40] == pytest.approx(0.0, abs=1e-12)
    # a pixel straight up by h: angle atan(h/L) above the direct beam
    h = 50 * 172e4
    assert det.alpha_f[60, 40] == pytest.approx(math.atan(h / 2e10) - beam.alpha_i, rel=1e-9)
    assert det.solid_angle[10, 40] == pytest.approx((172e4) ** 2 / (2e10) ** 2, rel=1e-9)
    assert np.all(np.diff(det.alpha_f[:, 40]) > 0)


@pytest.mark.parametrize(("kwargs", "field"), [
    ({"alpha_i": -0.1, "wavelength": 1.0}, "alpha_i"),
    ({"alpha_i": 0.0, "wavelength": 1.0}, "alpha_i"),
    ({"alpha_i": 0.4, "wavelength": "12 keV"}, "wavelength"),
    ({"alpha_i": 0.4, "wavelength": 0.096}, "nm"),  # a plain number is Å: 0.096 Å is refused with a hint
    ({"alpha_i": 0.4, "energy": "1 nm"}, "energy"),
    ({"alpha_i": 0.4}, "wavelength/energy"),
    ({"alpha_i": "0.4 m", "wavelength": 1.0}, "alpha_i"),
])
def test_bad_beam_is_refused_naming_the_field(kwargs, field):
    with pytest.raises(GeometryError, match=field):
        Beam.create(**kwargs)


def test_bad_detector_is_refused_naming_the_field():
    with pytest.raises(GeometryError, match="alpha_f"):
        Detector.angular((0, 95), (0, 4), (10, 10))
    with pytest.raises(GeometryError, match="two_theta_f"):
        Detector.angular((0, 4), (4, 0), (10, 10))
    with pytest.raises(GeometryError, match="shape"):
        Detector.angular((0, 4), (0, 4), (0, 10))


def test_refractive_index_of_si_and_critical_angle():
    # reference/bornagain25.md: xraydb at 12.398 keV, Si 2.33 g/cm³: δ = 3.168e-6, β = 3.108e-8, α_c ≈ 0.144°
    si = material({"formula": "Si", "density": "2.33 g/cm^3"}, 1.0)
    assert si.delta == pytest.approx(3.168e-6, rel=2e-3)
    assert si.beta == pytest.approx(3.108e-8, rel=2e-3)
    assert math.degrees(si.critical_angle()) == pytest.approx(0.144, abs=0.001)
    assert math.degrees(material("Si", 1.0).critical_angle()) == pytest.approx(0.144, abs=0.001)
    # SLD of Si: 2.0e-5 /Å² (real, from its electron density; independent textbook value ≈ 20.1e-6 /Å²)
    assert material("Si", 1.0).sld(1.0).real == pytest.approx(20.0, rel=0.01)


def test_unknown_material_is_refused_naming_the_field():
    with pytest.raises(MaterialError, match="substrate"):
        material("unobtainium", 1.0, "substrate")
    with pytest.raises(MaterialError, match="particle"):
        material({"formula": "Si"}, 1.0, "particle")


def test_fresnel_against_the_snell_formula():
    # independent oracle: r_s = (n1 cos θ1 − n2 cos θ2)/(n1 cos θ1 + n2 cos θ2), θ from the normal, Snell's law
    sub = Material("x", 3.2e-6, 3e-8)
    k = 2 * math.pi
    alpha = np.radians(np.array([0.05, 0.1, 0.14, 0.2, 0.5, 1.0]))
    n2 = sub.n
    cos1 = np.sin(alpha)
    sin2 = np.cos(alpha) / n2
    cos2 = np.sqrt(1 - sin2**2 + 0j)
    cos2 = np.where(cos2.imag < 0, -cos2, cos2)
    ref = (cos1 - n2 * cos2) / (cos1 + n2 * cos2)
    np.testing.assert_allclose(fresnel_r(alpha, k, sub), ref, rtol=1e-6)
    # total reflection below α_c without absorption, and r(α_c) = 1
    lossless = Material("y", 3.2e-6, 0.0)
    ac = lossless.critical_angle()
    np.testing.assert_allclose(np.abs(fresnel_r(np.array([0.3, 0.6, 0.9]) * ac, k, lossless)), 1.0, rtol=1e-12)
    assert fresnel_r(ac, k, lossless) == pytest.approx(1.0, abs=1e-6)


def test_nevot_croce_roughness_damps_reflection():
    sub = Material("x", 3.2e-6, 3e-8)
    k = 2 * math.pi
    a = np.radians(0.5)
    r0, r1 = fresnel_r(a, k, sub), fresnel_r(a, k, sub, roughness="0.5 nm")
    k0 = k * math.sin(a)
    k1 = k * np.sqrt(sub.n**2 - math.cos(a) ** 2)
    assert r1 == pytest.approx(r0 * np.exp(-2 * k0 * k1 * 25.0), rel=1e-12)
    assert abs(r1) < abs(r0)
