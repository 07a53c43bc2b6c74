"""Labelled 1D curves as a resumable batch job (:mod:`hifft.runner`) writing xarray/Zarr.

Layout of ``OUT.zarr`` (a directory):

- ``data/``: a Zarr v3 group read by ``xr.open_zarr(OUT, group="data",
  consolidated=False)`` or :func:`open_dataset`. Dimensions ``sample`` and
  ``q``; variables ``I``, ``sigma`` (1/cm, float32), ``I_true`` (the
  noise-free model, background included), ``shape`` (int8 class index into
  ``attrs["classes"]``), ``split`` (int8: 0 train, 1 val, 2 test), one
  float64 variable per label (``radius``, ``length``, ...; NaN where the
  class has no such parameter), ``scale``, ``background``, ``exposure``,
  and ``mask`` (bool, true where a point is measured; all true for
  sasmodels curves).
- ``hifft/``: the :class:`hifft.store.Manifest` (job fingerprint, one marker
  per finished chunk, ``complete``). The group lives in ``data/`` because a
  non-Zarr folder inside a Zarr group makes zarr warn on every listing.

Chunk ``k`` holds samples ``[k·chunk_size, (k+1)·chunk_size)`` and is made
from ``default_rng([seed, k])`` alone, so a rerun rewrites the same bytes and
a killed job resumes at the unfinished chunks. Classes are balanced
globally (sample ``i`` has class ``i mod n_classes``, shuffled within its
chunk); the split is drawn per sample from the configured fractions.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

import numpy as np

from .._version import __version__
from ..runner import Outcome
from ..sampleset import (
    GROUP,
    SPLITS,
    TEMPLATE,
    ChunkTask,
    chunk_name,
    open_dataset_store,
    run_dataset_job,
    write_region,
    write_template_store,
)
from ..sampleset import chunk_bounds as _bounds
from ..store import Manifest
from . import shapes as S
from .config import DatasetConfig
from .noise import add_noise

FORMAT = "hifft.ml.curves/1"
_CURVE_VARS = ("I", "sigma", "I_true")
#: Manifest task written once before the chunks: the group's metadata.


def job_spec(cfg: DatasetConfig) -> dict[str, Any]:
    import sasmodels

    return {
        "format": FORMAT,
        "config": cfg.model_dump(mode="json", by_alias=True),
        "sasmodels": sasmodels.__version__,
    }


def _attrs(cfg: DatasetConfig, source: str) -> dict[str, Any]:
    return {
        "format": FORMAT,
        "source": source,
        "classes": json.dumps(list(S.CLASSES)),
        "classes_present": json.dumps(list(cfg.classes)),
        "params": json.dumps({c: list(S.PARAMS[c]) for c in S.CLASSES}),
        "splits": json.dumps(list(SPLITS)),
        "config": json.dumps(cfg.model_dump(mode="json", by_alias=True)),
        "hifft_version": __version__,
        "intensity_units": "1/cm",
        "length_units": "angstrom",
    }


# ---------------------------------------------------------------------------
# one chunk (pure; runs on a worker)
# ---------------------------------------------------------------------------


def chunk_bounds(cfg: DatasetConfig, k: int) -> tuple[int, int]:
    """Samples ``[i0, i1)`` of chunk ``k``."""
    return _bounds(cfg.n_samples, cfg.chunk_size, k)


def generate_arrays(cfg: DatasetConfig, k: int) -> dict[str, np.ndarray]:
    """All variables of chunk ``k`` as numpy arrays (deterministic in (seed, k))."""
    i0, i1 = chunk_bounds(cfg, k)
    n = i1 - i0
    rng = np.random.default_rng([cfg.seed, k])
    q = cfg.q.values()
    ncls = len(cfg.classes)
    label_local = np.arange(i0, i1) % ncls
    rng.shuffle(label_local)
    classes = [cfg.classes[j] for j in label_local]
    u = rng.uniform(size=n)
    split = cfg.split.codes(u)

    out: dict[str, np.ndarray] = {p: np.full(n, np.nan) for p in S.ALL_PARAMS}
    for c in cfg.classes:
        idx = np.flatnonzero(np.array(classes) == c)
        if idx.size:
            for p, v in S.sample_params(c, cfg.shapes, rng, idx.size).items():
                out[p][idx] = v
    scale = cfg.nuisance.scale.sample(rng, n)
    background = cfg.nuisance.background.sample(rng, n)
    exposure = cfg.noise.exposure.sample(rng, n)
    i_true = np.empty((n, q.size))
    i_obs = np.empty((n, q.size))
    sig = np.empty((n, q.size))
    for j, c in enumerate(classes):
        label = {p: float(out[p][j]) for p in S.PARAMS[c]}
        i_true[j] = S.forward(c, q, label, cfg.shapes, scale[j], background[j], cfg.precision)
        i_obs[j], sig[j] = add_noise(i_true[j], q, cfg.noise, float(exposure[j]), rng)
    # shape index refers to the global class list so datasets with a subset of
    # classes still share labels with models trained on all five
    out.update(
        shape=np.array([S.class_index(c) for c in classes], dtype=np.int8),
        split=split,
        scale=scale,
        background=background,
        exposure=exposure,
        I=i_obs.astype(np.float32),
        sigma=sig.astype(np.float32),
        I_true=i_true.astype(np.float32),
        mask=np.ones((n, q.size), dtype=bool),
        sample=np.arange(i0, i1, dtype=np.int64),
    )
    return out


def to_xarray(arrays: dict[str, np.ndarray], q: np.ndarray, attrs: dict[str, Any] | None = None):
    """An xarray Dataset of curves from the arrays of :func:`generate_arrays`."""
    import xarray as xr

    from ..units import ATTR

    data_vars: dict[str, Any] = {}
    for name, v in arrays.items():
        if name == "sample":
            continue
        dims = ("sample", "q") if v.ndim == 2 else ("sample",)
        data_vars[name] = (dims, v)
    ds = xr.Dataset(data_vars, coords={"sample": arrays["sample"], "q": ("q", np.asarray(q, dtype=np.float64))})
    ds["q"].attrs["units"] = ATTR["q"]
    for var in ("I", "sigma", "I_true", "background"):
        if var in ds:
            ds[var].attrs["units"] = ATTR["intensity"]
    for p in S.LENGTHS:
        if p in ds:
            ds[p].attrs["units"] = ATTR["length"]
    if "exposure" in ds:
        ds["exposure"].attrs["units"] = "s"
    ds["shape"].attrs["description"] = "index into attrs['classes']"
    ds["split"].attrs["description"] = "0 train, 1 val, 2 test"
    ds.attrs.update(attrs or {})
    return ds


def generate_chunk(cfg: DatasetConfig, k: int):
    """Chunk ``k`` as an xarray Dataset."""
    return to_xarray(generate_arrays(cfg, k), cfg.q.values(), _attrs(cfg, "sasmodels"))


def write_chunk(task: ChunkTask, cfg: DatasetConfig) -> Outcome:
    """Runner task: make chunk ``task.index`` and write its region (the runner then marks it done)."""
    t0 = time.perf_counter()
    i0, i1 = chunk_bounds(cfg, task.index)
    ds = generate_chunk(cfg, task.index).drop_vars("q")
    ds.attrs = {}
    write_region(ds, task.store, i0, i1)
    dt = time.perf_counter() - t0
    counts = np.bincount(ds["shape"].values, minlength=len(S.CLASSES)).tolist()
    return Outcome(info={"samples": [i0, i1], "seconds": dt, "per_class": counts}, value=i1 - i0)


# ---------------------------------------------------------------------------
# the job
# ---------------------------------------------------------------------------


def write_template(
    cfg: DatasetConfig, path: str | os.PathLike[str], source: str = "sasmodels", extra: dict[str, Any] | None = None
) -> None:
    """Write the ``data`` group's metadata (every array of ``cfg.n_samples`` curves, no chunks).

    The arrays are lazy zeros that are never computed; the chunks are written
    later, one region per task (:func:`write_chunk`, :mod:`hifft.ml.fft_subset`).
    """
    import dask.array as da

    n, nq, c = cfg.n_samples, cfg.q.n, cfg.chunk_size
    arrays: dict[str, Any] = {p: da.full(n, np.nan, chunks=c) for p in S.ALL_PARAMS}
    for v in ("scale", "background", "exposure"):
        arrays[v] = da.zeros(n, chunks=c)
    arrays["shape"] = da.zeros(n, chunks=c, dtype=np.int8)
    arrays["split"] = da.zeros(n, chunks=c, dtype=np.int8)
    for v in _CURVE_VARS:
        arrays[v] = da.zeros((n, nq), chunks=(c, nq), dtype=np.float32)
    arrays["mask"] = da.zeros((n, nq), chunks=(c, nq), dtype=bool)
    arrays["sample"] = np.arange(n, dtype=np.int64)
    ds = to_xarray(arrays, cfg.q.values(), {**_attrs(cfg, source), **(extra or {})})
    ds = ds.chunk({"sample": c})
    write_template_store(ds, path)


def estimate_bytes(cfg: DatasetConfig) -> int:
    """Upper bound of the uncompressed size on disk."""
    per = cfg.q.n * (3 * 4 + 1) + 8 * (len(S.ALL_PARAMS) + 4) + 2
    return int(cfg.n_samples * per * 1.05) + (1 << 20)


def make_dataset(
    cfg: DatasetConfig,
    out: str | os.PathLike[str],
    client: Any = None,
    overwrite: bool = False,
    progress: bool | None = None,
    max_chunks: int | None = None,
) -> Path:
    """Run (or resume) the dataset job; return the store path.

    ``client``: None runs the chunks in this process, ``"local"`` on a
    LocalCluster, an address or a ``distributed.Client`` on that cluster.
    ``progress``: show the progress bar (None: when stderr is a terminal).
    ``max_chunks`` stops after that many new chunks (to test resuming); the
    store is then left incomplete.
    """
    def summarize(man: Manifest, names: list[str]) -> dict[str, Any]:
        per_class = np.zeros(len(S.CLASSES), dtype=int)
        for t in names:
            per_class += np.asarray(man.info(t)["per_class"])
        return {"n_samples": cfg.n_samples, "per_class": dict(zip(S.CLASSES, per_class.tolist(), strict=True)),
                "task_seconds": sum(man.info(t)["seconds"] for t in names)}

    return run_dataset_job(
        out, job_spec(cfg), n_chunks=cfg.n_chunks, write_template=lambda p: write_template(cfg, p),
        write_chunk=write_chunk, cfg=cfg, summarize=summarize, what="ML dataset", estimate_bytes=estimate_bytes(cfg),
        client=client, overwrite=overwrite, progress=progress, max_chunks=max_chunks,
        prepare=lambda: S.compile_models(cfg.classes, cfg.precision),  # before workers race to compile
    )


def open_dataset(path: str | os.PathLike[str], allow_incomplete: bool = False):
    """The curves of a dataset store (lazy, dask-backed) as an xarray Dataset.

    Refuses an unfinished store (unless ``allow_incomplete``): chunks that
    were never written read back as zeros, which must not pass for data.
    """
    return open_dataset_store(path, what="ML dataset", allow_incomplete=allow_incomplete,
                              command="`hifft ml dataset` / `hifft ml fft-subset`")


def classes_of(ds) -> list[str]:
    return json.loads(ds.attrs["classes"])


# the store frame's names, re-exported for the ML package's own modules and users
__all__ = ["GROUP", "TEMPLATE", "ChunkTask", "chunk_bounds", "chunk_name", "classes_of", "generate_arrays",
           "generate_chunk", "job_spec", "make_dataset", "open_dataset", "to_xarray", "write_chunk", "write_template"]
