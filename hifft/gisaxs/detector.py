"""Detector realism and outputs: counts, gaps (−1), dead pixels (−2), beam stops, horizon; xarray, NeXus, plots.

Counts: a layer scattering I (1/sr per unit area, :mod:`.dwba`) under a beam of
``flux`` photons spreads over a footprint 1/sin α_i times the beam's cross-section,
so pixel p expects  N_p = flux · I_p · ΔΩ_p / sin α_i  photons; BornAgain's
``ScatteringSimulation`` returns the same quantity for a beam intensity of 1
(tests/gisaxs/test_bornagain.py checks it to 0.1 %).

Conventions of seed 000's real data: gaps are −1, dead or defective pixels −2,
simulations never go below 0; beam stops and the sample horizon read 0.
"""

from __future__ import annotations

import math
import os
from typing import Any

import numpy as np

from ..atomic import atomic_path
from .dwba import footprint_factor
from .geometry import Geometry

GAP = -1.0
DEAD = -2.0


def expected_counts(intensity: np.ndarray, geometry: Geometry, flux: float = 1.0) -> np.ndarray:
    """Mean photons per pixel for ``flux`` incident photons (``intensity`` in 1/sr per unit area)."""
    if not flux > 0:
        raise ValueError(f"flux: must be positive, got {flux}")
    return flux * intensity * geometry.detector.solid_angle * footprint_factor(geometry)


def poisson_counts(mean: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Poisson photon counts of mean ``mean`` (float32)."""
    return rng.poisson(np.clip(mean, 0, None)).astype(np.float32)


def module_gaps(shape: tuple[int, int], module: tuple[int, int] = (195, 487), gap: tuple[int, int] = (17, 7),
                offset: tuple[int, int] = (0, 0)) -> np.ndarray:
    """True on the gaps between detector modules of ``module`` = (rows, cols) pixels separated by
    ``gap`` = (rows, cols) (default: Pilatus 1M, 195 × 487 modules, 17- and 7-pixel gaps)."""
    out = np.zeros(shape, dtype=bool)
    for axis in (0, 1):
        period = module[axis] + gap[axis]
        idx = (np.arange(shape[axis]) - offset[axis]) % period >= module[axis]
        if axis == 0:
            out[idx, :] = True
        else:
            out[:, idx] = True
    return out


def dead_pixels(shape: tuple[int, int], fraction: float, rng: np.random.Generator) -> np.ndarray:
    """True on a random ``fraction`` of pixels (dead or defective)."""
    if not 0 <= fraction < 1:
        raise ValueError(f"dead_fraction: must be in [0, 1), got {fraction}")
    return rng.random(shape) < fraction


def beam_stops(geometry: Geometry, radius: float = 0.15, specular: bool = True, direct: bool = True) -> np.ndarray:
    """True inside round stops of angular ``radius`` (degrees) on the specular (α_f = α_i, 2θ_f = 0)
    and direct (α_f = −α_i) beams."""
    d, ai, r = geometry.detector, geometry.beam.alpha_i, math.radians(radius)
    out = np.zeros(d.shape, dtype=bool)
    for on, a in ((specular, ai), (direct, -ai)):
        if on:
            out |= np.hypot(d.alpha_f - a, d.two_theta_f) <= r
    return out


def horizon(geometry: Geometry) -> np.ndarray:
    """True below the sample horizon (α_f ≤ 0), where the substrate shadows the detector."""
    return geometry.detector.alpha_f <= 0


def apply_conventions(image: np.ndarray, *, gaps: np.ndarray | None = None, dead: np.ndarray | None = None,
                      stops: np.ndarray | None = None, shadow: np.ndarray | None = None) -> np.ndarray:
    """A float32 copy of ``image`` with stops and shadow at 0, then dead pixels −2 and gaps −1."""
    out = np.array(image, dtype=np.float32)
    for m, v in ((stops, 0.0), (shadow, 0.0), (dead, DEAD), (gaps, GAP)):
        if m is not None:
            if m.shape != out.shape:
                raise ValueError(f"mask: shape {m.shape} does not match the image {out.shape}")
            out[m] = v
    return out


def bin_down(image: np.ndarray, n: int) -> np.ndarray:
    """Mean over n × n sub-pixels: pixel integration of an image computed on a detector with ``n``× the pixels."""
    r, c = image.shape
    if r % n or c % n:
        raise ValueError(f"supersample: image {image.shape} is not a multiple of {n}")
    return image.reshape(r // n, n, c // n, n).mean(axis=(1, 3))


def to_xarray(image: np.ndarray, geometry: Geometry, name: str = "intensity", units: str = "1/sr",
              attrs: dict[str, Any] | None = None):
    """An image as a DataArray with dims (alpha_f, two_theta_f) in degrees and 2D coords q_x, q_y, q_z (1/Å).

    Flat detectors (no separable angles) get dims (row, col) and 2D angle coords.
    """
    import xarray as xr

    from ..units import ATTR

    d = geometry.detector
    if d.alpha_axis is not None and d.two_theta_axis is not None:
        dims = ("alpha_f", "two_theta_f")
        coords: dict[str, Any] = {"alpha_f": ("alpha_f", np.degrees(d.alpha_axis)),
                                  "two_theta_f": ("two_theta_f", np.degrees(d.two_theta_axis))}
    else:
        dims = ("row", "col")
        coords = {"alpha_f": (dims, np.degrees(d.alpha_f)), "two_theta_f": (dims, np.degrees(d.two_theta_f))}
    for q, v in (("q_x", geometry.q_x), ("q_y", geometry.q_y), ("q_z", geometry.q_z)):
        coords[q] = (dims, v)
    da = xr.DataArray(np.asarray(image), dims=dims, coords=coords, name=name)
    da.attrs.update({"units": units, "geometry": repr(geometry.to_dict()), **(attrs or {})})
    da["alpha_f"].attrs["units"] = "degree"
    da["two_theta_f"].attrs["units"] = "degree"
    for q in ("q_x", "q_y", "q_z"):
        da[q].attrs["units"] = ATTR["q"]
    return da


def to_nexus(da: Any, path: str | os.PathLike[str]) -> None:
    """Write an image DataArray as NeXus/HDF5 (NXentry/NXdata, signal with α_f and 2θ_f axes), atomically."""
    import h5py

    with atomic_path(path) as tmp, h5py.File(tmp, "w") as f:
        f.attrs["default"] = "entry"
        entry = f.create_group("entry")
        entry.attrs["NX_class"] = "NXentry"
        entry.attrs["default"] = "data"
        data = entry.create_group("data")
        data.attrs["NX_class"] = "NXdata"
        data.attrs["signal"] = "data"
        data.attrs["axes"] = list(da.dims)
        ds = data.create_dataset("data", data=np.asarray(da.values), compression="gzip")
        ds.attrs["units"] = str(da.attrs.get("units", ""))
        for name in da.coords:
            c = data.create_dataset(name, data=np.asarray(da[name].values))
            c.attrs["units"] = str(da[name].attrs.get("units", ""))
        for k in da.dims:
            data.attrs[f"{k}_indices"] = list(da.dims).index(k)
        for k, v in da.attrs.items():
            if isinstance(v, str | int | float):
                ds.attrs[k] = v


def plot(da: Any, path: str | os.PathLike[str] | None = None, yoneda: float | None = None, ax: Any = None,
         title: str | None = None) -> Any:
    """Log-colour image of ``da`` (masked values ≤ 0 shown blank) with the Yoneda exit angle (degrees) marked.

    Saves to ``path`` (atomically) when given; returns the matplotlib Figure.
    """
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt
    from matplotlib.colors import LogNorm

    v = np.asarray(da.values, dtype=float)
    pos = v[v > 0]
    if ax is None:
        fig, ax = plt.subplots(figsize=(5, 4.2))
    else:
        fig = ax.figure
    a = np.asarray(da["alpha_f"].values)
    t = np.asarray(da["two_theta_f"].values)
    norm = LogNorm(vmin=max(pos.min(), pos.max() * 1e-6), vmax=pos.max()) if pos.size else None
    masked = np.ma.masked_less_equal(v, 0)
    m = ax.pcolormesh(t, a, masked, norm=norm, shading="auto")
    fig.colorbar(m, ax=ax, label=f"{da.name} ({da.attrs.get('units', '')})")
    if yoneda is not None:
        ax.axhline(yoneda, color="w", ls="--", lw=0.8)
        ax.annotate("Yoneda", (float(np.min(t)), yoneda), color="w", fontsize=8, va="bottom")
    ax.set_xlabel("2θ_f (deg)")
    ax.set_ylabel("α_f (deg)")
    if title:
        ax.set_title(title)
    if path is not None:
        with atomic_path(path) as tmp:
            fig.savefig(tmp, dpi=120, format=os.path.splitext(str(path))[1].lstrip(".") or "png")
    return fig


__all__ = ["DEAD", "GAP", "apply_conventions", "beam_stops", "bin_down", "dead_pixels", "expected_counts",
           "horizon", "module_gaps", "plot", "poisson_counts", "to_nexus", "to_xarray"]
