"""Displacement fields u(r) in Å on a grid, their Bragg phase G·u and the strain it encodes.

A field is an array of shape (3, nz, ny, nx): the (z, y, x) components of u at each voxel
centre (:meth:`Grid.coords`, box centred on 0). G is the Bragg vector in 1/Å *including*
the 2π (|G| = 2π/d_hkl), so the phase of the object is φ = G·u in radians.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..grid import Grid


class DisplacementError(ValueError):
    """A displacement field or its parameters are invalid."""


def _positions(grid: Grid, centre: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    c = np.asarray(centre, dtype=float)
    if c.shape != (3,):
        raise DisplacementError(f"centre: expected 3 coordinates (z, y, x) in Å, got {centre!r}")
    z, y, x = (grid.coords(a) - c[a] for a in range(3))
    return z[:, None, None], y[None, :, None], x[None, None, :]


def _vector(v: Any, field: str) -> np.ndarray:
    a = np.asarray(v, dtype=float)
    if a.shape != (3,) or not np.all(np.isfinite(a)):
        raise DisplacementError(f"{field}: expected 3 finite components (z, y, x), got {v!r}")
    return a


def uniform_strain(grid: Grid, strain: Any, *, centre: Any = (0.0, 0.0, 0.0)) -> np.ndarray:
    """u = ε·(r − centre) for a 3×3 strain (displacement-gradient) tensor ε in (z, y, x) order."""
    eps = np.asarray(strain, dtype=float)
    if eps.shape != (3, 3) or not np.all(np.isfinite(eps)):
        raise DisplacementError(f"strain: expected a finite 3×3 tensor, got shape {eps.shape}")
    r = _positions(grid, centre)
    return np.stack([sum(eps[i, j] * r[j] for j in range(3)) * np.ones(grid.shape) for i in range(3)])


def spherical_inclusion(grid: Grid, radius: float, misfit: float, *, centre: Any = (0.0, 0.0, 0.0)) -> np.ndarray:
    """Radial field of a misfitting sphere (Eshelby, isotropic): u = δ·r inside, δ·R³·r/|r|³ outside.

    ``misfit`` δ is the constrained dilatational strain inside the sphere of ``radius`` R (Å);
    the field is continuous at |r| = R and divergence-free outside.
    """
    if not radius > 0:
        raise DisplacementError(f"radius: must be > 0 Å, got {radius}")
    z, y, x = _positions(grid, centre)
    r2 = z * z + y * y + x * x
    scale = np.where(r2 <= radius**2, misfit, misfit * radius**3 / np.maximum(r2, 1e-300) ** 1.5)
    return np.stack([scale * z, scale * y, scale * x])


def screw_dislocation(grid: Grid, line: Any, burgers: float, *, point: Any = (0.0, 0.0, 0.0)) -> np.ndarray:
    """Straight screw dislocation along unit direction ``line`` through ``point`` (Å).

    u = b·θ/(2π) along the line, θ the azimuth around it (isotropic elasticity); the
    Bragg phase winds by G·b around the core. ``burgers`` b in Å (signed).
    """
    t = _vector(line, "line")
    norm = np.linalg.norm(t)
    if norm == 0:
        raise DisplacementError("line: direction must be non-zero")
    t = t / norm
    e1 = np.cross(t, [1.0, 0.0, 0.0] if abs(t[0]) < 0.9 else [0.0, 1.0, 0.0])
    e1 /= np.linalg.norm(e1)
    e2 = np.cross(t, e1)
    r = _positions(grid, point)
    a = sum(e1[i] * r[i] for i in range(3))
    b = sum(e2[i] * r[i] for i in range(3))
    theta = np.arctan2(b, a) * np.ones(grid.shape)
    return np.stack([burgers * theta / (2 * np.pi) * t[i] for i in range(3)])


def imported(u: Any, grid: Grid, name: str = "displacement") -> np.ndarray:
    """Check an imported field: shape (3, *grid.shape), finite, in Å; returned as float64."""
    a = np.asarray(u, dtype=float)
    if a.shape != (3, *grid.shape):
        raise DisplacementError(f"{name}: expected shape {(3, *grid.shape)} (u_z, u_y, u_x on the grid), "
                                f"got {a.shape}")
    bad = ~np.isfinite(a)
    if bad.any():
        raise DisplacementError(f"{name}: non-finite value at index {tuple(int(i) for i in np.argwhere(bad)[0])}")
    return a


def bragg_phase(u: np.ndarray, bragg: Any) -> np.ndarray:
    """φ = G·u (radians) for Bragg vector G (1/Å, with 2π, (z, y, x))."""
    g = _vector(bragg, "bragg")
    return np.asarray(np.tensordot(g, u, axes=(0, 0)))


def strain_from_phase(phase: np.ndarray, grid: Grid, bragg: Any) -> np.ndarray:
    """Strain along G: ε_GG = (Ĝ·∇φ)/|G| (dimensionless); φ is unwrapped along each axis first
    (numpy.unwrap), so 2π jumps are harmless while the phase changes by < π per voxel."""
    g = _vector(bragg, "bragg")
    gn = np.linalg.norm(g)
    if gn == 0:
        raise DisplacementError("bragg: vector must be non-zero")
    grad: Any = 0.0
    for a in range(3):
        if g[a] != 0:
            grad = grad + (g[a] / gn) * np.gradient(np.unwrap(phase, axis=a), grid.spacing[a], axis=a)
    return np.asarray(grad) / gn


__all__ = [
    "DisplacementError", "uniform_strain", "spherical_inclusion", "screw_dislocation", "imported", "bragg_phase",
    "strain_from_phase",
]
