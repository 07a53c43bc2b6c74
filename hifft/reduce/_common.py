"""Helpers shared by the reductions: sinc² correction, bin edges, Friedel
bookkeeping, per-bin statistics, provenance attrs, input handling.

The absolute intensity scale is :meth:`hifft.grid.Grid.intensity_scale`.
"""

from __future__ import annotations

import datetime as _dt
import json
import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from .. import units
from .._version import __version__
from ..grid import Grid

#: Points within this relative distance of the outer bin edges are counted in
#: the edge bins (|q| of an on-axis grid point is computed, not exact).
EDGE_RTOL = 1e-9


# ---- voxel correction -----------------------------------------------------
def sinc2_inverse(q: np.ndarray, d: float, enabled: bool = True) -> np.ndarray:
    """1/sinc²(q·d/2) per q (float64); ones when ``enabled`` is False.

    Dividing |F|² by Π_i sinc²(q_i d_i/2) turns the lattice-point transform
    into that of the voxelized (staircase) object (Schmidt-Rohr 2007).
    """
    q = np.asarray(q, dtype=np.float64)
    if not enabled:
        return np.ones_like(q)
    s = np.sinc(q * d / (2 * np.pi))  # np.sinc(x) = sin(πx)/(πx)
    return 1.0 / (s * s)


def self_conjugate(idx: np.ndarray, n: int) -> np.ndarray:
    """True where FFT index ``idx`` equals its own negative modulo ``n`` (0, and n/2 for even n)."""
    idx = np.asarray(idx)
    return (idx == 0) | ((n % 2 == 0) & (idx == n // 2))


# ---- binning --------------------------------------------------------------
def make_edges(
    bins: int | Any,
    q_min: Any,
    q_max: Any,
    bin_spacing: str,
    default_range: tuple[float, float],
) -> np.ndarray:
    """Bin edges in 1/Å.

    ``bins`` is a number of bins (edges from ``q_min`` to ``q_max``, default
    ``default_range``, ``bin_spacing`` ``"log"`` or ``"linear"``) or an explicit
    increasing sequence of edges (then ``q_min``/``q_max`` must be None).
    """
    if np.ndim(bins) == 1:
        if q_min is not None or q_max is not None:
            raise ValueError("bins: pass either explicit edges or q_min/q_max, not both")
        edges = np.asarray(bins, dtype=np.float64)
        if edges.size < 2 or not np.all(np.isfinite(edges)):
            raise ValueError(f"bins: need at least 2 finite edges, got {edges!r}")
        if np.any(np.diff(edges) <= 0) or edges[0] < 0:
            raise ValueError("bins: edges must be non-negative and strictly increasing")
        if np.any((edges > 0) & (edges < 1e-100)):
            raise ValueError("bins: non-zero edges below 1e-100 1/Å (their squares underflow)")
        if np.min(np.diff(edges)) < 1e-12 * edges[-1]:
            raise ValueError("bins: edges closer than 1e-12 (relative) cannot be told apart")
        return edges
    if np.ndim(bins) != 0 or isinstance(bins, bool):
        raise ValueError(f"bins: expected an int or a 1D sequence of edges, got {bins!r}")
    n = int(bins)
    if n != bins or n < 1:
        raise ValueError(f"bins: expected a positive integer, got {bins!r}")
    lo = default_range[0] if q_min is None else units.q(q_min, "q_min")
    hi = default_range[1] if q_max is None else units.q(q_max, "q_max")
    if not (math.isfinite(lo) and math.isfinite(hi) and 0 <= lo < hi):
        if q_min is None and q_max is None:
            raise ValueError(
                f"q range: the grid's valid range ({lo:.4g}, {hi:.4g}) 1/Å is empty (2π/L of "
                "the shortest box side >= π/d of the coarsest axis); pass q_min/q_max or edges")
        raise ValueError(f"q range: need 0 <= q_min < q_max, got ({lo}, {hi}) 1/Å")
    sp = str(bin_spacing).lower()
    if sp == "log":
        if lo <= 0:
            raise ValueError("q_min must be > 0 for log spacing")
        return np.geomspace(lo, hi, n + 1)
    if sp in ("linear", "lin"):
        return np.linspace(lo, hi, n + 1)
    raise ValueError(f"bin_spacing: expected 'log' or 'linear', got {bin_spacing!r}")


def validate_binning(bins: Any, q_min: Any, q_max: Any, bin_spacing: str) -> None:
    """Check binning arguments before the grid is known (raises ValueError)."""
    lo = None if q_min is None else units.q(q_min, "q_min")
    hi = None if q_max is None else units.q(q_max, "q_max")
    if lo is None:
        lo = 1e-300 if hi is None else min(hi / 2, 1e-300)
    if hi is None:
        hi = max(2 * lo, 1.0)
    make_edges(bins, q_min, q_max, bin_spacing, (lo, hi))


def bin_centers(edges: np.ndarray, bin_spacing: str) -> np.ndarray:
    """Geometric centres for log bins (when all edges > 0), arithmetic otherwise."""
    if str(bin_spacing).lower() == "log" and edges[0] > 0:
        return np.sqrt(edges[:-1] * edges[1:])
    return 0.5 * (edges[:-1] + edges[1:])


def bin_lookup_table(edges: np.ndarray, size: int | None = None) -> tuple[np.ndarray, float]:
    """A uniform table over [edges[0], edges[-1]] giving the bin at each cell start.

    Kernels read ``table[int((q - edges[0]) * inv)]`` and then step at most a
    few bins to the exact one, which avoids a log or a binary search per point.
    """
    nb = edges.size - 1
    m = size or int(min(1 << 16, max(1024, 8 * nb)))
    starts = edges[0] + (edges[-1] - edges[0]) * np.arange(m) / m
    table = np.clip(np.searchsorted(edges, starts, side="right") - 1, 0, nb - 1).astype(np.int64)
    return table, m / (edges[-1] - edges[0])


# ---- per-bin statistics ---------------------------------------------------
def chan_merge(
    wa: np.ndarray, ma: np.ndarray, m2a: np.ndarray, wb: np.ndarray, mb: np.ndarray, m2b: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Merge weighted (count, mean, M2) triples (Chan et al. 1979); exact for constants."""
    w = wa + wb
    with np.errstate(invalid="ignore", divide="ignore"):
        delta = mb - ma
        fb = np.where(w > 0, wb / w, 0.0)
        mean = ma + delta * fb
        m2 = m2a + m2b + delta * delta * wa * fb
    return w, mean, m2


def bin_statistics(
    w: np.ndarray, mean: np.ndarray, m2: np.ndarray, n_indep: np.ndarray, e_min: float
) -> dict[str, np.ndarray]:
    """I, std, sem, sigma per bin from weighted count, mean and M2.

    std is the spread of I over the bin's points (population, ddof = 0);
    sem = std/√(n−1) with n the number of independent samples, i.e. the
    usual s/√n with s the ddof = 1 deviation; NaN where n < 2.
    sigma = max(sem, e_min·I) (NaN-ignoring, so single-sample bins get e_min·I).
    """
    with np.errstate(invalid="ignore", divide="ignore"):
        empty = w <= 0
        intensity = np.where(empty, np.nan, mean)
        std = np.where(empty, np.nan, np.sqrt(np.maximum(m2, 0.0) / np.where(empty, 1.0, w)))
        sem = np.where(n_indep > 1, std / np.sqrt(np.maximum(n_indep - 1, 1e-300)), np.nan)
        sigma = np.fmax(sem, e_min * intensity)
    return {"I": intensity, "std": std, "sem": sem, "sigma": sigma}


# ---- provenance -----------------------------------------------------------
def versions() -> dict[str, str]:
    """Versions of hifft and the libraries that shape the numbers."""
    import numba
    import scipy
    import xarray

    return {
        "hifft": __version__,
        "numpy": np.__version__,
        "scipy": scipy.__version__,
        "numba": numba.__version__,
        "xarray": xarray.__version__,
    }


def _jsonable(x: Any) -> str:
    return json.dumps(x, default=str, sort_keys=True)


def provenance(grid: Grid, **extra: Any) -> dict[str, Any]:
    """netCDF-safe attrs recording what made an output (DESIGN.md: grid, source, versions...).

    Values that are dicts/lists of non-numbers become JSON strings, booleans
    become 0/1, None is dropped.
    """
    attrs: dict[str, Any] = {
        "grid": _jsonable(grid.to_dict()),
        "grid_shape": list(grid.shape),
        "grid_spacing": list(grid.spacing),
        "q_valid_min": float(grid.valid_q_range[0]),
        "q_valid_max": float(grid.valid_q_range[1]),
        "q_units": units.ATTR["q"],
        "hifft_version": __version__,
        "versions": _jsonable(versions()),
        "created": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        **extra,
    }
    return clean_attrs(attrs)


def clean_attrs(attrs: Mapping[str, Any]) -> dict[str, Any]:
    """Make attrs storable in netCDF/Zarr: bool→int, dict→JSON, None dropped."""
    out: dict[str, Any] = {}
    for k, v in attrs.items():
        if v is None:
            continue
        if isinstance(v, bool | np.bool_):
            out[k] = int(v)
        elif isinstance(v, Mapping):
            out[k] = _jsonable(dict(v))
        elif isinstance(v, list | tuple | np.ndarray):
            arr = np.asarray(v)
            numeric = arr.dtype.kind in "biuf" and arr.ndim == 1
            out[k] = arr.tolist() if numeric else _jsonable(list(v))
        elif isinstance(v, np.generic):
            out[k] = v.item()
        elif isinstance(v, str | int | float):
            out[k] = v
        else:
            out[k] = str(v)
    return out


# ---- inputs ---------------------------------------------------------------
def is_volume(x: Any) -> bool:
    """Duck-typed hifft Volume: has ``.grid`` and ``.slab()`` (what the engine reads)."""
    return hasattr(x, "grid") and hasattr(x, "slab")


def is_dask(x: Any) -> bool:
    """A dask array (has a task graph and chunks)."""
    return hasattr(x, "dask") and hasattr(x, "chunks")


def engine_input(vol: Any, grid: Grid) -> tuple[Any, dict[str, Any]]:
    """What to hand :func:`hifft.fft.reduce_spectrum`, and the extra keywords it needs.

    Volumes go as they are (they carry their grid); numpy and dask arrays go
    with ``spacing=`` (Å) from ``grid``, ints/bools cast to float (the engine
    takes float32/float64 densities). Reductions never build volumes: the
    engine's source reads all of these.
    """
    if is_volume(vol):
        return vol, {}
    arr = vol if is_dask(vol) else np.asarray(vol)
    if arr.dtype.kind in "biu":
        arr = arr.astype(np.float32 if arr.dtype.itemsize <= 2 else np.float64)
    return arr, {"spacing": grid.spacing}


def resolve_input(vol: Any, spacing: Any) -> tuple[Grid, dict[str, Any]]:
    """The grid of ``vol`` and attrs describing its source.

    ``vol`` is a hifft Volume (carries its grid) or a real 3D numpy/dask
    array, which then needs ``spacing``, its voxel size (Å, or a string
    with units): the absolute scale depends on it, so it is never guessed.
    """
    if isinstance(spacing, str) and spacing.strip().lower() in ("log", "linear", "lin"):
        raise TypeError(f"spacing={spacing!r}: spacing is the voxel size (Å); the bin spacing is bin_spacing=")
    if is_volume(vol):
        if spacing is not None:
            raise ValueError("spacing: a Volume carries its own grid; do not pass spacing")
        grid = vol.grid
        src = dict(getattr(vol, "attrs", {}) or {})
        path = getattr(vol, "path", None)
        source: dict[str, Any] = {"type": "volume", **({"path": str(path)} if path else {})}
        out = {"source": _jsonable({**source, **src})}
        if src.get("scene") is not None:  # also on its own: the comparison reads it
            out["scene"] = _jsonable(src["scene"])
        return grid, out
    shape = getattr(vol, "shape", None)
    dtype = getattr(vol, "dtype", None)
    if shape is None or dtype is None:
        raise TypeError(
            f"vol: expected a hifft Volume or a numpy/dask array, got {type(vol).__name__}")
    if len(shape) != 3:
        raise ValueError(f"vol: expected a 3D array (nz, ny, nx), got shape {tuple(shape)}")
    if np.dtype(dtype).kind not in "biuf":
        raise TypeError(f"vol: expected a real-valued density, got dtype {dtype}")
    if spacing is None:
        raise ValueError(
            "spacing: an array carries no grid; pass its voxel size as spacing= (Å, e.g. 2.0 or "
            "'0.2 nm') or wrap it with hifft.from_array(arr, spacing=...)"
        )
    grid = Grid(tuple(int(s) for s in shape), spacing)
    return grid, {"source": _jsonable({"type": type(vol).__module__.split(".")[0] + " array",
                                       "dtype": str(dtype)})}
