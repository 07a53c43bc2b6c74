"""Pick the reader for a measured or exported 1D curve by its file type.

The readers live beside their writers in :mod:`hifft.io`; this module only
dispatches on the extension:

- ``.h5``/``.hdf5``/``.hdf``/``.nxs``: NXcanSAS (:func:`hifft.io.read_nxcansas`).
- ``.xml``: canSAS 1D XML v1.0/v1.1 (:func:`hifft.io.read_cansas_xml`).
- ``.nc``: netCDF with ``q``, ``I``, ``sigma`` (:func:`hifft.io.read_netcdf`).
- ``.zarr``: an hifft ML dataset, every curve (:func:`hifft.ml.dataset.open_dataset`).
- ``.csv``/``.dat``/``.txt``: columns ``q I [σ [dQ]]`` (:func:`hifft.io.read_text`).

Options pass through where the format has them: ``entry`` picks one curve
of a file holding several (NXcanSAS, canSAS XML; the error without it
lists them), ``q_unit``/``i_unit`` state a text file's units, ``negative``
(``"error"`` or ``"mask"``) says what to do with negative intensities.
A curve read without σ has it estimated (``attrs["sigma_estimated"]``).

Every reader returns an xarray Dataset with coordinate ``q`` (1/Å) and
variables ``I``, ``sigma`` (1/cm) (and ``mask``), 1D or with a leading
``sample`` dimension.
"""

from __future__ import annotations

import os
from pathlib import Path

import xarray as xr

from ..io import read_cansas_xml, read_netcdf, read_nxcansas, read_text


def read_curve(
    path: str | os.PathLike[str],
    entry: int | str | None = None,
    q_unit: str | None = None,
    i_unit: str | None = None,
    negative: str = "error",
) -> xr.Dataset:
    """Curve(s) from ``path`` as an xarray Dataset (see module doc); an option the format lacks is an error."""
    p = Path(path)
    if not p.exists():
        raise FileNotFoundError(f"{p}: no such file")
    ext = p.suffix.lower()

    def refuse(*names: str) -> None:
        given = {"entry": entry, "q_unit": q_unit, "i_unit": i_unit}
        bad = [n for n in names if given[n] is not None]
        if bad:
            raise ValueError(f"{p}: option(s) {', '.join(bad)} do not apply to {ext} files")

    if ext in (".h5", ".hdf5", ".nxs", ".hdf"):
        refuse("q_unit", "i_unit")
        return read_nxcansas(p, entry=entry, negative=negative)
    if ext == ".xml":
        refuse("q_unit", "i_unit")
        return read_cansas_xml(p, entry=entry, negative=negative)
    if ext in (".csv", ".dat", ".txt"):
        refuse("entry")
        return read_text(p, q_unit=q_unit, i_unit=i_unit, negative=negative)
    refuse("entry", "q_unit", "i_unit")
    if ext == ".nc":
        return read_netcdf(p)
    if ext == ".zarr":
        from .dataset import open_dataset

        return open_dataset(p)
    raise ValueError(f"{p}: unknown curve format {ext!r} (.h5/.nxs NXcanSAS, .xml canSAS, .nc, .zarr, .csv/.dat)")


__all__ = ["read_curve"]
