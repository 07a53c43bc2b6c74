"""Planning an out-of-core 3D FFT: pure code over shapes and budgets.

Two passes (DESIGN.md "Data flow"): pass 1 transforms z-slabs of depth
``slab`` over (y, x) and writes an intermediate chunked (slab, block, n_x');
pass 2 reads y-blocks of depth ``block`` over all z, transforms along z and
reduces or writes. Both passes read and write whole chunks, each chunk has
exactly one writer, and nothing here touches data, so the plan is testable
and printable (``hifft plan``) for clusters that are not here.

q-cropping keeps only frequencies with |k_i| ≤ k_max,i after pass 1 (y, x)
and after pass 2 (z); that is exact for the kept frequencies because each
1D DFT output depends only on its own frequency.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

#: Multiples of a task's array bytes that a task holds at its peak (input,
#: FFT output, backend workspace and the copy zarr makes on write).
PASS1_FACTOR = 3.0
PASS2_FACTOR = 3.5
#: Per-worker-process memory that is not task data (interpreter, libs, zarr).
PROCESS_OVERHEAD = 400 * 2**20
#: Smallest chunk worth a file (zarr performance guide: ≥ 1 MiB).
MIN_CHUNK = 2**20
#: Chunk size worth growing tasks for (fewer files, larger sequential I/O).
GOOD_CHUNK = 8 * 2**20
#: Largest share of the budget an in-memory intermediate may take; the rest is for tasks.
MEMORY_INTERMEDIATE_SHARE = 0.6
#: Preferred task size when the intermediate is in memory: small tasks overlap
#: reads, transforms and writes best, and no intermediate chunk size matters.
MEMORY_TASK_BYTES = 256 * 2**20
#: Largest spectrum chunk: pass 2 writes one y-block over all kept q_z as one file when it fits.
MAX_OUT_CHUNK = 128 * 2**20


class PlanError(ValueError):
    """The job cannot run within the given memory or disk; the message says which budget to raise."""


def kept_indices(n: int, k_max: int | None) -> np.ndarray:
    """FFT-order indices of a length-``n`` full axis with |k| ≤ k_max (all when None)."""
    if k_max is None or 2 * k_max + 1 >= n:
        return np.arange(n)
    return np.concatenate([np.arange(0, k_max + 1), np.arange(n - k_max, n)])


def kept_half_indices(n: int, k_max: int | None) -> np.ndarray:
    """Indices 0..k_max of a real-to-complex half axis of a length-``n`` signal."""
    nh = n // 2 + 1
    if k_max is None or k_max + 1 >= nh:
        return np.arange(nh)
    return np.arange(0, k_max + 1)


@dataclass(frozen=True)
class FFTPlan:
    """What an out-of-core FFT will do, and what it needs."""

    shape: tuple[int, int, int]
    real: bool
    itemsize_in: int
    itemsize_c: int
    slab: int
    block: int
    n_slabs: int
    n_blocks: int
    mid_shape: tuple[int, int, int]
    out_shape: tuple[int, int, int]
    mid_chunk_bytes: int
    pass1_task_bytes: int
    pass2_task_bytes: int
    bytes_read: dict[str, int]
    bytes_written: dict[str, int]
    disk_needed: int
    workers: int
    memory_budget: int
    k_max: tuple[int | None, int | None, int | None]
    write_spectrum: bool
    concurrency: int = 1
    mid_bytes: int = 0
    mid_in_memory: bool = False
    out_chunks: tuple[int, int, int] = (1, 1, 1)
    notes: list[str] = field(default_factory=list)

    @property
    def tasks(self) -> dict[str, int]:
        return {"pass1": self.n_slabs, "pass2": self.n_blocks}

    @property
    def peak_task_bytes(self) -> int:
        return max(self.pass1_task_bytes, self.pass2_task_bytes)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["tasks"] = self.tasks
        return d

    def summary(self) -> str:
        gib = 2**30
        crop = "none" if self.k_max == (None, None, None) else str(self.k_max)
        lines = [
            f"shape {self.shape} {'real→half spectrum' if self.real else 'complex'}; q-crop k_max (z,y,x): {crop}",
            f"workers {self.workers} × {self.concurrency} task(s) at once, memory budget "
            f"{self.memory_budget / gib:.2f} GiB per worker",
            f"pass 1: {self.n_slabs} tasks of {self.slab} z-planes, "
            f"peak {self.pass1_task_bytes / gib:.2f} GiB/task",
            f"pass 2: {self.n_blocks} tasks of {self.block} y-rows, "
            f"peak {self.pass2_task_bytes / gib:.2f} GiB/task",
            (f"intermediate {self.mid_shape} held in memory ({self.mid_bytes / gib:.2f} GiB)"
             if self.mid_in_memory else
             f"intermediate {self.mid_shape} on disk in chunks ({self.slab}, {self.block}, {self.mid_shape[2]}) "
             f"of {self.mid_chunk_bytes / 2**20:.1f} MiB"),
            "read:    " + ", ".join(f"{k} {v / gib:.2f} GiB" for k, v in self.bytes_read.items()),
            "written: " + ", ".join(f"{k} {v / gib:.2f} GiB" for k, v in self.bytes_written.items()),
            f"disk needed {self.disk_needed / gib:.2f} GiB",
        ]
        return "\n".join(lines + [f"note: {n}" for n in self.notes])


def _k_max_index(n: int, d: float, q_max: float | None) -> int | None:
    """Largest |k| with 2π|k|/(n·d) ≤ q_max, or None for no crop."""
    if q_max is None:
        return None
    if q_max <= 0:
        raise PlanError(f"q_max must be positive, got {q_max}")
    k = math.floor(q_max * n * d / (2 * math.pi) + 1e-9)
    return None if 2 * k + 1 >= n else k


def plan_fft(
    shape: tuple[int, int, int] | int,
    *,
    real: bool = True,
    dtype: str | np.dtype = "float32",
    workers: int = 1,
    memory_budget: int = 2 * 2**30,
    free_disk: int | None = None,
    spacing: tuple[float, float, float] | float = 1.0,
    q_max: float | None = None,
    write_spectrum: bool = False,
    source_chunk: int | None = None,
    slab: int | None = None,
    block: int | None = None,
    target_task_bytes: int | None = None,
    concurrency: int = 1,
    intermediate: str = "disk",
) -> FFTPlan:
    """Choose slab depth and block size for a two-pass FFT under a memory budget.

    Parameters
    ----------
    shape : (nz, ny, nx) or int
    real : real input (rfft over x) or complex input
    dtype : precision of the input (float32 → complex64, float64 → complex128)
    workers : Dask workers running tasks at once
    memory_budget : bytes per worker
    free_disk : bytes free where the intermediate goes (None: not checked)
    spacing : voxel size in Å (only used with ``q_max``)
    q_max : keep only |q_i| ≤ q_max per axis (1/Å); None keeps all
    write_spectrum : whether the output spectrum is written to disk
    source_chunk : z-depth of the input's chunks; slabs are made multiples of it
    slab, block : force these instead of choosing
    target_task_bytes : preferred peak bytes per task (smaller tasks pipeline
        I/O with compute better; the memory budget is the hard limit); default
        1 GiB, or :data:`MEMORY_TASK_BYTES` with an in-memory intermediate
    concurrency : tasks one worker runs at once (threads); each gets an equal
        share of the budget left after the intermediate
    intermediate : ``"disk"`` (a Zarr store between the passes), ``"memory"``
        (held by this one process; refused when it does not fit), or
        ``"auto"`` (memory when it takes at most :data:`MEMORY_INTERMEDIATE_SHARE`
        of the budget, else disk). Only a single process can hold it.
    """
    if isinstance(shape, int):
        shape = (shape,) * 3
    nz, ny, nx = (int(s) for s in shape)
    if min(nz, ny, nx) < 1:
        raise PlanError(f"shape must be positive, got {shape}")
    if workers < 1:
        raise PlanError(f"workers must be ≥ 1, got {workers}")
    sp = (float(spacing),) * 3 if isinstance(spacing, int | float) else tuple(float(s) for s in spacing)
    real_dt = np.dtype(dtype)
    if real_dt.kind == "c":
        real_dt = np.dtype(np.float32 if real_dt == np.complex64 else np.float64)
    if real_dt not in (np.float32, np.float64):
        raise PlanError(f"dtype must be float32/float64 (or complex64/128), got {dtype}")
    isz_in = real_dt.itemsize if real else 2 * real_dt.itemsize
    isz_c = 2 * real_dt.itemsize

    kz = _k_max_index(nz, sp[0], q_max)
    ky = _k_max_index(ny, sp[1], q_max)
    kx = (None if q_max is None else _k_max_index(nx, sp[2], q_max)) if not real else (
        None if q_max is None else _half_k(nx, sp[2], q_max))
    n_y = len(kept_indices(ny, ky))
    n_x = len(kept_half_indices(nx, kx)) if real else len(kept_indices(nx, kx))
    n_z = len(kept_indices(nz, kz))
    mid_shape = (nz, n_y, n_x)
    out_shape = (n_z, n_y, n_x)

    if concurrency < 1:
        raise PlanError(f"concurrency must be ≥ 1, got {concurrency}")
    if intermediate not in ("disk", "memory", "auto"):
        raise PlanError(f"intermediate must be 'disk', 'memory' or 'auto', got {intermediate!r}")
    total = memory_budget - PROCESS_OVERHEAD
    if total <= 0:
        raise PlanError(
            f"memory budget {memory_budget / 2**30:.2f} GiB per worker is below the "
            f"{PROCESS_OVERHEAD / 2**30:.2f} GiB a worker process needs; raise the memory budget"
        )
    mid_bytes = nz * n_y * n_x * isz_c
    in_memory = intermediate == "memory" or (
        intermediate == "auto" and workers == 1 and mid_bytes <= MEMORY_INTERMEDIATE_SHARE * total)
    if in_memory:
        if workers != 1:
            raise PlanError("an in-memory intermediate needs a single worker process (workers=1)")
        if mid_bytes >= total:
            raise PlanError(
                f"the intermediate ({mid_bytes / 2**30:.2f} GiB) does not fit the memory budget "
                f"({memory_budget / 2**30:.2f} GiB); use intermediate='disk' or raise the budget"
            )
        total -= mid_bytes
    avail = total // concurrency
    if target_task_bytes is None:
        target_task_bytes = MEMORY_TASK_BYTES if in_memory else 2**30
    full_x = nx // 2 + 1 if real else nx
    plane1 = ny * (nx * isz_in + full_x * isz_c) * PASS1_FACTOR / 2  # per z-plane
    row2 = nz * n_x * isz_c * PASS2_FACTOR  # per y-row
    max_slab = int(avail // plane1)
    max_block = int(avail // row2)
    if max_slab < 1:
        raise PlanError(
            f"one z-plane of {shape} needs {plane1 / 2**30:.2f} GiB in pass 1 but the memory budget "
            f"leaves {avail / 2**30:.2f} GiB per task; raise the memory budget (per worker) to at "
            f"least {(plane1 + PROCESS_OVERHEAD) / 2**30:.2f} GiB"
        )
    if max_block < 1:
        raise PlanError(
            f"one y-row over all z of {shape} needs {row2 / 2**30:.2f} GiB in pass 2 but the memory "
            f"budget leaves {avail / 2**30:.2f} GiB per task; raise the memory budget (per worker) "
            f"to at least {(row2 + PROCESS_OVERHEAD) / 2**30:.2f} GiB or crop q (q_max)"
        )
    notes: list[str] = []
    # Enough tasks to keep every worker busy (≥ 2 per worker) but no smaller
    # than memory forces; then make chunks ≥ MIN_CHUNK where memory allows.
    forced_slab, forced_block = slab, block

    def choose(want: float) -> tuple[int, int]:
        s_, b_ = forced_slab, forced_block
        if s_ is None:
            s_ = min(max_slab, nz, max(1, math.ceil(nz / (2 * workers))), max(1, int(want // plane1)))
            if source_chunk and source_chunk <= max_slab:
                s_ = max(source_chunk, (s_ // source_chunk) * source_chunk)
        if b_ is None:
            b_ = min(max_block, n_y, max(1, math.ceil(n_y / (2 * workers))), max(1, int(want // row2)))
            while b_ < min(max_block, n_y) and s_ * b_ * n_x * isz_c < MIN_CHUNK:
                b_ += 1
        return s_, b_

    # Prefer tasks of ~target_task_bytes (they pipeline I/O with compute);
    # grow them while chunks stay small (many tiny files cost more than RAM).
    want = min(avail, target_task_bytes)
    slab, block = choose(want)
    while want < avail and min(slab, nz) * min(block, n_y) * n_x * isz_c < GOOD_CHUNK and (
            slab < min(max_slab, nz) or block < min(max_block, n_y)):
        want = min(avail, 2 * want)
        slab, block = choose(want)
    if source_chunk and source_chunk > max_slab:
        notes.append(f"input chunks ({source_chunk} planes) exceed the pass-1 slab; each is read "
                     f"{math.ceil(source_chunk / max_slab)}× (rechunk the input to save I/O)")
    slab = max(1, min(int(slab), nz))
    block = max(1, min(int(block), n_y))
    if slab > max_slab or block > max_block:
        raise PlanError(
            f"forced slab={slab}/block={block} exceed the memory budget "
            f"(max slab {max_slab}, max block {max_block}); raise the memory budget"
        )
    chunk = slab * block * n_x * isz_c
    if chunk < MIN_CHUNK and (slab < nz or block < n_y):
        notes.append(f"intermediate chunks are {chunk / 2**20:.2f} MiB (< 1 MiB): memory forces small slabs")

    n_slabs = math.ceil(nz / slab)
    n_blocks = math.ceil(n_y / block)
    in_bytes = nz * ny * nx * isz_in
    out_bytes = n_z * n_y * n_x * isz_c
    p1 = int(slab * plane1 + 0)
    p2 = int(block * row2)
    # disk traffic only: an in-memory intermediate is neither written nor read from disk
    read = {"pass1 (input)": in_bytes} | ({} if in_memory else {"pass2 (intermediate)": mid_bytes})
    written = {} if in_memory else {"pass1 (intermediate)": mid_bytes}
    if write_spectrum:
        written["pass2 (spectrum)"] = out_bytes
    disk = (0 if in_memory else mid_bytes) + (out_bytes if write_spectrum else 0)
    if in_memory:
        notes.append("the intermediate is held in memory: pass 1 is recomputed if the job is interrupted")
    zc = max(1, min(n_z, MAX_OUT_CHUNK // max(1, block * n_x * isz_c)))
    zc = max(zc, min(n_z, slab))
    if free_disk is not None and disk > free_disk:
        raise PlanError(
            f"job needs {disk / 2**30:.2f} GiB of disk (intermediate"
            f"{' + spectrum' if write_spectrum else ''}) but {free_disk / 2**30:.2f} GiB is free; "
            f"free space, point the work directory elsewhere, or crop q (q_max)"
        )
    return FFTPlan(
        shape=(nz, ny, nx), real=real, itemsize_in=isz_in, itemsize_c=isz_c, slab=slab, block=block,
        n_slabs=n_slabs, n_blocks=n_blocks, mid_shape=mid_shape, out_shape=out_shape,
        mid_chunk_bytes=chunk, pass1_task_bytes=p1, pass2_task_bytes=p2, bytes_read=read,
        bytes_written=written, disk_needed=disk, workers=workers, memory_budget=memory_budget,
        k_max=(kz, ky, kx), write_spectrum=write_spectrum, concurrency=concurrency, mid_bytes=mid_bytes,
        mid_in_memory=in_memory,
        out_chunks=(zc, block, n_x), notes=notes,
    )


def _half_k(n: int, d: float, q_max: float) -> int | None:
    k = math.floor(q_max * n * d / (2 * math.pi) + 1e-9)
    return None if k + 1 >= n // 2 + 1 else k


def project(plan: FFTPlan, rates: dict[str, float], workers: int | None = None) -> dict[str, float]:
    """Projected wall time (s) from measured per-worker rates (bytes/s).

    ``rates`` holds ``pass1`` and ``pass2`` throughput of one worker in input
    bytes per second (as measured by ``benchmarks/bench_fft.py``) and,
    optionally, ``disk`` aggregate bandwidth (bytes/s) shared by all workers.
    """
    w = workers or plan.workers
    in_bytes = plan.bytes_read["pass1 (input)"]
    mid_bytes = plan.mid_bytes
    t1 = in_bytes / (rates["pass1"] * w)
    t2 = mid_bytes / (rates["pass2"] * w)
    if "disk" in rates:
        t1 = max(t1, (in_bytes + plan.bytes_written.get("pass1 (intermediate)", 0)) / rates["disk"])
        t2 = max(t2, (plan.bytes_read.get("pass2 (intermediate)", 0)
                      + plan.bytes_written.get("pass2 (spectrum)", 0)) / rates["disk"])
    return {"pass1_s": t1, "pass2_s": t2, "total_s": t1 + t2}
