"""The two kinds of task the engine runs, each a frozen spec and a plain function.

:class:`PlaneTask` transforms a z-slab over (y, x); :class:`ColumnTask`
transforms a y-block along z. Each writes whole chunks it alone owns (or a
region of an in-memory intermediate), so rerunning a task rewrites the same
bytes; :class:`hifft.runner.Runner` records each finished task in the store's
manifest. Tasks take their FFT thread count explicitly (Dask's nanny pins
OMP/MKL threads to 1 in workers).
"""

from __future__ import annotations

import errno
import pickle
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..atomic import atomic_path
from ..grid import Grid
from ..runner import Outcome
from ..store import DiskFullError
from .backends import get_backend
from .chunkio import RawChunkArray
from .source import InputError, Source


class MemoryArray:
    """An intermediate held in this process, with :class:`RawChunkArray`'s region interface.

    Used when the plan finds that the whole intermediate fits the memory
    budget: pass 1 writes slabs into it and pass 2 reads y-blocks back as
    views, so nothing touches the disk between the passes.
    """

    def __init__(self, shape: tuple[int, int, int], dtype: Any) -> None:
        self.shape = tuple(shape)
        self.dtype = np.dtype(dtype)
        self.data = np.zeros(self.shape, self.dtype)  # calloc: pages appear as slabs land

    def write(self, start: tuple[int, ...], data: np.ndarray) -> None:
        self.data[tuple(slice(s, s + n) for s, n in zip(start, data.shape, strict=True))] = data

    def read(self, start: tuple[int, ...], stop: tuple[int, ...]) -> np.ndarray:
        return self.data[tuple(slice(a, b) for a, b in zip(start, stop, strict=True))]


Target = str | MemoryArray


def region_array(target: Target) -> RawChunkArray | MemoryArray:
    """The region reader/writer of a task's source or destination."""
    return target if isinstance(target, MemoryArray) else RawChunkArray(target)


#: One writer at a time per process: the disk took 4.3 GB of chunks in 3.0 s from one thread
#: and 3.8 s from two, so tasks running at once overlap their transforms with one
#: stream of writes instead of competing for the disk (an in-memory target is not locked).
_DISK_WRITER = threading.Lock()


def write_region(dst: Target, start: tuple[int, int, int], data: np.ndarray) -> None:
    """Write ``data`` at ``start``; a full disk raises :class:`DiskFullError` naming the store."""
    try:
        if isinstance(dst, MemoryArray):
            dst.write(start, data)
            return
        with _DISK_WRITER:
            RawChunkArray(dst).write(start, data)
    except OSError as exc:
        if exc.errno == errno.ENOSPC:
            raise DiskFullError(
                errno.ENOSPC,
                f"{dst}: disk full while writing the region at {start} ({data.nbytes} bytes in this task); "
                f"chunks already written stay readable; free space and rerun to resume",
            ) from exc
        raise


def check_finite(x: np.ndarray, where: str, z0: int) -> bool:
    """Refuse non-finite input, naming the planes and the first bad voxel; True when all zero.

    Two reductions (min, max) that allocate nothing: NaN propagates through
    both and ±inf shows in one, so the voxel is located only on failure.
    """
    if x.dtype.kind == "c":
        v = x.view(x.real.dtype)
        lo, hi = v.min(), v.max()
    else:
        lo, hi = x.min(), x.max()
    if not (np.isfinite(lo) and np.isfinite(hi)):
        finite = np.isfinite(x)
        bad = np.argwhere(~finite)[0]
        n_bad = int(x.size - np.count_nonzero(finite))
        raise InputError(
            f"{where}: {n_bad} non-finite value(s) in z-planes {z0}:{z0 + x.shape[0]}; "
            f"first at (z, y, x) = ({z0 + bad[0]}, {bad[1]}, {bad[2]}) = {x[tuple(bad)]}"
        )
    return bool(lo == 0 and hi == 0)


def crop(a: np.ndarray, axis: int, keep: np.ndarray | None) -> np.ndarray:
    """Keep the FFT-order indices ``keep`` along ``axis`` (all when None)."""
    if keep is None or len(keep) == a.shape[axis]:
        return a
    return np.take(a, keep, axis=axis)


@dataclass(frozen=True, eq=False)
class PlaneTask:
    """Planes z0:z1 of ``src``: 2D transform ``op`` over (y, x), crop, write into ``dst``."""

    name: str
    src: Source
    z0: int
    z1: int
    op: str  # rfft2 | fft2 | irfft2 | ifft2
    dst: Target
    backend: str
    threads: int
    dtype: str
    keep_y: np.ndarray | None = None
    keep_x: np.ndarray | None = None
    real_shape: tuple[int, int] | None = None


def plane_task(t: PlaneTask) -> Outcome:
    """Run a :class:`PlaneTask`; info: whether the slab was all zero, and seconds per phase."""
    t0 = time.perf_counter()
    x = t.src.read(t.z0, t.z1)
    if t.op in ("rfft2", "fft2"):
        zero = check_finite(x, t.src.path or "input array", t.z0)
    else:
        zero = not x.any()
    t1 = time.perf_counter()
    if zero:  # nothing to write: zarr's fill value (and a zeroed intermediate) is 0
        return Outcome({"zero": True, "read_s": t1 - t0})
    be = get_backend(t.backend, threads=t.threads)
    if t.op == "rfft2":
        y = be.rfft2(x.astype(t.dtype, copy=False))
    elif t.op == "fft2":
        y = be.fft2(x.astype(np.result_type(t.dtype, np.complex64), copy=False))
    elif t.op == "irfft2":
        assert t.real_shape is not None
        y = be.irfft2(x, s=t.real_shape)
    elif t.op == "ifft2":
        y = be.ifft2(x)
    else:
        raise ValueError(f"unknown plane op {t.op!r}")
    del x
    t2 = time.perf_counter()
    write_region(t.dst, (t.z0, 0, 0), crop(crop(y, 1, t.keep_y), 2, t.keep_x))
    return Outcome({"zero": False, "read_s": t1 - t0, "fft_s": t2 - t1, "write_s": time.perf_counter() - t2})


@dataclass(frozen=True, eq=False)
class BlockMeta:
    """What a reducer needs to place a pass-2 block in q: the grid and the kept indices."""

    grid: Grid
    half: bool
    iz: np.ndarray
    iy: np.ndarray
    ix: np.ndarray


@dataclass(frozen=True, eq=False)
class ColumnTask:
    """Rows y0:y1 of ``src`` over all z: 1D transform ``op`` along z, crop, write and/or reduce."""

    name: str
    src: Target
    y0: int
    y1: int
    op: str  # fft | ifft
    backend: str
    threads: int
    keep_z: np.ndarray | None = None
    dst: Target | None = None
    reducers: tuple[Any, ...] = ()
    meta: BlockMeta | None = None
    partial_dir: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def column_task(t: ColumnTask) -> Outcome:
    """Run a :class:`ColumnTask`; value: the reducers' partials; info: seconds per phase."""
    from .reducer import make_block

    t0 = time.perf_counter()
    arr = region_array(t.src)
    blk = arr.read((0, t.y0, 0), (arr.shape[0], t.y1, arr.shape[2]))
    be = get_backend(t.backend, threads=t.threads)
    t1 = time.perf_counter()
    # an in-memory intermediate is used once: transform its block in place (no new pages)
    inplace = isinstance(t.src, MemoryArray)
    F = be.fft(blk, axis=0, overwrite=inplace) if t.op == "fft" else be.ifft(blk, axis=0, overwrite=inplace)
    del blk
    F = crop(F, 0, t.keep_z)
    t2 = time.perf_counter()
    if t.dst is not None:
        write_region(t.dst, (0, t.y0, 0), F)
    t3 = time.perf_counter()
    partials: dict[str, Any] = {}
    if t.reducers:
        m = t.meta
        assert m is not None
        b = make_block(F, m.grid, m.half, iz=m.iz, iy=m.iy[t.y0 : t.y1], ix=m.ix)
        partials = {r.name: r.block(b) for r in t.reducers}
        save_partial(t.partial_dir, t.name, partials)
    info = {"read_s": t1 - t0, "fft_s": t2 - t1, "write_s": t3 - t2, "reduce_s": time.perf_counter() - t3}
    return Outcome(info, partials)


def save_partial(partial_dir: str | None, task: str, partials: dict[str, Any]) -> None:
    # Partials are the job's own small arrays, written and read back only by
    # this job in its own work dir (never user input), so pickle is safe here.
    if partial_dir is None:
        return
    d = Path(partial_dir)
    d.mkdir(parents=True, exist_ok=True)
    with atomic_path(d / f"{task}.pkl") as tmp, open(tmp, "wb") as f:
        pickle.dump(partials, f, protocol=pickle.HIGHEST_PROTOCOL)


def load_partial(partial_dir: str, task: str) -> dict[str, Any]:
    with open(Path(partial_dir) / f"{task}.pkl", "rb") as f:
        return pickle.load(f)


def merge_partials(reducers: list[Any], a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    return {r.name: r.merge(a[r.name], b[r.name]) for r in reducers}
