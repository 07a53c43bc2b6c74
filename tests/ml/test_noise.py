"""The noise model: Poisson counting statistics, solid angles, σ, multiplicative noise."""

from __future__ import annotations

import numpy as np
import pytest

from hifft.ml.config import NoiseConfig
from hifft.ml.noise import add_noise, bin_widths, counts_per_intensity, solid_angle

Q = np.geomspace(0.002, 0.5, 256)


def test_bin_widths_tile_the_log_range():
    w = bin_widths(Q)
    r = Q[1] / Q[0]
    lo, hi = Q[0] / np.sqrt(r), Q[-1] * np.sqrt(r)
    assert w.sum() == pytest.approx(hi - lo, rel=1e-12)
    np.testing.assert_allclose(w / Q, w[0] / Q[0], rtol=1e-9)  # Δq ∝ q


def test_solid_angle_grows_as_q_squared_on_log_bins():
    om = solid_angle(Q, 1.54)
    np.testing.assert_allclose(om / Q**2, om[0] / Q[0] ** 2, rtol=1e-9)
    # a full annulus 2π q Δq / k² at one point, by hand
    k = 2 * np.pi / 1.54
    assert om[100] == pytest.approx(2 * np.pi * Q[100] * bin_widths(Q)[100] / k**2)


def test_poisson_counts_have_poisson_mean_and_variance():
    cfg = NoiseConfig(flux=1e8, exposure=100.0, multiplicative=0.0)
    i_true = np.full(Q.size, 0.05)
    k = counts_per_intensity(Q, cfg, 100.0)
    rng = np.random.default_rng(3)
    draws = np.array([add_noise(i_true, Q, cfg, 100.0, rng)[0] for _ in range(400)])
    counts = draws * k
    lam = i_true * k
    # mean and variance of the counts per bin equal λ (Poisson), pooled over bins
    z_mean = (counts.mean(0) - lam) / np.sqrt(lam / 400)
    assert abs(z_mean.mean()) < 0.2 and 0.8 < z_mean.std() < 1.2
    ratio = counts.var(0, ddof=1) / lam
    assert ratio.mean() == pytest.approx(1.0, abs=0.05)
    # counts are integers
    np.testing.assert_allclose(counts, np.round(counts), atol=1e-6)


def test_reported_sigma_matches_the_scatter():
    cfg = NoiseConfig(flux=1e8, exposure=50.0)
    i_true = 0.01 + 2.0 / (1 + (Q * 100) ** 2)
    rng = np.random.default_rng(4)
    pulls = []
    for _ in range(200):
        i, s = add_noise(i_true, Q, cfg, 50.0, rng)
        assert (s > 0).all()
        pulls.append((i - i_true) / s)
    pulls = np.array(pulls)
    good = (i_true * counts_per_intensity(Q, cfg, 50.0)) > 100  # Gaussian regime
    assert good.sum() > 100
    assert pulls[:, good].std() == pytest.approx(1.0, abs=0.05)
    assert abs(pulls[:, good].mean()) < 0.05


def test_longer_exposure_means_smaller_relative_error():
    cfg = NoiseConfig()
    i_true = np.full(Q.size, 0.1)
    rng = np.random.default_rng(5)
    _, s1 = add_noise(i_true, Q, cfg, 10.0, rng)
    _, s2 = add_noise(i_true, Q, cfg, 1000.0, rng)
    # σ/I ∝ 1/√(exposure): 100× the exposure, 10× smaller error
    assert np.median(s1 / s2) == pytest.approx(10.0, rel=0.1)


def test_multiplicative_noise_adds_its_variance():
    cfg = NoiseConfig(flux=1e12, exposure=1000.0, multiplicative=0.05)  # counting noise negligible
    i_true = np.full(Q.size, 1.0)
    rng = np.random.default_rng(6)
    i, s = add_noise(i_true, Q, cfg, 1000.0, rng)
    assert np.std(i / i_true - 1) == pytest.approx(0.05, rel=0.15)
    assert np.median(s / i) == pytest.approx(0.05, rel=0.05)
    cfg2 = cfg.model_copy(update={"multiplicative_in_sigma": False})
    _, s2 = add_noise(i_true, Q, cfg2, 1000.0, rng)
    assert np.median(s2 / i_true) < 0.01


def test_zero_counts_get_a_finite_sigma_and_bad_input_is_refused():
    cfg = NoiseConfig(flux=1.0, exposure=1.0)
    i, s = add_noise(np.full(Q.size, 1e-6), Q, cfg, 1.0, np.random.default_rng(0))
    assert (i == 0).all() and np.isfinite(s).all() and (s > 0).all()
    with pytest.raises(ValueError, match="non-negative"):
        add_noise(np.full(Q.size, -1.0), Q, cfg, 1.0, np.random.default_rng(0))
