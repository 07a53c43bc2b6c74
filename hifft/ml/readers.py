"""Pick the reader for a measured or exported 1D curve by its file type.

The readers live beside their writers in :mod:`hifft.io`; this module only
dispatches on the extension:

- ``.h5``/``.hdf5``/``.hdf``/``.nxs``: NXcanSAS (:func:`hifft.io.read_nxcansas`).
- ``.xml``: canSAS 1D XML v1.0/v1.1 (:func:`hifft.io.read_cansas_xml`).
- ``.nc``: netCDF with ``q``, ``I``, ``sigma`` (:func:`hifft.io.read_netcdf`).
- ``.zarr``: an hifft ML dataset, every curve (:func:`hifft.ml.dataset.open_dataset`).
- ``.csv``/``.dat``/``.txt``: columns ``q I sigma`` (:func:`hifft.io.read_text`).

Every reader returns an xarray Dataset with coordinate ``q`` (1/Å) and
variables ``I``, ``sigma`` (1/cm) (and ``mask``), 1D or with a leading
``sample`` dimension.
"""

from __future__ import annotations

import os
from pathlib import Path

import xarray as xr

from ..io import read_cansas_xml, read_netcdf, read_nxcansas, read_text


def read_curve(path: str | os.PathLike[str]) -> xr.Dataset:
    """Curve(s) from ``path`` as an xarray Dataset (see module doc)."""
    p = Path(path)
    if not p.exists():
        raise FileNotFoundError(f"{p}: no such file")
    ext = p.suffix.lower()
    if ext in (".h5", ".hdf5", ".nxs", ".hdf"):
        return read_nxcansas(p)
    if ext == ".xml":
        return read_cansas_xml(p)
    if ext == ".nc":
        return read_netcdf(p)
    if ext == ".zarr":
        from .dataset import open_dataset

        return open_dataset(p)
    if ext in (".csv", ".dat", ".txt"):
        return read_text(p)
    raise ValueError(f"{p}: unknown curve format {ext!r} (.h5/.nxs NXcanSAS, .xml canSAS, .nc, .zarr, .csv/.dat)")


__all__ = ["read_curve"]
