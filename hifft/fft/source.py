"""What the engine reads: a picklable handle on a 3D array, read in z-slabs.

Zarr-backed inputs (a hifft Volume with a path, a zarr array, a path) are
reopened inside each task, so only the path travels to workers. In-memory
inputs travel with the task and are meant for arrays that fit comfortably
in memory; dask arrays are read slab by slab (only those chunks computed),
and staged to a Zarr array in the work dir once when a cluster runs the job.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..grid import Grid

REAL_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))
COMPLEX_DTYPES = (np.dtype(np.complex64), np.dtype(np.complex128))


class InputError(ValueError):
    """The input cannot be transformed; the message names the file, slab or field."""


def _check_dtype(dtype: np.dtype, what: str, complex_ok: bool) -> None:
    ok = REAL_DTYPES + (COMPLEX_DTYPES if complex_ok else ())
    if np.dtype(dtype) not in ok:
        kinds = "float32/float64" + ("/complex64/complex128" if complex_ok else "")
        raise InputError(f"{what}: dtype {dtype} is not a real density ({kinds} expected)")


def _check_shape(shape: tuple[int, ...], what: str) -> None:
    if len(shape) != 3:
        raise InputError(f"{what}: expected a 3D array (nz, ny, nx), got shape {shape}")
    if math.prod(shape) == 0:
        raise InputError(f"{what}: array is empty (shape {shape})")


@dataclass
class Source:
    """A 3D input read slab by slab from exactly one of ``path``, ``array``, ``reader``."""

    grid: Grid
    dtype: np.dtype
    path: str | None = None
    array: Any = None  # numpy or dask array
    chunk_z: int | None = None
    identity: dict[str, Any] | None = None
    #: read with :class:`~hifft.fft.chunkio.RawChunkArray` (engine-made stores)
    raw: bool = False
    #: a picklable object with ``.slab(z0, z1)`` (a lazy hifft Volume: importer, tiling, up-sampling)
    reader: Any = None
    #: False for bare arrays given without ``spacing``: unit spacing, q has no physical unit
    physical: bool = True

    @property
    def shape(self) -> tuple[int, int, int]:
        return self.grid.shape

    @property
    def real(self) -> bool:
        return np.dtype(self.dtype).kind == "f"

    @property
    def nbytes(self) -> int:
        return self.grid.size * np.dtype(self.dtype).itemsize

    def read(self, z0: int, z1: int) -> np.ndarray:
        """Planes z0:z1 as a contiguous numpy array (error names the chunk on failure)."""
        if self.array is not None:  # numpy, or dask (only the slab's chunks are computed)
            return np.ascontiguousarray(np.asarray(self.array[z0:z1]))
        if self.reader is not None:
            return np.ascontiguousarray(self.reader.slab(z0, z1))
        if self.path is None:
            raise InputError("source has none of path, array, reader: nothing to read")
        import zarr

        try:
            if self.raw:
                from .chunkio import RawChunkArray

                a = RawChunkArray(self.path)
                c = a.chunks[0]
                lo, hi = (z0 // c) * c, min(a.shape[0], -(-z1 // c) * c)
                block = a.read((lo, 0, 0), (hi, *a.shape[1:]))
                return block if (lo, hi) == (z0, z1) else np.ascontiguousarray(block[z0 - lo : z1 - lo])
            arr = zarr.open_array(self.path, mode="r")
            return np.ascontiguousarray(arr[z0:z1])
        except Exception as exc:  # zarr/numcodecs raise many types; add where it happened
            cz = self.chunk_z or 1
            raise InputError(
                f"{self.path}: cannot read z-planes {z0}:{z1} (chunks {z0 // cz}..{(z1 - 1) // cz} along z): "
                f"{type(exc).__name__}: {exc}"
            ) from exc


def as_source(x: Any, spacing: Any = None, complex_ok: bool = True) -> Source:
    """Wrap a Volume, zarr array/path, or numpy array as a :class:`Source`."""
    import zarr

    if hasattr(x, "grid") and hasattr(x, "slab"):  # a hifft Volume
        path = getattr(x, "path", None)
        if path is not None:
            src = as_source(str(path), spacing=x.grid.spacing, complex_ok=complex_ok)
            src.grid = x.grid
            return src
        # a lazy volume: tasks call its .slab(z0, z1), so it is never held whole
        shape, dtype = tuple(x.grid.shape), np.dtype(x.dtype)
        _check_shape(shape, "volume")
        _check_dtype(dtype, "volume", complex_ok)
        reader = getattr(x, "reader", None)
        content = reader.fingerprint() if reader is not None and hasattr(reader, "fingerprint") else None
        ident = {"volume": repr(x), "content": content,
                 "attrs": json.dumps(getattr(x, "attrs", {}), sort_keys=True, default=str)}
        return Source(grid=x.grid, dtype=dtype, reader=x, identity=ident)
    if isinstance(x, str | Path):
        p = Path(x)
        if not p.exists():
            raise InputError(f"{p}: no such input")
        try:
            arr = zarr.open_array(str(p), mode="r")
        except Exception as exc:
            raise InputError(f"{p}: not a readable Zarr array (missing or corrupt metadata: {exc})") from exc
        return _from_zarr(arr, str(p), spacing, complex_ok)
    if isinstance(x, zarr.Array):
        store = x.store
        root = getattr(store, "root", None)
        if root is None:
            raise InputError("zarr array input must live in a local directory store (LocalStore)")
        path = str(Path(root) / x.path) if x.path else str(root)
        return _from_zarr(x, path, spacing, complex_ok)
    data = x if hasattr(x, "dask") and hasattr(x, "chunks") else np.asarray(x)
    what = "input dask array" if data is x else "input array"
    _check_shape(tuple(data.shape), what)
    _check_dtype(data.dtype, what, complex_ok)
    return Source(grid=Grid(tuple(data.shape), 1.0 if spacing is None else spacing), dtype=np.dtype(data.dtype),
                  array=data, physical=spacing is not None)


def _from_zarr(arr: Any, path: str, spacing: Any, complex_ok: bool) -> Source:
    _check_shape(tuple(arr.shape), path)
    _check_dtype(arr.dtype, path, complex_ok)
    meta = dict(arr.attrs).get("hifft", {}) if hasattr(arr, "attrs") else {}
    if spacing is None and "grid" in meta:
        grid = Grid.from_dict(meta["grid"])
        if grid.shape != tuple(arr.shape):
            raise InputError(f"{path}: metadata grid {grid.shape} does not match array shape {arr.shape}")
    else:
        grid = Grid(tuple(arr.shape), 1.0 if spacing is None else spacing)
    chunks = tuple(arr.chunks)
    ident = {"path": str(Path(path).resolve()), "shape": list(arr.shape), "dtype": str(arr.dtype),
             "job": _job_of(path)}
    from .chunkio import RawChunkArray

    try:  # uncompressed full-width slabs: read chunk files directly (see chunkio)
        raw = RawChunkArray(path).chunks[1:] == tuple(arr.shape[1:])
    except (ValueError, KeyError, OSError):
        raw = False
    return Source(grid=grid, dtype=np.dtype(arr.dtype), path=path, chunk_z=int(chunks[0]), identity=ident,
                  raw=raw)


def _job_of(path: str) -> Any:
    from ..store import Manifest

    try:
        job = Manifest(path).job()
    except Exception:
        return None
    if job is None:  # foreign data: identify by the metadata's mtime
        meta = Path(path) / "zarr.json"
        return meta.stat().st_mtime_ns if meta.exists() else None
    return job.get("fingerprint")
