"""netCDF and Zarr copies of hifft results (xarray's own writers; attrs made storable), and
:func:`read_netcdf` for curves written that way."""

from __future__ import annotations

import os
from typing import Any

import xarray as xr

from ..atomic import atomic_path
from ..reduce import clean_attrs


def _storable(obj: xr.Dataset | xr.DataArray) -> xr.Dataset:
    ds = obj.to_dataset(name=obj.name or "I") if isinstance(obj, xr.DataArray) else obj.copy()
    ds.attrs = clean_attrs(ds.attrs)
    for name in ds.variables:
        ds[name].attrs = clean_attrs(ds[name].attrs)
    return ds


def to_netcdf(obj: xr.Dataset | xr.DataArray, path: str | os.PathLike, **kw: Any) -> str:
    """Write a result as netCDF4/HDF5 (h5netcdf engine unless ``engine=`` given).

    Units stay in their pint spellings ("1/angstrom", "1/cm"); read back
    with ``xarray.open_dataset(path)``. The file is replaced atomically.
    Returns the path.
    """
    kw.setdefault("engine", "h5netcdf")
    with atomic_path(path) as tmp:
        _storable(obj).to_netcdf(tmp, **kw)
    return os.fspath(path)


def to_zarr(obj: xr.Dataset | xr.DataArray, path: str | os.PathLike, **kw: Any) -> str:
    """Write a result as a Zarr store (``xarray.open_zarr(path)`` reads it). Returns the path."""
    kw.setdefault("mode", "w")
    _storable(obj).to_zarr(os.fspath(path), **kw)
    return os.fspath(path)


def read_netcdf(path: str | os.PathLike[str]) -> xr.Dataset:
    """A 1D curve (or a stack of them) from netCDF, loaded into memory.

    The file must hold coordinate ``q`` and variables ``I`` and ``sigma``, as
    :func:`to_netcdf` writes a :func:`hifft.saxs` result.
    """
    ds = xr.load_dataset(path)
    if not {"I", "sigma"} <= set(ds.data_vars) or "q" not in ds.coords:
        raise ValueError(f"{path}: netCDF needs coordinate q and variables I, sigma")
    return ds
