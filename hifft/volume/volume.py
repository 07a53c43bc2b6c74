"""Volume: a density on a Grid, read in z-slabs, never whole.

Values are the contrast Δρ = ρ − ρ_solvent in 1e-6/Å² (``sld_units``), one
per voxel, axis order (z, y, x). A Volume is backed by a reader (a Zarr
store, an array, a file importer, a scene rasterized on demand) and exposes
the same interface for all of them: ``grid``, ``slab(z0, z1)``,
``to_dask()``, ``attrs``.
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any

import numpy as np

from .. import units
from ..grid import Grid
from ..store import META_DIR, Manifest
from .readers import ArrayReader, DaskReader, SlabReader, ZarrReader
from .validate import VolumeError, check_finite, check_shape, volume_dtype

SLD_UNITS = units.ATTR["sld"]
#: Default bytes per z-slab chunk (dask reads / Zarr chunks): zarr wants ≥ 1 MB, dask 10 MB–1 GB.
SLAB_BYTES = 32 * 2**20


def default_slab_depth(shape: tuple[int, int, int], itemsize: int, target: int = SLAB_BYTES) -> int:
    """z-planes per slab so that one slab is about ``target`` bytes (at least 1 plane)."""
    plane = shape[1] * shape[2] * itemsize
    return int(max(1, min(shape[0], target // max(plane, 1))))


class Volume:
    """A 3D density (contrast, 1e-6/Å²) on a :class:`~hifft.Grid`, read by z-slabs.

    Attributes
    ----------
    grid : Grid
    path : Path or None
        The Zarr store when the volume lives on disk.
    dtype : numpy dtype (float32 or float64)
    sld_units : str
        "1e-6/angstrom**2".
    attrs : dict
        What made it: "kind", "source" (reader description), "scene" for
        scenes, "grid", "dtype", "sld_units", and "stats" for built stores.
    chunk_depth : int
        z-planes per slab of :meth:`to_dask` (the store's chunk depth on disk).
    """

    def __init__(
        self,
        reader: SlabReader,
        grid: Grid,
        *,
        attrs: dict[str, Any] | None = None,
        path: str | os.PathLike[str] | None = None,
        dtype: Any = None,
        chunk_depth: int | None = None,
    ) -> None:
        if tuple(reader.shape) != grid.shape:
            raise VolumeError(
                f"{reader.where}: data shape {tuple(reader.shape)} does not match grid {grid.shape}"
            )
        self.reader = reader
        self.grid = grid
        self.path = None if path is None else Path(path)
        self.dtype = volume_dtype(reader.dtype, reader.where, dtype)
        self.sld_units = SLD_UNITS
        self.chunk_depth = int(chunk_depth or default_slab_depth(grid.shape, self.dtype.itemsize))
        base = {
            "kind": "density",
            "grid": grid.to_dict(),
            "sld_units": SLD_UNITS,
            "dtype": str(self.dtype),
            "source": reader.describe(),
        }
        self.attrs: dict[str, Any] = {**base, **(attrs or {})}
        self.attrs["dtype"] = str(self.dtype)

    # ---- shape --------------------------------------------------------------
    @property
    def shape(self) -> tuple[int, int, int]:
        return self.grid.shape

    @property
    def ndim(self) -> int:
        return 3

    @property
    def nbytes(self) -> int:
        """Uncompressed size in bytes."""
        return self.grid.size * self.dtype.itemsize

    @property
    def stored_nbytes(self) -> int | None:
        """Bytes the chunks take on disk (None for volumes not on disk)."""
        if self.path is None:
            return None
        root = self.path / "c"
        if not root.exists():
            return 0
        return sum(f.stat().st_size for f in root.rglob("*") if f.is_file())

    def slabs(self, depth: int | None = None) -> list[tuple[int, int]]:
        """(z0, z1) of consecutive slabs of ``depth`` planes (default: chunk_depth)."""
        d = int(depth or self.chunk_depth)
        nz = self.shape[0]
        return [(z, min(z + d, nz)) for z in range(0, nz, d)]

    # ---- data ---------------------------------------------------------------
    def slab(self, z0: int, z1: int) -> np.ndarray:
        """Planes z0 … z1−1 as a C-contiguous ``dtype`` array of shape (z1−z0, ny, nx)."""
        nz = self.shape[0]
        if isinstance(z0, bool) or isinstance(z1, bool) or not (0 <= int(z0) < int(z1) <= nz):
            raise IndexError(f"slab({z0}, {z1}): need 0 <= z0 < z1 <= {nz}")
        z0, z1 = int(z0), int(z1)
        data = self.reader.read(z0, z1)
        if data.shape != (z1 - z0, *self.shape[1:]):
            raise VolumeError(
                f"{self.reader.where}: slab z={z0}:{z1} has shape {data.shape}, "
                f"expected {(z1 - z0, *self.shape[1:])}"
            )
        if self.reader.check_finite:
            check_finite(data, self.reader.where, z0)
        return np.ascontiguousarray(data, dtype=self.dtype)

    def to_numpy(self) -> np.ndarray:
        """The whole volume in memory (for small volumes; refuses above 4 GiB)."""
        if self.nbytes > 4 * 2**30:
            raise MemoryError(
                f"volume is {self.nbytes / 2**30:.1f} GiB; read it by slab() or to_dask()"
            )
        return self.slab(0, self.shape[0])

    def to_dask(self, depth: int | None = None) -> Any:
        """Dask array chunked by whole z-slabs of ``depth`` planes (default: ``chunk_depth``)."""
        import dask
        import dask.array as da

        slabs = self.slabs(depth)
        zchunks = tuple(z1 - z0 for z0, z1 in slabs)
        if isinstance(self.reader, ArrayReader):
            return da.from_array(self.reader.array, chunks=(zchunks, -1, -1)).astype(
                self.dtype, copy=False
            )
        if isinstance(self.reader, DaskReader):
            arr = self.reader.array.rechunk((zchunks, -1, -1))
            return arr.map_blocks(
                _checked_block,
                self.reader.where,
                self.dtype,
                dtype=self.dtype,
                meta=np.empty((0, 0, 0), self.dtype),
            )
        token = dask.base.tokenize(
            self.reader.describe(), self.attrs.get("scene"), id(self.reader), self.dtype.str
        )
        vol = dask.delayed(self, pure=True, name=f"hifft-volume-{token}")
        blocks = [
            da.from_delayed(
                dask.delayed(_read_slab, pure=True)(
                    vol, z0, z1, dask_key_name=f"hifft-slab-{token}-{z0}"
                ),
                shape=(z1 - z0, *self.shape[1:]),
                dtype=self.dtype,
            )
            for z0, z1 in slabs
        ]
        return da.concatenate(blocks, axis=0)

    def __repr__(self) -> str:
        where = (
            f", path={str(self.path)!r}"
            if self.path
            else f", source={self.attrs['source'].get('kind')}"
        )
        return f"Volume({self.grid!r}, dtype={self.dtype}{where})"


def _read_slab(vol: Volume, z0: int, z1: int) -> np.ndarray:
    return vol.slab(z0, z1)


def _checked_block(
    block: np.ndarray, where: str, dtype: np.dtype, block_info: Any = None
) -> np.ndarray:
    z0 = block_info[0]["array-location"][0][0] if block_info else 0
    check_finite(block, where, z0)
    return block.astype(dtype, copy=False)


# ---- constructors ----------------------------------------------------------------
def open_volume(path: str | os.PathLike[str]) -> Volume:
    """Open a density volume that :func:`build_volume` wrote (read-only).

    Refuses stores that are missing, not hifft density volumes, or whose build
    is unfinished (only the manifest says a slab is done: Zarr does not
    write all-zero chunks, so a missing chunk proves nothing).
    """
    import zarr

    p = Path(path)
    if not p.exists():
        raise FileNotFoundError(f"{p}: no volume store here")
    try:
        arr = zarr.open_array(str(p), mode="r")
    except Exception as exc:  # missing/corrupt zarr.json: JSONDecodeError, FileNotFoundError, ...
        raise VolumeError(
            f"{p}: missing or corrupt Zarr metadata (zarr.json): {type(exc).__name__}: {exc}"
        ) from exc
    meta = arr.attrs.get("hifft")
    if not isinstance(meta, dict) or meta.get("kind") != "density":
        raise VolumeError(
            f"{p}: not a hifft density volume (no attrs['hifft'] with kind 'density'); to use a "
            f"foreign Zarr array pass it to hifft.from_array(zarr.open_array(path), spacing=...)"
        )
    try:
        grid = Grid.from_dict(meta["grid"])
        dtype = np.dtype(meta["dtype"])
        units_ = meta["sld_units"]
    except (KeyError, TypeError, ValueError) as exc:
        raise VolumeError(
            f"{p}: hifft metadata is incomplete or invalid ({type(exc).__name__}: {exc})"
        ) from exc
    if units_ != SLD_UNITS:
        raise VolumeError(f"{p}: sld_units {units_!r} is not {SLD_UNITS!r}")
    shape = check_shape(arr.shape, str(p))
    if shape != grid.shape:
        raise VolumeError(f"{p}: array shape {shape} does not match its grid {grid.shape}")
    if np.dtype(arr.dtype) != dtype:
        raise VolumeError(f"{p}: array dtype {arr.dtype} does not match its metadata {dtype}")
    chunks = tuple(arr.chunks)
    if chunks[1:] != shape[1:]:
        raise VolumeError(f"{p}: chunks {chunks} are not whole z-slabs of {shape[1:]}")
    manifest = Manifest(p)
    if not (p / META_DIR).exists():
        raise VolumeError(
            f"{p}: no build manifest ({META_DIR}/); cannot tell whether every slab was written"
        )
    if not manifest.complete:
        n = math.ceil(shape[0] / chunks[0])
        done = len(manifest.done())
        raise VolumeError(
            f"{p}: build unfinished ({done} of {n} slabs done); run build_volume(...) on the same "
            f"scene/source and path again to resume"
        )
    reader = ZarrReader(p, shape, dtype, chunks[0])
    return Volume(reader, grid, attrs=dict(meta), path=p, chunk_depth=chunks[0])


def from_array(
    array: Any,
    spacing: Any = None,
    *,
    grid: Grid | None = None,
    dtype: Any = None,
    attrs: dict[str, Any] | None = None,
    name: str = "array",
) -> Volume:
    """Wrap a numpy, dask or Zarr array of contrast values (1e-6/Å²) as a Volume.

    ``spacing`` (Å, or "5 nm") or ``grid`` must be given. numpy input is
    checked for non-finite values now; dask and Zarr input when each slab is read.
    """
    if grid is None and spacing is None:
        raise ValueError(f"{name}: give spacing= (Å) or grid=")
    try:
        import dask.array as da

        is_dask = isinstance(array, da.Array)
    except ImportError:  # pragma: no cover - dask is a dependency
        is_dask = False
    if not is_dask and type(array).__module__.startswith("zarr"):
        import dask.array as da

        array = da.from_zarr(array)
        is_dask = True
    if is_dask:
        shape = check_shape(array.shape, name)
        volume_dtype(array.dtype, name, dtype)
        reader: SlabReader = DaskReader(array, name)
    else:
        arr = np.asarray(array)
        shape = check_shape(arr.shape, name)
        volume_dtype(arr.dtype, name, dtype)
        check_finite(arr, name, 0)
        reader = ArrayReader(arr, name)
    if grid is None:
        grid = Grid(shape=shape, spacing=spacing)
    elif grid.shape != shape:
        raise VolumeError(f"{name}: array shape {shape} does not match grid {grid.shape}")
    return Volume(reader, grid, attrs=attrs, dtype=dtype)
