"""compare_sasmodels against independent oracles: the closed-form sphere and sasmodels itself."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr
from scipy import integrate

from hifft.compare import bin_average, compare_sasmodels
from hifft.compare import sasmodels_ as sm
from hifft.compare.synthetic import shell_dataset

R, PHI, DRHO = 20.0, 0.01, 1.5


def sphere_I(q, R=R, phi=PHI, drho=DRHO):
    """Closed-form sphere, absolute scale: 1e-4·φ·Δρ²·V·P(q) in 1/cm."""
    x = np.asarray(q, dtype=float) * R
    V = 4 / 3 * np.pi * R**3
    return 1e-4 * phi * drho**2 * V * (3 * (np.sin(x) - x * np.cos(x)) / x**3) ** 2


SPH = dict(radius=R, sld=DRHO + 0.5, sld_solvent=0.5, scale=PHI)


@pytest.fixture(scope="module")
def ds():
    return shell_dataset(sphere_I, n=96, spacing=2.0, bins=60)


def test_sasmodels_sphere_matches_closed_form():
    q = np.geomspace(1e-3, 0.8, 400)
    got = sm.evaluate("sphere", q, SPH)
    np.testing.assert_allclose(got, sphere_I(q), rtol=1e-10)
    # the anchor: R = 50 Å, Δρ = 1 → I(0) = 1e-4·V = 52.36 1/cm
    i0 = sm.forward_intensity("sphere", dict(radius=50, sld=1, sld_solvent=0, scale=1))
    assert i0 == pytest.approx(1e-4 * 4 / 3 * np.pi * 50**3, rel=1e-9)


def test_sld_solvent_must_be_passed():
    with pytest.raises(ValueError, match="sld_solvent"):
        sm.check_pars("sphere", dict(radius=20, sld=1, scale=0.01))
    with pytest.raises(ValueError, match="radius_pdd"):
        sm.check_pars("sphere", dict(radius=20, sld=1, sld_solvent=0, radius_pdd=0.1))
    with pytest.raises(ValueError, match="distribution"):
        sm.check_pars("sphere", dict(radius=20, sld=1, sld_solvent=0, radius_pd_type="normal"))


def test_absolute_scale_without_fit(ds):
    c = compare_sasmodels(ds, "sphere", **SPH)
    assert c.fit_scale is False and c.scale == PHI and c.n_fitted == 0
    # the synthetic shells hold the exact form factor: only sub-bin discretisation remains
    assert c.chi2 < 1e-3
    assert c.max_abs_rel < 2e-3
    # default window: 3·2π/L to q·d = 1
    d, L = 2.0, 96 * 2.0
    assert c.q_range[0] >= 3 * 2 * np.pi / L
    assert c.q_range[1] <= 1.0 / d and c.qd_range[1] == pytest.approx(c.q_range[1] * d)
    assert c.model.dims == ("q",) and c.model.sizes["q"] == ds.sizes["q"]
    np.testing.assert_array_equal(c.model["q"].values, ds["q"].values)
    assert int(c.residuals["used"].sum()) == c.n


def test_samples_average_equals_shell_integral():
    """Σw·I(q_s)/Σw reproduces the continuous shell average ∫q²I/∫q² in a bin, also at a zero."""
    lo, hi = 4.3 / R, 4.75 / R  # a bin straddling the first zero qR = 4.493
    n_sub = 16
    e = np.linspace(lo, hi, n_sub + 1)
    # continuous shell: mode density ∝ q², sub-bin weight and mean q exact
    w = (e[1:] ** 3 - e[:-1] ** 3) / 3
    qs = (e[1:] ** 4 - e[:-1] ** 4) / 4 / w
    exact = integrate.quad(lambda q: q * q * sphere_I(q), lo, hi, epsabs=0, epsrel=1e-12)[0] / (
        (hi**3 - lo**3) / 3
    )
    got, method = bin_average(
        lambda x: sm.evaluate("sphere", x, SPH), np.array([qs @ w / w.sum()]), qs[None], w[None]
    )
    assert method == "samples"
    # 16 sub-bins leave a second-order error ~(1/16)² at the deepest point of a zero
    assert got[0] == pytest.approx(exact, rel=6e-3)
    # evaluating at the bin's mean q is badly wrong there: the reason for averaging
    point = sm.evaluate("sphere", np.array([qs @ w / w.sum()]), SPH)[0]
    assert abs(point / exact - 1) > 0.3


def test_point_evaluation_is_worse(ds):
    c_s = compare_sasmodels(ds, "sphere", **SPH)
    c_p = compare_sasmodels(ds, "sphere", average="point", **SPH)
    c_g = compare_sasmodels(ds, "sphere", average="gauss", **SPH)
    assert c_p.chi2 > 100 * max(c_g.chi2, 1e-6) and c_g.chi2 > c_s.chi2
    assert c_p.averaging == "point" and c_g.averaging == "gauss"


def test_noisy_chi2_is_near_one():
    chis = []
    for seed in range(6):
        dsn = shell_dataset(sphere_I, n=64, spacing=2.0, bins=120, noise=0.02, seed=seed)
        c = compare_sasmodels(dsn, "sphere", q_range="all", **SPH)
        chis.append(c.chi2 * c.dof)
        dof = c.dof
    # Σχ² over 6 realisations is χ²(6·dof): mean 6·dof, sd √(12·dof)
    assert abs(sum(chis) - 6 * dof) < 4 * np.sqrt(12 * dof)


def test_closed_form_scale_and_background_fit(ds):
    # data = 1.7·model + 3e-5: recover both exactly
    ds2 = ds.copy()
    ds2["I"] = 1.7 * ds["I"] + 3e-5
    ds2["sigma"] = 0.01 * ds2["I"]
    c = compare_sasmodels(ds2, "sphere", fit_scale=True, fit_background=True, q_range="all", **SPH)
    assert c.scale == pytest.approx(1.7 * PHI, rel=2e-3)
    assert c.background == pytest.approx(3e-5, rel=2e-2)
    assert c.n_fitted == 2 and c.chi2 < 1e-2
    # scale only; equals the weighted closed form Σ w I m / Σ w m²
    c1 = compare_sasmodels(ds2, "sphere", fit_scale=True, q_range="all", **SPH)
    m = c1.model.values / (c1.scale / PHI)
    I, s = ds2["I"].values, ds2["sigma"].values
    a = np.sum(I * m / s**2) / np.sum(m * m / s**2)
    assert c1.scale == pytest.approx(a * PHI, rel=1e-10)
    # χ²_red uses n − n_fitted
    r = (I - c1.model.values) / s
    assert c1.chi2 == pytest.approx(np.sum(r**2) / (c1.n - 1), rel=1e-10)
    # background only
    ds3 = ds.copy()
    ds3["I"] = ds["I"] + 1e-4
    c2 = compare_sasmodels(ds3, "sphere", fit_background=True, q_range="all", **SPH)
    assert c2.background == pytest.approx(1e-4, rel=1e-2)


def test_polydispersity_matches_explicit_average():
    """radius_pd reaches sasmodels: compare to a hand-made Gaussian average of closed forms."""
    pd = 0.1
    ds = shell_dataset(lambda q: _pd_sphere(q, pd), n=64, spacing=2.0, bins=50)
    c = compare_sasmodels(
        ds,
        "sphere",
        radius_pd=pd,
        radius_pd_n=81,
        radius_pd_nsigma=4,
        radius_pd_type="gaussian",
        **SPH,
    )
    assert c.max_abs_rel < 5e-3
    mono = compare_sasmodels(ds, "sphere", **SPH)
    assert mono.chi2 > 50 * c.chi2


def _pd_sphere(q, pd):
    # sasmodels normalizes I = scale·<V²P>/<V> with Gaussian weights on R (±4σ)
    r = np.linspace(R * (1 - 4 * pd), R * (1 + 4 * pd), 801)
    w = np.exp(-0.5 * ((r - R) / (pd * R)) ** 2)
    V = 4 / 3 * np.pi * r**3
    x = np.asarray(q)[:, None] * r[None, :]
    P = (3 * (np.sin(x) - x * np.cos(x)) / x**3) ** 2
    return 1e-4 * PHI * DRHO**2 * (P * V**2) @ w / (V @ w)


def test_product_model_absolute_scale():
    """sphere@hardsphere: I = volfraction·P·S with scale = 1 (not φ); S from the PY closed form."""
    phi, Reff = 0.2, R
    pars = dict(
        radius=R,
        sld=DRHO + 0.5,
        sld_solvent=0.5,
        radius_effective=Reff,
        radius_effective_mode=0,
        **sm.absolute_scale_pars("sphere@hardsphere", phi),
    )
    assert pars["volfraction"] == phi
    assert pars["scale"] == 1.0
    q = np.geomspace(1e-3, 0.5, 200)
    got = sm.evaluate("sphere@hardsphere", q, pars)
    expect = sphere_I(q, phi=phi) * _py_sq(q, Reff, phi)
    np.testing.assert_allclose(got, expect, rtol=1e-6)
    s0 = (1 - phi) ** 4 / (1 + 2 * phi) ** 2
    assert got[0] / sphere_I(q[:1], phi=phi)[0] == pytest.approx(s0, rel=1e-3)


def _py_sq(q, Reff, phi):
    A = 2 * q * Reff
    a = (1 + 2 * phi) ** 2 / (1 - phi) ** 4
    b = -6 * phi * (1 + phi / 2) ** 2 / (1 - phi) ** 4
    g = phi * a / 2
    G = (
        a * (np.sin(A) - A * np.cos(A)) / A**2
        + b * (2 * A * np.sin(A) + (2 - A**2) * np.cos(A) - 2) / A**3
        + g
        * (-(A**4) * np.cos(A) + 4 * ((3 * A**2 - 6) * np.cos(A) + (A**3 - 6 * A) * np.sin(A) + 6))
        / A**5
    )
    return 1 / (1 + 24 * phi * G / A)


def test_errors_are_named(ds):
    with pytest.raises(ValueError, match="scale"):
        compare_sasmodels(ds, "sphere", radius=R, sld=1, sld_solvent=0)
    with pytest.raises(ValueError, match="no model"):
        compare_sasmodels(ds, "spheer", scale=0.01, sld=1, sld_solvent=0)
    with pytest.raises(ValueError, match="bins in q range"):
        compare_sasmodels(ds, "sphere", q_range=(10.0, 11.0), **SPH)
    bare = ds.drop_vars(["q_samples", "q_weights", "q_std"])
    c = compare_sasmodels(bare, "sphere", **SPH)
    assert c.averaging == "point"
    with pytest.raises(ValueError, match="q_samples"):
        compare_sasmodels(bare, "sphere", average="samples", **SPH)


def test_explicit_range_and_spacing():
    ds = shell_dataset(sphere_I, n=64, spacing=2.0, bins=40)
    ds.attrs = {}
    c = compare_sasmodels(ds, "sphere", q_range=(0.05, None), qd_max=0.8, spacing=2.0, **SPH)
    assert c.q_range[0] >= 0.05 and c.q_range[1] <= 0.4
    assert c.qd_range == pytest.approx((c.q_range[0] * 2, c.q_range[1] * 2))
    c_all = compare_sasmodels(ds, "sphere", **SPH)  # no grid attrs: all bins
    assert c_all.n == ds.sizes["q"] and c_all.qd_range is None
    assert isinstance(c_all.model, xr.DataArray)
