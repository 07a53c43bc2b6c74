"""The out-of-core FFT engine: plan, then two passes of Dask tasks over Zarr.

Forward (``rfftn``/``fftn``): pass 1 = :func:`~hifft.fft.tasks.plane_task`
per z-slab (2D FFT over y, x, q-crop, write the intermediate); pass 2 =
:func:`~hifft.fft.tasks.column_task` per y-block (1D FFT along z, q-crop,
write the spectrum and/or fused reducers). Inverse transforms run the same
tasks in the opposite order. Small inputs take an in-core path with the same
results. Every pass resumes from its store's manifest.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..grid import Grid
from ..runner import Runner, client_context, resumable
from ..store import Manifest, check_free_space, fingerprint
from . import backends
from .backends.base import default_threads
from .plan import FFTPlan, kept_half_indices, kept_indices, plan_fft
from .reducer import Reducer, make_block
from .source import InputError, Source, as_source
from .tasks import (
    BlockMeta,
    ColumnTask,
    MemoryArray,
    PlaneTask,
    check_finite,
    column_task,
    crop,
    load_partial,
    merge_partials,
    plane_task,
)

#: Inputs up to this many bytes take the in-core path when no store or client is given.
IN_CORE_BYTES = 256 * 2**20
#: Tasks run at once in this process (threads): one task's reads and writes
#: overlap the next one's transform; the plan budgets memory for each.
IN_PROCESS_CONCURRENCY = 2


# ---------------------------------------------------------------- helpers
def _source_identity(src: Source) -> Any:
    if src.identity is not None:
        return src.identity
    a = src.array
    if hasattr(a, "dask"):  # a dask array's name is a token of its whole graph
        return {"dask": a.name, "shape": list(src.shape)}
    return {"sha1": hashlib.sha1(np.ascontiguousarray(a).tobytes()).hexdigest(), "shape": list(src.shape)}


def _work_dir(store: str | None, workdir: str | os.PathLike[str] | None, spec: dict[str, Any]) -> Path:
    if workdir is not None:
        return Path(workdir)
    if store is not None:
        return Path(str(store).rstrip("/") + ".work")
    base = Path(os.environ.get("HIFFT_TMPDIR", ".hifft-work"))
    return base / fingerprint(spec)


def _create(path: Path, shape: tuple[int, ...], chunks: tuple[int, ...], dtype: Any, attrs: dict | None) -> None:
    import zarr

    zarr.create_array(
        store=str(path), shape=shape, chunks=chunks, dtype=dtype, compressors=None,
        fill_value=0, zarr_format=3, overwrite=False, attributes=attrs or {},
    )


def _reducer_key(reducers: Sequence[Reducer]) -> str:
    """Stable identity of a set of reducers (their class and settings)."""
    def norm(v: Any) -> Any:
        if isinstance(v, np.ndarray):
            return hashlib.sha1(np.ascontiguousarray(v).tobytes()).hexdigest()
        if isinstance(v, Grid):
            return v.to_dict()
        if isinstance(v, dict):
            return {str(k): norm(x) for k, x in v.items()}
        if isinstance(v, list | tuple):
            return [norm(x) for x in v]
        return v if isinstance(v, int | float | str | bool | type(None)) else repr(v)

    return fingerprint([[type(r).__qualname__, r.name, norm(vars(r))] for r in reducers])


def _resolve_budget(memory_budget: Any, runner: Runner) -> int:
    from ..cluster import parse_bytes

    if memory_budget is not None:
        return int(parse_bytes(memory_budget))  # type: ignore[arg-type]
    lim = runner.memory_limit()
    if lim:
        return int(lim * 0.6)  # dask starts spilling at 60-70 %: stay under it
    import psutil

    return int(psutil.virtual_memory().available * 0.5)


def _worker_threads(client: Any) -> int:
    """Threads of the smallest worker: each task's FFT uses them all."""
    info = client.scheduler_info()
    return max(1, min((w.get("nthreads", 1) for w in info["workers"].values()), default=1))


def _coords(grid: Grid, half: bool, iz: np.ndarray, iy: np.ndarray, ix: np.ndarray,
            physical: bool = True) -> dict[str, Any]:
    from ..units import ATTR

    qx = grid.q_half() if half else grid.q(2)
    units = ATTR["q"] if physical else "1"
    note = "" if physical else " (no spacing given: unit spacing, q in radians per voxel)"
    return {
        "q_z": ("q_z", grid.q(0)[iz], {"units": units, "long_name": "q_z = 2π·fftfreq(n_z, d_z)" + note}),
        "q_y": ("q_y", grid.q(1)[iy], {"units": units, "long_name": "q_y = 2π·fftfreq(n_y, d_y)" + note}),
        "q_x": ("q_x", qx[ix], {"units": units, "long_name": (
            "q_x = 2π·rfftfreq(n_x, d_x)" if half else "q_x = 2π·fftfreq(n_x, d_x)") + note}),
    }


def _attrs(grid: Grid, half: bool, backend: str, dtype: Any, plan: FFTPlan | None, physical: bool,
           extra: dict | None) -> dict:
    import json

    from .._version import __version__

    a = {
        "transform": "rfftn" if half else "fftn",
        "convention": "numpy: unnormalized forward, no shift, q = 2π·fftfreq",
        "grid": json.dumps(grid.to_dict()),
        "spacing": "given" if physical else "none given: unit spacing assumed, q has no physical unit",
        "backend": backend,
        "dtype": str(np.dtype(dtype)),
        "hifft_version": __version__,
        "valid_q_range": list(grid.valid_q_range),
    }
    if plan is not None:
        a["k_max"] = json.dumps(plan.k_max)
        a["plan"] = json.dumps({"slab": plan.slab, "block": plan.block, "tasks": plan.tasks,
                                "intermediate": "memory" if plan.mid_in_memory else "disk"})
    a.update(extra or {})
    return a


# ---------------------------------------------------------------- the job
class FFTJob:
    """A planned forward transform; :meth:`execute` runs it (resuming if possible).

    ``client=None`` runs in this process with all its CPUs, ``concurrency``
    tasks at a time; the intermediate between the passes is held in memory
    when the plan finds it fits the budget (``intermediate="auto"``), else
    written to a Zarr store in the work directory. On a Dask client the
    intermediate is always on disk and each task uses its worker's threads.
    """

    def __init__(
        self,
        x: Any,
        *,
        real: bool | None,
        store: str | os.PathLike[str] | None = None,
        reducers: Sequence[Reducer] | None = None,
        spacing: Any = None,
        client: Any = None,
        backend: str | None = "auto",
        memory_budget: Any = None,
        dtype: Any = None,
        q_max: float | None = None,
        workdir: str | os.PathLike[str] | None = None,
        overwrite: bool = False,
        keep_intermediate: bool = False,
        threads: int | None = None,
        concurrency: int | None = None,
        intermediate: str = "auto",
        slab: int | None = None,
        block: int | None = None,
        progress: bool | None = True,
        in_core: bool | None = None,
    ) -> None:
        self.src = as_source(x, spacing=spacing, complex_ok=True)
        self.grid = self.src.grid
        if real is None:
            real = self.src.real
        if real and not self.src.real:
            raise InputError("rfftn needs a real input; got complex (use fftn)")
        self.half = bool(real)
        base = np.dtype(dtype) if dtype is not None else np.dtype(self.src.dtype)
        if base.kind == "c":
            base = np.dtype(np.float32 if base == np.complex64 else np.float64)
        if base not in (np.float32, np.float64):
            raise InputError(f"dtype must be float32 or float64, got {dtype}")
        self.dtype = base
        self.cdtype = np.dtype(np.complex64 if base == np.float32 else np.complex128)
        self.store = None if store is None else str(store)
        self.reducers = list(reducers or [])
        names = [r.name for r in self.reducers]
        if len(set(names)) != len(names) or "meta" in names:
            raise ValueError(f"reducer names must be unique and not 'meta': {names}")
        self.backend = backends.resolve(backend)
        self.overwrite, self.keep_intermediate = overwrite, keep_intermediate
        self.q_max = q_max
        if client is None:
            self.runner = Runner(None, progress=progress, concurrency=concurrency or IN_PROCESS_CONCURRENCY)
            self.threads = threads or default_threads()
        else:
            self.runner = Runner(client, progress=progress)
            self.threads = threads or _worker_threads(client)
        if in_core is None:
            in_core = store is None and client is None and self.src.nbytes <= IN_CORE_BYTES
        self.in_core = bool(in_core)
        # a bare out-of-core transform returns a dask array over a spectrum in the work dir
        write_spectrum = self.store is not None or (not self.in_core and not self.reducers)
        self.plan = plan_fft(
            self.grid.shape, real=self.half, dtype=self.dtype, workers=self.runner.workers if client else 1,
            memory_budget=_resolve_budget(memory_budget, self.runner), spacing=self.grid.spacing,
            q_max=q_max, write_spectrum=write_spectrum, source_chunk=self.src.chunk_z, slab=slab, block=block,
            concurrency=1 if client else self.runner.concurrency,
            intermediate="disk" if client is not None else intermediate,
        )
        nz, ny, nx = self.grid.shape
        kz, ky, kx = self.plan.k_max
        self.iz = kept_indices(nz, kz)
        self.iy = kept_indices(ny, ky)
        self.ix = kept_half_indices(nx, kx) if self.half else kept_indices(nx, kx)
        self.spec = {
            "op": "rfftn" if self.half else "fftn", "source": _source_identity(self.src),
            "grid": self.grid.to_dict(), "dtype": str(self.dtype), "backend": self.backend,
            "slab": self.plan.slab, "block": self.plan.block, "k_max": list(self.plan.k_max),
        }
        self.workdir = _work_dir(self.store, workdir, self.spec)
        if write_spectrum and self.store is None:
            self.store = str(self.workdir / "spectrum.zarr")
        self.counts: dict[str, int] = {}
        self.times: dict[str, float] = {}
        #: per pass, task seconds summed over the tasks that ran, by phase (read, fft, write, reduce)
        self.phases: dict[str, dict[str, float]] = {}

    # -------------------------------------------------------------- in-core
    def _in_core(self) -> tuple[np.ndarray, dict[str, Any]]:
        be = backends.get_backend(self.backend, threads=self.threads)
        x = self.src.read(0, self.grid.shape[0])
        check_finite(x, self.src.path or "input array", 0)
        y = be.rfft2(x.astype(self.dtype, copy=False)) if self.half else be.fft2(x.astype(self.cdtype, copy=False))
        y = crop(crop(y, 1, self.iy), 2, self.ix)
        F = crop(be.fft(y, axis=0), 0, self.iz)
        del y
        out: dict[str, Any] = {}
        for r in self.reducers:
            blk = make_block(F, self.grid, self.half, iz=self.iz, iy=self.iy, ix=self.ix)
            out[r.name] = r.finalize(r.block(blk), self.grid)
        self.counts = {"pass1": 1, "pass2": 1}
        return F, out

    # -------------------------------------------------------------- execute
    def execute(self) -> tuple[Any, dict[str, Any]]:
        """Run the job. Returns (spectrum or None, {reducer name: result, "meta": ...})."""
        meta = {"backend": self.backend, "dtype": str(self.cdtype), "grid": self.grid.to_dict(),
                "q_max": self.q_max, "k_max": list(self.plan.k_max), "in_core": self.in_core,
                "threads": self.threads, "plan": self.plan.to_dict()}
        if self.in_core:
            F, out = self._in_core()
            out["meta"] = meta
            return F, out
        spectrum, out = self._out_of_core()
        meta["counts"] = dict(self.counts)
        meta["times_s"] = dict(self.times)
        meta["task_phases_s"] = self.phases
        meta["bytes"] = {"read": dict(self.plan.bytes_read), "written": dict(self.plan.bytes_written),
                         "intermediate_in_memory": self.plan.mid_in_memory}
        out["meta"] = meta
        return spectrum, out

    @property
    def _spec2(self) -> dict[str, Any]:
        rkey = _reducer_key(self.reducers) if self.reducers else None
        return dict(self.spec, reducers=rkey, spectrum=self.store is not None)

    def _already_complete(self) -> bool:
        """A finished spectrum of this very job (and nothing to reduce) is returned as it is."""
        if self.store is None or self.reducers or self.overwrite:
            return False
        man = Manifest(self.store)
        job = man.job() if man.complete else None
        return job is not None and job.get("fingerprint") == fingerprint(self._spec2)

    def _out_of_core(self) -> tuple[Any, dict[str, Any]]:
        if self.store is not None and self._already_complete():  # (complete implies a store)
            self.counts = {"pass1": 0, "pass2": 0}
            return _open_spectrum(self.store), {}
        self.workdir.mkdir(parents=True, exist_ok=True)
        check_free_space(self.workdir, self.plan.disk_needed, "the FFT",
                         advice="free space, pass workdir=, or crop q (q_max)")
        self._stage_input()
        result = self._via_memory() if self.plan.mid_in_memory else self._via_disk()
        if not self.keep_intermediate:  # on failure everything written stays, for the rerun to resume
            for name in ("mid.zarr", "input.zarr", "partials"):
                shutil.rmtree(self.workdir / name, ignore_errors=True)
            if self.workdir.exists() and not any(self.workdir.iterdir()):
                self.workdir.rmdir()
        return result

    def _pass1_specs(self, dst: str | MemoryArray) -> list[PlaneTask]:
        nz, slab = self.grid.shape[0], self.plan.slab
        op = "rfft2" if self.half else "fft2"
        return [PlaneTask(f"p1-{i:06d}", self.src, i * slab, min(nz, (i + 1) * slab), op, dst, self.backend,
                          self.threads, self.dtype.name, self.iy, self.ix) for i in range(self.plan.n_slabs)]

    def _pass1(self, dst: str | MemoryArray, man: Manifest | None) -> None:
        specs = self._pass1_specs(dst)
        done = man.done() if man is not None else set()
        per = self.plan.slab * self.plan.mid_shape[1] * self.plan.mid_shape[2] * self.cdtype.itemsize
        t0 = time.perf_counter()
        self.runner.map(plane_task, specs, desc="pass 1 (2D FFT per z-slab)", manifest=man,
                        bytes_per_task=per, unit="slabs")
        self.times["pass1"] = time.perf_counter() - t0
        self.counts["pass1"] = len([s for s in specs if s.name not in done])
        self.phases["pass1"] = _phase_sums(self.runner.infos)
        if man is not None:
            man.mark_complete([s.name for s in specs], {"zero_slabs": sorted(
                t for t in man.done() if t.startswith("p1-") and man.info(t).get("zero"))})

    def _via_memory(self) -> tuple[Any, dict[str, Any]]:
        mid = MemoryArray(self.plan.mid_shape, self.cdtype)
        if self.store is None:
            self._pass1(mid, None)
            return self._pass2(mid, None)
        with resumable(self.store, self._spec2, overwrite=self.overwrite) as (man, resumed):
            if not resumed:
                self._create_spectrum()
            self._pass1(mid, None)
            return self._pass2(mid, man)

    def _via_disk(self) -> tuple[Any, dict[str, Any]]:
        mid = self.workdir / "mid.zarr"
        with resumable(mid, self.spec, overwrite=self.overwrite) as (m_mid, resumed):
            if not resumed:
                _create(mid, self.plan.mid_shape, (self.plan.slab, self.plan.block, self.plan.mid_shape[2]),
                        self.cdtype, None)
            self._pass1(str(mid), m_mid)
            if self.store is None:  # reductions only: bookkeeping lives beside the intermediate
                return self._pass2(str(mid), Manifest(mid / "hifft" / f"pass2-{self._spec2['reducers']}"))
            with resumable(self.store, self._spec2, overwrite=self.overwrite) as (man, resumed2):
                if not resumed2:
                    self._create_spectrum()
                return self._pass2(str(mid), man)

    def _create_spectrum(self) -> None:
        assert self.store is not None
        _create(Path(self.store), self.plan.out_shape, self.plan.out_chunks, self.cdtype,
                _attrs(self.grid, self.half, self.backend, self.cdtype, self.plan, self.src.physical, None))

    def _stage_input(self) -> None:
        """Write an in-memory input to the work dir once, so cluster tasks ship a path, not the data."""
        if self.src.array is None or self.runner.client is None or self.src.nbytes <= 2**20:
            return
        staged = self.workdir / "input.zarr"
        if not (staged / "hifft" / "complete").exists():
            import zarr

            shutil.rmtree(staged, ignore_errors=True)
            chunks = (self.plan.slab, *self.grid.shape[1:])
            a = self.src.array
            if hasattr(a, "dask"):  # computed on the cluster, slab by slab
                a.rechunk(chunks).to_zarr(str(staged), compressors=None, zarr_format=3)
            else:
                zarr.create_array(store=str(staged), data=a, chunks=chunks, compressors=None, zarr_format=3)
            Manifest(staged).mark_complete([], {"staged": True})
        self.src = Source(grid=self.grid, dtype=self.src.dtype, path=str(staged), chunk_z=self.plan.slab,
                          identity=self.src.identity, raw=True, physical=self.src.physical)

    def _pass2(self, mid: str | MemoryArray, man: Manifest | None) -> tuple[Any, dict[str, Any]]:
        plan = self.plan
        n_y = plan.mid_shape[1]
        rkey = self._spec2["reducers"]
        partial_dir = str(self.workdir / "partials" / rkey) if rkey and man is not None else None
        done = man.done() if man is not None else set()
        if partial_dir is not None:  # a task counts as done only with its partial saved
            have = {p.stem for p in Path(partial_dir).glob("*.pkl")}
            done &= have
        meta = BlockMeta(self.grid, self.half, self.iz, self.iy, self.ix)
        specs = [ColumnTask(f"p2-{j:06d}", mid, j * plan.block, min(n_y, (j + 1) * plan.block), "fft",
                            self.backend, self.threads, self.iz, self.store, tuple(self.reducers), meta,
                            partial_dir) for j in range(plan.n_blocks)]
        per = plan.block * plan.out_shape[0] * plan.out_shape[2] * self.cdtype.itemsize
        t0 = time.perf_counter()
        fresh = self.runner.map(column_task, specs, desc="pass 2 (1D FFT along z per y-block)", manifest=man,
                                done=done, bytes_per_task=per if self.store else 0, unit="blocks")
        self.times["pass2"] = time.perf_counter() - t0
        self.counts["pass2"] = len(fresh)
        self.phases["pass2"] = _phase_sums(self.runner.infos)
        if man is not None:
            man.mark_complete([s.name for s in specs], {"counts": self.counts})
        out: dict[str, Any] = {}
        if self.reducers:
            parts = [fresh[s.name] if s.name in fresh else load_partial(partial_dir, s.name)  # type: ignore[arg-type]
                     for s in specs]
            merged = self.runner.tree_merge(_Merge(self.reducers), parts)
            out = {r.name: r.finalize(merged[r.name], self.grid) for r in self.reducers}
        return (_open_spectrum(self.store) if self.store is not None else None), out


def _phase_sums(infos: dict[str, dict[str, Any]]) -> dict[str, float]:
    out: dict[str, float] = {}
    for info in infos.values():
        for k, v in info.items():
            if k.endswith("_s"):
                out[k] = round(out.get(k, 0.0) + float(v), 4)
    return out


def _open_spectrum(store: str) -> Any:
    import dask.array as da

    return da.from_zarr(store)


class _Merge:
    """Picklable pairwise merge of partial dicts."""

    def __init__(self, reducers: list[Reducer]) -> None:
        self.reducers = reducers

    def __call__(self, a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
        return merge_partials(self.reducers, a, b)


# ---------------------------------------------------------------- public API
def _to_dataarray(F: Any, job: FFTJob) -> Any:
    import xarray as xr

    return xr.DataArray(
        F, dims=("q_z", "q_y", "q_x"),
        coords=_coords(job.grid, job.half, job.iz, job.iy, job.ix, job.src.physical),
        name="F", attrs=_attrs(job.grid, job.half, job.backend, job.cdtype, job.plan, job.src.physical,
                               {"store": job.store or ""}),
    )


def _transform(x: Any, real: bool, store: Any, client: Any, **kw: Any) -> Any:
    with client_context(client) as c:
        job = FFTJob(x, real=real, store=store, client=c, **kw)
        F, _ = job.execute()
        return _to_dataarray(F, job)


def rfftn(x: Any, store: str | os.PathLike[str] | None = None, *, spacing: Any = None, client: Any = None,
          backend: str | None = "auto", memory_budget: Any = None, dtype: Any = None,
          q_max: float | None = None, workdir: Any = None, overwrite: bool = False,
          in_core: bool | None = None, progress: bool | None = True, **kw: Any) -> Any:
    """Real-to-complex 3D FFT, exactly ``numpy.fft.rfftn`` (unnormalized, no shift).

    ``x``: a Volume, a Zarr path/array, or a numpy or dask array (dask
    arrays are read slab by slab, and staged to Zarr once for a cluster).
    Returns a DataArray (q_z, q_y, q_x): numpy-backed for the in-core path,
    dask-backed (reading ``store``) out of core. q is in 1/Å for inputs with
    a grid or ``spacing`` (Å); bare arrays get unit spacing, said so in the
    attrs. ``q_max`` (1/Å) keeps only |q_i| ≤ q_max per axis, exactly.
    ``client=None`` runs in this process with all CPUs; ``"local"`` starts a
    LocalCluster; a ``distributed.Client`` or scheduler address runs there.
    A rerun with a complete ``store`` of the same job returns it at once.
    """
    return _transform(x, True, store, client, spacing=spacing, backend=backend, in_core=in_core,
                      memory_budget=memory_budget, dtype=dtype, q_max=q_max, workdir=workdir,
                      overwrite=overwrite, progress=progress, **kw)


def fftn(x: Any, store: str | os.PathLike[str] | None = None, *, spacing: Any = None, client: Any = None,
         backend: str | None = "auto", memory_budget: Any = None, dtype: Any = None,
         q_max: float | None = None, workdir: Any = None, overwrite: bool = False,
         in_core: bool | None = None, progress: bool | None = True, **kw: Any) -> Any:
    """Complex 3D FFT (real or complex input), exactly ``numpy.fft.fftn``; see :func:`rfftn`."""
    return _transform(x, False, store, client, spacing=spacing, backend=backend, in_core=in_core,
                      memory_budget=memory_budget, dtype=dtype, q_max=q_max, workdir=workdir,
                      overwrite=overwrite, progress=progress, **kw)


def reduce_spectrum(x: Any, reducers: Sequence[Reducer], *, spacing: Any = None, client: Any = None,
                    backend: str | None = "auto", memory_budget: Any = None, dtype: Any = None,
                    q_max: float | None = None, workdir: Any = None, store: Any = None,
                    overwrite: bool = False, in_core: bool | None = None, progress: bool | None = True,
                    **kw: Any) -> dict[str, Any]:
    """Forward rfftn fused with ``reducers`` in pass 2; the spectrum is never gathered.

    Returns ``{reducer.name: result, ..., "meta": {...}}``. The spectrum is
    written only when ``store`` is given.
    """
    with client_context(client) as c:
        job = FFTJob(x, real=None, store=store, reducers=reducers, spacing=spacing, client=c,
                     backend=backend, memory_budget=memory_budget, dtype=dtype, q_max=q_max,
                     workdir=workdir, overwrite=overwrite, progress=progress, in_core=in_core, **kw)
        _, out = job.execute()
        return out


# ---------------------------------------------------------------- inverses
def _spectrum_input(F: Any) -> tuple[Any, dict[str, Any]]:
    """numpy array or zarr path + attrs for an inverse transform's input."""
    import xarray as xr

    attrs: dict[str, Any] = {}
    if isinstance(F, xr.DataArray):
        attrs = dict(F.attrs)
        if attrs.get("k_max") not in (None, "[null, null, null]"):
            raise InputError("cannot invert a q-cropped spectrum (frequencies are missing)")
        if attrs.get("store"):
            return attrs["store"], attrs
        return np.asarray(F.values), attrs
    return F, attrs


def _real_space(x: Any, attrs: dict[str, Any], op: str) -> Any:
    """Label an inverse transform's output with the real-space grid the spectrum came from."""
    import json

    import xarray as xr

    coords: dict[str, Any] = {}
    out_attrs = {"transform": op, "convention": "numpy: 1/n-normalized inverse"}
    if "grid" in attrs:
        g = Grid.from_dict(json.loads(attrs["grid"]))
        if g.shape == tuple(x.shape):
            from ..units import ATTR

            coords = {d: (d, g.coords(i), {"units": ATTR["length"], "long_name": "voxel centre"})
                      for i, d in enumerate("zyx")}
            out_attrs["grid"] = attrs["grid"]
    return xr.DataArray(x, dims=("z", "y", "x"), coords=coords, name="rho", attrs=out_attrs)


def _inverse(F: Any, real: bool, shape: tuple[int, int, int] | None, store: Any, client: Any,
             backend: str | None, memory_budget: Any, workdir: Any, overwrite: bool,
             in_core: bool | None, progress: bool | None, threads: int | None = None) -> Any:
    x, attrs = _spectrum_input(F)
    src = as_source(x, complex_ok=True)
    if src.real:
        raise InputError("inverse transform needs a complex spectrum")
    nz, ny, nh = src.shape
    if real:
        nx = shape[2] if shape is not None else 2 * (nh - 1)
        if nx // 2 + 1 != nh:
            raise InputError(f"shape {shape} does not match a half spectrum with {nh} columns")
    else:
        nx = nh
    op = "irfftn" if real else "ifftn"
    rdt = np.dtype(np.float32 if np.dtype(src.dtype) == np.complex64 else np.float64)
    name = backends.resolve(backend)
    runner = Runner(client, progress=progress)
    thr = threads or (default_threads() if client is None else _worker_threads(client))
    if in_core is None:
        in_core = store is None and client is None and src.nbytes <= IN_CORE_BYTES
    if in_core:
        be = backends.get_backend(name, threads=thr)
        a = be.ifft(src.read(0, nz), axis=0)
        return _real_space(be.irfft2(a, s=(ny, nx)) if real else be.ifft2(a), attrs, op)
    plan = plan_fft((nz, ny, nx), real=real, dtype=rdt, workers=runner.workers,
                    memory_budget=_resolve_budget(memory_budget, runner), write_spectrum=True)
    spec = {"op": op, "source": _source_identity(src), "shape": [nz, ny, nx],
            "backend": name, "slab": plan.slab, "block": plan.block}
    wd = _work_dir(None if store is None else str(store), workdir, spec)
    wd.mkdir(parents=True, exist_ok=True)
    if src.path is None:  # stage in-memory spectra to zarr so columns can be read by block
        staged = wd / "in.zarr"
        if not staged.exists():
            import zarr

            zarr.create_array(store=str(staged), data=np.asarray(src.array), chunks=(plan.slab, plan.block, nh),
                              compressors=None, zarr_format=3)
        src_path = str(staged)
    else:
        src_path = src.path
    mid = wd / "mid.zarr"
    out = Path(store) if store is not None else wd / "out.zarr"
    with resumable(mid, spec, overwrite=overwrite) as (m_mid, resumed):
        if not resumed:
            _create(mid, (nz, ny, nh), (plan.slab, plan.block, nh), src.dtype, None)
        blocks = [ColumnTask(f"p1-{j:06d}", src_path, j * plan.block, min(ny, (j + 1) * plan.block), "ifft",
                             name, thr, None, str(mid)) for j in range(plan.n_blocks)]
        runner.map(column_task, blocks, desc="inverse pass 1 (1D iFFT along z)", manifest=m_mid, unit="blocks")
        m_mid.mark_complete([b.name for b in blocks])
        with resumable(out, spec, overwrite=overwrite) as (m_out, resumed2):
            if not resumed2:
                _create(out, (nz, ny, nx), (plan.slab, ny, nx), rdt if real else src.dtype, None)
            msrc = as_source(str(mid), complex_ok=True)
            msrc.raw = True
            plane_op = "irfft2" if real else "ifft2"
            slabs = [PlaneTask(f"p2-{i:06d}", msrc, i * plan.slab, min(nz, (i + 1) * plan.slab), plane_op, str(out),
                               name, thr, str(np.dtype(rdt)), real_shape=(ny, nx)) for i in range(plan.n_slabs)]
            runner.map(plane_task, slabs, desc="inverse pass 2 (2D iFFT per z-slab)", manifest=m_out, unit="slabs")
            m_out.mark_complete([s.name for s in slabs])
    shutil.rmtree(mid, ignore_errors=True)
    return _real_space(_open_spectrum(str(out)), attrs, op)


def irfftn(F: Any, shape: tuple[int, int, int] | None = None, store: Any = None, *, client: Any = None,
           backend: str | None = "auto", memory_budget: Any = None, workdir: Any = None,
           overwrite: bool = False, in_core: bool | None = None, progress: bool | None = True) -> Any:
    """Inverse of :func:`rfftn` (``numpy.fft.irfftn`` with ``s=shape``): a real DataArray (z, y, x)."""
    with client_context(client) as c:
        return _inverse(F, True, shape, store, c, backend, memory_budget, workdir, overwrite, in_core, progress)


def ifftn(F: Any, store: Any = None, *, client: Any = None, backend: str | None = "auto",
          memory_budget: Any = None, workdir: Any = None, overwrite: bool = False,
          in_core: bool | None = None, progress: bool | None = True) -> Any:
    """Inverse of :func:`fftn` (``numpy.fft.ifftn``): a complex DataArray (z, y, x)."""
    with client_context(client) as c:
        return _inverse(F, False, None, store, c, backend, memory_budget, workdir, overwrite, in_core, progress)


__all__ = ["rfftn", "fftn", "irfftn", "ifftn", "reduce_spectrum", "FFTJob", "IN_CORE_BYTES"]
