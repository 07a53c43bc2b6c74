"""canSAS 1D XML: :func:`to_cansas_xml` (v1.1, valid against ``cansas1d_v1_1.xsd``), :func:`read_cansas_xml`.

Written and read with the standard library's ElementTree (the format is a
short, fixed element sequence); sasdata, SasView's loader, reads the
written files back in the tests.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from .. import units
from .._version import __version__
from ..atomic import atomic_path
from .profile import column_factor, curve_dataset, profile_columns

CANSAS_Q = units.CANSAS["q"]
CANSAS_I = units.CANSAS["intensity"]

NS = "urn:cansas1d:1.1"
XSI = "http://www.w3.org/2001/XMLSchema-instance"


def _el(parent: ET.Element, tag: str, text: Any = None, **attrib: str) -> ET.Element:
    e = ET.SubElement(parent, f"{{{NS}}}{tag}", attrib)
    if text is not None:
        e.text = str(text)
    return e


def to_cansas_xml(ds: xr.Dataset, path: str | os.PathLike, title: str | None = None,
                  radiation: str = "x-ray") -> str:
    """Write ``ds`` (coord ``q``; ``I``, ``sigma``, ``q_std``) as canSAS 1D XML 1.1.

    Q in 1/A (Qdev = ``q_std``), I in 1/cm (Idev = ``sigma``); empty bins are
    dropped; ``ds.attrs`` go into SASprocess terms. The file is replaced
    atomically. Returns the path.
    """
    cols = profile_columns(ds)
    if cols["Q"].size == 0:
        raise ValueError("to_cansas_xml: the profile has no finite points")
    path = os.fspath(path)
    title = title or str(ds.attrs.get("title", "hifft I(q)"))
    ET.register_namespace("", NS)
    ET.register_namespace("xsi", XSI)
    root = ET.Element(f"{{{NS}}}SASroot", {
        "version": "1.1", f"{{{XSI}}}schemaLocation":
        f"{NS} http://www.cansas.org/formats/1.1/cansas1d.xsd"})
    entry = _el(root, "SASentry", name="hifft")
    _el(entry, "Title", title)
    _el(entry, "Run", str(ds.attrs.get("run", "hifft")))
    data = _el(entry, "SASdata", name="I(q)")
    for k in range(cols["Q"].size):
        idata = _el(data, "Idata")
        _el(idata, "Q", repr(float(cols["Q"][k])), unit=CANSAS_Q)
        _el(idata, "I", repr(float(cols["I"][k])), unit=CANSAS_I)
        if "Idev" in cols:
            _el(idata, "Idev", repr(float(cols["Idev"][k])), unit=CANSAS_I)
        if "Qdev" in cols:
            _el(idata, "Qdev", repr(float(cols["Qdev"][k])), unit=CANSAS_Q)
    sample = _el(entry, "SASsample")
    _el(sample, "ID", str(ds.attrs.get("sample", title)))
    inst = _el(entry, "SASinstrument")
    _el(inst, "name", "hifft simulation (FFT of a voxelized density)")
    src = _el(inst, "SASsource")
    _el(src, "radiation", radiation)
    _el(inst, "SAScollimation")
    det = _el(inst, "SASdetector")
    _el(det, "name", "none (simulated)")
    proc = _el(entry, "SASprocess")
    _el(proc, "name", "hifft")
    _el(proc, "date", _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"))
    _el(proc, "description", f"hifft {__version__}: {ds.attrs.get('reduction', 'reduction')}")
    for key, val in sorted(ds.attrs.items()):
        _el(proc, "term", json.dumps(val, default=str), name=str(key))
    _el(proc, "SASprocessnote", "q: mean |q| per bin; Qdev: rms spread of |q| in the bin; "
        "Idev: max(SEM, e_min*I)")
    _el(entry, "SASnote", "written by hifft")
    tree = ET.ElementTree(root)
    ET.indent(tree)
    with atomic_path(path) as tmp:
        tree.write(tmp, encoding="UTF-8", xml_declaration=True)
    return path


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def read_cansas_xml(path: str | os.PathLike[str]) -> xr.Dataset:
    """A 1D curve from a canSAS 1D XML file (v1.0 or v1.1), in 1/Å and 1/cm.

    Reads the ``Idata`` rows (``Q``, ``I``, ``Idev`` with ``unit``
    attributes) of the first ``SASentry/SASdata``. Returns a Dataset with
    coord ``q`` and variables ``I``, ``sigma``, ``mask``; ``attrs`` hold
    ``title``, ``format``, ``source``.
    """
    p = Path(path)
    root = ET.parse(p).getroot()
    sasdata = next((e for e in root.iter() if _local(e.tag) == "SASdata"), None)
    if sasdata is None:
        raise ValueError(f"{p}: no SASdata element (not canSAS 1D XML)")
    qs, is_, ss = [], [], []
    uq = ui = None
    for row in sasdata:
        if _local(row.tag) != "Idata":
            continue
        vals = {_local(c.tag): c for c in row}
        if "Q" not in vals or "I" not in vals:
            continue
        qs.append(float(vals["Q"].text))
        is_.append(float(vals["I"].text))
        ss.append(float(vals["Idev"].text) if "Idev" in vals and vals["Idev"].text else np.nan)
        uq = uq or vals["Q"].get("unit")
        ui = ui or vals["I"].get("unit")
    if not qs:
        raise ValueError(f"{p}: SASdata has no Idata rows with Q and I")
    fq = column_factor(uq, "q", str(p))
    fi = column_factor(ui, "intensity", str(p))
    s = np.asarray(ss) * fi
    title = next((e.text for e in root.iter() if _local(e.tag) == "Title"), "") or ""
    return curve_dataset(
        np.asarray(qs) * fq,
        np.asarray(is_) * fi,
        None if np.all(np.isnan(s)) else s,
        None,
        str(p),
        {"title": title, "format": "canSAS XML"},
    )
