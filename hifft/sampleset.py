"""Sample-chunked dataset stores: the one frame of every dataset job (1D curves, GISAXS images).

A dataset store is a Zarr group ``data`` whose arrays share a ``sample``
dimension chunked by ``chunk_size``. A job writes the group's metadata once
(the *template* task), then one region of ``chunk_size`` samples per task,
each drawn from its own seeded generator so a rerun rewrites the same bytes.
:func:`run_dataset_job` is the begin → lock → template → chunks → complete
frame on the one runner; the domain modules supply the template writer, the
chunk writer and the summary. :func:`open_dataset_store` refuses an
unfinished store: chunks never written read back as zeros.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import Field, model_validator

from .config import StrictModel
from .runner import Runner, client_context, resumable
from .store import Manifest, StoreError, check_free_space

#: The group that holds the arrays.
GROUP = "data"
#: The manifest name of the task that writes the group's metadata.
TEMPLATE = "template"


#: Split codes stored per sample (int8).
SPLITS = ("train", "val", "test")


class SplitConfig(StrictModel):
    """Fractions of samples drawn into the train, validation and test splits (they sum to 1)."""

    train: float = Field(0.8, ge=0)
    val: float = Field(0.1, ge=0)
    test: float = Field(0.1, ge=0)

    @model_validator(mode="after")
    def _sum(self) -> SplitConfig:
        s = self.train + self.val + self.test
        if not math.isclose(s, 1.0, abs_tol=1e-9):
            raise ValueError(f"split fractions must sum to 1, got {s}")
        return self

    def codes(self, u: np.ndarray) -> np.ndarray:
        """Split code per sample (0 train, 1 val, 2 test) from uniform draws ``u`` in [0, 1)."""
        return np.where(u < self.train, 0, np.where(u < self.train + self.val, 1, 2)).astype(np.int8)


def chunk_name(k: int) -> str:
    return f"chunk-{k:06d}"


def chunk_bounds(n_samples: int, chunk_size: int, k: int) -> tuple[int, int]:
    """Samples ``[i0, i1)`` of chunk ``k``."""
    n_chunks = -(-n_samples // chunk_size)
    if not 0 <= k < n_chunks:
        raise IndexError(f"chunk {k} outside 0..{n_chunks - 1}")
    i0 = k * chunk_size
    return i0, min(n_samples, i0 + chunk_size)


@dataclass(frozen=True)
class ChunkTask:
    """One task of a dataset job: chunk ``index`` of the store at ``store`` (a path)."""

    store: str
    index: int

    @property
    def name(self) -> str:
        return chunk_name(self.index)


def write_template_store(ds: Any, path: Any, encoding: dict[str, Any] | None = None) -> None:
    """Write a dataset store's template: the per-sample arrays as metadata only (lazy; their
    chunks come per task through :func:`write_region`), then every variable without the
    ``sample`` dimension (detector angles, q maps) with its values: ``to_zarr(compute=False)``
    leaves any dask-backed one unwritten, and it would read back as NaN."""
    ds.to_zarr(path, group=GROUP, compute=False, mode="w", consolidated=False, encoding=encoding or {})
    static = ds.drop_dims("sample")
    if static.variables:
        static.compute().to_zarr(path, group=GROUP, mode="r+", consolidated=False)


def write_region(ds: Any, store: str, i0: int, i1: int) -> None:
    """Write an xarray Dataset of samples ``[i0, i1)`` into the store's group (its own chunks only)."""
    ds.to_zarr(store, group=GROUP, region={"sample": slice(i0, i1)}, consolidated=False)


def run_dataset_job(
    out: str | os.PathLike[str],
    spec: dict[str, Any],
    *,
    n_chunks: int,
    write_template: Callable[[Path], None],
    write_chunk: Callable[[ChunkTask, Any], Any],
    cfg: Any,
    summarize: Callable[[Manifest, list[str]], dict[str, Any]],
    what: str,
    estimate_bytes: int,
    client: Any = None,
    overwrite: bool = False,
    progress: bool | None = None,
    max_chunks: int | None = None,
    prepare: Callable[[], None] | None = None,
) -> Path:
    """Run (or resume) a dataset job of ``n_chunks`` chunk tasks; return the store path.

    ``write_chunk(task, cfg)`` runs on the runner (``cfg`` is shared with the
    workers once); ``summarize(manifest, chunk names)`` gives the completion
    summary. ``prepare`` runs once before any chunk (e.g. compiling kernels
    before workers race to). ``max_chunks`` stops after that many new chunks
    (to test resuming); the store is then left incomplete.
    """
    path = Path(out)
    tasks = [ChunkTask(str(path), k) for k in range(n_chunks)]
    names = [t.name for t in tasks]
    with resumable(path, spec, overwrite=overwrite) as (man, resumed):
        if resumed and man.complete:
            return path
        check_free_space(path, 0 if resumed else estimate_bytes, what)
        if prepare is not None:
            prepare()
        if not man.is_done(TEMPLATE):
            write_template(path)
            man.mark_done(TEMPLATE)
        if max_chunks is not None:
            done = man.done()
            tasks = [t for t in tasks if t.name in done] + [t for t in tasks if t.name not in done][:max_chunks]
        with client_context(client) as c:
            Runner(c, progress=progress).map(write_chunk, tasks, desc=what, manifest=man, shared=cfg, unit="chunks")
        if not man.pending(names):
            man.mark_complete([*names, TEMPLATE], summarize(man, names))
    return path


def open_dataset_store(path: str | os.PathLike[str], *, what: str, command: str,
                       allow_incomplete: bool = False) -> Any:
    """The store's group (lazy, dask-backed) as an xarray Dataset; refuses an unfinished store."""
    import xarray as xr

    p = Path(path)
    if not (p / GROUP / "zarr.json").exists():
        raise StoreError(f"{p}: not an hifft {what} (no {GROUP}/zarr.json)")
    man = Manifest(p)
    if not man.complete and not allow_incomplete:
        n_done = len(man.done() - {TEMPLATE})
        raise StoreError(
            f"{p}: job not finished ({n_done} task(s) done, store not marked complete); "
            f"rerun the command that made it ({command}) to resume"
        )
    return xr.open_zarr(p, group=GROUP, consolidated=False)


__all__ = ["GROUP", "SPLITS", "TEMPLATE", "ChunkTask", "SplitConfig", "chunk_bounds", "chunk_name",
           "open_dataset_store", "run_dataset_job", "write_region", "write_template_store"]
