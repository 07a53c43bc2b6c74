"""2D outputs on the q grid: central planes and projections of I(q) as pass-2
reducers, and the cheap small-angle detector image by the projection-slice
theorem (sum the density along the beam, then one 2D FFT).

Every image is a DataArray over two q axes, fftshifted (ascending q), in
1/cm, with both signs of every axis: the half spectrum's missing q_x < 0 are
filled from Friedel symmetry I(q) = I(−q).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import xarray as xr

from .. import units
from ..fft.reducer import Reducer, SpectrumBlock
from ..grid import AXES, Grid
from ._common import provenance, sinc2_inverse

#: a patch of a 2D image on an outer grid of global FFT indices: (u, v, sum, hits)
Patch = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]


def _other(a: int) -> tuple[int, int]:
    u, v = (ax for ax in range(3) if ax != a)
    return u, v


def _patches_size(ps: list[Patch]) -> int:
    return sum(p[2].size for p in ps)


def _densify(ps: list[Patch], shape: tuple[int, int]) -> list[Patch]:
    s = np.zeros(shape)
    h = np.zeros(shape)
    for u, v, d, c in ps:
        s[np.ix_(u, v)] += d
        h[np.ix_(u, v)] += c
    return [(np.arange(shape[0]), np.arange(shape[1]), s, h)]


def image_dataarray(
    values: np.ndarray, grid: Grid, u: int, v: int, attrs: dict[str, Any], name: str = "I",
    units_attr: str = units.ATTR["intensity"],
) -> xr.DataArray:
    """Label an FFT-ordered (n_u, n_v) plane: fftshift it, attach q coords in 1/Å."""
    img = np.fft.fftshift(values)
    qu = np.fft.fftshift(grid.q(u))
    qv = np.fft.fftshift(grid.q(v))
    du, dv = f"q_{AXES[u]}", f"q_{AXES[v]}"
    qa = {"units": units.ATTR["q"]}
    return xr.DataArray(
        img, dims=(du, dv), coords={du: (du, qu, qa), dv: (dv, qv, qa)}, name=name,
        attrs={"units": units_attr, **provenance(grid, **attrs)},
    )


class _ImageReducer(Reducer):
    """Shared merge/finalize for reducers that build a plane image from patches."""

    axis: int
    contrast: float
    sinc_correction: bool

    def _shape(self, grid: Grid) -> tuple[int, int]:
        u, v = _other(self.axis)
        return grid.shape[u], grid.shape[v]

    def merge(self, a: list[Patch] | None, b: list[Patch] | None) -> list[Patch] | None:
        if a is None:
            return b
        if b is None:
            return a
        out = a + b
        shape = (int(max(p[0].max() for p in out)) + 1, int(max(p[1].max() for p in out)) + 1)
        if _patches_size(out) > shape[0] * shape[1]:
            # keep partials no larger than one image (sizes are upper-bounded by the plane)
            out = _densify(out, shape)
        return out

    def _image(self, partial: list[Patch] | None, grid: Grid) -> np.ndarray:
        shape = self._shape(grid)
        (_, _, s, h), = _densify(partial or [], shape)
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(h > 0, s / np.where(h > 0, h, 1), np.nan)

    def _corr(self, blk: SpectrumBlock, axis: int, idx: np.ndarray | None = None) -> np.ndarray:
        q = (blk.qz, blk.qy, blk.qx)[axis]
        if idx is not None:
            q = q[idx]
        return sinc2_inverse(q, blk.grid.spacing[axis], self.sinc_correction)


class PlaneReducer(_ImageReducer):
    """The central plane q_axis = 0 of I(q) in 1/cm (axis 0 = z: the small-angle image).

    Output dims: the two other axes, e.g. ("q_y", "q_x") for axis "z".
    """

    def __init__(self, axis: int | str = 0, sinc_correction: bool = True, contrast: float = 1.0,
                 name: str | None = None) -> None:
        self.axis = Grid.axis_index(axis)
        self.sinc_correction = bool(sinc_correction)
        self.contrast = float(contrast)
        self.name = name or f"plane_{AXES[self.axis]}"

    def q_max_needed(self, grid: Grid) -> None:
        """Needs the whole plane: no cropping."""
        return None

    def block(self, blk: SpectrumBlock) -> list[Patch] | None:
        a = self.axis
        g = blk.grid
        idx = (blk.iz, blk.iy, blk.ix)
        pos = np.flatnonzero(np.asarray(idx[a]) == 0)
        if pos.size == 0:
            return None
        u, v = _other(a)
        plane = np.take(blk.values, pos[0], axis=a)
        inten = g.intensity_scale(self.contrast) * (
            plane.real.astype(np.float64) ** 2 + plane.imag.astype(np.float64) ** 2)
        inten *= self._corr(blk, u)[:, None] * self._corr(blk, v)[None, :]
        gu, gv = np.asarray(idx[u]), np.asarray(idx[v])
        ps: list[Patch] = [(gu, gv, inten, np.ones_like(inten))]
        if blk.half and v == 2:
            m = np.asarray(blk.wx) > 1.5  # interior columns: −q_x from I(q) = I(−q)
            if m.any():
                nu, nv = g.shape[u], g.shape[v]
                hits = np.ones((gu.size, int(m.sum())))
                ps.append(((-gu) % nu, (-gv[m]) % nv, inten[:, m], hits))
        return ps

    def finalize(self, partial: list[Patch] | None, grid: Grid) -> xr.DataArray:
        u, v = _other(self.axis)
        return image_dataarray(
            self._image(partial, grid), grid, u, v,
            {"reduction": f"central plane q_{AXES[self.axis]} = 0", "sinc_correction":
             self.sinc_correction, "contrast": self.contrast, "friedel_symmetric": True})


class ProjectionReducer(_ImageReducer):
    """∫ I(q) dq_axis over the kept q_axis range, in 1/(cm·Å), on the other two axes."""

    def __init__(self, axis: int | str = 0, sinc_correction: bool = True, contrast: float = 1.0,
                 name: str | None = None) -> None:
        self.axis = Grid.axis_index(axis)
        self.sinc_correction = bool(sinc_correction)
        self.contrast = float(contrast)
        self.name = name or f"projection_{AXES[self.axis]}"

    def q_max_needed(self, grid: Grid) -> None:
        return None

    def block(self, blk: SpectrumBlock) -> list[Patch] | None:
        a = self.axis
        g = blk.grid
        v3 = blk.values
        inten = g.intensity_scale(self.contrast) * (
            v3.real.astype(np.float64) ** 2 + v3.imag.astype(np.float64) ** 2)
        inten *= (self._corr(blk, 0)[:, None, None] * self._corr(blk, 1)[None, :, None]
                  * self._corr(blk, 2)[None, None, :])
        dq = g.dq[a]
        idx = (np.asarray(blk.iz), np.asarray(blk.iy), np.asarray(blk.ix))
        u, v = _other(a)
        nu, nv = g.shape[u], g.shape[v]
        m = np.asarray(blk.wx) > 1.5 if blk.half else np.zeros(len(blk.wx), bool)
        ps: list[Patch] = []
        if a == 2:
            p = inten.sum(axis=2) * dq
            ps.append((idx[0], idx[1], p, np.ones_like(p)))
            if m.any():  # −q_x half of the x line of (−q_z, −q_y)
                pm = inten[:, :, m].sum(axis=2) * dq
                ps.append(((-idx[0]) % nu, (-idx[1]) % nv, pm, np.zeros_like(pm)))
        else:
            p = inten.sum(axis=a) * dq
            ps.append((idx[u], idx[v], p, np.ones_like(p)))
            if m.any():
                hits = np.ones((idx[u].size, int(m.sum())))
                ps.append(((-idx[u]) % nu, (-idx[v][m]) % nv, p[:, m], hits))
        return ps

    def finalize(self, partial: list[Patch] | None, grid: Grid) -> xr.DataArray:
        u, v = _other(self.axis)
        shape = self._shape(grid)
        (_, _, s, h), = _densify(partial or [], shape)
        img = np.where(h > 0, s, np.nan)
        return image_dataarray(
            img, grid, u, v,
            {"reduction": f"projection: integral of I over q_{AXES[self.axis]}",
             "sinc_correction": self.sinc_correction, "contrast": self.contrast,
             "friedel_symmetric": True}, units_attr="1/(cm*angstrom)")


# ---- projection-slice: the small-angle image without the 3D FFT -----------
def project_density(vol: Any, axis: int = 0, client: Any = None) -> np.ndarray:
    """Σ_axis ρ in float64, slab by slab (dask tree sum; never the whole volume in memory)."""
    import dask.array as da

    if hasattr(vol, "to_dask"):
        arr = vol.to_dask()
    elif isinstance(vol, da.Array):
        arr = vol
    else:
        return np.asarray(vol).sum(axis=axis, dtype=np.float64)
    s = arr.sum(axis=axis, dtype=np.float64)
    if client is not None:
        return np.asarray(client.compute(s).result())
    return np.asarray(s.compute())


def flat_detector_image(
    vol: Any, grid: Grid, axis: int = 0, sinc_correction: bool = True, contrast: float = 1.0,
    client: Any = None, attrs: dict[str, Any] | None = None,
) -> xr.DataArray:
    """Central plane q_axis = 0 by the projection-slice theorem, in 1/cm.

    F(q_axis = 0, q_u, q_v) is the 2D DFT of Σ_axis ρ, so one pass over the
    volume and one 2D FFT replace the 3D FFT.
    """
    a = Grid.axis_index(axis)
    proj = project_density(vol, a, client)
    f2 = np.fft.fft2(proj)
    u, v = _other(a)
    inten = grid.intensity_scale(contrast) * (f2.real**2 + f2.imag**2)
    inten *= (sinc2_inverse(grid.q(u), grid.spacing[u], sinc_correction)[:, None]
              * sinc2_inverse(grid.q(v), grid.spacing[v], sinc_correction)[None, :])
    return image_dataarray(
        inten, grid, u, v,
        {"reduction": f"central plane q_{AXES[a]} = 0 (projection-slice)",
         "sinc_correction": sinc_correction, "contrast": contrast, "friedel_symmetric": True,
         "backend": "numpy", "dtype": "float64", **(attrs or {})})
