"""PNG plots of hifft results (matplotlib's object API; no pyplot state, no display)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.colors import LogNorm
from matplotlib.figure import Figure

from ..atomic import atomic_path


def _save(fig: Figure, path: str | os.PathLike, dpi: int) -> str:
    """Save ``fig`` atomically, in the format named by the path's suffix (PNG without one)."""
    fmt = Path(path).suffix.lstrip(".").lower() or "png"
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format=fmt, dpi=dpi, bbox_inches="tight")
    return os.fspath(path)


def _unit(da: xr.DataArray, default: str = "") -> str:
    return str(da.attrs.get("units", default))


def plot_iq(ds: xr.Dataset, path: str | os.PathLike, model: xr.DataArray | None = None,
            title: str | None = None, dpi: int = 120, data_label: str = "hifft") -> str:
    """Log-log I(q) with sigma error bars; with ``model`` (a DataArray on the same
    ``q``) also the model curve and a residual panel (I − model)/sigma. Returns the path."""
    q = np.asarray(ds["q"].values, dtype=float)
    intensity = np.asarray(ds["I"].values, dtype=float)
    sig = np.asarray(ds["sigma"].values, dtype=float) if "sigma" in ds else None
    ok = np.isfinite(q) & np.isfinite(intensity) & (q > 0) & (intensity > 0)
    fig = Figure(figsize=(6.0, 5.5 if model is not None else 4.5))
    FigureCanvasAgg(fig)
    if model is not None:
        gs = fig.add_gridspec(2, 1, height_ratios=(3, 1), hspace=0.05)
        ax = fig.add_subplot(gs[0])
        axr = fig.add_subplot(gs[1], sharex=ax)
    else:
        ax = fig.add_subplot(1, 1, 1)
    ax.errorbar(q[ok], intensity[ok], yerr=None if sig is None else sig[ok], fmt="o", ms=2.5,
                lw=0.8, label=data_label)
    if model is not None:
        m = np.asarray(model.values, dtype=float)
        if m.shape != q.shape:
            raise ValueError(f"model: shape {m.shape} != I shape {q.shape} (put it on ds.q)")
        mok = ok & np.isfinite(m) & (m > 0)
        ax.plot(q[mok], m[mok], "-", lw=1.2, label=str(model.name or "model"))
        with np.errstate(invalid="ignore", divide="ignore"):
            res = (intensity - m) / (sig if sig is not None else np.abs(m))
        axr.axhline(0, color="0.5", lw=0.8)
        axr.plot(q[mok], res[mok], "o", ms=2.5)
        axr.set_xscale("log")
        axr.set_xlabel(f"q ({_unit(ds['q'], '1/angstrom')})")
        axr.set_ylabel("(I − model)/σ" if sig is not None else "(I − model)/model")
        ax.tick_params(labelbottom=False)
        ax.legend(frameon=False)
    else:
        ax.set_xlabel(f"q ({_unit(ds['q'], '1/angstrom')})")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_ylabel(f"I ({_unit(ds['I'], '1/cm')})")
    if title:
        ax.set_title(title)
    return _save(fig, path, dpi)


def plot_image(img: xr.DataArray, path: str | os.PathLike, title: str | None = None,
               vmin: float | None = None, vmax: float | None = None, dpi: int = 120,
               cmap: Any = "viridis") -> str:
    """A 2D image on a log colour scale with q axes in 1/Å. Returns the path.

    Flat images (dims ``q_*``) are drawn on their q axes; detector images
    (2D coords ``q_x``, ``q_y``) as a mesh over those coords.
    """
    data = np.asarray(img.values, dtype=float)
    pos = data[np.isfinite(data) & (data > 0)]
    if pos.size == 0:
        raise ValueError("plot_image: no positive finite values to show on a log scale")
    vmax = vmax if vmax is not None else float(pos.max())
    vmin = vmin if vmin is not None else max(float(pos.min()), vmax * 1e-8)
    norm = LogNorm(vmin=vmin, vmax=vmax)
    masked = np.ma.masked_where(~(np.isfinite(data) & (data > 0)), data)
    fig = Figure(figsize=(5.5, 4.5))
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    if "q_x" in img.coords and img.coords["q_x"].ndim == 2:
        m = ax.pcolormesh(img.coords["q_x"].values, img.coords["q_y"].values, masked, norm=norm,
                          cmap=cmap, shading="auto")
        xl, yl = "q_x", "q_y"
    else:
        dy, dx = img.dims
        m = ax.pcolormesh(img.coords[dx].values, img.coords[dy].values, masked, norm=norm,
                          cmap=cmap, shading="auto")
        xl, yl = str(dx), str(dy)
    fin = np.isfinite(data)
    if "q_x" in img.coords and img.coords["q_x"].ndim == 2 and fin.any() and not fin.all():
        qx, qy = img.coords["q_x"].values[fin], img.coords["q_y"].values[fin]
        ax.set_xlim(qx.min(), qx.max())  # detector pixels outside the spectrum are NaN
        ax.set_ylim(qy.min(), qy.max())
    ax.set_aspect("equal")
    ax.set_xlabel(f"{xl} (1/Å)")
    ax.set_ylabel(f"{yl} (1/Å)")
    fig.colorbar(m, ax=ax, label=f"I ({img.attrs.get('units', '1/cm')})")
    if title:
        ax.set_title(title)
    return _save(fig, path, dpi)
