"""Reductions of |F(q)|²: radial shells, planes, projections, Ewald-sphere
images (all fused into the FFT's pass 2 as reducers), the projection-slice
detector image, and azimuthal integration of 2D images.

Public: :func:`saxs`, :func:`detector_image`, :func:`azimuthal`, plus the
reducers (:class:`RadialReducer`, :class:`PlaneReducer`,
:class:`ProjectionReducer`, :class:`EwaldReducer`), :class:`Detector`,
:class:`Azimuthal`, :func:`spectrum_images`, and :func:`clean_attrs`
(netCDF/Zarr-safe attrs, also used by the writers).

Names (DESIGN.md): ``spacing`` is always the voxel size (Å), needed for bare
arrays (a Volume carries its grid); ``bin_spacing`` is "log" or "linear".
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import xarray as xr

from ..fft import Reducer, reduce_spectrum
from ..grid import Grid
from ._common import clean_attrs, engine_input, resolve_input
from .azimuthal import Azimuthal, azimuthal, beamstop_mask, gap_mask
from .ewald import Detector, EwaldReducer, detector_frame
from .planes import PlaneReducer, ProjectionReducer, flat_detector_image, project_density
from .radial import RadialReducer

__all__ = [
    "saxs", "detector_image", "azimuthal", "spectrum_images", "run_reducers",
    "RadialReducer", "PlaneReducer", "ProjectionReducer", "EwaldReducer", "Detector",
    "Azimuthal", "beamstop_mask", "gap_mask", "detector_frame", "project_density", "clean_attrs",
]


def run_reducers(
    vol: Any, reducers: Sequence[Reducer], *, spacing: Any = None, client: Any = None,
    backend: str = "auto", memory_budget: Any = None, dtype: Any = None, progress: bool = True,
    q_max: float | None = None, **engine_kw: Any,
) -> dict[str, Any]:
    """Run ``reducers`` in one pass 2 of :func:`hifft.fft.reduce_spectrum`.

    ``spacing`` is the voxel size of an array input (Å or with units).
    Stamps the engine's meta (backend, dtype) and the input's source onto
    every xarray result. ``q_max`` defaults to the largest |q| any reducer
    reads (None where one needs the whole spectrum), so the engine may crop.
    """
    grid, src = resolve_input(vol, spacing)
    if q_max is None:
        needs: list[float | None] = [getattr(r, "q_max_needed", lambda g: None)(grid) for r in reducers]
        known = [n for n in needs if n is not None]
        if known and len(known) == len(needs):
            qm = max(known)
            q_max = qm if qm < max(grid.q_nyquist) else None
    x, extra = engine_input(vol, grid)
    out = reduce_spectrum(x, list(reducers), client=client, backend=backend,
                          memory_budget=memory_budget, dtype=dtype, q_max=q_max,
                          progress=progress, **extra, **engine_kw)
    meta = out.get("meta", {}) or {}
    stamp = {"backend": str(meta.get("backend", backend)), "dtype": str(meta.get("dtype", dtype)),
             **src}
    if meta.get("q_max") is not None:  # the engine kept only |q_i| <= this
        stamp["engine_q_max"] = float(meta["q_max"])
    if "in_core" in meta:
        stamp["in_core"] = int(bool(meta["in_core"]))
    for r in reducers:
        res = out.get(r.name)
        if isinstance(res, xr.Dataset | xr.DataArray):
            res.attrs.update(stamp)
    return out


def saxs(
    vol: Any,
    bins: int | Any = 200,
    q_min: Any = None,
    q_max: Any = None,
    bin_spacing: str = "log",
    sinc_correction: bool = True,
    e_min: float = 0.01,
    client: Any = None,
    backend: str = "auto",
    memory_budget: Any = None,
    *,
    spacing: Any = None,
    dtype: Any = None,
    contrast: float = 1.0,
    n_sub: int = 16,
    drop_empty: bool = True,
    progress: bool = True,
    **engine_kw: Any,
) -> xr.Dataset:
    """1D SAXS/SANS profile I(q) in 1/cm: the full 3D shell average of |F|².

    Parameters
    ----------
    vol : Volume, or real 3D numpy/dask array
        Contrast Δρ in 1e-6/Å² per voxel. Arrays need ``spacing`` (Å).
    bins, q_min, q_max, bin_spacing
        Number of bins (or explicit edges, 1/Å) on ``"log"`` or ``"linear"``
        bin spacing; range defaults to the grid's valid range 2π/L .. π/d.
    sinc_correction : bool
        Divide by Π sinc²(q_i d_i/2) (cubic voxels, not lattice points).
    e_min : float
        sigma = max(sem, e_min·I).
    client, backend, memory_budget, dtype
        Passed to :func:`hifft.fft.reduce_spectrum`.
    drop_empty : bool
        Drop bins with no q point (log bins finer than 2π/L at low q).
    spacing : float, str or 3 of them
        Voxel size of an array input (Å or with units); a Volume has a grid.

    To fuse several reductions (I(q), planes, Ewald images) into one pass 2,
    call :func:`run_reducers` with the reducers instead.

    Returns
    -------
    xarray.Dataset on coord ``q`` (mean |q| per bin, 1/Å) with ``I``,
    ``sigma``, ``sem``, ``std`` (1/cm), ``count``, ``n_independent``,
    ``q_std`` (1/Å), ``q_samples``/``q_weights`` (dims q, sub), and coords
    ``q_center``, ``q_lo``, ``q_hi``.
    """
    red = RadialReducer(bins=bins, q_min=q_min, q_max=q_max, bin_spacing=bin_spacing,
                        sinc_correction=sinc_correction, e_min=e_min, contrast=contrast,
                        n_sub=n_sub)
    out = run_reducers(vol, [red], spacing=spacing, client=client,
                       backend=backend, memory_budget=memory_budget, dtype=dtype,
                       progress=progress, **engine_kw)
    ds: xr.Dataset = out[red.name]
    if drop_empty:
        ds = ds.isel(q=np.flatnonzero(ds["count"].values > 0))
    return ds


def detector_image(
    vol: Any,
    axis: int | str = 0,
    *,
    wavelength: Any = None,
    detector: Detector | None = None,
    sinc_correction: bool = True,
    contrast: float = 1.0,
    client: Any = None,
    backend: str = "auto",
    memory_budget: Any = None,
    dtype: Any = None,
    spacing: Any = None,
    progress: bool = True,
    **engine_kw: Any,
) -> xr.DataArray:
    """Detector image I in 1/cm.

    Without ``wavelength``: the small-angle image, i.e. the central plane
    normal to ``axis`` (default z, the beam), dims e.g. ("q_y", "q_x"),
    computed cheaply by the projection-slice theorem: the volume is summed
    along ``axis`` slab by slab (dask) and one 2D FFT taken; no 3D FFT.

    With ``wavelength`` (Å or with units) and a :class:`Detector`: the
    image on the Ewald sphere (wide angles), interpolated in the 3D spectrum
    inside pass 2 (:class:`EwaldReducer`); dims ("row", "col") with 2D
    coords q_x, q_y, q_z, q, two_theta, phi.

    ``spacing`` is the voxel size of an array input (Å or with units).
    """
    grid, src = resolve_input(vol, spacing)
    if wavelength is None:
        if detector is not None:
            raise ValueError("detector: a detector geometry needs a wavelength")
        return flat_detector_image(vol, grid, axis=Grid.axis_index(axis),
                                   sinc_correction=sinc_correction, contrast=contrast,
                                   client=client, attrs=src)
    if detector is None:
        raise ValueError("detector: pass a hifft.reduce.Detector for an Ewald-sphere image")
    red = EwaldReducer(wavelength, detector, sinc_correction=sinc_correction, contrast=contrast)
    out = run_reducers(vol, [red], spacing=spacing, client=client, backend=backend,
                       memory_budget=memory_budget, dtype=dtype, progress=progress, **engine_kw)
    return out[red.name]


def spectrum_images(
    vol: Any, axes: Sequence[int | str] = (0, 1, 2), projections: Sequence[int | str] = (),
    *, sinc_correction: bool = True, contrast: float = 1.0, spacing: Any = None, **kw: Any,
) -> dict[str, xr.DataArray]:
    """Central planes normal to ``axes`` and projections along ``projections`` in one pass 2.

    ``spacing`` is the voxel size of an array input (Å or with units).
    """
    reds: list[Reducer] = [PlaneReducer(a, sinc_correction, contrast) for a in axes]
    reds += [ProjectionReducer(a, sinc_correction, contrast) for a in projections]
    out = run_reducers(vol, reds, spacing=spacing, **kw)
    return {r.name: out[r.name] for r in reds}
