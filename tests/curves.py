"""A small absolute-scale 1D curve (a Lorentzian-squared profile) shared by the reader tests."""

from __future__ import annotations

import numpy as np
import xarray as xr

Q = np.geomspace(0.005, 0.4, 120)
I = 3.0 / (1 + (Q * 80) ** 2) ** 2 + 0.01
SIG = 0.02 * I


def curve() -> xr.Dataset:
    """I(q), sigma on q in 1/Å, intensities in 1/cm, as hifft's writers expect."""
    ds = xr.Dataset({"I": ("q", I), "sigma": ("q", SIG)}, coords={"q": Q})
    ds["q"].attrs["units"] = "1/angstrom"
    ds["I"].attrs["units"] = ds["sigma"].attrs["units"] = "1/cm"
    return ds
