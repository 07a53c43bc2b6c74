"""Hypothesis property tests for the binning invariants."""

from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from hifft.fft.reducer import reduce_in_memory
from hifft.grid import Grid
from hifft.reduce import RadialReducer

from .helpers import bin_index, friedel_class, full_q2

dims = st.integers(min_value=2, max_value=9)


@st.composite
def cases(draw):
    shape = (draw(dims), draw(dims), draw(dims))
    spacing = tuple(draw(st.sampled_from([0.5, 1.0, 2.5])) for _ in range(3))
    g = Grid(shape, spacing)
    lo, hi = g.valid_q_range
    if draw(st.booleans()):
        assume(lo < hi)  # tiny boxes can have an empty valid range (2π/L >= π/d)
        n = draw(st.integers(1, 12))
        kw = {"bins": n, "bin_spacing": draw(st.sampled_from(["log", "linear"]))}
    else:
        edges = np.unique(draw(st.lists(st.floats(0, 1.5 * hi), min_size=2, max_size=8)))
        assume(edges.size >= 2 and edges[-1] > 1e-6 and (edges[0] == 0 or edges[0] > 1e-6))
        assume(np.all(np.diff(edges) > 1e-6 * edges[-1]))
        kw = {"bins": edges}
    seed = draw(st.integers(0, 2**16))
    rows = draw(st.integers(1, shape[1]))
    return g, kw, seed, rows


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cases())
def test_binning_invariants(case):
    g, kw, seed, rows = case
    x = np.random.default_rng(seed).standard_normal(g.shape)
    red = RadialReducer(sinc_correction=False, **kw)
    half = reduce_in_memory(np.fft.rfftn(x), g, [red], half=True, block_rows=rows)["radial"]
    full = reduce_in_memory(np.fft.fftn(x), g, [red], half=False, block_rows=g.shape[1])["radial"]
    edges = red.edges(g)
    b = bin_index(full_q2(g).ravel(), edges)
    cnt = np.bincount(b[b >= 0], minlength=edges.size - 1)
    # counts: every full-spectrum point of the shell, once, whatever the blocks
    np.testing.assert_array_equal(half["count"].values, cnt)
    np.testing.assert_array_equal(full["count"].values, cnt)
    np.testing.assert_array_equal(half["q_weights"].values.sum(1), cnt)
    # Friedel pairs counted once
    cls = friedel_class(g).ravel()
    n_ind = [np.unique(cls[b == k]).size for k in range(edges.size - 1)]
    np.testing.assert_array_equal(half["n_independent"].values, n_ind)
    # half == full; sigma >= e_min·I; mean q and sub-bin q inside the bin
    scale = np.nanmax(np.abs(full["I"].values)) if np.any(cnt) else 0.0
    for v in ("I", "std", "q", "sigma"):  # atol: a Friedel pair differs by rounding only
        np.testing.assert_allclose(half[v].values, full[v].values, rtol=1e-9,
                                   atol=1e-12 * scale if v != "q" else 0, equal_nan=True)
    ok = cnt > 0
    i = half["I"].values[ok]
    assert np.all(half["sigma"].values[ok] >= 0.01 * i * (1 - 1e-12))
    tol = 1e-9 * edges[-1]
    q = half["q"].values[ok]
    assert np.all((q >= half["q_lo"].values[ok] - tol) & (q <= half["q_hi"].values[ok] + tol))
    qs = half["q_samples"].values
    assert np.all((qs >= edges[:-1, None] - tol) & (qs <= edges[1:, None] + tol))
