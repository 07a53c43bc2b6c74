"""Thresholds, multi-label metrics and the noise test against hand computations."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from hifft.diffraction.labels import INDEX, LABELS, encode
from hifft.diffraction.metrics import (
    add_uniform_noise,
    best_threshold,
    best_thresholds,
    label_metrics,
    noise_bounds,
    score_metrics,
)


def f1_by_hand(pred, truth):
    tp = sum(p and t for p, t in zip(pred, truth, strict=True))
    fp = sum(p and not t for p, t in zip(pred, truth, strict=True))
    fn = sum(t and not p for p, t in zip(pred, truth, strict=True))
    return 2 * tp / (2 * tp + fp + fn)


def test_threshold_maximises_f1_on_a_worked_example():
    s = np.array([0.9, 0.8, 0.7, 0.3, 0.2])
    y = np.array([1, 1, 0, 1, 0], bool)
    # top-k F1: k=1 0.5, k=2 0.8, k=3 2/3, k=4 6/7, k=5 0.75 -> cut between 0.3 and 0.2
    assert best_threshold(s, y) == pytest.approx(0.25)
    # ties cannot be split: {0.5, 0.5} both in (F1 2/3) beats all in (0.5)
    assert best_threshold(np.array([0.5, 0.5, 0.1]), np.array([1, 0, 0], bool)) == pytest.approx(0.3)
    # everything selected: below the lowest score
    t = best_threshold(np.array([2.0, 1.0]), np.array([1, 1], bool))
    assert 0.99 < t < 1.0
    assert best_threshold(np.array([0.4, 0.6]), np.array([0, 0], bool), default=0.5) == 0.5
    with pytest.raises(ValueError, match="non-finite"):
        best_threshold(np.array([np.nan, 1.0]), np.array([1, 0], bool))


def test_thresholds_match_brute_force_on_random_toy_data():
    rng = np.random.default_rng(7)
    y = rng.uniform(size=(40, 3)) < [0.5, 0.2, 0.05]
    s = np.round(y * 0.8 + rng.normal(0, 0.5, y.shape), 1)  # rounded: many ties
    y[:, 2] |= np.arange(40) == 5  # at least one positive each
    thr = best_thresholds(s, y)
    for j in range(3):
        cands = np.unique(np.r_[s[:, j], s[:, j].min() - 1])
        best = max(f1_by_hand(s[:, j] > c, y[:, j]) for c in cands)
        assert f1_by_hand(s[:, j] > thr[j], y[:, j]) == pytest.approx(best)


def test_label_metrics_by_hand():
    truth = np.zeros((4, len(LABELS)), bool)
    pred = np.zeros_like(truth)
    r, e, so = INDEX["round"], INDEX["empty"], INDEX["spherical_oblate"]
    truth[:, so] = [1, 1, 1, 0]
    pred[:, so] = [1, 1, 0, 1]  # tp 2 fp 1 fn 1
    truth[:, r] = [1, 0, 0, 0]
    pred[:, r] = [1, 1, 1, 0]  # tp 1 fp 2 fn 0
    truth[3, e] = True  # fn 1, nothing predicted
    m = label_metrics(pred, truth)
    so_m = m["per_label"]["spherical_oblate"]
    assert (so_m["precision"], so_m["recall"], so_m["f1"]) == pytest.approx((2 / 3, 2 / 3, 2 / 3))
    assert m["per_label"]["round"]["precision"] == pytest.approx(1 / 3)
    assert m["per_label"]["round"]["f1"] == pytest.approx(2 / 4)
    em = m["per_label"]["empty"]
    assert em["precision"] is None and em["recall"] == 0.0 and em["f1"] == 0.0 and em["support"] == 1
    # labels never true nor predicted have no F1 and stay out of the macro mean
    assert m["per_label"]["layered"]["f1"] is None and m["macro_f1_labels"] == 3
    assert m["macro_f1"] == pytest.approx((2 / 3 + 0.5 + 0.0) / 3)
    # micro: tp 3, fp 3, fn 2 over 44 pairs, 39 agree; exact match: image 0 only
    assert m["micro_precision"] == pytest.approx(0.5)
    assert m["micro_recall"] == pytest.approx(0.6)
    assert m["micro_accuracy"] == pytest.approx(39 / 44)
    assert m["exact_match"] == pytest.approx(0.25)
    assert label_metrics(truth, truth)["exact_match"] == 1.0


def test_score_metrics_counts_violations_and_enforcement_removes_them():
    truth = np.stack([encode(["spherical_oblate", "round"]), encode(["prolate", "streak"]), encode(["empty"])])
    scores = np.full(truth.shape, -3.0)
    scores[0, [INDEX["spherical_oblate"], INDEX["round"], INDEX["elliptical"]]] = [2.0, 1.5, 0.5]  # round+elliptical
    scores[1, [INDEX["streak"]]] = 1.0  # orphan subclass (prolate missing)
    scores[2, [INDEX["empty"]]] = 0.4  # fine at threshold 0, lost at 0.5
    thr = np.zeros(len(LABELS))
    thr[INDEX["empty"]] = 0.5
    out = score_metrics(scores, thr, truth)
    raw, enf = out["raw"], out["enforced"]
    assert raw["violations"]["round_and_elliptical"] == 1 and raw["violations"]["orphan_subclass"] == 1
    assert raw["violations"]["no_superordinate"] == 2 and raw["violations"]["images"] == 3
    assert raw["violation_fraction"] == pytest.approx(1.0)
    assert enf["violations"]["images"] == 0
    # enforcement: elliptical dropped (smaller margin), prolate added, empty chosen for the all-false image
    assert enf["exact_match"] == pytest.approx(1.0)


def test_noise_bounds_and_uniform_noise():
    imgs = np.zeros((3, 4, 4))
    active = np.zeros((4, 4), bool)
    active[1:3, 1:3] = True
    imgs[0][active] = [1, 1, 3, 3]  # mean 2 std 1 max 3
    imgs[1][active] = [2, 2, 2, 2]  # mean 2 std 0 max 2
    imgs[2][active] = [0, 4, 4, 8]  # mean 4 std 2.83 max 8
    imgs[:, 0, 0] = 100.0  # outside the detector: ignored
    b = noise_bounds(imgs, active)
    assert b == pytest.approx({"none": 0.0, "mean": 2.0, "mean+std": 3.0, "max": 3.0})
    rng = np.random.default_rng(0)
    big = np.ones((50, 32, 32), np.float32)
    noisy = add_uniform_noise(big, 6.0, rng, np.arange(32) < 16)
    added = noisy - big
    assert (added[..., 16:] == 0).all()
    on = added[..., :16]
    assert on.min() >= 0 and on.max() <= 6.0
    assert on.mean() == pytest.approx(3.0, abs=0.05) and on.var() == pytest.approx(36 / 12, rel=0.03)
    again = add_uniform_noise(big, 6.0, np.random.default_rng(0), np.arange(32) < 16)
    np.testing.assert_array_equal(again, noisy)
    np.testing.assert_array_equal(add_uniform_noise(big, 0.0, rng), big)
    with pytest.raises(ValueError, match="image 0 has no active pixel"):
        noise_bounds(imgs, np.zeros((4, 4), bool))


@pytest.mark.parametrize(("p", "t"), list(itertools.product([0, 1], repeat=2)))
def test_single_pair_metrics(p, t):
    pred = np.zeros((1, len(LABELS)), bool)
    truth = np.zeros_like(pred)
    pred[0, 0], truth[0, 0] = p, t
    m = label_metrics(pred, truth)["per_label"][LABELS[0]]
    assert m["f1"] == (None if not (p or t) else float(p and t))
