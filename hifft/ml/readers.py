"""Reading measured or exported 1D curves for prediction.

Formats (by extension):

- ``.h5``/``.hdf5``/``.nxs``: NXcanSAS. The first group marked
  ``canSAS_class="SASdata"`` (or ``NX_class="NXdata"``) holding ``I`` and
  ``Q``; the uncertainty dataset is named by ``I``'s ``uncertainties``
  attribute (default ``Idev``); an optional ``mask`` (true = masked out, as
  in NXcanSAS) is honoured.
- ``.xml``: canSAS 1D XML (v1.0/v1.1): ``SASentry/SASdata/Idata`` rows with
  ``Q``, ``I``, ``Idev`` and ``unit`` attributes.
- ``.nc``: netCDF written from an xarray Dataset with ``q``, ``I``, ``sigma``.
- ``.zarr``: an hifft ML dataset (every curve).
- ``.csv``/``.dat``/``.txt``: three whitespace- or comma-separated columns
  ``q I sigma`` (q in 1/Å, I in 1/cm), ``#`` comments.

Units are converted to 1/Å and 1/cm (canSAS spells "1/A"). Every reader
returns an xarray Dataset with coordinate ``q`` and variables ``I``,
``sigma`` (and ``mask``), 1D or with a leading ``sample`` dimension.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import numpy as np

_Q_UNITS = {
    "1/a": 1.0,
    "a^-1": 1.0,
    "a-1": 1.0,
    "1/angstrom": 1.0,
    "angstrom^-1": 1.0,
    "1/å": 1.0,
    "1/nm": 0.1,
    "nm^-1": 0.1,
    "nm-1": 0.1,
    "1/m": 1e-10,
    "m^-1": 1e-10,
}
_I_UNITS = {"1/cm": 1.0, "cm^-1": 1.0, "cm-1": 1.0, "1/m": 0.01, "m^-1": 0.01, "m-1": 0.01}


def _unit_factor(unit: str | bytes | None, table: dict[str, float], what: str, source: str) -> float:
    if unit is None or unit == "":
        return 1.0
    if isinstance(unit, bytes):
        unit = unit.decode()
    u = re.sub(r"\s+", "", str(unit)).lower().replace("{", "").replace("}", "")
    if u in table:
        return table[u]
    if what == "intensity" and u in ("none", "a.u.", "arb", "arbitrary", "counts", "1"):
        return 1.0  # relative scale: the models remove the curve's mean log-intensity
    from ..units import UnitError, convert

    kind = "q" if what == "q" else "intensity"
    try:
        return convert(f"1 {unit}", kind, f"{source}: {what} units")
    except UnitError as exc:
        raise ValueError(f"{source}: cannot use {what} units {unit!r}") from exc


def _dataset(
    q: np.ndarray,
    i: np.ndarray,
    s: np.ndarray | None,
    mask: np.ndarray | None,
    source: str,
    attrs: dict[str, Any] | None = None,
):
    import xarray as xr

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
    ds["q"].attrs["units"] = "1/angstrom"
    ds["I"].attrs["units"] = ds["sigma"].attrs["units"] = "1/cm"
    return ds


def read_nxcansas(path: str | os.PathLike[str]):
    import h5py

    p = Path(path)
    found: list[Any] = []

    def visit(name: str, obj: Any) -> None:
        if found or not isinstance(obj, h5py.Group):
            return
        cls = obj.attrs.get("canSAS_class", obj.attrs.get("NX_class", b""))
        cls = cls.decode() if isinstance(cls, bytes) else str(cls)
        if cls in ("SASdata", "NXdata") and "I" in obj and "Q" in obj:
            found.append(obj)

    with h5py.File(p, "r") as f:
        f.visititems(visit)
        if not found:
            raise ValueError(f"{p}: no NXcanSAS SASdata group with I and Q")
        g = found[0]
        q = g["Q"][()] * _unit_factor(g["Q"].attrs.get("units"), _Q_UNITS, "q", str(p))
        fi = _unit_factor(g["I"].attrs.get("units"), _I_UNITS, "intensity", str(p))
        i = g["I"][()] * fi
        unc = g["I"].attrs.get("uncertainties", "Idev")
        unc = unc.decode() if isinstance(unc, bytes) else str(unc)
        s = g[unc][()] * fi if unc in g else None
        mask = ~g["mask"][()].astype(bool) if "mask" in g else None
        title = ""
        parent = g.parent
        if "title" in parent:
            t = parent["title"][()]
            t = np.ravel(t)[0] if np.ndim(t) else t
            title = t.decode() if isinstance(t, bytes) else str(t)
    return _dataset(q, i, s, mask, str(p), {"title": title, "format": "NXcanSAS"})


def read_cansas_xml(path: str | os.PathLike[str]):
    import xml.etree.ElementTree as ET

    p = Path(path)
    root = ET.parse(p).getroot()

    def local(tag: str) -> str:
        return tag.rsplit("}", 1)[-1]

    sasdata = next((e for e in root.iter() if local(e.tag) == "SASdata"), None)
    if sasdata is None:
        raise ValueError(f"{p}: no SASdata element (not canSAS 1D XML)")
    qs, is_, ss = [], [], []
    uq = ui = None
    for row in sasdata:
        if local(row.tag) != "Idata":
            continue
        vals = {local(c.tag): c for c in row}
        if "Q" not in vals or "I" not in vals:
            continue
        qs.append(float(vals["Q"].text))
        is_.append(float(vals["I"].text))
        ss.append(float(vals["Idev"].text) if "Idev" in vals and vals["Idev"].text else np.nan)
        uq = uq or vals["Q"].get("unit")
        ui = ui or vals["I"].get("unit")
    if not qs:
        raise ValueError(f"{p}: SASdata has no Idata rows with Q and I")
    fq = _unit_factor(uq, _Q_UNITS, "q", str(p))
    fi = _unit_factor(ui, _I_UNITS, "intensity", str(p))
    s = np.asarray(ss) * fi
    title = next((e.text for e in root.iter() if local(e.tag) == "Title"), "") or ""
    return _dataset(
        np.asarray(qs) * fq,
        np.asarray(is_) * fi,
        None if np.all(np.isnan(s)) else s,
        None,
        str(p),
        {"title": title, "format": "canSAS XML"},
    )


def read_text(path: str | os.PathLike[str]):
    p = Path(path)
    rows = []
    for line in p.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        parts = re.split(r"[,\s]+", line)
        try:
            rows.append([float(x) for x in parts[:3]])
        except ValueError:
            continue  # a header line
    a = np.asarray([r for r in rows if len(r) == 3])
    if a.size == 0:
        raise ValueError(f"{p}: no rows of three numbers (q I sigma)")
    return _dataset(a[:, 0], a[:, 1], a[:, 2], None, str(p), {"format": "text"})


def read_curve(path: str | os.PathLike[str]):
    """Curve(s) from ``path`` as an xarray Dataset (see module doc)."""
    import xarray as xr

    p = Path(path)
    if not p.exists():
        raise FileNotFoundError(f"{p}: no such file")
    ext = p.suffix.lower()
    if ext in (".h5", ".hdf5", ".nxs", ".hdf"):
        return read_nxcansas(p)
    if ext == ".xml":
        return read_cansas_xml(p)
    if ext == ".nc":
        ds = xr.load_dataset(p)
        if not {"I", "sigma"} <= set(ds.data_vars) or "q" not in ds.coords:
            raise ValueError(f"{p}: netCDF needs coordinate q and variables I, sigma")
        return ds
    if ext == ".zarr":
        from .dataset import open_dataset

        return open_dataset(p)
    if ext in (".csv", ".dat", ".txt"):
        return read_text(p)
    raise ValueError(f"{p}: unknown curve format {ext!r} (.h5/.nxs NXcanSAS, .xml canSAS, .nc, .zarr, .csv/.dat)")
