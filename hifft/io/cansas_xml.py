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


def _entries(root: ET.Element) -> list[tuple[str, ET.Element, ET.Element]]:
    """(label, SASentry, SASdata) for every SASdata of every SASentry, in file order."""
    out = []
    entries = [e for e in root.iter() if _local(e.tag) == "SASentry"]
    for k, e in enumerate(entries):
        title = next((c.text for c in e if _local(c.tag) == "Title" and c.text), None)
        ename = e.get("name") or (title.strip() if title else f"entry{k}")
        datas = [d for d in e if _local(d.tag) == "SASdata"]
        for j, d in enumerate(datas):
            label = ename if len(datas) == 1 else f"{ename}/{d.get('name') or f'data{j}'}"
            out.append((label, e, d))
    return out


def cansas_xml_entries(path: str | os.PathLike[str]) -> list[str]:
    """Labels of the curves (one per SASentry/SASdata) of a canSAS XML file, for ``entry=``."""
    return [lab for lab, _, _ in _entries(ET.parse(path).getroot())]


def select_entry(labels: list[str], entry: int | str | None, source: str) -> int:
    """Index of ``entry`` (an index or a label) among ``labels``; None only when there is one.

    A file with several curves and no choice is an error listing them.
    """
    listing = "; ".join(f"{k}: {lab!r}" for k, lab in enumerate(labels[:10]))
    if len(labels) > 10:
        listing += f"; ... {len(labels) - 10} more"
    if entry is None:
        if len(labels) == 1:
            return 0
        raise ValueError(f"{source}: {len(labels)} curves in the file; choose one with entry= ({listing})")
    if isinstance(entry, int) or (isinstance(entry, str) and entry.isdigit()):
        k = int(entry)
        if not 0 <= k < len(labels):
            raise ValueError(f"{source}: no entry {k} ({listing})")
        return k
    if entry in labels:
        return labels.index(entry)
    raise ValueError(f"{source}: no entry {entry!r} ({listing})")


def read_cansas_xml(
    path: str | os.PathLike[str], entry: int | str | None = None, negative: str = "error"
) -> xr.Dataset:
    """A 1D curve from a canSAS 1D XML file (v1.0 or v1.1), in 1/Å and 1/cm.

    Reads the ``Idata`` rows (``Q``, ``I``, ``Idev``, ``Qdev`` with ``unit``
    attributes) of one ``SASentry/SASdata``: ``entry`` is its index or label
    (:func:`cansas_xml_entries`); a file with several and no ``entry`` is an
    error listing them. 2D data (``Qx``/``Qy`` rows) is refused. Without
    ``Idev`` σ is estimated (see :func:`hifft.io.profile.curve_dataset`);
    ``Qdev`` becomes ``q_std``; ``negative`` as in ``curve_dataset``.
    Returns a Dataset with coord ``q`` and variables ``I``, ``sigma``,
    ``mask``; ``attrs`` hold ``title``, ``entry``, ``format``, ``source``.
    """
    p = Path(path)
    root = ET.parse(p).getroot()
    found = _entries(root)
    if not found:
        raise ValueError(f"{p}: no SASdata element (not canSAS 1D XML)")
    k = select_entry([lab for lab, _, _ in found], entry, str(p))
    label, sasentry, sasdata = found[k]
    src = f"{p} [entry {label!r}]" if len(found) > 1 else str(p)
    cols: dict[str, list[float]] = {"Q": [], "I": [], "Idev": [], "Qdev": []}
    unit: dict[str, str | None] = {}
    rows = [r for r in sasdata if _local(r.tag) == "Idata"]
    if any(_local(c.tag) in ("Qx", "Qy") for r in rows[:1] for c in r):
        raise ValueError(f"{src}: 2D data (Idata rows hold Qx, Qy); hifft reads 1D curves I(q) only")
    for r in rows:
        vals = {_local(c.tag): c for c in r}
        if "Q" not in vals or "I" not in vals:
            continue
        for name in cols:
            c = vals.get(name)
            cols[name].append(float(c.text) if c is not None and c.text and c.text.strip() else np.nan)
            if c is not None:
                unit.setdefault(name, c.get("unit"))
    if not cols["Q"]:
        raise ValueError(f"{src}: SASdata has no Idata rows with Q and I")
    fq = column_factor(unit.get("Q"), "q", src)
    fi = column_factor(unit.get("I"), "intensity", src)
    s = np.asarray(cols["Idev"]) * column_factor(unit.get("Idev", unit.get("I")), "intensity", src)
    dq = np.asarray(cols["Qdev"]) * column_factor(unit.get("Qdev", unit.get("Q")), "q", src)
    title = next((c.text for c in sasentry if _local(c.tag) == "Title"), "") or ""
    return curve_dataset(
        np.asarray(cols["Q"]) * fq,
        np.asarray(cols["I"]) * fi,
        None if np.all(np.isnan(s)) else s,
        None,
        src,
        {"title": title.strip(), "entry": label, "format": "canSAS XML"},
        dq=None if np.all(np.isnan(dq)) else dq,
        negative=negative,
    )
