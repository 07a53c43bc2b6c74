"""Validation-suite analysis on synthetic shells: bins, realization averaging, exact checks."""

from __future__ import annotations

import math

import numpy as np
import pytest

from hifft.compare.analysis import analyse, combine_realizations, validation_edges
from hifft.compare.synthetic import shell_dataset

R, PHI = 20.0, 0.01


def sphere_I(q):
    x = np.asarray(q, dtype=float) * R
    return 1e-4 * PHI * 4 / 3 * np.pi * R**3 * (3 * (np.sin(x) - x * np.cos(x)) / x**3) ** 2


def test_validation_edges():
    n, d = 256, 2.0
    dq = 2 * np.pi / (n * d)
    e = validation_edges(n, d)
    assert e[0] == pytest.approx(2.5 * dq) and e[-1] == pytest.approx(np.pi / d)
    w = np.diff(e)
    assert np.all(w[:-1] >= dq * (1 - 1e-12))  # never narrower than a box mode
    assert np.allclose(w[:5], dq)  # linear at low q
    ratio = e[1:-1] / e[:-2]
    assert ratio[-5:] == pytest.approx(1.04)  # log above


def test_combine_realizations_is_count_weighted_and_sem_shrinks():
    e = validation_edges(64, 2.0)
    a = shell_dataset(sphere_I, 64, 2.0, edges=e, noise=0.05, seed=1)
    b = shell_dataset(sphere_I, 64, 2.0, edges=e, noise=0.05, seed=2)
    for ds in (a, b):
        ds.coords["q_lo"] = ("q", e[:-1][: ds.sizes["q"]])
    c = combine_realizations([a, b])
    np.testing.assert_allclose(c["I"].values, 0.5 * (a["I"].values + b["I"].values))
    np.testing.assert_allclose(c["sem"].values, 0.5 * np.hypot(a["sem"].values, b["sem"].values))
    np.testing.assert_allclose(c["count"].values, 2 * a["count"].values)
    assert c.attrs["realizations"] == 2


def test_analyse_exact_curve():
    n, d = 160, 2.0
    ds = shell_dataset(sphere_I, n, d, edges=validation_edges(n, d))
    cmp, full, a = analyse(
        ds,
        "sphere",
        dict(radius=R, sld=1, sld_solvent=0, scale=PHI),
        spacing=d,
        box_dq=2 * np.pi / (n * d),
    )
    assert a.chi2 < 1e-3 and abs(a.i0_error) < 1e-3
    assert a.chi2_point > 100 * a.chi2  # averaging over the bin matters
    assert a.qd_range[1] <= 1.0 and a.q_range[0] >= 3 * 2 * np.pi / (n * d)
    assert a.rg_corrected == pytest.approx(math.sqrt(0.6) * R, rel=1e-3)
    assert a.sv_ratio == pytest.approx(1.0, abs=1e-3)
    assert a.invariant_ratio == pytest.approx(1.0, abs=0.015)
    assert a.qd_agreement_end is None  # an exact curve agrees up to Nyquist
    assert full.n > cmp.n
