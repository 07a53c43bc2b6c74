"""Plain-text 1D curves: columns ``q I sigma`` (1/Å, 1/cm), whitespace or comma separated."""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np
import xarray as xr

from .profile import curve_dataset


def read_text(path: str | os.PathLike[str]) -> xr.Dataset:
    """A 1D curve from a text file of rows ``q I sigma`` (q in 1/Å, I and sigma in 1/cm).

    ``#`` starts a comment; lines that are not numbers (headers) are skipped,
    as are rows without three numbers. Returns a Dataset with coord ``q`` and
    variables ``I``, ``sigma``, ``mask``.
    """
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
    return curve_dataset(a[:, 0], a[:, 1], a[:, 2], None, str(p), {"format": "text"})
