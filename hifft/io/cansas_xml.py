"""canSAS 1D XML (v1.1) export of a 1D profile, valid against ``cansas1d_v1_1.xsd``.

Written with the standard library's ElementTree (the format is a short,
fixed element sequence); sasdata, SasView's loader, reads it back in the tests.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import xml.etree.ElementTree as ET
from typing import Any

import xarray as xr

from .._version import __version__
from ._units import CANSAS_I, CANSAS_Q, profile_columns

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
    dropped; ``ds.attrs`` go into SASprocess terms. Returns the path.
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
    tree.write(path, encoding="UTF-8", xml_declaration=True)
    return path
