"""1D profiles in and out of files: the columns a writer needs, the Dataset a reader returns.

Writers take ``profile_columns(ds)`` (Q, I, Idev, Qdev in 1/Å and 1/cm);
readers build their result with :func:`curve_dataset` and convert units
with :func:`column_factor` (through :func:`hifft.units.file_factor`).
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np
import xarray as xr

from .. import units

#: Intensity units that mean "relative scale": read with factor 1 (the ML models remove a
#: curve's mean log-intensity, so an arbitrary scale is usable).
ARBITRARY_INTENSITY = ("none", "a.u.", "arb", "arbitrary", "counts", "1")


def profile_columns(ds: Any) -> dict[str, np.ndarray]:
    """Q, I, Idev, Qdev columns (1/Å, 1/cm) of a 1D profile, rows with non-finite Q or I dropped.

    ``ds`` is a Dataset with coord ``q`` and variables ``I`` (and optionally
    ``sigma``, ``q_std``), e.g. from :func:`hifft.saxs` or :func:`hifft.azimuthal`.
    """
    if not isinstance(ds, xr.Dataset) or "I" not in ds or "q" not in ds.coords:
        raise TypeError("expected an xarray.Dataset with coord 'q' and variable 'I' (hifft.saxs output)")
    if ds["I"].dims != ("q",):
        raise ValueError(f"expected a 1D profile I(q); got I with dims {ds['I'].dims}")
    cols = {"Q": units.values_in(ds["q"], "q"), "I": units.values_in(ds["I"], "intensity")}
    if "sigma" in ds:
        cols["Idev"] = units.values_in(ds["sigma"], "intensity")
    if "q_std" in ds:
        cols["Qdev"] = units.values_in(ds["q_std"], "q")
    good = np.isfinite(cols["Q"]) & np.isfinite(cols["I"])
    for k in ("Idev", "Qdev"):
        if k in cols:
            good &= np.isfinite(cols[k])
    return {k: v[good] for k, v in cols.items()}


def column_factor(unit: str | bytes | None, kind: str, source: str) -> float:
    """Multiplier taking a file column in ``unit`` to 1/Å (``kind="q"``) or 1/cm ("intensity").

    Missing units mean internal units; an arbitrary intensity unit
    (:data:`ARBITRARY_INTENSITY`) reads with factor 1. ``source`` (the file)
    names the error.
    """
    what = "q" if kind == "q" else "intensity"
    if isinstance(unit, bytes):
        unit = unit.decode()
    if kind == "intensity" and re.sub(r"[\s{}]+", "", str(unit)).lower() in ARBITRARY_INTENSITY:
        return 1.0
    try:
        return units.file_factor(unit, kind, f"{source}: {what} units")
    except units.UnitError as exc:
        raise ValueError(f"{source}: cannot use {what} units {unit!r}") from exc


def curve_dataset(
    q: Any,
    i: Any,
    s: Any | None,
    mask: Any | None,
    source: str,
    attrs: dict[str, Any] | None = None,
) -> xr.Dataset:
    """A read curve as a Dataset: coord ``q`` (1/Å, ascending), ``I``, ``sigma`` (1/cm), ``mask``.

    ``q``, ``i``, ``s`` are already in internal units; ``mask`` is true where
    a point is used (all points when None). ``source`` names the file in
    errors and in ``attrs["source"]``.
    """
    q = np.asarray(q, dtype=np.float64).ravel()
    i = np.asarray(i, dtype=np.float64).ravel()
    if q.size != i.size or q.size < 2:
        raise ValueError(f"{source}: need matching Q and I arrays with ≥ 2 points (got {q.size}, {i.size})")
    if s is None:
        raise ValueError(f"{source}: no uncertainties (Idev/sigma); the models need σ per point")
    s = np.asarray(s, dtype=np.float64).ravel()
    if s.size != q.size:
        raise ValueError(f"{source}: uncertainties have {s.size} points, Q has {q.size}")
    m = np.ones(q.size, dtype=bool) if mask is None else np.asarray(mask, dtype=bool).ravel()
    order = np.argsort(q)
    ds = xr.Dataset(
        {"I": ("q", i[order]), "sigma": ("q", s[order]), "mask": ("q", m[order])},
        coords={"q": q[order]},
        attrs={"source": str(source), **(attrs or {})},
    )
    ds["q"].attrs["units"] = units.ATTR["q"]
    ds["I"].attrs["units"] = ds["sigma"].attrs["units"] = units.ATTR["intensity"]
    return ds
