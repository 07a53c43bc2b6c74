"""Unit spelling for exports: pint spellings inside hifft, canSAS spellings on disk."""

from __future__ import annotations

from typing import Any

import numpy as np
import xarray as xr

from .. import units

#: canSAS spellings of hifft's internal units ("1/A" would parse as 1/ampere in pint,
#: so it appears only here, in files written for SasView).
CANSAS_Q = "1/A"
CANSAS_I = "1/cm"


def values_in(da: xr.DataArray, kind: str) -> np.ndarray:
    """Values of ``da`` in hifft's internal unit of ``kind`` ("q" or "intensity").

    Reads the pint-spelled ``units`` attr (absent: already internal).
    """
    u = da.attrs.get("units")
    v = np.asarray(da.values, dtype=np.float64)
    if not u:
        return v
    return v * units.factor(str(u), kind)


def profile_columns(ds: Any) -> dict[str, np.ndarray]:
    """Q, I, Idev, Qdev columns (1/Å, 1/cm) of a 1D profile, rows with non-finite Q or I dropped.

    ``ds`` is a Dataset with coord ``q`` and variables ``I`` (and optionally
    ``sigma``, ``q_std``), e.g. from :func:`hifft.saxs` or :func:`hifft.azimuthal`.
    """
    if not isinstance(ds, xr.Dataset) or "I" not in ds or "q" not in ds.coords:
        raise TypeError("expected an xarray.Dataset with coord 'q' and variable 'I' "
                        "(hifft.saxs output)")
    if ds["I"].dims != ("q",):
        raise ValueError(f"expected a 1D profile I(q); got I with dims {ds['I'].dims}")
    cols = {"Q": values_in(ds["q"], "q"), "I": values_in(ds["I"], "intensity")}
    if "sigma" in ds:
        cols["Idev"] = values_in(ds["sigma"], "intensity")
    if "q_std" in ds:
        cols["Qdev"] = values_in(ds["q_std"], "q")
    good = np.isfinite(cols["Q"]) & np.isfinite(cols["I"])
    for k in ("Idev", "Qdev"):
        if k in cols:
            good &= np.isfinite(cols[k])
    return {k: v[good] for k, v in cols.items()}
