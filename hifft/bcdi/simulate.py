"""BCDI patterns: |FFT(ρ·exp(iG·u))|² around one Bragg peak, scaled to a peak count, Poisson noise.

Approximation (say it where results are used): the object is a voxelized density times
exp(iG·u) and the pattern its discrete Fourier transform, sampled on the orthogonal
reciprocal-space grid dq = 2π/(n·d) around G. The atomistic kinematic sum (PyNX, the
thesis's simulator) and the detector geometry (rocking angle, pixel frame) are not
modelled; the array's axis 0 plays the rocking (frame) axis.

In memory (default ``engine="numpy"``) the transform is ``scipy.fft.fftn(workers=-1)``;
``engine="hifft"`` routes it through :func:`hifft.fft.fftn` (the out-of-core engine, which
takes complex numpy/dask/Zarr input directly; :func:`hifft.volume.from_array` does not, as a
Volume is a real density). The result is then dask-backed and never gathered whole.
"""

from __future__ import annotations

import math
import os
from typing import Any

import numpy as np
import scipy.fft
import xarray as xr
from scipy.spatial.transform import Rotation

from ..grid import Grid
from ..io import to_zarr
from .crystals import Crystal, CrystalError, fit_oversampling, random_rotation, support
from .strain import bragg_phase, imported

#: Dimension names of a pattern (axis 0 is the rocking/frame axis) and of the real-space object.
PATTERN_DIMS = ("frame", "y", "x")
OBJECT_DIMS = ("r_z", "r_y", "r_x")


def _is_dask(a: Any) -> bool:
    return hasattr(a, "dask") and hasattr(a, "chunks")


def complex_object(rho: Any, displacement: np.ndarray | None = None, bragg: Any = None,
                   dtype: Any = np.complex64) -> np.ndarray:
    """ρ·exp(iG·u): ``rho`` (support or density), ``displacement`` (3, *shape) in Å, ``bragg`` G in 1/Å."""
    rho = np.asarray(rho)
    if displacement is None:
        return rho.astype(dtype)
    if bragg is None:
        raise ValueError("bragg: give the Bragg vector G (1/Å, z, y, x) with a displacement field")
    return (rho * np.exp(1j * bragg_phase(displacement, bragg))).astype(dtype)


def diffraction(obj: Any, *, engine: str = "numpy", store: str | os.PathLike[str] | None = None,
                **fft_kw: Any) -> Any:
    """Centred intensity |F|² of a complex object (unnormalized DFT, numpy's convention), shape obj.shape.

    ``engine="numpy"``: scipy.fft in memory, any number of dimensions. ``engine="hifft"``: 3D
    only, through :func:`hifft.fft.fftn` (``store``, ``client``, ``memory_budget``... in
    ``fft_kw``); returns a dask array when the engine ran out of core.
    """
    if engine == "numpy":
        if _is_dask(obj):
            raise ValueError("engine='numpy' needs an in-memory array; use engine='hifft' for dask input")
        F = scipy.fft.fftn(np.asarray(obj), workers=-1)
        return np.fft.fftshift(np.abs(F) ** 2)
    if engine == "hifft":
        from ..fft import fftn

        fft_kw.setdefault("progress", False)
        F = fftn(obj, store=store, **fft_kw).data
        if _is_dask(F):
            import dask.array as da

            return da.fft.fftshift(abs(F) ** 2)
        return np.fft.fftshift(np.abs(F) ** 2)
    raise ValueError(f"engine: expected 'numpy' or 'hifft', got {engine!r}")


def scale_to_peak(intensity: Any, peak_counts: float) -> Any:
    """``intensity`` scaled so its maximum is ``peak_counts`` (expected photons at the Bragg peak)."""
    if not (math.isfinite(peak_counts) and peak_counts > 0):
        raise ValueError(f"peak_counts: must be a positive number, got {peak_counts}")
    peak = float(intensity.max())
    if not peak > 0:
        raise ValueError("intensity: all zero, nothing to scale (empty object?)")
    return intensity * (peak_counts / peak)


def _poisson_block(lam: np.ndarray, seed: int, block_info: Any = None) -> np.ndarray:
    loc = block_info[0]["chunk-location"] if block_info else (0,)
    rng = np.random.default_rng([seed, *loc])
    return rng.poisson(lam).astype(np.int64)


def poisson(mean: Any, seed: int | None) -> Any:
    """Poisson counts (int64) of expected counts ``mean``; numpy or dask (one seeded stream per chunk)."""
    if _is_dask(mean):
        if seed is None:
            raise ValueError("seed: a dask array needs an integer seed (one stream per chunk)")
        return mean.map_blocks(_poisson_block, seed, dtype=np.int64)
    return np.random.default_rng(seed).poisson(np.asarray(mean)).astype(np.int64)


def _q_coords(grid: Grid) -> dict[str, Any]:
    coords: dict[str, Any] = {}
    for a, (dim, name) in enumerate(zip(PATTERN_DIMS, ("dq_z", "dq_y", "dq_x"), strict=True)):
        coords[name] = (dim, np.fft.fftshift(grid.q(a)), {"units": "1/angstrom", "long_name": f"{name} − G"})
    for a, dim in enumerate(OBJECT_DIMS):
        coords[dim] = (dim, grid.coords(a), {"units": "angstrom"})
    return coords


def simulate_pattern(crystal: Crystal, grid: Grid, *, oversampling: float | None = None,
             rotation: Rotation | str | None = None, displacement: Any = None, bragg: Any = (0.0, 0.0, 0.0),
             peak_counts: float = 1e6, seed: int | None = 0, supersample: int = 2,
             dtype: Any = np.complex64, engine: str = "numpy", store: str | os.PathLike[str] | None = None,
             **fft_kw: Any) -> xr.Dataset:
    """One BCDI pattern of ``crystal`` on ``grid`` (Å), with its object for later evaluation.

    ``oversampling`` (2–5): scale the (rotated) crystal so it spans n/oversampling voxels on its
    tightest axis; ``None`` keeps its size and checks it is oversampled at least 2×.
    ``rotation``: a scipy Rotation, ``"random"`` (drawn from ``seed``) or None.
    ``displacement``: (3, *grid.shape) in Å (see :mod:`.strain`), ``bragg`` G in 1/Å (z, y, x).
    Returns a Dataset: ``counts`` (Poisson, int64) and ``intensity`` (expected counts, peak =
    ``peak_counts``) on dims ("frame", "y", "x") with dq coordinates (1/Å, relative to G);
    ``support`` (0..1), ``modulus`` and ``phase`` (rad) of the object on ("r_z", "r_y", "r_x").
    ``engine``/``store``/``fft_kw``: see :func:`diffraction` (with "hifft" the pattern variables
    may be dask-backed; the object is built in memory).
    """
    rng = np.random.default_rng(seed)
    if isinstance(rotation, str):
        if rotation != "random":
            raise ValueError(f"rotation: expected a scipy Rotation, 'random' or None, got {rotation!r}")
        rotation = random_rotation(rng)
    crystal = crystal.rotated(rotation)
    if oversampling is not None:
        crystal = fit_oversampling(crystal, grid, oversampling)
    measured = float(np.min(np.array(grid.shape) * np.array(grid.spacing) / crystal.extent()))
    if measured < 2:
        raise CrystalError(f"{crystal.name}: oversampling {measured:.2f} < 2 on grid {grid.shape}; "
                           "give oversampling= or a smaller crystal")
    rho = support(crystal, grid, supersample=supersample)
    u = None if displacement is None else imported(displacement, grid)
    obj = complex_object(rho, u, bragg, dtype=dtype)
    expected = scale_to_peak(diffraction(obj, engine=engine, store=store, **fft_kw), peak_counts)
    counts = poisson(expected, int(rng.integers(2**63 - 1)))
    attrs = {
        "crystal": crystal.to_dict(), "grid": grid.to_dict(), "oversampling": measured,
        "bragg": list(map(float, bragg)), "bragg_units": "1/angstrom", "peak_counts": float(peak_counts),
        "seed": -1 if seed is None else int(seed), "dtype": str(np.dtype(dtype)), "engine": engine,
        "approximation": "DFT of a voxelized rho*exp(iG.u) (no atomistic kinematic sum, no detector geometry)",
    }
    ds = xr.Dataset(
        {
            "counts": (PATTERN_DIMS, counts, {"units": "counts"}),
            "intensity": (PATTERN_DIMS, expected.astype(np.float32), {"units": "counts", "long_name": "expected"}),
            "support": (OBJECT_DIMS, rho, {"units": "1"}),
            "modulus": (OBJECT_DIMS, np.abs(obj).astype(np.float32), {"units": "1"}),
            "phase": (OBJECT_DIMS, np.angle(obj).astype(np.float32), {"units": "rad"}),
        },
        coords=_q_coords(grid), attrs=attrs,
    )
    if u is not None:
        ds["displacement"] = (("component", *OBJECT_DIMS), u.astype(np.float32), {"units": "angstrom"})
    return ds


def object_of(ds: xr.Dataset) -> np.ndarray:
    """The complex object modulus·exp(i·phase) stored by :func:`simulate_pattern`."""
    return np.asarray(ds["modulus"].values * np.exp(1j * ds["phase"].values))


def write(ds: xr.Dataset, path: str | os.PathLike[str]) -> str:
    """Write a :func:`simulate_pattern` result as Zarr (dict attrs as JSON, via :func:`hifft.io.to_zarr`);
    read it back with ``xarray.open_zarr(path, consolidated=False)``."""
    return to_zarr(ds, path, consolidated=False)


__all__ = [
    "PATTERN_DIMS", "OBJECT_DIMS", "complex_object", "diffraction", "scale_to_peak", "poisson", "simulate_pattern",
    "object_of", "write",
]
