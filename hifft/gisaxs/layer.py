"""The voxel route: Born/DWBA amplitudes of any island layer given as a density volume.

The layer is a :class:`hifft.volume.Volume` (or an array with ``spacing``) of SLD
contrast (1e-6/Å²) with axis 0 the height above the substrate: plane j covers
z ∈ [j·d_z, (j+1)·d_z]. Its amplitude at the q of every pixel and DWBA term is

    F(q) = d_x d_y d_z · sinc(q_x d_x/2) sinc(q_y d_y/2) sinc(q_z d_z/2) · Σ_j G_j(q_∥) exp(−i q_z z_j)

with z_j = (j + ½) d_z and G_j the lateral DFT of plane j (the sinc factors make it
the exact transform of the voxelized density). Along z the sum is a direct
non-uniform DFT at each pixel's own (complex) q_z: exact, no interpolation. Laterally,
G_j comes from the engine's FFT backend (:func:`hifft.fft.backends.get_backend`) on
the plane zero-padded ``pad`` times, and is interpolated to each pixel's (q_x, q_y)
with a periodic cubic spline (scipy.ndimage). Zero padding makes the grid values
exact samples of the finite layer's transform. Measured on one hemisphere
(R = 50 Å) that fills 80 % of a 128 Å box, median relative error of |F_DWBA|²
over pixels above 1e-4 of the maximum: pad 4 and d = 1.25 Å: 0.9 % (the rest is
voxelization); pad 2: 13 % (the spline under-resolves an object that fills the
box). For layers much wider than their islands the grid step 2π/(pad·L) is far
below the islands' features and pad 1–2 suffices; ``pad`` is recorded.

Out of core: planes are read one slab at a time (:meth:`Volume.slab`); each task
of the one runner (:class:`hifft.runner.Runner`) handles a group of slabs and
returns its partial sums (T × pixels complex), which are added. Memory per task is
about the padded plane (complex64 buffer and FFT, float32 spline coefficients) plus the pixel arrays, whatever
the layer's height.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..fft.backends import get_backend
from ..runner import Outcome, Runner, client_context
from ..volume import Volume, from_array
from .dwba import Terms
from .formfactors import Shape, sinc


class LayerError(ValueError):
    """A layer cannot be used as asked; the message names the field."""


def as_volume(layer: Any, spacing: Any = None) -> Volume:
    """``layer`` as a Volume (arrays need ``spacing``: Å, "5 nm", or (d_z, d_y, d_x))."""
    if isinstance(layer, Volume):
        return layer
    if spacing is None:
        raise LayerError("spacing: an array layer needs spacing= (Å or with units)")
    return from_array(layer, spacing=spacing, name="layer")


def auto_pad(shape: tuple[int, int, int]) -> int:
    """Lateral zero-padding factor: 4 up to 512² planes, 2 up to 2048², 1 above (memory)."""
    n = shape[1] * shape[2]
    return 4 if n <= 512**2 else 2 if n <= 2048**2 else 1


def plane_bytes(shape: tuple[int, int, int], pad: int, n_pixels: int, n_terms: int) -> int:
    """Peak bytes of one task: padded plane (complex64 buffer and FFT, float32 spline copies) and the pixel sums."""
    plane = (pad * shape[1]) * (pad * shape[2])
    return plane * (8 + 8 + 2 * 4 + 8) + n_pixels * n_terms * 16 * 4 + shape[1] * shape[2] * 8


@dataclass(frozen=True)
class SlabGroup:
    """Task: planes z0 … z1−1 of the layer."""

    z0: int
    z1: int

    @property
    def name(self) -> str:
        return f"planes-{self.z0:06d}-{self.z1:06d}"


@dataclass(frozen=True, eq=False)
class _Shared:
    volume: Volume
    coords: np.ndarray  # (2, P) fractional indices (y, x) on the padded grid
    qz: np.ndarray  # (T, P) complex
    pad: int
    backend: str
    threads: int | None
    slab_depth: int


def _plane_values(plane: np.ndarray, coords: np.ndarray, pad: int, backend: Any) -> np.ndarray:
    """G(q_∥) of one plane at the pixels' fractional grid indices (complex, P)."""
    from scipy import ndimage

    ny, nx = plane.shape
    buf = np.zeros((pad * ny, pad * nx), dtype=np.complex64)  # the volume is float32: complex64 suffices
    buf[:ny, :nx] = plane
    g = backend.fft2(buf)
    # periodic cubic B-spline interpolation (scipy.ndimage; no hand-written kernel), float32 coefficients
    out = np.zeros(coords.shape[1], dtype=complex)
    for part, mul in ((g.real, 1.0), (g.imag, 1j)):
        c = ndimage.spline_filter(part, order=3, mode="grid-wrap", output=np.float32)
        out += mul * ndimage.map_coordinates(c, coords, order=3, mode="grid-wrap", prefilter=False)
    return out


def _group_sum(task: SlabGroup, sh: _Shared) -> Outcome:
    """Σ_j G_j(q_∥) exp(−i q_z z_j) over the task's planes, for every term and pixel."""
    backend = get_backend(sh.backend, threads=sh.threads)
    dz = sh.volume.grid.spacing[0]
    acc = np.zeros(sh.qz.shape, dtype=complex)
    phase = np.exp(-1j * sh.qz * (task.z0 + 0.5) * dz)
    step = np.exp(-1j * sh.qz * dz)
    nonzero = 0
    for s0 in range(task.z0, task.z1, sh.slab_depth):
        slab = sh.volume.slab(s0, min(s0 + sh.slab_depth, task.z1))
        for plane in slab:
            if plane.any():  # empty planes (above the islands) add nothing
                acc += _plane_values(plane, sh.coords, sh.pad, backend)[None, :] * phase
                nonzero += 1
            phase *= step
    return Outcome(info={"planes": task.z1 - task.z0, "nonzero": nonzero}, value=acc)


def layer_amplitude(layer: Any, terms: Terms, *, spacing: Any = None, pad: int | str = "auto",
                    client: Any = None, backend: str = "auto", memory_budget: int | None = None,
                    threads: int | None = None, planes_per_task: int | None = None,
                    progress: bool | None = None) -> np.ndarray:
    """Σ_t w_t F(q_∥, q_z,t) (Å³ · 1e-6/Å², i.e. the contrast is in the voxels) of a voxel layer.

    ``layer``: Volume or array (``spacing`` then required), axis 0 = height.
    ``pad``: lateral zero-padding factor (int ≥ 1) or "auto" (:func:`auto_pad`).
    ``memory_budget`` (bytes) refuses a pad whose task would not fit.
    Returns an array of the detector's shape.
    """
    vol = as_volume(layer, spacing)
    nz, ny, nx = vol.shape
    dz, dy, dx = vol.grid.spacing
    p = auto_pad(vol.shape) if pad == "auto" else pad
    if isinstance(p, bool) or not isinstance(p, int) or p < 1:
        raise LayerError(f"pad: expected an integer >= 1 or 'auto', got {pad!r}")
    shape = terms.q_x.shape
    qx, qy = terms.q_x.ravel(), terms.q_y.ravel()
    qz = terms.q_z.reshape(terms.q_z.shape[0], -1)
    nyq = (math.pi / dy, math.pi / dx)
    if np.max(np.abs(qy), initial=0) > nyq[0] or np.max(np.abs(qx), initial=0) > nyq[1]:
        raise LayerError(f"spacing: the detector reaches |q_y| = {np.max(np.abs(qy)):.4g} 1/Å, beyond the "
                         f"layer's Nyquist limit π/d = {min(nyq):.4g} 1/Å; use a finer spacing")
    need = plane_bytes(vol.shape, p, qx.size, qz.shape[0])
    if memory_budget is not None and need > memory_budget:
        raise LayerError(f"memory_budget: one task needs {need / 2**30:.2f} GiB (pad={p}); "
                         f"lower pad or raise the budget")
    coords = np.stack([qy * p * ny * dy / (2 * math.pi), qx * p * nx * dx / (2 * math.pi)])
    depth = max(1, min(vol.chunk_depth, nz))
    per = planes_per_task or max(depth, -(-nz // 8))
    groups = [SlabGroup(z, min(z + per, nz)) for z in range(0, nz, per)]
    shared = _Shared(vol, coords, qz, p, backend, threads, depth)
    with client_context(client) as c:
        parts = Runner(c, progress=progress).map(_group_sum, groups, desc="gisaxs layer planes",
                                                  shared=shared, unit="tasks")
    acc = sum(parts.values())
    vox = dx * dy * dz * sinc(qx * dx / 2) * sinc(qy * dy / 2)
    acc = acc * vox[None, :] * sinc(qz * dz / 2)
    w = terms.weight.reshape(acc.shape)
    return np.sum(w * acc, axis=0).reshape(shape)


def voxelize(shapes: list[Shape], positions: np.ndarray, shape: tuple[int, int, int], spacing: Any,
             contrast: float = 1.0, supersample: int = 2) -> np.ndarray:
    """Rasterize analytic islands on a layer grid (small layers: tests, the voxel-made dataset subset).

    ``positions``: (N, 2) lateral (x, y) centres in Å, measured from the grid's
    corner voxel. Each voxel's value is ``contrast`` × the fraction of its
    ``supersample``³ sub-points inside any island. Islands taller than the box are refused.
    """
    from ..grid import Grid

    g = Grid(shape=shape, spacing=spacing)
    nz, ny, nx = g.shape
    dz, dy, dx = g.spacing
    pos = np.asarray(positions, dtype=float).reshape(-1, 2)
    if len(shapes) != len(pos):
        raise LayerError(f"positions: {len(pos)} positions for {len(shapes)} shapes")
    out = np.zeros(g.shape, dtype=np.float64)
    s = int(supersample)
    sub = (np.arange(s) + 0.5) / s
    for shp, (x0, y0) in zip(shapes, pos, strict=True):
        if shp.height > nz * dz * (1 + 1e-9):
            raise LayerError(f"layer: an island of height {shp.height:.4g} Å is taller than the box "
                             f"({nz} × {dz:.4g} Å = {nz * dz:.4g} Å)")
        hw = shp.half_width
        ix0, ix1 = max(0, int((x0 - hw) / dx) - 1), min(nx, int((x0 + hw) / dx) + 2)
        iy0, iy1 = max(0, int((y0 - hw) / dy) - 1), min(ny, int((y0 + hw) / dy) + 2)
        iz1 = min(nz, int(shp.height / dz) + 2)
        zs = ((np.arange(iz1)[:, None] + sub[None, :]) * dz).ravel()
        ys = ((np.arange(iy0, iy1)[:, None] + sub[None, :]) * dy).ravel() - y0
        xs = ((np.arange(ix0, ix1)[:, None] + sub[None, :]) * dx).ravel() - x0
        inside = shp.inside(xs[None, None, :], ys[None, :, None], zs[:, None, None]).astype(np.float64)
        frac = inside.reshape(iz1, s, iy1 - iy0, s, ix1 - ix0, s).mean(axis=(1, 3, 5))
        region = out[:iz1, iy0:iy1, ix0:ix1]
        np.maximum(region, frac, out=region)  # overlapping islands merge (density never doubles)
    return (out * contrast).astype(np.float32)


__all__ = ["LayerError", "SlabGroup", "as_volume", "auto_pad", "layer_amplitude", "plane_bytes", "voxelize"]
