"""Detector images from files for the classifier, checked where they enter (no torch).

Formats, by extension:

- ``.npy``: one image (rows, cols) or a stack (n, rows, cols);
- ``.tif``/``.tiff``: one page or a multi-page stack (tifffile);
- ``.h5``/``.hdf5``/``.cxi``/``.nxs``: the HDF5 dataset ``dataset=`` (e.g.
  ``entry_1/data_1/data`` in CXI files); without it the file's only 2D or
  3D numeric dataset (the error lists them when there are several);
- ``.zarr``: an hifft diffraction dataset store (every image, or one
  ``split``), or any xarray/Zarr store of hifft detector images: the
  variable ``variable=`` (default ``image``, else the only variable) with
  the image on its last two dimensions;
- ``.nc``: the same from a netCDF file (xarray, h5netcdf).

Every reader returns float32 (n, rows, cols) and one id per image
(``file`` or ``file[i]``). :func:`check_images` refuses a wrong image size
or non-finite pixels, naming the file and the image.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

HDF5 = (".h5", ".hdf5", ".cxi", ".nxs")
STORES = (".zarr", ".nc")
EXTENSIONS = (".npy", ".tif", ".tiff", *HDF5, *STORES)


class ImageError(ValueError):
    """Images of the wrong size, with non-finite pixels, or a file that holds none."""


def check_images(images: Any, shape: tuple[int, int] | None, source: str, names: Any = None) -> np.ndarray:
    """float32 (n, rows, cols) from (rows, cols) or (n, rows, cols); ImageError naming ``source``.

    ``shape``: the (rows, cols) a model needs (None: any). ``names``: what to
    call image i in messages (e.g. sample numbers; default its index).
    """
    a = np.asarray(images)
    if a.ndim == 2:
        a = a[None]
    if a.ndim != 3:
        raise ImageError(f"{source}: expected an image (rows, cols) or a stack (n, rows, cols), got shape {a.shape}")
    if a.dtype.kind not in "biuf":
        raise ImageError(f"{source}: expected numeric pixels, got dtype {a.dtype}")
    if shape is not None and a.shape[1:] != tuple(shape):
        raise ImageError(f"{source}: image size {a.shape[1]}×{a.shape[2]} does not match the model's "
                         f"{shape[0]}×{shape[1]} (resample the images or train a model of that size)")
    out = a.astype(np.float32, copy=False)
    bad = ~np.isfinite(out).all(axis=(1, 2))
    if bad.any():
        i = int(np.argmax(bad))
        name = i if names is None else names[i]
        raise ImageError(f"{source}: image {name} has non-finite pixels ({int(bad.sum())} image(s) in all)")
    return out


def _ids(path: Path, n: int, single: bool) -> list[str]:
    return [str(path)] if single else [f"{path}[{i}]" for i in range(n)]


def _hdf5(path: Path, dataset: str | None) -> np.ndarray:
    import h5py

    with h5py.File(path, "r") as f:
        if dataset is not None:
            if dataset not in f or not isinstance(f[dataset], h5py.Dataset):
                raise ImageError(f"{path}: no HDF5 dataset {dataset!r}")
            return np.asarray(f[dataset][()])
        found: list[str] = []

        def visit(name: str, obj: Any) -> None:
            if isinstance(obj, h5py.Dataset) and obj.ndim in (2, 3) and obj.dtype.kind in "biuf":
                found.append(name)

        f.visititems(visit)
        if len(found) != 1:
            what = "no 2D or 3D numeric dataset" if not found else f"several image datasets ({', '.join(found)})"
            raise ImageError(f"{path}: {what}; name one with --dataset")
        return np.asarray(f[found[0]][()])


def _xarray(path: Path, variable: str | None, split: int | None) -> np.ndarray:
    import xarray as xr

    if path.suffix.lower() == ".zarr" and (path / "hifft").is_dir() and (path / "data" / "zarr.json").exists():
        from .dataset import open_dataset

        ds = open_dataset(path)
    elif path.suffix.lower() == ".zarr":
        ds = xr.open_zarr(path, consolidated=None)
    else:
        ds = xr.open_dataset(path, engine="h5netcdf")
    if split is not None:
        if "split" not in ds:
            raise ImageError(f"{path}: no 'split' variable to select split {split} from")
        ds = ds.isel(sample=np.flatnonzero(ds["split"].values == split))
    names = [str(n) for n in ds.data_vars if ds[n].ndim in (2, 3)]
    name = variable or ("image" if "image" in ds.data_vars else (names[0] if len(names) == 1 else None))
    if name is None:
        raise ImageError(f"{path}: no variable 'image' and {len(names)} 2D/3D variables ({', '.join(names)}); "
                         "name one with --variable")
    if name not in ds.data_vars:
        raise ImageError(f"{path}: no variable {name!r} (variables: {', '.join(map(str, ds.data_vars))})")
    return np.asarray(ds[name].values)


def read_images(path: str | os.PathLike[str], dataset: str | None = None, variable: str | None = None,
                split: int | None = None) -> tuple[np.ndarray, list[str]]:
    """(images (n, rows, cols) as stored, ids) from one file (module doc); not yet checked."""
    p = Path(path)
    if not p.exists():
        raise FileNotFoundError(f"{p}: no such file")
    ext = p.suffix.lower()
    if dataset is not None and ext not in HDF5:
        raise ImageError(f"{p}: --dataset applies to HDF5 files only")
    if (variable is not None or split is not None) and ext not in STORES:
        raise ImageError(f"{p}: --variable and --split apply to .zarr and .nc stores only")
    if ext == ".npy":
        a = np.load(p, allow_pickle=False)
    elif ext in (".tif", ".tiff"):
        import tifffile

        a = tifffile.imread(p)
    elif ext in HDF5:
        a = _hdf5(p, dataset)
    elif ext in STORES:
        a = _xarray(p, variable, split)
    else:
        raise ImageError(f"{p}: unknown image format {ext!r} ({', '.join(EXTENSIONS)})")
    return a, _ids(p, a.shape[0] if a.ndim == 3 else 1, a.ndim == 2)


__all__ = ["EXTENSIONS", "HDF5", "STORES", "ImageError", "check_images", "read_images"]
