"""Analytic form factors against direct numerical integration over the shape; the DWBA sum."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import integrate
from scipy.special import j0

from hifft.gisaxs import (
    VACUUM,
    Beam,
    Box,
    Cylinder,
    Detector,
    Geometry,
    Hemisphere,
    Material,
    Sample,
    SphereOnSurface,
    TruncatedSphere,
    amplitude,
    dwba_terms,
    fresnel_r,
)
from hifft.gisaxs.formfactors import FormFactorError

DEG = math.pi / 180


def _by_quadrature(shape, qx, qy, qz):
    """∫ exp(−i q·r) over the shape by adaptive quadrature (scipy), independent of the closed forms.

    Round shapes: ∫dz e^{−i q_z z} ∫_0^{r(z)} 2π r J0(q_∥ r) dr (Hankel form, no J1 closed form,
    no change of variable). Boxes: the product of three 1D integrals.
    """
    if isinstance(shape, Box):
        def one(q, lo, hi):
            re = integrate.quad(lambda x: math.cos(q * x), lo, hi)[0]
            im = integrate.quad(lambda x: -math.sin(q * x), lo, hi)[0]
            return re + 1j * im

        a, b, c = shape.length_a, shape.length_b, shape.length_c
        zpart = integrate.quad(lambda z: (np.exp(-1j * qz * z)).real, 0, c)[0] + 1j * integrate.quad(
            lambda z: (np.exp(-1j * qz * z)).imag, 0, c)[0]
        return one(qx, -a / 2, a / 2) * one(qy, -b / 2, b / 2) * zpart
    qp = math.hypot(qx, qy)

    def radius(z):
        if isinstance(shape, Cylinder):
            return shape.radius
        zc = shape.radius if isinstance(shape, SphereOnSurface) else shape.height - shape.radius
        return math.sqrt(max(shape.radius**2 - (z - zc) ** 2, 0.0))

    def disc(z):
        return integrate.quad(lambda r: 2 * math.pi * r * j0(qp * r), 0, radius(z), epsabs=1e-10)[0]

    re = integrate.quad(lambda z: (disc(z) * np.exp(-1j * qz * z)).real, 0, shape.height, limit=200)[0]
    im = integrate.quad(lambda z: (disc(z) * np.exp(-1j * qz * z)).imag, 0, shape.height, limit=200)[0]
    return re + 1j * im


SHAPES = [
    Cylinder(radius=20.0, length=15.0),
    Box(length_a=30.0, length_b=20.0, length_c=10.0),
    Hemisphere(20.0),
    TruncatedSphere(20.0, 28.0),
    SphereOnSurface(12.0),
]
QS = [(0.0, 0.0, 0.0), (0.05, -0.08, 0.12), (0.12, 0.03, -0.2), (0.02, 0.1, 0.15 + 0.01j)]


@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: s.kind)
@pytest.mark.parametrize("q", QS, ids=range(len(QS)))
def test_form_factor_matches_quadrature(shape, q):
    got = complex(shape.amplitude(*q))
    ref = _by_quadrature(shape, q[0], q[1], q[2])
    assert abs(got - ref) <= 1e-8 * shape.volume + 1e-7 * abs(ref)


def test_truncated_sphere_limits_are_closed_forms():
    q = np.linspace(0.0, 0.5, 11)
    sph = SphereOnSurface(30.0)
    np.testing.assert_allclose(TruncatedSphere(30.0, 60.0).amplitude(q, 0 * q, 0.7 * q),
                               sph.amplitude(q, 0 * q, 0.7 * q), rtol=1e-9, atol=1e-9 * sph.volume)
    assert Hemisphere(30.0).amplitude(0.0, 0.0, 0.0) == pytest.approx(2 / 3 * math.pi * 30.0**3, rel=1e-12)
    with pytest.raises(FormFactorError, match="height"):
        TruncatedSphere(10.0, 25.0)
    with pytest.raises(FormFactorError, match="radius"):
        Cylinder(radius=-1.0, length=2.0)


def test_leading_term_axis_reuses_lateral_part():
    hs = Hemisphere(25.0)
    qx, qy = np.linspace(-0.1, 0.1, 7), np.linspace(0, 0.2, 7)
    qz = np.stack([np.linspace(0.01, 0.3, 7), -np.linspace(0.01, 0.3, 7) + 0.003j])
    both = hs.amplitude(qx, qy, qz)
    for t in range(2):
        np.testing.assert_allclose(both[t], hs.amplitude(qx, qy, qz[t]), rtol=1e-12)


def _geometry():
    return Geometry(Beam.create(0.2, wavelength=1.0), Detector.angular((-0.5, 2), (-1, 1), (25, 12)))


def test_dwba_terms_are_the_four_paths():
    g = _geometry()
    sub = Material("Si", 3.168e-6, 3.108e-8)
    t = dwba_terms(g, Sample(sub), "dwba")
    k, ai, af = g.k, g.beam.alpha_i, g.detector.alpha_f
    kzi, kzf = -k * math.sin(ai), k * np.sin(af)
    np.testing.assert_allclose(t.q_z[0], kzf - kzi)
    np.testing.assert_allclose(t.q_z[1], kzf + kzi)
    np.testing.assert_allclose(t.q_z[2], -kzf - kzi)
    np.testing.assert_allclose(t.q_z[3], -kzf + kzi)
    vis = af > 0
    ri, rf = fresnel_r(ai, k, sub), fresnel_r(af, k, sub)
    np.testing.assert_allclose(t.weight[1][vis], np.broadcast_to(ri, af.shape)[vis])
    np.testing.assert_allclose(t.weight[3][vis], (ri * rf)[vis])
    assert np.all(t.weight[:, ~vis] == 0)  # the horizon's shadow


def test_dwba_over_vacuum_is_born_and_born_ignores_the_substrate():
    g = _geometry()
    cyl = Cylinder(radius=30.0, length=20.0)
    born = amplitude(cyl.amplitude, dwba_terms(g, Sample(VACUUM), "born"))
    np.testing.assert_allclose(amplitude(cyl.amplitude, dwba_terms(g, Sample(VACUUM), "dwba")), born, rtol=1e-12)
    direct = cyl.amplitude(g.q_x, g.q_y, g.q_z)
    np.testing.assert_allclose(born, direct, rtol=1e-9)


def test_dwba_near_total_reflection_enhances_the_yoneda_band():
    g = Geometry(Beam.create(0.4, wavelength=0.96), Detector.angular((0.01, 1.0), (0.3, 0.31), (400, 1)))
    sub = Sample(Material("Si", 3.0e-6, 2.9e-8))
    hs = Hemisphere(40.0)
    i_dwba = np.abs(amplitude(hs.amplitude, dwba_terms(g, sub, "dwba")))[:, 0] ** 2
    i_born = np.abs(amplitude(hs.amplitude, dwba_terms(g, sub, "born")))[:, 0] ** 2
    ratio = i_dwba / i_born
    a = np.degrees(g.detector.alpha_axis)
    ac = math.degrees(sub.substrate.critical_angle())
    assert abs(a[np.argmax(ratio)] - ac) < 0.01  # |1 + r(α_f)|² peaks at α_c
