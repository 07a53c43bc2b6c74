"""Displacement fields: strain recovered from the Bragg phase, inclusion continuity, dislocation winding."""

from __future__ import annotations

import numpy as np
import pytest

from hifft.bcdi import strain as st
from hifft.grid import Grid

GRID = Grid((24, 20, 22), 1.5)


def test_uniform_strain_from_phase():
    eps = np.array([[2e-3, 5e-4, 0.0], [5e-4, -1e-3, 3e-4], [0.0, 3e-4, 4e-3]])
    g = np.array([0.7, -1.1, 2.3])
    phase = st.bragg_phase(st.uniform_strain(GRID, eps), g)
    ghat = g / np.linalg.norm(g)
    e_gg = st.strain_from_phase(np.angle(np.exp(1j * phase)), GRID, g)  # wrapped phase on purpose
    assert np.allclose(e_gg, ghat @ eps @ ghat, atol=1e-9)


def test_inclusion_continuous_and_divergence_free_outside():
    grid = Grid(32, 1.0)
    R, d = 6.0, 0.01
    u = st.spherical_inclusion(grid, R, d)
    z = grid.coords(0)[:, None, None]
    y = grid.coords(1)[None, :, None]
    x = grid.coords(2)[None, None, :]
    r = np.sqrt(z**2 + y**2 + x**2)
    umag = np.sqrt((u**2).sum(axis=0))
    assert np.allclose(umag[r <= R], d * r[r <= R])
    assert np.allclose(umag[r > R], d * R**3 / r[r > R] ** 2)
    div = sum(np.gradient(u[a], 1.0, axis=a) for a in range(3))
    shell = (r > R + 2) & (r < 13)
    inner = r < R - 2
    assert np.abs(div[shell]).max() < 0.05 * 3 * d  # outside: divergence-free (to finite differences)
    assert np.allclose(div[inner], 3 * d)  # inside: uniform dilatation 3δ


def test_screw_dislocation_winds_by_g_dot_b():
    grid = Grid(33, 1.0)
    b = 2.5
    line = np.array([1.0, 0.0, 0.0])  # along z
    g = np.array([2 * np.pi / b, 0.3, 0.0])
    phase = st.bragg_phase(st.screw_dislocation(grid, line, b, point=(0.0, 0.2, 0.3)), g)
    w = np.exp(1j * phase[16])  # a z-plane: loop around the core
    ring = [(4, j) for j in range(4, 29)] + [(i, 28) for i in range(5, 29)] + \
           [(28, j) for j in range(27, 3, -1)] + [(i, 4) for i in range(27, 4, -1)]
    # traversed in reverse: anticlockwise about +z in the right-handed (z, y, x) frame (ẑ×ŷ = x̂)
    loop = ring[::-1]
    vals = np.array([w[p] for p in [*loop, loop[0]]])
    winding = np.sum(np.angle(vals[1:] * np.conj(vals[:-1])))
    assert winding == pytest.approx(g @ (b * line), abs=1e-6)  # G·b = 2π: one vortex


def test_imported_shape_and_finite():
    with pytest.raises(st.DisplacementError, match=r"displacement: expected shape \(3, 24, 20, 22\)"):
        st.imported(np.zeros((3, 24, 20)), GRID)
    u = np.zeros((3, *GRID.shape))
    u[1, 2, 3, 4] = np.nan
    with pytest.raises(st.DisplacementError, match=r"index \(1, 2, 3, 4\)"):
        st.imported(u, GRID)
    with pytest.raises(st.DisplacementError, match="strain"):
        st.uniform_strain(GRID, np.eye(2))
