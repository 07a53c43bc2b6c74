"""Readers and writers per format: NXcanSAS and canSAS XML (for SasView), text, netCDF/Zarr,
PNG plots.

Only the canSAS writers translate units to canSAS spellings ("1/A", "1/cm");
netCDF/Zarr keep hifft's pint spellings ("1/angstrom", "1/cm"). Readers
convert what they find to 1/Å and 1/cm (:func:`hifft.units.file_factor`) and
return a Dataset with coordinate ``q`` and variables ``I``, ``sigma``,
``mask``.
"""

from __future__ import annotations

from typing import Any

from .cansas_xml import read_cansas_xml, to_cansas_xml
from .netcdf import read_netcdf, to_netcdf, to_zarr
from .nxcansas import read_nxcansas, to_nxcansas
from .text import read_text

__all__ = [
    "to_nxcansas",
    "to_cansas_xml",
    "to_netcdf",
    "to_zarr",
    "plot_iq",
    "plot_image",
    "read_nxcansas",
    "read_cansas_xml",
    "read_netcdf",
    "read_text",
]


def __getattr__(name: str) -> Any:  # matplotlib only when plotting
    if name in ("plot_iq", "plot_image"):
        from . import plots

        return getattr(plots, name)
    raise AttributeError(f"module 'hifft.io' has no attribute {name!r}")
