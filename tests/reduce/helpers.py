"""Brute-force oracles for the reduction tests (full spectra, numpy only)."""

from __future__ import annotations

import numpy as np

from hifft.grid import Grid


def full_q2(grid: Grid) -> np.ndarray:
    """|q|² of the full grid, summed as the kernels do: (q_z² + q_y²) + q_x²."""
    qz, qy, qx = (grid.q(a) for a in range(3))
    return ((qz * qz)[:, None, None] + (qy * qy)[None, :, None]) + (qx * qx)[None, None, :]


def full_q(grid: Grid) -> np.ndarray:
    return np.sqrt(full_q2(grid))


def full_intensity(x: np.ndarray, grid: Grid, sinc: bool) -> np.ndarray:
    F = np.fft.fftn(x)
    # voxel correction 1/sinc²(q·d/2) per axis (np.sinc(x) = sin(πx)/(πx))
    c = [1 / np.sinc(grid.q(a) * grid.spacing[a] / (2 * np.pi)) ** 2 if sinc else np.ones(grid.shape[a])
         for a in range(3)]
    # DESIGN.md: I = 1e-4·|d³·F|²/V_box in 1/cm (written out here, independent of the library)
    scale = 1e-4 * float(np.prod(grid.spacing)) ** 2 / float(np.prod(np.multiply(grid.shape, grid.spacing)))
    return scale * np.abs(F) ** 2 * c[0][:, None, None] * c[1][None, :, None] * c[2]


def friedel_class(grid: Grid) -> np.ndarray:
    """An id shared by q and −q (min of the flat indices of the pair)."""
    nz, ny, nx = grid.shape
    iz, iy, ix = np.meshgrid(np.arange(nz), np.arange(ny), np.arange(nx), indexing="ij")
    a = np.ravel_multi_index((iz, iy, ix), grid.shape)
    b = np.ravel_multi_index(((-iz) % nz, (-iy) % ny, (-ix) % nx), grid.shape)
    return np.minimum(a, b)


def bin_index(q2: np.ndarray, edges: np.ndarray, rtol: float = 1e-9) -> np.ndarray:
    """Bin per point from |q|² (see :func:`full_q2`), −1 outside [edges[0], edges[-1]]
    (edges inclusive within rtol).

    Decided on squares, e_b² <= q² < e_{b+1}², as the kernels do (exact ties, e.g.
    an edge at √2·Δq, can fall the other way when comparing q with e_b)."""
    e2 = edges * edges
    b = np.clip(np.searchsorted(e2, q2, side="right") - 1, 0, edges.size - 2)
    inside = (q2 >= (edges[0] * (1 - rtol)) ** 2) & (q2 <= (edges[-1] * (1 + rtol)) ** 2)
    return np.where(inside, b, -1)


def sphere(n: int, d: float, radius: float) -> tuple[np.ndarray, Grid]:
    g = Grid(n, d)
    c = [g.coords(a) for a in range(3)]
    r2 = c[0][:, None, None] ** 2 + c[1][None, :, None] ** 2 + c[2][None, None, :] ** 2
    return (r2 <= radius * radius).astype(np.float32), g


def sphere_form_factor(q: np.ndarray, radius: float) -> np.ndarray:
    qr = q * radius
    return (3 * (np.sin(qr) - qr * np.cos(qr)) / qr**3) ** 2
