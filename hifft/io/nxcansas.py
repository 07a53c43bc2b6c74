"""NXcanSAS (HDF5) 1D profiles: :func:`to_nxcansas` (readable by SasView) and :func:`read_nxcansas`.

Written and read with h5py directly rather than through sasdata's
``NXcanSASWriter``/reader: sasdata is SasView's optional stack, it works on
its ``Data1D`` objects, and it has no place for hifft's provenance; sasdata
reads the files back in the tests.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import xarray as xr

from .. import units
from .._version import __version__
from ..atomic import atomic_path
from .profile import column_factor, curve_dataset, profile_columns

CANSAS_Q = units.CANSAS["q"]
CANSAS_I = units.CANSAS["intensity"]


def _s(text: Any) -> np.ndarray:
    """A fixed-length byte string dataset value (what sasdata's reader decodes)."""
    return np.array([np.bytes_(str(text))])


def to_nxcansas(ds: xr.Dataset, path: str | os.PathLike, title: str | None = None,
                radiation: str | None = None) -> str:
    """Write ``ds`` (coord ``q``; ``I``, ``sigma``, ``q_std``) as NXcanSAS HDF5.

    Q in 1/A with Qdev = ``q_std`` as its resolution; I in 1/cm with Idev =
    ``sigma`` as its uncertainty. Empty bins (non-finite Q/I) are dropped.
    ``ds.attrs`` are kept in a SASprocess group. The file is replaced
    atomically. Returns the path.
    """
    cols = profile_columns(ds)
    if cols["Q"].size == 0:
        raise ValueError("to_nxcansas: the profile has no finite points")
    path = os.fspath(path)
    title = title or str(ds.attrs.get("title", "hifft I(q)"))
    with atomic_path(path) as tmp, h5py.File(tmp, "w") as f:
        f.attrs["default"] = "sasentry01"
        f.attrs["NX_class"] = "NXroot"
        f.attrs["creator"] = f"hifft {__version__}"
        f.attrs["file_name"] = os.path.basename(path)
        f.attrs["file_time"] = _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds")
        e = f.create_group("sasentry01")
        e.attrs.update({"NX_class": "NXentry", "canSAS_class": "SASentry", "version": "1.1",
                        "default": "sasdata01"})
        e["definition"] = _s("NXcanSAS")
        e["title"] = _s(title)
        e["run"] = _s(ds.attrs.get("run", "hifft"))
        e["run"].attrs["name"] = str(ds.attrs.get("run", "hifft"))

        d = e.create_group("sasdata01")
        d.attrs.update({"NX_class": "NXdata", "canSAS_class": "SASdata", "signal": "I",
                        "I_axes": "Q", "Q_indices": np.array([0], dtype=np.int32)})
        q = d.create_dataset("Q", data=cols["Q"])
        q.attrs["units"] = CANSAS_Q
        i = d.create_dataset("I", data=cols["I"])
        i.attrs["units"] = CANSAS_I
        if "Idev" in cols:
            i.attrs["uncertainties"] = "Idev"
            d.create_dataset("Idev", data=cols["Idev"]).attrs["units"] = CANSAS_I
        if "Qdev" in cols:
            q.attrs["resolutions"] = "Qdev"
            d.create_dataset("Qdev", data=cols["Qdev"]).attrs["units"] = CANSAS_Q

        s = e.create_group("sassample")
        s.attrs.update({"NX_class": "NXsample", "canSAS_class": "SASsample"})
        s["ID"] = _s(ds.attrs.get("sample", title))

        ins = e.create_group("sasinstrument")
        ins.attrs.update({"NX_class": "NXinstrument", "canSAS_class": "SASinstrument"})
        ins["name"] = _s("hifft simulation (FFT of a voxelized density)")
        src = ins.create_group("sassource")
        src.attrs.update({"NX_class": "NXsource", "canSAS_class": "SASsource"})
        if radiation:
            src["radiation"] = _s(radiation)
        col = ins.create_group("sascollimation01")
        col.attrs.update({"NX_class": "NXcollimator", "canSAS_class": "SAScollimation"})
        det = ins.create_group("sasdetector01")
        det.attrs.update({"NX_class": "NXdetector", "canSAS_class": "SASdetector"})
        det["name"] = _s("none (simulated)")

        p = e.create_group("sasprocess01")
        p.attrs.update({"NX_class": "NXprocess", "canSAS_class": "SASprocess"})
        p["name"] = _s("hifft")
        p["date"] = _s(_dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"))
        p["description"] = _s(str(ds.attrs.get("reduction", "hifft reduction")))
        for k, (key, val) in enumerate(sorted(ds.attrs.items()), start=1):
            p[f"term{k:02d}"] = _s(f"{key}={json.dumps(val, default=str)}")
        n = e.create_group("sasnote01")
        n.attrs.update({"NX_class": "NXnote", "canSAS_class": "SASnote"})
        n["SASnote"] = _s("q: mean |q| per bin; Qdev: rms spread of |q| in the bin; "
                          "Idev: max(SEM, e_min*I)")
    return path


def _text_attr(obj: Any, *names: str, default: str = "") -> str:
    """The first of ``names`` among ``obj``'s attributes, decoded (older files say ``unit``, newer ``units``)."""
    for n in names:
        if n in obj.attrs:
            v = obj.attrs[n]
            v = np.ravel(v)[0] if np.ndim(v) else v
            return v.decode() if isinstance(v, bytes) else str(v)
    return default


def _sasdata_groups(f: h5py.File) -> list[tuple[str, Any]]:
    """(path, group) of every SASdata (or NXdata) group holding ``I``, in file order."""
    found: list[tuple[str, Any]] = []

    def visit(name: str, obj: Any) -> None:
        if isinstance(obj, h5py.Group) and "I" in obj:
            cls = _text_attr(obj, "canSAS_class") or _text_attr(obj, "NX_class")
            if cls in ("SASdata", "NXdata"):
                found.append((name, obj))

    f.visititems(visit)
    return found


def nxcansas_entries(path: str | os.PathLike[str]) -> list[str]:
    """HDF5 paths of the SASdata groups of an NXcanSAS file (the labels ``entry=`` takes)."""
    with h5py.File(path, "r") as f:
        return [name for name, _ in _sasdata_groups(f)]


def read_nxcansas(
    path: str | os.PathLike[str], entry: int | str | None = None, negative: str = "error"
) -> xr.Dataset:
    """A 1D curve from an NXcanSAS file (HDF5), in 1/Å and 1/cm.

    Reads one group marked ``canSAS_class="SASdata"`` (or
    ``NX_class="NXdata"``) holding ``I`` and ``Q``: ``entry`` is its index or
    HDF5 path (:func:`nxcansas_entries`); several and no ``entry`` is an error
    listing them. 2D data (``Qx``/``Qy`` or a 2D ``I``) is refused. The
    uncertainty is the dataset named by ``I``'s ``uncertainties`` (or older
    ``uncertainty``) attribute, default ``Idev`` (estimated when absent, see
    :func:`hifft.io.profile.curve_dataset`); Q's ``resolutions`` (default
    ``Qdev``) becomes ``q_std``; an optional ``mask`` (true = masked out, as
    in NXcanSAS) is honoured. Returns a Dataset with coord ``q`` and variables
    ``I``, ``sigma``, ``mask`` (true = used); ``attrs`` hold ``title``,
    ``entry``, ``format``, ``source``.
    """
    from .cansas_xml import select_entry

    p = Path(path)
    with h5py.File(p, "r") as f:
        found = _sasdata_groups(f)
        if not found:
            raise ValueError(f"{p}: no NXcanSAS SASdata group with I")
        k = select_entry([name for name, _ in found], entry, str(p))
        name, g = found[k]
        src = f"{p} [entry {name!r}]" if len(found) > 1 else str(p)
        if "Qx" in g or "Qy" in g or g["I"].ndim > 1:
            raise ValueError(f"{src}: 2D data (I has shape {g['I'].shape}, Qx/Qy); hifft reads 1D curves I(q) only")
        if "Q" not in g:
            raise ValueError(f"{src}: SASdata has I but no Q")
        fq = column_factor(_text_attr(g["Q"], "units", "unit") or None, "q", src)
        fi = column_factor(_text_attr(g["I"], "units", "unit") or None, "intensity", src)
        q = g["Q"][()] * fq
        i = g["I"][()] * fi
        unc = _text_attr(g["I"], "uncertainties", "uncertainty", default="Idev")
        s = g[unc][()] * fi if unc in g else None
        res = _text_attr(g["Q"], "resolutions", "resolution", default="Qdev")
        dq = g[res][()] * fq if res in g and g[res].shape == g["Q"].shape else None
        mask = ~g["mask"][()].astype(bool) if "mask" in g else None
        title = ""
        parent = g.parent
        if "title" in parent:
            t = parent["title"][()]
            t = np.ravel(t)[0] if np.ndim(t) else t
            title = t.decode() if isinstance(t, bytes) else str(t)
    return curve_dataset(
        q, i, s, mask, src, {"title": title, "entry": name, "format": "NXcanSAS"}, dq=dq, negative=negative
    )
