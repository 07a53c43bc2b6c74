"""Exports: NXcanSAS and canSAS XML (for SasView), netCDF/Zarr, PNG plots.

Only the canSAS writers translate units to canSAS spellings ("1/A", "1/cm");
netCDF/Zarr keep hifft's pint spellings ("1/angstrom", "1/cm").
"""

from __future__ import annotations

from typing import Any

from .cansas_xml import to_cansas_xml
from .netcdf import to_netcdf, to_zarr
from .nxcansas import to_nxcansas

__all__ = ["to_nxcansas", "to_cansas_xml", "to_netcdf", "to_zarr", "plot_iq", "plot_image"]


def __getattr__(name: str) -> Any:  # matplotlib only when plotting
    if name in ("plot_iq", "plot_image"):
        from . import plots

        return getattr(plots, name)
    raise AttributeError(f"module 'hifft.io' has no attribute {name!r}")
