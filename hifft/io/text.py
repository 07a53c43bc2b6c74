"""Plain-text 1D curves: columns ``q I [σ [dQ]]``, whitespace, tab or comma separated.

What a text file holds is guessed as little as possible:

- Lines that are not all numbers (titles, column names) and numeric lines
  before the data whose column count differs from the data's (instrument
  headers, a point count) are headers; the data are the rows with the most
  common count of numbers (2, 3 or 4). Any other line after the data starts
  is an error naming the line (a ``NaN``, ``-1.#IND`` or a stray row).
- ``#`` starts a comment.
- Two columns: σ is estimated (:func:`hifft.io.profile.estimate_sigma`),
  with a warning and ``attrs["sigma_estimated"]``; four columns: the fourth
  is dQ (kept as ``q_std``).
- Units: a header naming them (``q (1/nm)``, ``Q [A^-1]``, ``<X> (nm-1)``)
  or the caller's ``q_unit``/``i_unit``; otherwise q is in 1/Å and I in 1/cm,
  and a file whose q reaches past 1 /Å (where 1/nm data lie) is refused
  rather than guessed: state ``q_unit``.
- 2D data (``Qx Qy I err``: a header naming Qx/Qy, or a 4-column file whose
  first column is negative or repeats on a grid) is refused as 2D.
"""

from __future__ import annotations

import os
import re
from collections import Counter
from pathlib import Path

import numpy as np
import xarray as xr

from .profile import column_factor, curve_dataset

#: q beyond this (1/Å) without stated units is taken for 1/nm data and refused.
Q_MAX_ANGSTROM = 1.0

_SPLIT = re.compile(r"[,;\s]+")
_UNIT = re.compile(r"[\[(]\s*([^\])]+?)\s*[\])]")
_Q_UNITS = {
    "1/a": "1/angstrom", "a^-1": "1/angstrom", "a-1": "1/angstrom", "1/å": "1/angstrom", "å^-1": "1/angstrom",
    "å-1": "1/angstrom", "1/angstrom": "1/angstrom", "a^{-1}": "1/angstrom",
    "1/nm": "1/nm", "nm^-1": "1/nm", "nm-1": "1/nm", "nm^{-1}": "1/nm",
}


def _numbers(line: str) -> list[float] | None:
    parts = [x for x in _SPLIT.split(line.strip()) if x]
    try:
        return [float(x) for x in parts]
    except ValueError:
        return None


def _header_q_unit(headers: list[str]) -> str | None:
    """The q unit named in a header line (``q (1/nm)``, ``Q [A^-1]``), or None."""
    for h in headers:
        for u in _UNIT.findall(h):
            key = u.strip().lower().replace(" ", "")
            if key in _Q_UNITS:
                return _Q_UNITS[key]
    return None


def read_text(
    path: str | os.PathLike[str],
    q_unit: str | None = None,
    i_unit: str | None = None,
    negative: str = "error",
) -> xr.Dataset:
    """A 1D curve from a text file of rows ``q I [σ [dQ]]`` (see the module doc for the rules).

    ``q_unit`` (e.g. ``"1/nm"``) and ``i_unit`` (e.g. ``"1/m"``, ``"counts"``)
    state the file's units and override a header; ``negative``: ``"error"``
    refuses negative intensities, ``"mask"`` leaves them out (mask false).
    Returns a Dataset with coord ``q`` (1/Å), variables ``I``, ``sigma``
    (1/cm), ``mask``, and ``q_std`` when the file has dQ.
    """
    p = Path(path)
    src = str(p)
    text = p.read_text(errors="replace")
    if not text.strip():
        raise ValueError(f"{src}: empty file")
    lines = text.splitlines()
    parsed: list[tuple[int, str, list[float] | None]] = []
    for n, raw in enumerate(lines, start=1):
        line = raw.split("#", 1)[0].strip()
        if line:
            parsed.append((n, line, _numbers(line)))
    counts = Counter(len(v) for _, _, v in parsed if v is not None and len(v) >= 2)
    if not counts:
        raise ValueError(f"{src}: no rows of numbers (q I [σ [dQ]])")
    ncol = counts.most_common(1)[0][0]
    # the data: the longest run of consecutive rows of ncol numbers (a numeric header line of
    # the same count, e.g. ISIS "0 0 0 0", is separated from it by a non-numeric line)
    runs: list[tuple[int, int]] = []
    for k, (_, _, v) in enumerate(parsed):
        if v is not None and len(v) == ncol:
            if runs and runs[-1][1] == k:
                runs[-1] = (runs[-1][0], k + 1)
            else:
                runs.append((k, k + 1))
    first = max(runs, key=lambda r: r[1] - r[0])[0]
    headers = [line for _, line, _ in parsed[:first]]
    header_text = " ".join(headers).lower()
    if re.search(r"\bq_?x\b", header_text) and re.search(r"\bq_?y\b", header_text):
        raise ValueError(f"{src}: 2D data (the header names Qx and Qy); hifft reads 1D curves I(q) only")
    rows, nums = [], []
    for n, line, v in parsed[first:]:
        if v is None or len(v) != ncol:
            raise ValueError(
                f"{src}: line {n} ({line[:40]!r}) is not a row of {ncol} numbers like the data before it"
            )
        rows.append(n)
        nums.append(v)
    a = np.asarray(nums, dtype=np.float64)
    if ncol > 4:
        raise ValueError(f"{src}: rows of {ncol} numbers; expected q I [σ [dQ]] (2 to 4 columns)")
    if ncol == 4 and ((a[:, 0] < 0).any() or np.unique(a[:, 0]).size < a.shape[0] // 2):
        raise ValueError(
            f"{src}: looks like 2D data (4 columns, the first negative or repeating: Qx Qy I err); "
            "hifft reads 1D curves I(q) only"
        )
    unit_q = q_unit or _header_q_unit(headers)
    if unit_q is None and np.nanmax(a[:, 0]) > Q_MAX_ANGSTROM:
        raise ValueError(
            f"{src}: q reaches {np.nanmax(a[:, 0]):.4g} with no unit stated: 1/nm data? "
            "Pass q_unit='1/nm' (or q_unit='1/angstrom' to confirm)"
        )
    fq = column_factor(unit_q, "q", src)
    fi = column_factor(i_unit, "intensity", src)
    attrs = {"format": "text", "q_unit_in_file": unit_q or "1/angstrom (default: none stated)"}
    return curve_dataset(
        a[:, 0] * fq,
        a[:, 1] * fi,
        a[:, 2] * fi if ncol >= 3 else None,
        None,
        src,
        attrs,
        dq=a[:, 3] * fq if ncol == 4 else None,
        rows=np.asarray(rows),
        negative=negative,
    )
