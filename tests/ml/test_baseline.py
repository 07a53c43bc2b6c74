"""The least-squares baseline: priors' bounds and constraints, Sobol multistart, class by AIC, the runner."""

from __future__ import annotations

import math

import numpy as np
import pytest

from hifft.ml import shapes as S
from hifft.ml.baseline import CurveLibrary, fit_curve, fit_model, prior_ppf, sobol_draws
from hifft.ml.config import Prior
from hifft.ml.noise import add_noise

from .conftest import small_dataset_config


@pytest.fixture(scope="module")
def cfg():
    return small_dataset_config(classes=["sphere", "sphere@hardsphere", "core_shell_sphere"])


@pytest.fixture(scope="module")
def cfg5():
    return small_dataset_config()


def _curve(cfg, model, label, seed=0, scale=0.01, bg=0.003):
    q = cfg.q.values()
    it = S.forward(model, q, label, cfg.shapes, scale, bg)
    i, s = add_noise(it, q, cfg.noise, 300.0, np.random.default_rng(seed))
    return q, i, s


def test_prior_ppf_maps_quantiles_onto_the_prior():
    lu = Prior.model_validate({"dist": "loguniform", "low": 20.0, "high": 200.0})
    assert prior_ppf(lu, np.array([0.5]))[0] == pytest.approx(math.sqrt(20 * 200))
    un = Prior.model_validate([0.0, 0.3])
    np.testing.assert_allclose(prior_ppf(un, np.array([0.0, 0.25, 1.0])), [0.0, 0.075, 0.3], atol=1e-9)
    tn = Prior.model_validate({"dist": "truncnormal", "mean": 1.0, "std": 1.0, "low": 1.0, "high": 5.0})
    # median of N(1, 1) cut to [1, 5]: Φ(x − 1) = ½ + ½(Φ(4) − ½)
    from scipy.stats import norm

    assert prior_ppf(tn, np.array([0.5]))[0] == pytest.approx(1.0 + norm.ppf(0.5 + 0.5 * (norm.cdf(4.0) - 0.5)))


def test_sobol_starts_respect_the_priors_and_constraints(cfg5):
    for model in ("cylinder", "ellipsoid"):
        spec = cfg5.shapes.spec(model)
        draws = sobol_draws(cfg5, model, 128, seed=0)
        assert len(draws) >= 20
        lab = {p: np.array([math.exp(d[j]) if p in S.LENGTHS else d[j] for d in draws])
               for j, p in enumerate(S.PARAMS[model])}
        for p, v in lab.items():
            lo, hi = getattr(spec, p).bounds()
            assert v.min() >= lo * (1 - 1e-9) and v.max() <= hi * (1 + 1e-9)
        if model == "cylinder":
            assert (lab["length"] >= spec.min_length_over_diameter * 2 * lab["radius"]).all()
        else:
            ratio = np.maximum(lab["radius_polar"], lab["radius_equatorial"]) / np.minimum(
                lab["radius_polar"], lab["radius_equatorial"])
            assert (ratio >= spec.min_axis_ratio).all()


def test_fits_stay_inside_the_shape_constraints(cfg5):
    """A sphere's curve pulls an ellipsoid towards ratio 1 and a cylinder towards L = D; the priors forbid both."""
    q = cfg5.q.values()
    i = S.forward("sphere", q, {"radius": 60.0, "radius_pd": 0.05}, cfg5.shapes, 0.01, 0.003)
    s = 0.01 * i
    e = fit_model(cfg5, "ellipsoid", q, i, s, starts=20, scan=64)
    ratio = max(e.params["radius_polar"], e.params["radius_equatorial"]) / min(
        e.params["radius_polar"], e.params["radius_equatorial"])
    assert ratio >= cfg5.shapes.ellipsoid.min_axis_ratio * (1 - 1e-6)
    c = fit_model(cfg5, "cylinder", q, i, s, starts=20, scan=64)
    assert c.params["length"] >= 2 * cfg5.shapes.cylinder.min_length_over_diameter * c.params["radius"] * (1 - 1e-6)
    assert e.k == 5 and c.k == 6


CASES = {
    "sphere": [{"radius": 35.0, "radius_pd": 0.05}, {"radius": 62.0, "radius_pd": 0.1},
               {"radius": 120.0, "radius_pd": 0.02}],
    "sphere@hardsphere": [{"radius": 30.0, "radius_pd": 0.05, "volfraction": 0.25},
                          {"radius": 50.0, "radius_pd": 0.1, "volfraction": 0.15},
                          {"radius": 80.0, "radius_pd": 0.02, "volfraction": 0.2}],
    "cylinder": [{"radius": 20.0, "length": 300.0, "radius_pd": 0.05, "length_pd": 0.1},
                 {"radius": 40.0, "length": 600.0, "radius_pd": 0.1, "length_pd": 0.05},
                 {"radius": 60.0, "length": 200.0, "radius_pd": 0.02, "length_pd": 0.1}],
    "core_shell_sphere": [{"radius": 30.0, "thickness": 10.0, "radius_pd": 0.05},
                          {"radius": 60.0, "thickness": 20.0, "radius_pd": 0.1},
                          {"radius": 100.0, "thickness": 8.0, "radius_pd": 0.02}],
    "ellipsoid": [{"radius_polar": 90.0, "radius_equatorial": 40.0, "radius_pd": 0.05},
                  {"radius_polar": 30.0, "radius_equatorial": 80.0, "radius_pd": 0.1},
                  {"radius_polar": 150.0, "radius_equatorial": 60.0, "radius_pd": 0.02}],
}


@pytest.mark.parametrize("model", list(CASES))
def test_noiseless_curves_give_class_and_radius(cfg5, model):
    """Three noiseless curves per class (σ = 1 % of I): the true class wins and its sizes come back."""
    q = cfg5.q.values()
    for k, lab in enumerate(CASES[model]):
        i = S.forward(model, q, lab, cfg5.shapes, 0.01, 0.003)
        r = fit_curve(cfg5, q, i, 0.01 * i, seed=k, scan=64, max_nfev=50)  # 20 starts, short local fits
        assert r.best == model, {c: f.chi2 for c, f in r.fits.items()}
        for p in S.PARAMS[model]:
            if p in S.LENGTHS:
                assert r.fits[model].params[p] == pytest.approx(lab[p], rel=0.02), p


def test_noisy_sphere_fit_recovers_radius_scale_and_class(cfg):
    q, i, s = _curve(cfg, "sphere", {"radius": 62.0, "radius_pd": 0.08})
    r = fit_curve(cfg, q, i, s, seed=1)
    f = r.fits["sphere"]
    assert f.params["radius"] == pytest.approx(62.0, rel=0.03)
    assert f.params["radius_pd"] == pytest.approx(0.08, abs=0.04)
    assert f.scale == pytest.approx(0.01, rel=0.1) and f.background == pytest.approx(0.003, rel=0.2)
    assert f.chi2 / q.size < 2.0
    # the hard-sphere prior starts at φ = 0.05, where S(q) dips visibly at low
    # q: its best fit (started from the sphere's too) is clearly worse
    from hifft.ml.evaluate import lrt_unidentifiable

    assert not lrt_unidentifiable(f.chi2, r.fits["sphere@hardsphere"].chi2, dof=1)
    assert r.best == "sphere"
    assert r.fits["core_shell_sphere"].aic > f.aic + 10
    assert r.seconds > 0 and r.cpu_seconds > 0


def test_library_gives_the_nearest_training_labels(cfg):
    q = cfg.q.values()
    radii = [30.0, 60.0, 120.0]
    lib_i = np.array([S.forward("sphere", q, {"radius": r, "radius_pd": 0.05}, cfg.shapes, 0.01, 0.0) for r in radii])
    lib = CurveLibrary.from_arrays(
        q, lib_i, np.zeros(3, dtype=int), {"radius": np.array(radii), "radius_pd": np.full(3, 0.05)}
    )
    # a different scale and a finer grid: the normalized log I still finds the 60 Å sphere
    qf = np.geomspace(q[0], q[-1], 200)
    i = S.forward("sphere", qf, {"radius": 62.0, "radius_pd": 0.05}, cfg.shapes, 0.05, 0.0)
    assert lib.nearest("sphere", qf, i, 1)[0]["radius"] == 60.0
    two = [d["radius"] for d in lib.nearest("sphere", qf, i, 2)]
    assert two[0] == 60.0 and len(two) == 2
    assert lib.nearest("cylinder", qf, i, 1) == []


def test_fit_many_returns_each_curves_own_fit_in_input_order(cfg):
    """The batch job (in this process) gives, row by row, what fitting that curve alone with seed = row gives."""
    from hifft.ml.baseline import fit_many

    curves = [
        _curve(cfg, "sphere", {"radius": 62.0, "radius_pd": 0.08}, seed=0),
        _curve(cfg, "core_shell_sphere", {"radius": 40.0, "thickness": 15.0, "radius_pd": 0.05}, seed=5),
    ]
    q = curves[0][0]
    i = np.array([c[1] for c in curves])
    s = np.array([c[2] for c in curves])
    m = np.ones(i.shape, dtype=bool)
    res = fit_many(cfg, q, i, s, m, scan=64, starts=20, progress=False)
    assert len(res) == 2
    for k, r in enumerate(res):
        alone = fit_curve(cfg, q, i[k], s[k], m[k], seed=k, scan=64, starts=20)
        assert r["best"] == alone.best
        for c, f in alone.fits.items():
            assert r["fits"][c]["params"] == pytest.approx(f.params, rel=1e-9)
            assert r["fits"][c]["chi2"] == pytest.approx(f.chi2, rel=1e-9)
    # rows are not swapped: the sphere's row holds a sphere-radius fit, the core-shell row its class
    assert res[0]["fits"]["sphere"]["params"]["radius"] == pytest.approx(62.0, rel=0.05)
    assert res[1]["best"] == "core_shell_sphere"
