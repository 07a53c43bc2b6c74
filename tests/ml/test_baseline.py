"""The least-squares baseline recovers parameters and picks the class by AIC."""

from __future__ import annotations

import numpy as np
import pytest

from hifft.ml import shapes as S
from hifft.ml.baseline import fit_curve
from hifft.ml.noise import add_noise

from .conftest import small_dataset_config


@pytest.fixture(scope="module")
def cfg():
    return small_dataset_config(classes=["sphere", "sphere@hardsphere", "core_shell_sphere"])


def _curve(cfg, model, label, seed=0, scale=0.01, bg=0.003):
    q = cfg.q.values()
    it = S.forward(model, q, label, cfg.shapes, scale, bg)
    i, s = add_noise(it, q, cfg.noise, 300.0, np.random.default_rng(seed))
    return q, i, s


def test_sphere_fit_recovers_radius_and_class(cfg):
    q, i, s = _curve(cfg, "sphere", {"radius": 62.0, "radius_pd": 0.08})
    r = fit_curve(cfg, q, i, s, seed=1, scan=16, starts=2)
    f = r.fits["sphere"]
    assert f.params["radius"] == pytest.approx(62.0, rel=0.03)
    assert f.params["radius_pd"] == pytest.approx(0.08, abs=0.04)
    assert f.scale == pytest.approx(0.01, rel=0.1) and f.background == pytest.approx(0.003, rel=0.2)
    assert f.chi2 / q.size < 2.0
    # the nested hard-sphere model fits as well (its fit also starts from the
    # sphere's) but pays for its extra parameter
    assert r.fits["sphere@hardsphere"].chi2 <= f.chi2 + 3.0
    assert r.best == "sphere"
    assert r.fits["core_shell_sphere"].aic > f.aic + 10
    assert r.seconds > 0 and r.cpu_seconds > 0


def test_hard_sphere_fit_finds_volume_fraction(cfg):
    q, i, s = _curve(cfg, "sphere@hardsphere", {"radius": 40.0, "radius_pd": 0.05, "volfraction": 0.25}, seed=2)
    r = fit_curve(cfg, q, i, s, seed=3, scan=16, starts=2)
    assert r.best == "sphere@hardsphere"
    assert r.fits["sphere@hardsphere"].params["volfraction"] == pytest.approx(0.25, abs=0.04)


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
    res = fit_many(cfg, q, i, s, m, scan=16, starts=2, progress=False)
    assert len(res) == 2
    for k, r in enumerate(res):
        alone = fit_curve(cfg, q, i[k], s[k], m[k], seed=k, scan=16, starts=2)
        assert r["best"] == alone.best
        for c, f in alone.fits.items():
            assert r["fits"][c]["params"] == pytest.approx(f.params, rel=1e-9)
            assert r["fits"][c]["chi2"] == pytest.approx(f.chi2, rel=1e-9)
    # rows are not swapped: the sphere's row holds a sphere-radius fit, the core-shell row its class
    assert res[0]["fits"]["sphere"]["params"]["radius"] == pytest.approx(62.0, rel=0.05)
    assert res[1]["best"] == "core_shell_sphere"
