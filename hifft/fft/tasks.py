"""The two kinds of task the engine runs, as plain functions of paths and ints.

``plane_task`` transforms z-slabs over (y, x); ``column_task`` transforms
y-blocks along z. Each writes whole chunks it alone owns, then records itself
in the store's manifest, so rerunning a task rewrites the same bytes and a
rerun of the job skips what is recorded. Both run in Dask workers; they take
their FFT thread count explicitly (the nanny pins OMP/MKL threads to 1).
"""

from __future__ import annotations

import os
import pickle
from pathlib import Path
from typing import Any

import numpy as np

from ..store import DiskFullError, Manifest
from .backends import get_backend
from .chunkio import RawChunkArray
from .source import InputError, Source


def _fault_delay() -> None:
    """Test hook: ``HIFFT_FAULT_DELAY`` seconds of sleep per task, so that
    reliability tests can kill workers or clients mid-pass deterministically."""
    delay = float(os.environ.get("HIFFT_FAULT_DELAY", "0") or 0)
    if delay > 0:
        import time

        time.sleep(delay)


def _write(dst: str, start: tuple[int, int, int], data: np.ndarray) -> None:
    import errno

    try:
        RawChunkArray(dst).write(start, data)
    except OSError as exc:
        if exc.errno == errno.ENOSPC:
            raise DiskFullError(
                errno.ENOSPC,
                f"{dst}: disk full while writing the region at {start} ({data.nbytes} bytes in this task); "
                f"chunks already written stay readable; free space and rerun to resume",
            ) from exc
        raise


def _check_finite(x: np.ndarray, where: str, z0: int) -> None:
    finite = np.isfinite(x)
    if not finite.all():
        bad = np.argwhere(~finite)[0]
        n_bad = int(x.size - np.count_nonzero(finite))
        raise InputError(
            f"{where}: {n_bad} non-finite value(s) in z-planes {z0}:{z0 + x.shape[0]}; "
            f"first at (z, y, x) = ({z0 + bad[0]}, {bad[1]}, {bad[2]}) = {x[tuple(bad)]}"
        )


def _crop(a: np.ndarray, axis: int, keep: np.ndarray | None) -> np.ndarray:
    if keep is None or len(keep) == a.shape[axis]:
        return a
    return np.take(a, keep, axis=axis)


def plane_task(
    src: Source,
    z0: int,
    z1: int,
    op: str,
    dst: str,
    task: str,
    backend: str,
    threads: int,
    dtype: str,
    keep_y: np.ndarray | None = None,
    keep_x: np.ndarray | None = None,
    real_shape: tuple[int, int] | None = None,
) -> dict[str, Any]:
    """Read planes z0:z1, 2D-transform them (``op``), crop, write into ``dst``."""
    x = src.read(z0, z1)
    where = src.path or "input array"
    if op in ("rfft2", "fft2"):
        _check_finite(x, where, z0)
    if not x.any():
        _fault_delay()
        Manifest(dst).mark_done(task, {"zero": True})
        return {"task": task, "zero": True}
    be = get_backend(backend, threads=threads)
    if op == "rfft2":
        y = be.rfft2(x.astype(dtype, copy=False))
    elif op == "fft2":
        y = be.fft2(x.astype(np.result_type(dtype, np.complex64), copy=False))
    elif op == "irfft2":
        y = be.irfft2(x, s=real_shape)
    elif op == "ifft2":
        y = be.ifft2(x)
    else:
        raise ValueError(f"unknown plane op {op!r}")
    y = _crop(_crop(y, 1, keep_y), 2, keep_x)
    _write(dst, (z0, 0, 0), y)
    _fault_delay()
    Manifest(dst).mark_done(task, {"zero": False})
    return {"task": task, "zero": False}


def column_task(
    src: str,
    y0: int,
    y1: int,
    op: str,
    task: str,
    backend: str,
    threads: int,
    keep_z: np.ndarray | None,
    dst: str | None,
    reducers: list[Any] | None,
    block_meta: dict[str, Any] | None,
    partial_dir: str | None,
    manifest_path: str,
) -> dict[str, Any]:
    """Read rows y0:y1 over all z, 1D-transform along z, crop, write and/or reduce."""
    from .reducer import make_block

    arr = RawChunkArray(src)
    blk = arr.read((0, y0, 0), (arr.shape[0], y1, arr.shape[2]))
    be = get_backend(backend, threads=threads)
    F = be.fft(blk, axis=0) if op == "fft" else be.ifft(blk, axis=0)
    del blk
    F = _crop(F, 0, keep_z)
    if dst is not None:
        _write(dst, (0, y0, 0), F)
    partials: dict[str, Any] = {}
    if reducers:
        m = block_meta or {}
        b = make_block(F, m["grid"], m["half"], iz=m["iz"], iy=m["iy"][y0:y1], ix=m["ix"])
        partials = {r.name: r.block(b) for r in reducers}
        _save_partial(partial_dir, task, partials)
    _fault_delay()
    Manifest(manifest_path).mark_done(task)
    return partials


def _save_partial(partial_dir: str | None, task: str, partials: dict[str, Any]) -> None:
    # Partials are the job's own small arrays, written and read back only by
    # this job in its own work dir (never user input), so pickle is safe here.
    if partial_dir is None:
        return
    d = Path(partial_dir)
    d.mkdir(parents=True, exist_ok=True)
    tmp = d / f".{task}.{os.getpid()}.tmp"
    with open(tmp, "wb") as f:
        pickle.dump(partials, f, protocol=pickle.HIGHEST_PROTOCOL)
    os.replace(tmp, d / f"{task}.pkl")


def load_partial(partial_dir: str, task: str) -> dict[str, Any]:
    with open(Path(partial_dir) / f"{task}.pkl", "rb") as f:
        return pickle.load(f)


def merge_partials(reducers: list[Any], a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    return {r.name: r.merge(a[r.name], b[r.name]) for r in reducers}
