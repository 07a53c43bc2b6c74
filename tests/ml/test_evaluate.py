"""Evaluation figures from class probabilities (hand-computed), and the unidentifiable-curve test."""

from __future__ import annotations

import json

import numpy as np
import pytest

from hifft.ml import shapes as S
from hifft.ml.evaluate import (
    check_targets,
    identifiability,
    lrt_unidentifiable,
    markdown,
    probability_metrics,
    shape_metrics,
    summary,
    unidentifiable,
    write,
)
from hifft.ml.noise import add_noise

from .conftest import small_dataset_config

# four curves, three classes
PROB = np.array(
    [
        [0.95, 0.03, 0.02],  # true 0: right, confidence 0.95
        [0.50, 0.40, 0.10],  # true 1: wrong, but second
        [0.20, 0.30, 0.50],  # true 0: wrong, third
        [0.05, 0.92, 0.03],  # true 1: right, confidence 0.92
    ]
)
TRUE = np.array([0, 1, 0, 1])


def test_probability_metrics_by_hand():
    m = probability_metrics(TRUE, PROB)
    assert m["top2_accuracy"] == pytest.approx(3 / 4)
    # bins of width 1/15: 0.95 in (14/15, 1], 0.92 in (13/15, 14/15], both 0.5 in (7/15, 8/15]
    # ECE = ¼|1 − 0.95| + ¼|1 − 0.92| + ½|0 − 0.5| = 0.0125 + 0.02 + 0.25
    assert m["ece"] == pytest.approx(0.2825)
    assert m["ece_bins"] == 15
    assert [r["n"] for r in m["reliability"]] == [2, 1, 1]
    assert m["reliability"][0]["range"] == pytest.approx([7 / 15, 8 / 15])
    assert m["confident_coverage"] == pytest.approx(0.5) and m["confident_accuracy"] == pytest.approx(1.0)
    # a perfectly calibrated, always-confident, always-right model
    sure = probability_metrics(np.array([0, 1]), np.array([[1.0, 0.0], [0.0, 1.0]]))
    assert sure["ece"] == 0.0 and sure["top2_accuracy"] == 1.0 and sure["reliability"][0]["range"][1] == 1.0
    none = probability_metrics(np.array([0]), np.array([[0.6, 0.4]]))
    assert none["confident_accuracy"] is None and none["confident_coverage"] == 0.0


def test_confusion_matrix_by_hand():
    pred = PROB.argmax(1)  # [0, 0, 2, 1]
    m = shape_metrics(TRUE, pred, ("a", "b", "c"))
    assert m["confusion"] == [[1, 0, 1], [1, 1, 0], [0, 0, 0]]
    assert m["per_class_accuracy"] == {"a": 0.5, "b": 0.5, "c": None}


def test_figures_reach_the_json_and_the_report(tmp_path):
    classes = S.CLASSES
    n = 4
    true = np.array([0, 1, 2, 3])
    prob = np.full((n, len(classes)), 0.01)
    prob[np.arange(n), true] = 0.96
    prob[3] = [0.5, 0.0, 0.0, 0.46, 0.04]  # core-shell called a sphere, p = 0.5
    labels = {p: np.ones(n) for p in S.ALL_PARAMS}
    net = summary(true, prob.argmax(1), labels, np.ones((n, len(S.slots()))), S.slots())
    net.update(probability_metrics(true, prob))
    res = {"network": net, "ensemble_size": 2, "targets": check_targets(net)}
    write(res, tmp_path / "ev.json", tmp_path / "ev.md")
    back = json.loads((tmp_path / "ev.json").read_text())["network"]
    assert back["top2_accuracy"] == 1.0 and back["confident_coverage"] == 0.75 and back["confident_accuracy"] == 1.0
    # ECE: three curves at 0.96, all right (|1 − 0.96|), one at 0.5, wrong (|0 − 0.5|)
    assert back["ece"] == pytest.approx(0.75 * 0.04 + 0.25 * 0.5)
    assert back["confusion"][3][0] == 1
    md = markdown(res)
    assert "Top-2 accuracy 100.00 %" in md and "p > 0.9: accuracy 100.00 % on 75.00 % of the curves" in md


def test_likelihood_ratio_threshold():
    # chi2.ppf(0.95, 1) = 3.841, chi2.ppf(0.95, 2) = 5.991
    assert lrt_unidentifiable(100.0, 103.0, dof=1)
    assert not lrt_unidentifiable(100.0, 104.0, dof=1)
    assert lrt_unidentifiable(100.0, 105.9, dof=2) and not lrt_unidentifiable(100.0, 106.1, dof=2)
    assert lrt_unidentifiable(100.0, 90.0)  # another class fitting better is not worse
    fits = {"sphere": {"chi2": 64.0, "k": 4}, "sphere@hardsphere": {"chi2": 63.0, "k": 5},
            "cylinder": {"chi2": 500.0, "k": 6}}
    assert unidentifiable(fits, "sphere@hardsphere") == ["sphere"]  # Δχ² = 1 < 3.84; cylinder Δχ² = 437
    assert unidentifiable(fits, "cylinder") == ["sphere", "sphere@hardsphere"]  # the others fit better
    fits["cylinder"]["chi2"] = 50.0  # now the sphere is 14 worse (> 5.99, dof 2), the hard sphere 13 (> 3.84)
    assert unidentifiable(fits, "cylinder") == []


def test_identifiability_splits_the_accuracy():
    table = [
        {"a": {"chi2": 10.0, "k": 2}, "b": {"chi2": 11.0, "k": 2}},  # a ~ b: unidentifiable
        {"a": {"chi2": 10.0, "k": 2}, "b": {"chi2": 90.0, "k": 2}},
        {"a": {"chi2": 90.0, "k": 2}, "b": {"chi2": 10.0, "k": 2}},
    ]
    calls = iter(table)
    rows = np.zeros((3, 4))
    r = identifiability(lambda q, i, s, m: next(calls), np.ones(4), rows, rows, rows, np.array([0, 0, 1]),
                        np.array([1, 0, 0]), classes=("a", "b"))
    assert r["n"] == 3 and r["unidentifiable_fraction"] == pytest.approx(1 / 3)
    assert r["accuracy_identifiable"] == pytest.approx(0.5) and r["accuracy_unidentifiable"] == 0.0
    assert r["confusable"] == [["b"], [], []]


@pytest.fixture(scope="module")
def cfg():
    return small_dataset_config(classes=["sphere", "sphere@hardsphere", "cylinder"])


def _fit(cfg, classes):
    from hifft.ml.baseline import fit_curve

    def fit(q, i, s, m):
        r = fit_curve(cfg, q, i, s, m, classes=classes, scan=64, max_nfev=50)
        return {c: {"chi2": f.chi2, "k": f.k} for c, f in r.fits.items()}

    return fit


def test_dilute_hard_spheres_are_unidentifiable_long_cylinders_are_not(cfg):
    """φ = 0.001: S(q) ≈ 1, a sphere fits as well; a cylinder with L/D = 10 is no sphere."""
    q = cfg.q.values()
    rng = np.random.default_rng(3)
    hs = S.forward("sphere@hardsphere", q, {"radius": 50.0, "radius_pd": 0.05, "volfraction": 0.001},
                   cfg.shapes, 0.01, 0.003)
    i_hs, s_hs = add_noise(hs, q, cfg.noise, 300.0, rng)
    fits = _fit(cfg, ["sphere", "sphere@hardsphere"])(q, i_hs, s_hs, None)
    assert unidentifiable(fits, "sphere@hardsphere") == ["sphere"]
    cyl = S.forward("cylinder", q, {"radius": 30.0, "length": 600.0, "radius_pd": 0.05, "length_pd": 0.05},
                    cfg.shapes, 0.01, 0.003)
    i_c, s_c = add_noise(cyl, q, cfg.noise, 300.0, rng)
    fits = _fit(cfg, ["cylinder", "sphere"])(q, i_c, s_c, None)
    assert unidentifiable(fits, "cylinder") == []
    assert fits["sphere"]["chi2"] - fits["cylinder"]["chi2"] > 100
