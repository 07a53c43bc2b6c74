"""Slab readers: where a :class:`~hifft.volume.Volume` gets its z-slabs from.

A reader is a small picklable object with ``shape``, ``dtype`` (of the data
it returns), ``read(z0, z1)`` returning the full (z1−z0, ny, nx) planes, and
``describe()`` (JSON-able, recorded in volume attrs and job fingerprints).
Readers hold paths or compact tables, never open handles, so a build can
ship one reader to every worker once and call ``read`` there.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from ..grid import Grid
from .validate import VolumeError, check_shape

#: Assumed compressed size of an all-zero region relative to raw (zstd on zeros).
ZERO_COMPRESSION = 1e-3


class SlabReader:
    """Base class. ``check_finite``: whether reads must be validated for NaN/Inf."""

    shape: tuple[int, int, int]
    dtype: np.dtype
    check_finite: bool = True

    def read(self, z0: int, z1: int) -> np.ndarray:
        raise NotImplementedError

    def describe(self) -> dict[str, Any]:
        raise NotImplementedError

    def fingerprint(self) -> dict[str, Any]:
        """What identifies the data for resuming a build (default: ``describe()``)."""
        return self.describe()

    def stored_bytes(self, itemsize: int) -> int:
        """Estimate of the bytes the data takes once written compressed (dense: raw)."""
        return int(np.prod(self.shape)) * itemsize

    @property
    def where(self) -> str:
        d = self.describe()
        return str(d.get("path") or d.get("kind", type(self).__name__))


class ArrayReader(SlabReader):
    """An in-memory numpy array (validated once when wrapped)."""

    check_finite = False

    def __init__(self, array: np.ndarray, name: str = "array") -> None:
        self.array = array
        self.shape = check_shape(array.shape, name)
        self.dtype = array.dtype
        self.name = name

    def read(self, z0: int, z1: int) -> np.ndarray:
        return self.array[z0:z1]

    @property
    def where(self) -> str:
        return self.name

    def describe(self) -> dict[str, Any]:
        return {
            "kind": "array",
            "name": self.name,
            "shape": list(self.shape),
            "dtype": str(self.dtype),
        }

    def fingerprint(self) -> dict[str, Any]:
        from dask.base import tokenize  # content hash: a different array is a different job

        return {**self.describe(), "token": tokenize(self.array)}


class DaskReader(SlabReader):
    """A dask array; each slab is computed where it is read (synchronously: no nested cluster)."""

    def __init__(self, array: Any, name: str = "dask array") -> None:
        self.array = array
        self.shape = check_shape(array.shape, name)
        self.dtype = np.dtype(array.dtype)
        self.name = name

    def read(self, z0: int, z1: int) -> np.ndarray:
        return np.asarray(self.array[z0:z1].compute(scheduler="sync"))

    @property
    def where(self) -> str:
        return self.name

    def describe(self) -> dict[str, Any]:
        return {
            "kind": "dask",
            "name": self.name,
            "shape": list(self.shape),
            "dtype": str(self.dtype),
            "token": self.array.name,
        }


class ZarrReader(SlabReader):
    """A Zarr array on disk; read errors (corrupt chunk, checksum) name the store and slab."""

    check_finite = False

    def __init__(
        self,
        path: str | os.PathLike[str],
        shape: tuple[int, int, int],
        dtype: Any,
        chunk_depth: int,
        check_finite: bool = False,
    ) -> None:
        self.path = str(path)
        self.shape = shape
        self.dtype = np.dtype(dtype)
        self.chunk_depth = chunk_depth
        self.check_finite = check_finite
        self._array: Any = None

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "_array": None}

    def _open(self) -> Any:
        if self._array is None:
            import zarr

            self._array = zarr.open_array(self.path, mode="r")
        return self._array

    def read(self, z0: int, z1: int) -> np.ndarray:
        try:
            return self._open()[z0:z1]
        except Exception as exc:  # zarr/codec errors carry no chunk key
            c0, c1 = z0 // self.chunk_depth, (z1 - 1) // self.chunk_depth
            raise VolumeError(
                f"{self.path}: cannot read slab z={z0}:{z1} (chunk(s) {c0}..{c1} under c/): "
                f"{type(exc).__name__}: {exc}; the store is damaged, rebuild it (overwrite=True)"
            ) from exc

    def describe(self) -> dict[str, Any]:
        from ..store import Manifest

        try:
            job = Manifest(self.path).job() or {}
        except Exception:  # unreadable job.json: describe by path only
            job = {}
        return {"kind": "zarr", "path": self.path, "job": job.get("fingerprint")}


class SceneReader(SlabReader):
    """Rasterizes a planned scene slab by slab (numba kernel, see _raster.py)."""

    check_finite = False

    def __init__(
        self,
        grid: Grid,
        particles: Any,
        binary: bool,
        clip: bool,
        dtype: Any,
        description: dict[str, Any],
    ) -> None:
        self.shape = grid.shape
        self.spacing = grid.spacing
        self.dtype = np.dtype(dtype)
        if self.dtype not in (np.float32, np.float64):
            raise VolumeError(f"scene: dtype must be float32 or float64, got {self.dtype}")
        p = particles
        self.arrays = {
            k: np.ascontiguousarray(getattr(p, k))
            for k in ("kind", "center", "rot", "dims_o", "w_o", "dims_i", "w_i", "ext", "rb", "ss")
        }
        self.binary, self.clip = bool(binary), bool(clip)
        self.description = description

    @classmethod
    def from_scene(cls, scene: Any, dtype: Any = "float32") -> SceneReader:
        return cls(
            scene.grid,
            scene.plan(),
            scene.voxelization == "binary",
            scene.overlap == "clip",
            dtype,
            scene.to_dict(),
        )

    def read(self, z0: int, z1: int) -> np.ndarray:
        from ._raster import rasterize_slab

        nz, ny, nx = self.shape
        out = np.zeros((z1 - z0, ny, nx), dtype=self.dtype)
        cov = np.zeros(out.shape if self.clip else (1, 1, 1), dtype=np.float64)
        a = self.arrays
        dz, dy, dx = self.spacing
        rasterize_slab(
            out,
            cov,
            z0,
            nz,
            dz,
            dy,
            dx,
            a["kind"],
            a["center"],
            a["rot"],
            a["dims_o"],
            a["w_o"],
            a["dims_i"],
            a["w_i"],
            a["ext"],
            a["rb"],
            a["ss"],
            self.binary,
            self.clip,
            True,
        )
        return out

    def describe(self) -> dict[str, Any]:
        return {"kind": "scene", "scene": self.description}

    def stored_bytes(self, itemsize: int) -> int:
        dz, dy, dx = self.spacing
        d = np.array([dx, dy, dz])
        touched = float(np.prod(2.0 * self.arrays["ext"] / d + 2.0, axis=1).sum())
        total = float(np.prod(self.shape))
        return int(min(touched, total) * itemsize + total * itemsize * ZERO_COMPRESSION) + (1 << 20)


def describe_path(path: str | os.PathLike[str]) -> str:
    return str(Path(path).resolve())
