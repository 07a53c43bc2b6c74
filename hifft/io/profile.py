"""1D profiles in and out of files: the columns a writer needs, the Dataset a reader returns.

Writers take ``profile_columns(ds)`` (Q, I, Idev, Qdev in 1/Å and 1/cm);
readers build their result with :func:`curve_dataset` (which refuses bad
points through :func:`check_curve`, estimates a missing σ with
:func:`estimate_sigma` and keeps dQ as ``q_std``) and convert units with
:func:`column_factor` (through :func:`hifft.units.file_factor`).
"""

from __future__ import annotations

import re
import warnings
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
    dq: Any | None = None,
    rows: Any | None = None,
    negative: str = "error",
) -> xr.Dataset:
    """A read curve as a Dataset: coord ``q`` (1/Å, ascending), ``I``, ``sigma`` (1/cm), ``mask``.

    ``q``, ``i``, ``s``, ``dq`` are already in internal units; ``mask`` is
    true where a point is used (all points when None). The points are checked
    by :func:`check_curve` (``rows``: their lines in the file, for messages;
    ``negative``: see there). Without σ (``s`` None) it is estimated by
    :func:`estimate_sigma`, with a warning and ``attrs["sigma_estimated"] = 1``
    and ``attrs["sigma_method"]``. ``dq`` (the resolution, 1σ, 1/Å) becomes
    variable ``q_std`` (what the writers write as Qdev). ``source`` names the
    file in errors and in ``attrs["source"]``.
    """
    q = np.asarray(q, dtype=np.float64).ravel()
    i = np.asarray(i, dtype=np.float64).ravel()
    if q.size != i.size:
        raise ValueError(f"{source}: Q has {q.size} points, I has {i.size}")
    if q.size < 2:
        raise ValueError(f"{source}: need ≥ 2 points, got {q.size}")
    n = q.size
    extra = {"mask": mask, "dq": dq, "rows": rows}
    for k, v in extra.items():
        if v is not None and np.asarray(v).size != n:
            raise ValueError(f"{source}: {k} has {np.asarray(v).size} points, Q has {n}")
    if s is not None and np.asarray(s).size != n:
        raise ValueError(f"{source}: uncertainties have {np.asarray(s).size} points, Q has {n}")
    order, ok = check_curve(q, i, s, source, rows, negative)
    q2, i = q[order], i[order]
    s2 = None if s is None else np.asarray(s, dtype=np.float64).ravel()[order]
    m = np.ones(n, dtype=bool) if mask is None else np.asarray(mask, dtype=bool).ravel()[order]
    m &= ok[order]
    attrs = {"source": str(source), **(attrs or {})}
    if s2 is None:
        s2 = estimate_sigma(i)
        attrs["sigma_estimated"] = 1
        attrs["sigma_method"] = SIGMA_METHOD
        warnings.warn(f"{source}: no uncertainties in the file; σ {SIGMA_METHOD}", stacklevel=2)
    data = {"I": ("q", i), "sigma": ("q", s2), "mask": ("q", m)}
    if dq is not None:
        data["q_std"] = ("q", np.asarray(dq, dtype=np.float64).ravel()[order])
    ds = xr.Dataset(data, coords={"q": q2}, attrs=attrs)
    ds["q"].attrs["units"] = units.ATTR["q"]
    ds["I"].attrs["units"] = ds["sigma"].attrs["units"] = units.ATTR["intensity"]
    if "q_std" in ds:
        ds["q_std"].attrs["units"] = units.ATTR["q"]
    return ds


#: How :func:`estimate_sigma` works (stored in ``attrs["sigma_method"]`` of a curve read without σ).
SIGMA_METHOD = (
    "estimated: σ = I·max(r, 0.01), r = local RMS scatter of ln I about a quadratic Savitzky-Golay "
    "fit over 7 points (scipy.signal.savgol_filter), smoothed over the same window"
)


def estimate_sigma(i: np.ndarray, window: int = 7, floor: float = 0.01) -> np.ndarray:
    """σ (same units as ``i``) of a curve given without uncertainties, from its local scatter.

    The residuals of ln I about a quadratic Savitzky-Golay fit over ``window``
    neighbours (scipy.signal.savgol_filter, not hand-written smoothing) measure
    the point-to-point noise; their local RMS is the relative error, floored at
    ``floor`` (a noiseless curve gets ``floor``·I). Needs positive ``i``.
    """
    from scipy.ndimage import uniform_filter1d
    from scipy.signal import savgol_filter

    i = np.asarray(i, dtype=np.float64)
    if i.size < window:
        return floor * np.abs(i)
    with np.errstate(divide="ignore", invalid="ignore"):
        li = np.log(np.where(i > 0, i, np.nan))
    li = np.where(np.isfinite(li), li, np.nanmedian(li))
    res = li - savgol_filter(li, window, 2, mode="interp")
    # ×√(w/(w-3)): a quadratic fit over w points absorbs 3 of w degrees of freedom
    rel = np.sqrt(uniform_filter1d(res**2, window, mode="nearest") * window / (window - 3))
    return np.abs(i) * np.maximum(rel, floor)


def check_curve(
    q: np.ndarray,
    i: np.ndarray,
    s: np.ndarray | None,
    source: str,
    rows: np.ndarray | None = None,
    negative: str = "error",
) -> tuple[np.ndarray, np.ndarray]:
    """Refuse what a 1D curve must not hold; returns ``(order, ok)``: ascending-q order, usable points.

    Errors (``ValueError`` naming ``source`` and the line, ``rows[k]`` being
    the file's line of point k, or the point's index): no points, non-finite
    or non-positive q, non-finite I or σ, σ ≤ 0, duplicated q, q neither
    ascending nor descending (a descending file is read in reverse). Negative
    I: ``negative="error"`` refuses, ``"mask"`` marks the points unusable
    (``ok`` false) and warns.
    """
    q = np.asarray(q, dtype=np.float64).ravel()
    i = np.asarray(i, dtype=np.float64).ravel()
    where = "point" if rows is None else "line"
    rows = np.arange(q.size) if rows is None else np.asarray(rows)

    def bad(sel: np.ndarray, what: str) -> None:
        k = int(np.flatnonzero(sel)[0])
        raise ValueError(f"{source}: {what} at {where} {rows[k]} ({int(sel.sum())} point(s) in all)")

    if q.size == 0:
        raise ValueError(f"{source}: no data points")
    if not np.isfinite(q).all():
        bad(~np.isfinite(q), "non-finite q")
    if (q < 0).any():
        bad(q < 0, "negative q (a 1D curve has |q| > 0; is this 2D data, Qx Qy I σ?)")
    if (q == 0).any():
        bad(q == 0, "q = 0 (I(q) is defined for q > 0; leave the row out)")
    if not np.isfinite(i).all():
        bad(~np.isfinite(i), "non-finite intensity (NaN/inf)")
    if s is not None:
        s = np.asarray(s, dtype=np.float64).ravel()
        if not (np.isfinite(s) & (s > 0)).all():
            bad(~(np.isfinite(s) & (s > 0)), "uncertainty σ not finite and > 0")
    d = np.diff(q)
    if (d == 0).any():
        bad(np.r_[False, d == 0], "duplicated q")
    order = np.arange(q.size)
    if q.size > 1 and (d < 0).all():
        order = order[::-1]
    elif (d < 0).any():
        bad(np.r_[False, d < 0], "q not in order (neither ascending nor descending)")
    ok = i >= 0
    if not ok.all():
        if negative != "mask":
            bad(~ok, "negative intensity (pass negative='mask' to leave such points out)")
        warnings.warn(f"{source}: {int((~ok).sum())} negative intensities left out (mask false)", stacklevel=3)
    return order, ok
