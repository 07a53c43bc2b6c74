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


def read_nxcansas(path: str | os.PathLike[str]) -> xr.Dataset:
    """A 1D curve from an NXcanSAS file (HDF5), in 1/Å and 1/cm.

    Reads the first group marked ``canSAS_class="SASdata"`` (or
    ``NX_class="NXdata"``) that holds ``I`` and ``Q``; the uncertainty is the
    dataset named by ``I``'s ``uncertainties`` attribute (default ``Idev``);
    an optional ``mask`` (true = masked out, as in NXcanSAS) is honoured.
    Returns a Dataset with coord ``q`` and variables ``I``, ``sigma``,
    ``mask`` (true = used); ``attrs`` hold ``title``, ``format``, ``source``.
    """
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
        q = g["Q"][()] * column_factor(g["Q"].attrs.get("units"), "q", str(p))
        fi = column_factor(g["I"].attrs.get("units"), "intensity", str(p))
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
    return curve_dataset(q, i, s, mask, str(p), {"title": title, "format": "NXcanSAS"})
