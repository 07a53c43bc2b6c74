"""The one sasmodels adapter: cached kernels, precision, pd points, names checked, threads."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from hifft.compare import sasmodels_ as sm

SPH = dict(radius=40.0, sld=2.0, sld_solvent=0.5, scale=0.01)


def sphere_closed_form(q: np.ndarray, r: float, drho: float, phi: float) -> np.ndarray:
    """Uniform sphere, absolute scale: φ·1e-4·Δρ²·V·[3(sin x − x cos x)/x³]², 1/cm."""
    x = q * r
    v = 4.0 / 3.0 * np.pi * r**3
    return phi * 1e-4 * drho**2 * v * (3 * (np.sin(x) - x * np.cos(x)) / x**3) ** 2


def test_cached_kernels_match_the_closed_form_and_stay_bounded():
    base = sm.kernel_cache_info()
    assert base.maxsize == sm.KERNEL_CACHE_SIZE
    for k in range(sm.KERNEL_CACHE_SIZE + 8):
        q = np.geomspace(1e-3, 0.5, 50 + k)
        got = sm.evaluate("sphere", q, SPH)
        np.testing.assert_allclose(got, sphere_closed_form(q, 40.0, 1.5, 0.01), rtol=1e-9)
    assert sm.kernel_cache_info().currsize == sm.KERNEL_CACHE_SIZE
    q = np.geomspace(1e-3, 0.5, 50)
    hits = sm.kernel_cache_info().hits
    a = sm.evaluate("sphere", q, SPH)
    b = sm.evaluate("sphere", q, SPH)
    assert sm.kernel_cache_info().hits == hits + 1  # the first was evicted, the second hit
    np.testing.assert_array_equal(a, b)


def test_long_grids_get_their_own_kernel():
    n0 = sm.kernel_cache_info()
    q = np.linspace(1e-3, 0.5, sm.KERNEL_CACHE_MAX_POINTS + 1).reshape(-1, 1)
    got = sm.evaluate("sphere", q, SPH)
    assert got.shape == q.shape
    np.testing.assert_allclose(got, sphere_closed_form(q, 40.0, 1.5, 0.01), rtol=1e-9)
    after = sm.kernel_cache_info()
    assert (after.hits, after.misses) == (n0.hits, n0.misses)


def test_precision_reaches_the_kernel():
    q = np.geomspace(1e-3, 0.3, 64)
    single = sm.evaluate("cylinder", q, dict(radius=20.0, length=200.0, sld=1.0, sld_solvent=0.0), precision="single")
    double = sm.evaluate("cylinder", q, dict(radius=20.0, length=200.0, sld=1.0, sld_solvent=0.0))
    assert not np.array_equal(single, double)
    np.testing.assert_allclose(single, double, rtol=1e-4)
    with pytest.raises(ValueError, match="precision"):
        sm.evaluate("sphere", q, SPH, precision="half")


def test_pd_n_fills_missing_points_only():
    q = np.geomspace(1e-2, 0.3, 40)
    pd = dict(SPH, radius_pd=0.2)
    assert sm.DEFAULT_PD_N == 81
    np.testing.assert_array_equal(sm.evaluate("sphere", q, pd), sm.evaluate("sphere", q, dict(pd, radius_pd_n=81)))
    np.testing.assert_array_equal(
        sm.evaluate("sphere", q, pd, pd_n=11), sm.evaluate("sphere", q, dict(pd, radius_pd_n=11))
    )
    # an explicit *_pd_n wins over pd_n; 11 points differ visibly from 81 at q·R ≈ 10
    np.testing.assert_array_equal(
        sm.evaluate("sphere", q, dict(pd, radius_pd_n=11), pd_n=81),
        sm.evaluate("sphere", q, pd, pd_n=11),
    )
    assert not np.allclose(sm.evaluate("sphere", q, pd, pd_n=11), sm.evaluate("sphere", q, pd))
    assert sm.check_pars("sphere", pd, pd_n=35)["radius_pd_n"] == 35.0


def test_unknown_names_and_models_are_errors():
    q = np.geomspace(1e-2, 0.3, 8)
    with pytest.raises(ValueError, match="radus"):
        sm.evaluate("sphere", q, dict(SPH, radus=3.0))
    with pytest.raises(ValueError, match="no model 'spheer'"):
        sm.evaluate("spheer", q, SPH)
    with pytest.raises(ValueError, match="q must be finite and > 0"):
        sm.evaluate("sphere", np.array([0.0, 0.1]), SPH)


def test_threads_share_kernels_safely():
    """Many threads on one cached kernel (one q grid): every result as computed alone."""
    q = np.geomspace(1e-3, 0.4, 300)
    radii = np.linspace(10.0, 60.0, 24)

    def one(r: float) -> np.ndarray:
        return sm.evaluate("sphere", q, dict(SPH, radius=float(r), radius_pd=0.1, radius_pd_n=41))

    serial = [one(r) for r in radii]
    with ThreadPoolExecutor(8) as ex:
        threaded = list(ex.map(one, radii))
    for a, b in zip(serial, threaded, strict=True):
        np.testing.assert_array_equal(a, b)
