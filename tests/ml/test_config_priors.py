"""Priors and configuration: parsing, units, strict keys, and the statistics of draws."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from hifft.config import ConfigError
from hifft.ml import shapes as S
from hifft.ml.config import (
    CLASSES,
    DatasetConfig,
    LengthPrior,
    MLConfig,
    Prior,
    ShapesConfig,
    load,
)

from .conftest import tiny_yaml


def test_prior_shorthands_and_units():
    assert Prior.model_validate(0.1).dist == "fixed"
    u = LengthPrior.model_validate(["2 nm", "10 nm"])
    assert (u.dist, u.low, u.high) == ("uniform", 20.0, 100.0)
    lg = LengthPrior.model_validate({"dist": "loguniform", "low": "0.5 nm", "high": 300})
    assert lg.low == pytest.approx(5.0) and lg.high == 300.0


@pytest.mark.parametrize(
    ("spec", "msg"),
    [
        ({"dist": "uniform", "low": 1.0}, "needs high"),
        ({"dist": "uniform", "low": 2.0, "high": 1.0}, "must be below"),
        ({"dist": "loguniform", "low": 0.0, "high": 1.0}, "low must be > 0"),
        ({"dist": "normal", "mean": 1.0, "std": -1.0}, "std must be > 0"),
        ({"dist": "gamma", "low": 0, "high": 1}, "dist"),
        ({"dist": "fixed", "value": 1.0, "typo": 3}, "typo"),
    ],
)
def test_bad_priors_are_refused(spec, msg):
    with pytest.raises(ValueError, match=msg):
        Prior.model_validate(spec)


def test_length_prior_refuses_wrong_dimension():
    with pytest.raises(ValueError, match="length"):
        LengthPrior.model_validate(["2 s", "3 s"])


def test_yaml_unknown_key_names_field(tmp_path):
    p = tmp_path / "job.yaml"
    p.write_text(tiny_yaml(tmp_path).replace("pd_n: 9}", "pd_n: 9, radus: 3}", 1))
    with pytest.raises(ConfigError, match=r"dataset\.shapes\.sphere\.radus"):
        load(p)


def test_yaml_unknown_class_refused(tmp_path):
    p = tmp_path / "job.yaml"
    p.write_text("dataset:\n  classes: [sphere, cube]\n")
    with pytest.raises(ConfigError, match="cube"):
        load(p)


def test_default_pipeline_file_loads():
    from pathlib import Path

    cfg = load(Path(__file__).parents[2] / "pipelines" / "ml_default.yaml")
    assert cfg.dataset.classes == list(CLASSES)
    assert cfg.dataset.q.n == 256 and cfg.dataset.q.min == 0.002 and cfg.dataset.q.max == 0.5
    assert cfg.dataset.shapes.hardsphere.volfraction.bounds() == (0.05, 0.35)
    assert cfg.dataset.shapes.ellipsoid.min_axis_ratio == 1.5
    assert cfg.train is not None and cfg.train.ensemble >= 2


def test_hardsphere_alias_and_volfraction_limit():
    s = ShapesConfig.model_validate({"sphere@hardsphere": {"volfraction": [0.0, 0.2]}})
    assert s.spec("sphere@hardsphere").volfraction.high == 0.2
    with pytest.raises(ValueError, match="volfraction"):
        ShapesConfig.model_validate({"sphere@hardsphere": {"volfraction": [0.0, 0.7]}})


def test_q_grid_is_log_spaced_and_positive():
    q = DatasetConfig().q.values()
    assert q.size == 256 and q[0] == pytest.approx(0.002) and q[-1] == pytest.approx(0.5)
    r = q[1:] / q[:-1]
    np.testing.assert_allclose(r, r[0], rtol=1e-10)
    assert np.all(q > 0)  # no mirrored negative q


# ---- statistics of draws ----------------------------------------------------


def test_uniform_and_loguniform_draws_follow_their_laws():
    rng = np.random.default_rng(0)
    u = Prior.model_validate([0.0, 0.3]).sample(rng, 4000)
    assert stats.kstest(u, stats.uniform(0, 0.3).cdf).pvalue > 1e-3
    lg = LengthPrior.model_validate({"dist": "loguniform", "low": 20, "high": 200}).sample(rng, 4000)
    assert stats.kstest(np.log(lg), stats.uniform(math.log(20), math.log(10)).cdf).pvalue > 1e-3
    # and not uniform in the linear variable
    assert stats.kstest(lg, stats.uniform(20, 180).cdf).pvalue < 1e-6


def test_truncnormal_stays_in_bounds_with_right_shape():
    rng = np.random.default_rng(1)
    p = Prior.model_validate({"dist": "truncnormal", "mean": 0.05, "std": 0.03, "low": 0.0, "high": 0.2})
    x = p.sample(rng, 4000)
    assert x.min() >= 0 and x.max() <= 0.2
    ref = stats.truncnorm((0 - 0.05) / 0.03, (0.2 - 0.05) / 0.03, loc=0.05, scale=0.03)
    assert stats.kstest(x, ref.cdf).pvalue > 1e-3


@pytest.mark.parametrize("model", CLASSES)
def test_sampled_labels_lie_in_prior_support_and_constraints(model):
    shapes = ShapesConfig()
    v = S.sample_params(model, shapes, np.random.default_rng(2), 2000)
    assert set(v) == set(S.PARAMS[model])
    spec = shapes.spec(model)
    for p, x in v.items():
        lo, hi = getattr(spec, p).bounds()
        assert x.min() >= lo and x.max() <= hi, p
        assert np.isfinite(x).all()
    if model == "ellipsoid":
        ratio = np.maximum(v["radius_polar"], v["radius_equatorial"]) / np.minimum(
            v["radius_polar"], v["radius_equatorial"]
        )
        assert ratio.min() >= spec.min_axis_ratio
        # both prolate and oblate are present
        assert (v["radius_polar"] > v["radius_equatorial"]).mean() == pytest.approx(0.5, abs=0.05)
    if model == "cylinder":
        assert (v["length"] >= 2 * v["radius"] * spec.min_length_over_diameter).all()


def test_ml_config_sections_default():
    cfg = MLConfig()
    assert cfg.train is None and cfg.evaluate.coverage == 0.9
