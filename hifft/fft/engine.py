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
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..grid import Grid
from ..store import Manifest, fingerprint, free_bytes
from . import backends
from .plan import FFTPlan, kept_half_indices, kept_indices, plan_fft
from .reducer import Reducer, make_block
from .source import InputError, Source, as_source
from .tasks import DiskFullError, column_task, load_partial, merge_partials, plane_task

#: Inputs up to this many bytes take the in-core path when no store or client is given.
IN_CORE_BYTES = 256 * 2**20


# ---------------------------------------------------------------- executors
class _Executor:
    """Runs task calls; ``client=None`` in-process (debugging, tiny jobs)."""

    def __init__(self, client: Any | None) -> None:
        self.client = client

    @property
    def workers(self) -> int:
        if self.client is None:
            return 1
        from ..cluster import n_workers

        return max(1, n_workers(self.client))

    def memory_limit(self) -> int | None:
        if self.client is None:
            return None
        from ..cluster import worker_memory_limit

        return worker_memory_limit(self.client)

    def run(self, fn: Callable, calls: list[tuple], desc: str, progress: bool) -> list[Any]:
        """Run ``fn(*args)`` for each call; results in call order."""
        if not calls:
            return []
        with _progress(desc, len(calls), progress) as tick:
            if self.client is None:
                out = []
                for args in calls:
                    out.append(fn(*args))
                    tick()
                return out
            from distributed import as_completed

            futs = [self.client.submit(fn, *args, pure=False, retries=0) for args in calls]
            index = {f.key: i for i, f in enumerate(futs)}
            results: list[Any] = [None] * len(futs)
            try:
                for fut in as_completed(futs):
                    results[index[fut.key]] = _result(fut)
                    tick()
            finally:
                for f in futs:
                    f.release()
            return results

    def tree_merge(self, merge: Callable, items: list[Any]) -> Any:
        """Pairwise merge ``items`` as a tree (on workers when distributed)."""
        if self.client is None or len(items) <= 2:
            while len(items) > 1:
                items = [merge(items[i], items[i + 1]) if i + 1 < len(items) else items[i]
                         for i in range(0, len(items), 2)]
            return items[0]
        futs = self.client.scatter(items)
        while len(futs) > 1:
            futs = [self.client.submit(merge, futs[i], futs[i + 1], pure=False) if i + 1 < len(futs)
                    else futs[i] for i in range(0, len(futs), 2)]
        return _result(futs[0])


def _result(fut: Any) -> Any:
    from distributed import KilledWorker

    try:
        return fut.result()
    except KilledWorker as exc:
        raise RuntimeError(
            f"a task was lost with its worker repeatedly ({exc}); most often the task exceeded the "
            f"worker memory limit: raise the per-worker memory limit, or lower memory_budget so the "
            f"plan makes smaller slabs/blocks (see `hifft plan`)"
        ) from exc


class _progress:
    def __init__(self, desc: str, total: int, enabled: bool) -> None:
        self.desc, self.total, self.enabled = desc, total, enabled and total > 1
        self._p = None

    def __enter__(self) -> Callable[[], None]:
        if not self.enabled:
            return lambda: None
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        self._p = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                           TimeElapsedColumn(), transient=False)
        self._p.start()
        tid = self._p.add_task(self.desc, total=self.total)
        return lambda: self._p.advance(tid)

    def __exit__(self, *exc: Any) -> None:
        if self._p is not None:
            self._p.stop()


# ---------------------------------------------------------------- helpers
def _source_identity(src: Source) -> Any:
    if src.identity is not None:
        return src.identity
    return {"sha1": hashlib.sha1(np.ascontiguousarray(src.array).tobytes()).hexdigest(), "shape": list(src.shape)}


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


def _resolve_budget(memory_budget: Any, ex: _Executor) -> int:
    from ..cluster import parse_bytes

    if memory_budget is not None:
        return int(parse_bytes(memory_budget))
    lim = ex.memory_limit()
    if lim:
        return int(lim * 0.6)  # dask starts spilling at 60-70 %: stay under it
    import psutil

    return int(psutil.virtual_memory().available * 0.5)


def _coords(grid: Grid, half: bool, iz: np.ndarray, iy: np.ndarray, ix: np.ndarray) -> dict[str, Any]:
    from ..units import ATTR

    qx = grid.q_half() if half else grid.q(2)
    return {
        "q_z": ("q_z", grid.q(0)[iz], {"units": ATTR["q"], "long_name": "q_z = 2π·fftfreq(n_z, d_z)"}),
        "q_y": ("q_y", grid.q(1)[iy], {"units": ATTR["q"], "long_name": "q_y = 2π·fftfreq(n_y, d_y)"}),
        "q_x": ("q_x", qx[ix], {"units": ATTR["q"],
                                "long_name": "q_x = 2π·rfftfreq(n_x, d_x)" if half else "q_x = 2π·fftfreq(n_x, d_x)"}),
    }


def _attrs(grid: Grid, half: bool, backend: str, dtype: Any, plan: FFTPlan | None, extra: dict | None) -> dict:
    import json

    from .._version import __version__

    a = {
        "transform": "rfftn" if half else "fftn",
        "convention": "numpy: unnormalized forward, no shift, q = 2π·fftfreq",
        "grid": json.dumps(grid.to_dict()),
        "backend": backend,
        "dtype": str(np.dtype(dtype)),
        "hifft_version": __version__,
        "valid_q_range": list(grid.valid_q_range),
    }
    if plan is not None:
        a["k_max"] = json.dumps(plan.k_max)
        a["plan"] = json.dumps({"slab": plan.slab, "block": plan.block, "tasks": plan.tasks})
    a.update(extra or {})
    return a


# ---------------------------------------------------------------- the job
class FFTJob:
    """A planned forward transform; :meth:`execute` runs it (resuming if possible)."""

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
        slab: int | None = None,
        block: int | None = None,
        progress: bool = True,
        in_core: bool | None = None,
    ) -> None:
        self.src = as_source(x, spacing=spacing, complex_ok=True)
        self.grid = self.src.grid
        src_real = self.src.real
        if real is None:
            real = src_real
        if real and not src_real:
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
        self.threads = threads or 1
        self.overwrite, self.keep_intermediate, self.progress = overwrite, keep_intermediate, progress
        self.q_max = q_max
        self.ex = _Executor(client)
        if in_core is None:
            in_core = store is None and client is None and self.src.nbytes <= IN_CORE_BYTES
        self.in_core = bool(in_core)
        budget = _resolve_budget(memory_budget, self.ex)
        self.plan = plan_fft(
            self.grid.shape, real=self.half, dtype=self.dtype, workers=self.ex.workers,
            memory_budget=budget, spacing=self.grid.spacing, q_max=q_max,
            write_spectrum=self.store is not None, source_chunk=self.src.chunk_z, slab=slab, block=block,
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
        if not self.in_core and self.store is None and not self.reducers:
            # a bare out-of-core transform returns a dask array over a spectrum in the work dir
            self.store = str(self.workdir / "spectrum.zarr")
            self.plan = plan_fft(
                self.grid.shape, real=self.half, dtype=self.dtype, workers=self.ex.workers,
                memory_budget=budget, spacing=self.grid.spacing, q_max=q_max, write_spectrum=True,
                source_chunk=self.src.chunk_z, slab=self.plan.slab, block=self.plan.block,
            )
        self.counts: dict[str, int] = {}
        self.times: dict[str, float] = {}

    # -------------------------------------------------------------- in-core
    def _in_core(self) -> tuple[np.ndarray, dict[str, Any]]:
        be = backends.get_backend(self.backend, threads=self.threads)
        x = self.src.read(0, self.grid.shape[0])
        from .tasks import _check_finite, _crop

        _check_finite(x, self.src.path or "input array", 0)
        y = be.rfft2(x.astype(self.dtype, copy=False)) if self.half else be.fft2(x.astype(self.cdtype, copy=False))
        y = _crop(_crop(y, 1, self.iy), 2, self.ix)
        F = _crop(be.fft(y, axis=0), 0, self.iz)
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
        in_core = self.in_core
        meta = {"backend": self.backend, "dtype": str(self.cdtype), "grid": self.grid.to_dict(),
                "q_max": self.q_max, "k_max": list(self.plan.k_max), "in_core": bool(in_core),
                "plan": self.plan.to_dict()}
        if in_core:
            F, out = self._in_core()
            out["meta"] = meta
            return F, out
        spectrum, out = self._out_of_core()
        meta["counts"] = dict(self.counts)
        meta["times_s"] = dict(self.times)
        out["meta"] = meta
        return spectrum, out

    def _out_of_core(self) -> tuple[Any, dict[str, Any]]:
        plan = self.plan
        nz = self.grid.shape[0]
        mid = self.workdir / "mid.zarr"
        self.workdir.mkdir(parents=True, exist_ok=True)
        need = plan.disk_needed
        have = free_bytes(self.workdir)
        if need > have:
            raise InputError(
                f"{self.workdir}: the FFT needs {need / 2**30:.2f} GiB of disk but {have / 2**30:.2f} GiB "
                f"is free ({(need - have) / 2**30:.2f} GiB short); free space, pass workdir=, or crop q (q_max)"
            )
        self._stage_input()
        m_mid = Manifest(mid)
        out_man = Manifest(self.store) if self.store else None
        with m_mid.lock():
            resumed = m_mid.begin(self.spec, overwrite=self.overwrite)
            if not resumed:
                _create(mid, plan.mid_shape, (plan.slab, plan.block, plan.mid_shape[2]), self.cdtype, None)
            # ---- pass 1
            slabs = [(f"p1-{i:06d}", i * plan.slab, min(nz, (i + 1) * plan.slab)) for i in range(plan.n_slabs)]
            todo = [s for s in slabs if not m_mid.is_done(s[0])]
            op = "rfft2" if self.half else "fft2"
            calls = [(self.src, z0, z1, op, str(mid), t, self.backend, self.threads, self.dtype.name,
                      self.iy, self.ix) for t, z0, z1 in todo]
            per = plan.slab * plan.mid_shape[1] * plan.mid_shape[2] * self.cdtype.itemsize
            t0 = time.perf_counter()
            _run_pass(self.ex, plane_task, calls, "pass 1 (2D FFT per z-slab)", self.progress,
                      m_mid, [s[0] for s in slabs], per)
            self.times["pass1"] = time.perf_counter() - t0
            self.counts["pass1"] = len(todo)
            m_mid.mark_complete([s[0] for s in slabs], {"zero_slabs": sorted(
                t for t in m_mid.done() if t.startswith("p1-") and m_mid.info(t).get("zero"))})
            # ---- pass 2
            result = self._pass2(mid, m_mid, out_man)
        if not self.keep_intermediate:
            shutil.rmtree(mid, ignore_errors=True)
            shutil.rmtree(self.workdir / "input.zarr", ignore_errors=True)
            if self.workdir.exists() and not any(self.workdir.iterdir()):
                self.workdir.rmdir()
        return result

    def _stage_input(self) -> None:
        """Write an in-memory input to the work dir once, so tasks ship a path, not the data."""
        if self.src.array is None or self.ex.client is None or self.src.nbytes <= 2**20:
            return
        import zarr

        staged = self.workdir / "input.zarr"
        if not (staged / "hifft" / "complete").exists():
            shutil.rmtree(staged, ignore_errors=True)
            zarr.create_array(store=str(staged), data=self.src.array,
                              chunks=(self.plan.slab, *self.grid.shape[1:]), compressors=None, zarr_format=3)
            Manifest(staged).mark_complete([], {"staged": True})
        self.src = Source(grid=self.grid, dtype=self.src.dtype, path=str(staged), chunk_z=self.plan.slab,
                          identity=self.src.identity, raw=True)

    def _pass2(self, mid: Path, m_mid: Manifest, out_man: Manifest | None) -> tuple[Any, dict[str, Any]]:
        plan = self.plan
        n_y = plan.mid_shape[1]
        blocks = [(f"p2-{j:06d}", j * plan.block, min(n_y, (j + 1) * plan.block)) for j in range(plan.n_blocks)]
        rkey = _reducer_key(self.reducers) if self.reducers else None
        partial_dir = str(mid / "hifft" / f"partials-{rkey}") if rkey else None
        spec2 = dict(self.spec, reducers=rkey, spectrum=self.store is not None)
        if out_man is not None:
            with out_man.lock():
                resumed = out_man.begin(spec2, overwrite=self.overwrite)
                if not resumed:
                    chunks = (min(plan.out_shape[0], max(1, plan.slab)), plan.block, plan.out_shape[2])
                    _create(Path(self.store), plan.out_shape, chunks, self.cdtype,
                            _attrs(self.grid, self.half, self.backend, self.cdtype, plan, None))
                return self._run_pass2(blocks, mid, out_man, partial_dir)
        # reductions only: bookkeeping lives beside the intermediate
        return self._run_pass2(blocks, mid, Manifest(mid / "hifft" / f"pass2-{rkey}"), partial_dir)

    def _run_pass2(self, blocks: list, mid: Path, man: Manifest, partial_dir: str | None):
        meta = {"grid": self.grid, "half": self.half, "iz": self.iz, "iy": self.iy, "ix": self.ix}
        done = man.done()
        if partial_dir is not None:  # a task counts as done only with its partial saved
            have = {p.stem for p in Path(partial_dir).glob("*.pkl")} if Path(partial_dir).exists() else set()
            done &= have
        todo = [b for b in blocks if b[0] not in done]
        calls = [(str(mid), y0, y1, "fft", t, self.backend, self.threads, self.iz, self.store,
                  self.reducers, meta, partial_dir, str(man.store)) for t, y0, y1 in todo]
        per = self.plan.block * self.plan.out_shape[0] * self.plan.out_shape[2] * self.cdtype.itemsize
        t0 = time.perf_counter()
        fresh = _run_pass(self.ex, column_task, calls, "pass 2 (1D FFT along z per y-block)", self.progress,
                          man, [b[0] for b in blocks], per if self.store else 0)
        self.times["pass2"] = time.perf_counter() - t0
        self.counts["pass2"] = len(todo)
        man.mark_complete([b[0] for b in blocks], {"counts": self.counts})
        out: dict[str, Any] = {}
        if self.reducers:
            got = {t[0]: p for t, p in zip(todo, fresh, strict=True)}
            parts = [got[t] if t in got else load_partial(partial_dir, t) for t, _, _ in blocks]
            merged = self.ex.tree_merge(_Merge(self.reducers), parts)
            out = {r.name: r.finalize(merged[r.name], self.grid) for r in self.reducers}
        spectrum = None
        if self.store is not None:
            import dask.array as da

            spectrum = da.from_zarr(self.store)
        return spectrum, out


def _run_pass(ex: _Executor, fn: Callable, calls: list[tuple], desc: str, progress: bool,
              man: Manifest, tasks: list[str], bytes_per_task: int) -> list[Any]:
    """Run one pass; on a full disk, say how much is still needed to finish it."""
    try:
        return ex.run(fn, calls, desc, progress)
    except DiskFullError as exc:
        left = len(man.pending(tasks))
        raise DiskFullError(
            exc.errno, f"{exc.strerror}. {left} of {len(tasks)} tasks of this pass are unfinished: "
            f"about {left * bytes_per_task / 2**30:.2f} GiB ({left * bytes_per_task} bytes) still needed "
            f"at {man.store}"
        ) from exc


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
        F, dims=("q_z", "q_y", "q_x"), coords=_coords(job.grid, job.half, job.iz, job.iy, job.ix),
        name="F", attrs=_attrs(job.grid, job.half, job.backend, job.cdtype, job.plan,
                               {"store": job.store or ""}),
    )


def _transform(x: Any, real: bool, store: Any, in_core: bool | None, **kw: Any) -> Any:
    job = FFTJob(x, real=real, store=store, in_core=in_core, **kw)
    F, _ = job.execute()
    return _to_dataarray(F, job)


def rfftn(x: Any, store: str | os.PathLike[str] | None = None, *, spacing: Any = None, client: Any = None,
          backend: str | None = "auto", memory_budget: Any = None, dtype: Any = None,
          q_max: float | None = None, workdir: Any = None, overwrite: bool = False,
          in_core: bool | None = None, progress: bool = True, **kw: Any) -> Any:
    """Real-to-complex 3D FFT, exactly ``numpy.fft.rfftn`` (unnormalized, no shift).

    Returns a DataArray (q_z, q_y, q_x) with q in 1/Å: numpy-backed for the
    in-core path, dask-backed (reading ``store``) out of core. ``q_max`` (1/Å)
    keeps only |q_i| ≤ q_max per axis, exactly. ``client=None`` runs in
    this process; pass a ``distributed.Client`` to run on a cluster.
    """
    return _transform(x, True, store, in_core, spacing=spacing, client=client, backend=backend,
                      memory_budget=memory_budget, dtype=dtype, q_max=q_max, workdir=workdir,
                      overwrite=overwrite, progress=progress, **kw)


def fftn(x: Any, store: str | os.PathLike[str] | None = None, *, spacing: Any = None, client: Any = None,
         backend: str | None = "auto", memory_budget: Any = None, dtype: Any = None,
         q_max: float | None = None, workdir: Any = None, overwrite: bool = False,
         in_core: bool | None = None, progress: bool = True, **kw: Any) -> Any:
    """Complex 3D FFT (real or complex input), exactly ``numpy.fft.fftn``."""
    return _transform(x, False, store, in_core, spacing=spacing, client=client, backend=backend,
                      memory_budget=memory_budget, dtype=dtype, q_max=q_max, workdir=workdir,
                      overwrite=overwrite, progress=progress, **kw)


def reduce_spectrum(x: Any, reducers: Sequence[Reducer], *, spacing: Any = None, client: Any = None,
                    backend: str | None = "auto", memory_budget: Any = None, dtype: Any = None,
                    q_max: float | None = None, workdir: Any = None, store: Any = None,
                    overwrite: bool = False, in_core: bool | None = None, progress: bool = True,
                    **kw: Any) -> dict[str, Any]:
    """Forward rfftn fused with ``reducers`` in pass 2; the spectrum is never gathered.

    Returns ``{reducer.name: result, ..., "meta": {...}}``. The spectrum is
    written only when ``store`` is given.
    """
    job = FFTJob(x, real=None, store=store, reducers=reducers, spacing=spacing, client=client,
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


def _inverse(F: Any, real: bool, shape: tuple[int, int, int] | None, store: Any, client: Any,
             backend: str | None, memory_budget: Any, workdir: Any, overwrite: bool,
             in_core: bool | None, progress: bool, threads: int | None = None) -> np.ndarray | Any:
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
    rdt = np.float32 if np.dtype(src.dtype) == np.complex64 else np.float64
    name = backends.resolve(backend)
    thr = threads or 1
    ex = _Executor(client)
    if in_core is None:
        in_core = store is None and client is None and src.nbytes <= IN_CORE_BYTES
    be = backends.get_backend(name, threads=thr)
    if in_core:
        a = be.ifft(src.read(0, nz), axis=0)
        return be.irfft2(a, s=(ny, nx)) if real else be.ifft2(a)
    plan = plan_fft((nz, ny, nx), real=real, dtype=rdt, workers=ex.workers,
                    memory_budget=_resolve_budget(memory_budget, ex), write_spectrum=True)
    spec = {"op": "irfftn" if real else "ifftn", "source": _source_identity(src), "shape": [nz, ny, nx],
            "backend": name, "slab": plan.slab, "block": plan.block}
    wd = _work_dir(None if store is None else str(store), workdir, spec)
    wd.mkdir(parents=True, exist_ok=True)
    if src.path is None:  # stage in-memory spectra to zarr so columns can be read by block
        staged = wd / "in.zarr"
        if not staged.exists():
            import zarr

            zarr.create_array(store=str(staged), data=src.array, chunks=(plan.slab, plan.block, nh),
                              compressors=None, zarr_format=3)
        src_path = str(staged)
    else:
        src_path = src.path
    mid = wd / "mid.zarr"
    out = Path(store) if store is not None else wd / "out.zarr"
    m_mid, m_out = Manifest(mid), Manifest(out)
    with m_mid.lock():
        if not m_mid.begin(spec, overwrite=overwrite):
            _create(mid, (nz, ny, nh), (plan.slab, plan.block, nh), src.dtype, None)
        blocks = [(f"p1-{j:06d}", j * plan.block, min(ny, (j + 1) * plan.block)) for j in range(plan.n_blocks)]
        todo = [b for b in blocks if not m_mid.is_done(b[0])]
        calls = [(src_path, y0, y1, "ifft", t, name, thr, None, str(mid), None, None, None, str(mid))
                 for t, y0, y1 in todo]
        ex.run(column_task, calls, "inverse pass 1 (1D iFFT along z)", progress)
        m_mid.mark_complete([b[0] for b in blocks])
        with m_out.lock():
            if not m_out.begin(spec, overwrite=overwrite):
                _create(out, (nz, ny, nx), (plan.slab, ny, nx), rdt if real else src.dtype, None)
            slabs = [(f"p2-{i:06d}", i * plan.slab, min(nz, (i + 1) * plan.slab)) for i in range(plan.n_slabs)]
            todo2 = [s for s in slabs if not m_out.is_done(s[0])]
            msrc = as_source(str(mid), complex_ok=True)
            msrc.raw = True
            op = "irfft2" if real else "ifft2"
            calls2 = [(msrc, z0, z1, op, str(out), t, name, thr, str(np.dtype(rdt)), None, None, (ny, nx))
                      for t, z0, z1 in todo2]
            ex.run(plane_task, calls2, "inverse pass 2 (2D iFFT per z-slab)", progress)
            m_out.mark_complete([s[0] for s in slabs])
    shutil.rmtree(mid, ignore_errors=True)
    import dask.array as da

    return da.from_zarr(str(out))


def irfftn(F: Any, shape: tuple[int, int, int] | None = None, store: Any = None, *, client: Any = None,
           backend: str | None = "auto", memory_budget: Any = None, workdir: Any = None,
           overwrite: bool = False, in_core: bool | None = None, progress: bool = True) -> Any:
    """Inverse of :func:`rfftn` (``numpy.fft.irfftn`` with ``s=shape``); real array out."""
    return _inverse(F, True, shape, store, client, backend, memory_budget, workdir, overwrite, in_core, progress)


def ifftn(F: Any, store: Any = None, *, client: Any = None, backend: str | None = "auto",
          memory_budget: Any = None, workdir: Any = None, overwrite: bool = False,
          in_core: bool | None = None, progress: bool = True) -> Any:
    """Inverse of :func:`fftn` (``numpy.fft.ifftn``); complex array out."""
    return _inverse(F, False, None, store, client, backend, memory_budget, workdir, overwrite, in_core, progress)


__all__ = ["rfftn", "fftn", "irfftn", "ifftn", "reduce_spectrum", "FFTJob", "IN_CORE_BYTES",
]
