"""hifft's FFT against in-memory torch/scipy and against this machine's limit, in one run.

    python benchmarks/bench_fft.py                       # the targets' set (below)
    python benchmarks/bench_fft.py --job-sizes 2048      # + the 2048³ job (32 GiB input volume)
    python benchmarks/bench_fft.py --sizes 64 128 --budgets --saxs-sizes 64 --cluster-sizes 64 \\
        --work /tmp/bw --out /tmp/res                    # a tiny smoke run (results not committed)

Cases (each selectable; defaults = the issue's targets):

- ``rfftn``  (``--sizes``, 512 1024): ``hifft.rfftn(hifft.open_volume("rho.zarr"),
  store="F.zarr")``, the default call, against ``torch.fft.rfftn`` (and
  ``scipy.fft.rfftn``; ``--in-memory``) in memory on the same data, 2 threads.
- ``rfftn <budget>`` (``--budgets``, 2GiB): the same with ``memory_budget=...``
  (intermediate on disk), judged by the limit column.
- ``rfftn <w>w`` (``--cluster-sizes`` 1024, ``--workers`` 1 2): the same call
  with ``client=`` a LocalCluster of w single-thread workers; scaling table.
- ``saxs`` (``--saxs-sizes``, 1024): ``hifft.saxs(vol)`` (FFT fused with I(q),
  no spectrum written) against the in-memory recipe torch.fft.rfftn + |F|² +
  bincount shell average (200 log bins) in one process.
- ``job`` (``--job-sizes``, none by default; 2048 for the issue's job):
  ``hifft.saxs(vol)`` on a stored volume too large for an in-memory contender,
  judged by the limit column; compute estimated from timed pieces (below).

Method. Load (``uptime``'s 1/5/15-minute averages) is recorded before every
contender; the run refuses to start at a 1-minute load above ``--max-load``
(1.5) unless ``--force``, which flags every figure as taken under load; before
each contender it waits (``--settle`` s at most) for the previous one's load to
decay to ``--settle-load``, and flags any figure started above ``--max-load``.
Every contender runs in its own fresh process (peak RSS summed over its
process tree, Dask workers included); its libraries (torch, scipy, hifft,
zarr, and hifft's FFT backend, on every worker too) are imported before its
timer, and the timed transform is the process's first. Before each contender
the page cache is flushed (``os.sync``) and the input volume's pages are
dropped (``posix_fadvise``), so hifft reads its input from the disk.

What is compared. The in-memory contenders read the whole volume into memory
outside their timer (recorded as "load input"), as the issue's table times
torch's transform on an in-memory array; hifft's wall includes opening and
reading the stored input, both passes and writing the spectrum (its writes
are not fsync'd: the ``os.sync`` after its call is recorded apart). "× torch"
is hifft's wall over torch's transform time.

The limit. Before the contenders the disk's sequential write (with fsync) and
read bandwidth are measured in the work directory on a file sized like the
largest intermediate (capped, ``--bw-cap``), reads after dropping the file's
pages. For each hifft figure, limit = max(compute, disk): compute = the fastest
in-memory time of the same work measured in this run (``job`` sizes, or with
``--pieces``: the engine's own transforms timed in memory on one slab and one
block and scaled to the volume, marked "est."); disk = bytes read / read
bandwidth + bytes written / write bandwidth, with the bytes of each pass from
the FFT job's meta (the stored, compressed size for the input). "× limit" =
wall / limit. A per-pass table gives bytes, seconds, GB/s and the disk bound.

Outputs: the tables printed and saved to ``<out>/<name>.md`` and ``.json``
(command, date, commit, machine, loads, bandwidth), and the per-worker pass
rates ``hifft plan`` projects with to ``<out>/fft_rates.json`` (and
``hifft/fft/rates.json`` with ``--update-package-rates``). Volumes are built
once with ``hifft.build_volume`` (dilute spheres) under ``--work`` and reused.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import shutil
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _harness import (
    RESULTS,
    GiB,
    disk_bandwidth,
    drop_page_cache,
    git_commit,
    machine,
    require_quiet,
    resident_bytes,
    run_child,
    save,
    settle,
    snapshot,
)

REPO = Path(__file__).resolve().parents[1]
PACKAGE_RATES = REPO / "hifft" / "fft" / "rates.json"
#: The scene of every input: dilute polydisperse spheres, the same at every N
#: (radius scales with N, so the sphere count and the compressed size per voxel stay alike).
SPACING = 2.0  # Å
VOLUME_FRACTION = 0.01
BINS = 200
#: Library module that hifft's FFT backend uses, imported before the timer.
BACKEND_LIBRARY = {"numpy": "scipy.fft", "pyfftw": "pyfftw", "torch": "torch", "cupy": "cupy"}
#: Bytes a piece of the pieces estimate works on (one slab, one block).
PIECE_BYTES = 256 * 2**20
PASS_KEYS = ("pass1_read", "pass1_write", "pass2_read", "pass2_write")


def radius(n: int) -> float:
    """Sphere radius (Å) of the N³ scene: 40 Å at 1024³, never under 2 voxels."""
    return max(2 * SPACING, 40.0 * n / 1024)


def half_bytes(n: int) -> int:
    """Bytes of the complex64 half spectrum of an N³ float32 volume (= the intermediate)."""
    return n * n * (n // 2 + 1) * 8


# =============================================================== children (fresh processes)
def _library_import(backend: str) -> None:
    import importlib

    importlib.import_module(BACKEND_LIBRARY.get(backend, "numpy"))


def _warm_worker(backend: str) -> str:
    """On each Dask worker: import the engine's tasks and the backend library (outside the timer)."""
    import importlib

    importlib.import_module("hifft.fft.tasks")
    _library_import(backend)
    return backend


def child_build(s: dict) -> dict:
    """Build (or reuse, when complete and of this scene) the N³ input volume at ``s["path"]``."""
    import hifft
    from hifft.store import StoreError

    n, path = s["n"], s["path"]
    t0 = time.perf_counter()
    try:
        vol = hifft.open_volume(path)
        ok = vol.shape == (n, n, n) and tuple(vol.grid.spacing) == (SPACING,) * 3 and vol.attrs.get("scene")
    except Exception:  # missing, unfinished or foreign: build (resumes an unfinished build of this scene)
        ok = False
    reused = bool(ok)
    if not reused:
        scene = hifft.Scene(hifft.Grid(n, SPACING), seed=1)
        scene.add(hifft.shapes.Sphere(radius=radius(n), sld=1.0), volume_fraction=VOLUME_FRACTION,
                  polydispersity=0.1)
        try:
            vol = hifft.build_volume(scene, path, progress=False)
        except StoreError:  # another job's store at this path
            vol = hifft.build_volume(scene, path, progress=False, overwrite=True)
    return {"n": n, "path": path, "reused": reused, "build_s": time.perf_counter() - t0,
            "stored_bytes": vol.stored_nbytes, "nbytes": vol.nbytes, "chunk_depth": vol.chunk_depth,
            "spacing": SPACING, "radius": radius(n), "volume_fraction": VOLUME_FRACTION}


def _shell_sums(torch: Any, F: Any, qz: Any, qy: Any, qx: Any, edges: Any, w: Any) -> tuple[Any, Any, Any]:
    """Sums of |F|², |F|⁴ and counts over |q| shells, Hermitian weight ``w`` on the half axis.

    By hand: this *is* the in-memory recipe the issue names (rfftn + |F|² +
    bincount), z-planes a few at a time to keep temporaries small.
    """
    nb = len(edges) + 1
    s1 = torch.zeros(nb, dtype=torch.float64)
    s2 = torch.zeros(nb, dtype=torch.float64)
    cnt = torch.zeros(nb, dtype=torch.float64)
    step = max(1, (32 * 2**20) // max(1, F.shape[1] * F.shape[2] * 8))
    qyx = qy[:, None] ** 2 + qx[None, :] ** 2
    for z0 in range(0, F.shape[0], step):
        P = torch.view_as_real(F[z0 : z0 + step]).square().sum(-1)
        q = torch.sqrt(qz[z0 : z0 + step, None, None] ** 2 + qyx[None])
        idx = torch.bucketize(q, edges).flatten()
        wt = w.expand_as(P)
        s1 += torch.bincount(idx, weights=(P * wt).flatten().double(), minlength=nb)
        s2 += torch.bincount(idx, weights=(P * P * wt).flatten().double(), minlength=nb)
        cnt += torch.bincount(idx, weights=wt.flatten().double(), minlength=nb)
    return s1, s2, cnt


def _q_axes(torch: Any, n: int, iy: Any = None) -> tuple[Any, Any, Any, Any, Any]:
    """q axes (1/Å, 2π·fftfreq), log bin edges 2π/L … π/d and the half-axis weights of an N³ grid."""
    qz = 2 * math.pi * torch.fft.fftfreq(n, SPACING)
    qy = qz if iy is None else qz[iy]
    qx = 2 * math.pi * torch.fft.rfftfreq(n, SPACING)
    edges = torch.logspace(math.log10(2 * math.pi / (n * SPACING)), math.log10(math.pi / SPACING), BINS + 1)
    w = torch.full((n // 2 + 1,), 2.0)
    w[0] = 1.0
    if n % 2 == 0:
        w[-1] = 1.0
    return qz, qy, qx, edges, w


def child_memory(s: dict) -> dict:
    """An in-memory contender: read the volume (outside the timer), time the transform (or the recipe)."""
    import hifft

    lib, n, threads = s["lib"], s["n"], s["threads"]
    if lib == "torch":
        import torch

        torch.set_num_threads(threads)
        version = torch.__version__
    else:
        import scipy
        import scipy.fft

        version = scipy.__version__
    t0 = time.perf_counter()
    x = hifft.open_volume(s["path"]).slab(0, n)
    load_s = time.perf_counter() - t0
    out: dict[str, Any] = {"load_s": load_s, "threads": threads, "library": f"{lib} {version}"}
    if s["recipe"] == "saxs":
        qz, qy, qx, edges, w = _q_axes(torch, n)
        t0 = time.perf_counter()
        F = torch.fft.rfftn(torch.from_numpy(x))
        s1, _, cnt = _shell_sums(torch, F, qz, qy, qx, edges, w)
        mean = s1[1 : BINS + 1] / cnt[1 : BINS + 1].clamp(min=1)
        out["wall"] = time.perf_counter() - t0
        out["bins_filled"] = int((cnt[1 : BINS + 1] > 0).sum())
        out["I_finite"] = bool(torch.isfinite(mean).all())
    elif lib == "torch":
        t0 = time.perf_counter()
        F = torch.fft.rfftn(torch.from_numpy(x))
        out["wall"] = time.perf_counter() - t0
    else:
        t0 = time.perf_counter()
        F = scipy.fft.rfftn(x, workers=threads)
        out["wall"] = time.perf_counter() - t0
    out["shape"] = list(F.shape)
    return out


def child_pieces(s: dict) -> dict:
    """Estimate in-memory compute of an N³ rfftn (+ shell average) from timed pieces, scaled.

    Pass 1's work is an rfft2 of every z-plane, pass 2's an FFT along z of
    every (y, x) column: both are timed on one ~PIECE_BYTES piece (after one
    warm-up call, so this is the steady rate) and scaled by the number of
    pieces in the volume; with ``saxs``, |F|² + shell binning of the block too.
    Used where the volume does not fit in memory (the 2048³ job).
    """
    import numpy as np
    import torch

    torch.set_num_threads(s["threads"])
    n, lib, threads = s["n"], s["lib"], s["threads"]
    nh = n // 2 + 1
    rng = np.random.default_rng(0)
    sd = max(1, min(n, PIECE_BYTES // (n * n * 4)))
    bd = max(1, min(n, PIECE_BYTES // (n * nh * 8)))
    a = rng.standard_normal((sd, n, n), dtype=np.float32)
    b = (rng.standard_normal((n, bd, nh), dtype=np.float32) + 1j).astype(np.complex64)
    if lib == "torch":
        def rfft2(x: Any) -> Any:
            return torch.fft.rfft2(torch.from_numpy(x))

        def fftz(x: Any) -> Any:
            return torch.fft.fft(torch.from_numpy(x), dim=0)
    else:
        import scipy.fft

        def rfft2(x: Any) -> Any:
            return scipy.fft.rfft2(x, workers=threads)

        def fftz(x: Any) -> Any:
            return scipy.fft.fft(x, axis=0, workers=threads)

    def timed(fn: Any, x: Any) -> float:
        fn(x[:1] if fn is rfft2 else x[:, :1])  # warm-up: plans and thread pools
        t0 = time.perf_counter()
        fn(x)
        return time.perf_counter() - t0

    t1 = timed(rfft2, a) * n / sd
    t2 = timed(fftz, b) * n / bd
    out = {"wall": t1 + t2, "pass1_s": t1, "pass2_s": t2, "slab": sd, "block": bd, "library": lib,
           "threads": threads, "estimate": True}
    if s.get("saxs"):
        qz, qy, qx, edges, w = _q_axes(torch, n, torch.arange(bd))
        F = torch.from_numpy(b)
        _shell_sums(torch, F[:, :1], qz, qy[:1], qx, edges, w)
        t0 = time.perf_counter()
        _shell_sums(torch, F, qz, qy, qx, edges, w)
        out["reduce_s"] = (time.perf_counter() - t0) * n / bd
        out["wall"] += out["reduce_s"]
    return out


def child_hifft(s: dict) -> dict:
    """hifft's default call (``rfftn`` with a store, or ``saxs``), optionally on a LocalCluster."""
    import zarr  # noqa: F401  (imported before the timer, as torch is for its contender)

    import hifft
    import hifft.fft.engine as engine
    from hifft.cluster import get_client
    from hifft.fft import backends

    backend = backends.resolve(s["backend"])
    backends.get_backend(backend, threads=1)
    _library_import(backend)
    # The public calls return no per-pass meta; keep a copy of the engine's
    # (FFTJob.execute returns (spectrum, {..., "meta": ...})) without changing what is timed.
    captured: dict[str, Any] = {}
    execute = engine.FFTJob.execute

    def spy(self: Any) -> Any:
        res = execute(self)
        captured["meta"] = res[1].get("meta")
        return res

    engine.FFTJob.execute = spy  # type: ignore[method-assign]
    kw: dict[str, Any] = {"backend": s["backend"], "progress": False}
    if s.get("budget"):
        kw["memory_budget"] = s["budget"]
    if s.get("intermediate"):
        kw["intermediate"] = s["intermediate"]
    workers = s.get("workers") or 0
    cm = (get_client(n_workers=workers, threads_per_worker=1, memory_limit=s["worker_memory"]) if workers
          else contextlib.nullcontext(None))
    with cm as client:
        if client is not None:  # a long-running cluster: workers up, libraries imported
            client.run(_warm_worker, backend)
            kw["client"] = client
        t0 = time.perf_counter()
        vol = hifft.open_volume(s["path"])
        if s["call"] == "rfftn":
            F = hifft.rfftn(vol, store=s["store"], **kw)
            result = {"shape": list(F.shape)}
        else:
            ds = hifft.saxs(vol, bins=BINS, **kw)
            result = {"bins": int(ds.sizes["q"]), "I_finite": bool(ds["I"].notnull().all())}
        wall = time.perf_counter() - t0
    t0 = time.perf_counter()
    os.sync()
    sync_s = time.perf_counter() - t0
    return {"wall": wall, "sync_s": sync_s, "backend": backend, "meta": captured.get("meta"),
            "hifft_version": hifft.__version__, **result}


CHILDREN = {"build": child_build, "memory": child_memory, "pieces": child_pieces, "hifft": child_hifft}


# =============================================================== parent: plan the run
@dataclass
class Contender:
    """One figure: who runs, on which case and size."""

    case: str  # table label: "rfftn", "rfftn 2GiB", "rfftn 2w", "saxs", "job"
    group: str  # whose compute figures judge it: "rfftn", "saxs" or "job" (same group and N)
    n: int
    name: str  # "hifft", "torch", "scipy", "torch recipe", "pieces (torch)"
    kind: str  # child: "memory", "pieces", "hifft"
    spec: dict[str, Any] = field(default_factory=dict)

    @property
    def role(self) -> str:
        return "hifft" if self.kind == "hifft" else "compute"


def memory_need(n: int) -> int:
    """Bytes an in-memory contender holds at N³: the volume, its half spectrum, and slack."""
    return int((n**3 * 4 + half_bytes(n)) * 1.1 + 0.5 * GiB)


def plan_run(a: argparse.Namespace, work: Path) -> list[Contender]:
    avail = snapshot(0)["mem_available"]
    cs: list[Contender] = []

    def vol(n: int) -> str:
        return str(work / "inputs" / f"rho{n}.zarr")

    def store(n: int, tag: str) -> str:
        return str(work / "run" / f"F{n}-{tag}.zarr")

    def compute(group: str, n: int, libs: list[str], saxs: bool) -> None:
        fits = memory_need(n) <= 0.9 * avail
        if fits and libs:
            for lib in libs:
                name = f"{lib} recipe" if saxs else lib
                cs.append(Contender(group, group, n, name, "memory",
                                    {"lib": lib, "path": vol(n), "n": n, "threads": a.threads,
                                     "recipe": "saxs" if saxs else "rfftn"}))
        if a.pieces or not fits or not libs:
            for lib in libs or ["torch"]:
                cs.append(Contender(group, group, n, f"pieces ({lib})", "pieces",
                                    {"lib": lib, "n": n, "threads": a.threads, "saxs": saxs}))

    hifft_base = {"backend": a.backend, "worker_memory": a.worker_memory}
    for n in a.sizes:
        compute("rfftn", n, a.in_memory, False)
        cs.append(Contender("rfftn", "rfftn", n, "hifft", "hifft",
                            {**hifft_base, "call": "rfftn", "path": vol(n), "store": store(n, "default")}))
        cs += [Contender(f"rfftn {b}", "rfftn", n, "hifft", "hifft",
                         {**hifft_base, "call": "rfftn", "path": vol(n), "store": store(n, b), "budget": b,
                          **({"intermediate": "disk"} if a.disk_intermediate else {})})
               for b in a.budgets]
    for n in a.cluster_sizes:
        if n not in a.sizes:
            compute("rfftn", n, a.in_memory, False)
        cs += [Contender(f"rfftn {w}w", "rfftn", n, f"hifft LocalCluster {w}×1", "hifft",
                         {**hifft_base, "call": "rfftn", "path": vol(n), "store": store(n, f"{w}w"), "workers": w})
               for w in a.workers]
    for n in a.saxs_sizes:
        compute("saxs", n, ["torch"] if "torch" in a.in_memory else [], True)
        cs.append(Contender("saxs", "saxs", n, "hifft", "hifft", {**hifft_base, "call": "saxs", "path": vol(n)}))
    for n in a.job_sizes:
        cs += [Contender("job", "job", n, f"pieces ({lib})", "pieces",
                         {"lib": lib, "n": n, "threads": a.threads, "saxs": True})
               for lib in (a.in_memory or ["torch"])]
        cs.append(Contender("job", "job", n, "hifft", "hifft", {**hifft_base, "call": "saxs", "path": vol(n)}))
    return cs


def disk_need(n: int, cs: list[Contender], input_present: bool) -> int:
    """Upper bound of the disk the N³ contenders need at once: input (uncompressed) + intermediate + spectrum."""
    hif = [c for c in cs if c.n == n and c.kind == "hifft"]
    need = 0 if input_present or not any(c.n == n for c in cs if c.kind != "pieces") else n**3 * 4
    if hif:
        need += half_bytes(n) * (2 if any(c.spec["call"] == "rfftn" for c in hif) else 1)
    return need


def volume_complete(path: Path) -> bool:
    from hifft.store import Manifest

    return path.exists() and Manifest(path).complete


# =============================================================== parent: numbers from rows
def pass_bytes(meta: dict | None) -> dict[str, int]:
    """Bytes read and written per pass from the FFT job's meta.

    Takes ``meta["bytes"]`` as {"pass1_read": …} when the engine gives it, or
    {"read": {"pass1 (input)": …}, "written": {…}} as it does today, else
    computes them from ``meta["plan"]`` (input, intermediate unless held in
    memory, spectrum when written).
    """
    out = dict.fromkeys(PASS_KEYS, 0)
    if not meta:
        return out
    b = meta.get("bytes") or {}
    if any(k in b for k in PASS_KEYS):
        return {k: int(b.get(k) or 0) for k in PASS_KEYS}
    if "read" in b or "written" in b:
        for d, key in (("read", "read"), ("write", "written")):
            for name, v in (b.get(key) or {}).items():
                k = f"{str(name).split()[0]}_{d}"
                out[k] = out.get(k, 0) + int(v)
        return out
    p = meta.get("plan") or {}
    if p:
        out["pass1_read"] = math.prod(p["shape"]) * p["itemsize_in"]
        mid = p.get("mid_bytes") or math.prod(p["mid_shape"]) * p["itemsize_c"]
        if not meta.get("in_core") and not p.get("mid_in_memory"):
            out["pass1_write"] = out["pass2_read"] = mid
        if not meta.get("in_core") and p.get("write_spectrum"):
            out["pass2_write"] = math.prod(p["out_shape"]) * p["itemsize_c"]
    return out


def disk_bytes(row: dict, inputs: dict[int, dict]) -> dict[str, int]:
    """Bytes the disk moves: the job's per-pass bytes, the input at its stored (compressed) size."""
    b = dict(row.get("bytes_logical") or {})
    stored = (inputs.get(row["n"]) or {}).get("stored_bytes")
    if b.get("pass1_read") and stored is not None:
        b["pass1_read"] = int(stored)
    return b


def io_seconds(b: dict[str, int], bw: dict) -> float:
    reads = sum(v for k, v in b.items() if k.endswith("_read"))
    writes = sum(v for k, v in b.items() if k.endswith("_write"))
    return reads / bw["read_Bps"] + writes / bw["write_Bps"]


def judge(rows: list[dict], bw: dict | None, inputs: dict[int, dict]) -> None:
    """Add compute, disk, limit and the ratios to every hifft row (in place)."""
    for r in rows:
        if r["role"] != "hifft" or "wall" not in r:
            continue
        refs = [x for x in rows if x["role"] == "compute" and x["group"] == r["group"] and x["n"] == r["n"]
                and "wall" in x]
        measured = [x["wall"] for x in refs if x["kind"] == "memory"]
        est = [x["wall"] for x in refs if x["kind"] == "pieces"]
        r["compute_s"] = min(measured) if measured else (min(est) if est else None)
        r["compute_estimated"] = not measured and bool(est)
        torch_ref = [x["wall"] for x in refs if x["kind"] == "memory" and x["spec"]["lib"] == "torch"]
        r["x_torch"] = r["wall"] / torch_ref[0] if torch_ref else None
        r["bytes_disk"] = disk_bytes(r, inputs)
        r["disk_s"] = io_seconds(r["bytes_disk"], bw) if bw else None
        parts = [x for x in (r["compute_s"], r["disk_s"]) if x is not None]
        r["limit_s"] = max(parts) if parts else None
        r["x_limit"] = r["wall"] / r["limit_s"] if r["limit_s"] else None


def rates(rows: list[dict], bw: dict | None, command: str, start: dict) -> dict | None:
    """Per-worker pass rates (bytes/s) for ``hifft plan``'s projection, in the format hifft/fft/cli.py reads.

    From the 1-worker LocalCluster run at the largest N (one worker with no
    other worker on its CPUs, as on a cluster node of its own); else the
    2-worker run, divided by 2; else the in-process run with the intermediate
    on disk. pass1 = input bytes (uncompressed) / pass-1 s; pass2 = intermediate
    bytes / pass-2 s, as ``hifft.fft.plan.project`` uses them. ``machine.load``
    is the load when the run started (``hifft plan`` prints it), ``figure_load``
    the load when this figure started, ``flags`` its load warnings.
    """
    def usable(r: dict) -> bool:
        t = ((r.get("meta") or {}).get("times_s")) or {}
        return r["role"] == "hifft" and r["spec"].get("call") == "rfftn" and "pass1" in t and "pass2" in t

    cand = [r for r in rows if usable(r)]
    order = [lambda r: r["spec"].get("workers") == 1, lambda r: r["spec"].get("workers") == 2,
             lambda r: r["spec"].get("budget") is not None]
    for pick in order:
        got = [r for r in cand if pick(r)]
        if got:
            break
    else:
        return None
    r = max(got, key=lambda r: r["n"])
    w = r["spec"].get("workers") or 1
    t = r["meta"]["times_s"]
    plan = r["meta"].get("plan") or {}
    mid = plan.get("mid_bytes") or r["bytes_logical"]["pass2_read"]
    out = {"rates": {"pass1": r["bytes_logical"]["pass1_read"] / (t["pass1"] * w), "pass2": mid / (t["pass2"] * w)},
           "from": f"{r['case']} N={r['n']} ({r['name']}, backend {r.get('backend')})",
           "units": "bytes/s per worker (pass1: input bytes; pass2: intermediate bytes)",
           "command": command, "date": time.strftime("%Y-%m-%d %H:%M:%S"), "commit": git_commit(),
           "machine": {**start["machine"], "load": start["load"]},
           "figure_load": (r.get("before") or {}).get("load"), "flags": r.get("flags", [])}
    if bw:  # measured here, for reference; `project` takes a "disk" key only where a cluster's disk is known
        out["disk_measured_Bps"] = {"read": bw["read_Bps"], "write": bw["write_Bps"]}
    return out


# =============================================================== parent: tables
def _g(x: float | None, unit: float = 1.0, fmt: str = ".2f") -> str:
    return "-" if x is None else format(x / unit, fmt)


def _load(r: dict) -> str:
    ld = (r.get("before") or {}).get("load")
    return "/".join(f"{v:.2f}" for v in ld) if ld else "-"


def main_table(rows: list[dict]) -> str:
    t = ["| N³ | case | contender | wall (s) | load input (s) | × torch | limit (s) = max(compute, disk) | × limit "
         "| peak RSS (GiB) | load 1/5/15 | notes |",
         "|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        notes = list(r.get("flags", []))
        if "error" in r:
            t.append(f"| {r['n']} | {r['case']} | {r['name']} | failed | | | | | {_g(r.get('peak_rss'), GiB)} "
                     f"| {_load(r)} | {r['error'][:200]} |")
            continue
        if r["role"] == "hifft":
            meta = r.get("meta") or {}
            plan = meta.get("plan") or {}
            notes.append(f"{r.get('backend')}, " + ("in-core" if meta.get("in_core") else
                         "intermediate in memory" if plan.get("mid_in_memory") else "intermediate on disk"))
            notes.append(f"sync after {r.get('sync_s', 0):.1f} s")
            lim = "-" if r.get("limit_s") is None else (
                f"{r['limit_s']:.2f} ({'est. ' if r['compute_estimated'] else ''}compute "
                f"{_g(r['compute_s'])} · disk {_g(r['disk_s'])})")
            t.append(f"| {r['n']} | {r['case']} | {r['name']} | {r['wall']:.2f} | in wall | {_g(r.get('x_torch'))} "
                     f"| {lim} | {_g(r.get('x_limit'))} | {_g(r['peak_rss'], GiB)} | {_load(r)} | "
                     f"{'; '.join(notes)} |")
        else:
            if r["kind"] == "pieces":
                notes.append(f"estimate: pass 1 {r['pass1_s']:.1f} s + pass 2 {r['pass2_s']:.1f} s"
                             + (f" + reduce {r['reduce_s']:.1f} s" if "reduce_s" in r else ""))
            else:
                notes.append(f"{r.get('library')}, {r.get('threads')} threads")
            t.append(f"| {r['n']} | {r['case']} | {r['name']} | {r['wall']:.2f} | {_g(r.get('load_s'))} "
                     f"| {'1.00' if r['kind'] == 'memory' and r['spec'].get('lib') == 'torch' else '-'} | - | - "
                     f"| {_g(r['peak_rss'], GiB)} | {_load(r)} | {'; '.join(notes)} |")
    return "\n".join(t)


def pass_table(rows: list[dict], bw: dict | None) -> str:
    head = ["| N³ | case | contender | pass | read (GiB) | written (GiB) | s | GB/s | disk bound (s) | × disk bound |",
            "|---|---|---|---|---|---|---|---|---|---|"]
    t: list[str] = []
    for r in rows:
        times = ((r.get("meta") or {}).get("times_s")) or {}
        if r["role"] != "hifft" or "wall" not in r or not times:
            continue
        b = r["bytes_disk"]
        for p in ("pass1", "pass2"):
            s = times.get(p)
            rd, wr = b.get(f"{p}_read", 0), b.get(f"{p}_write", 0)
            bound = io_seconds({"x_read": rd, "x_write": wr}, bw) if bw else None
            t.append(f"| {r['n']} | {r['case']} | {r['name']} | {p} | {rd / GiB:.2f} | {wr / GiB:.2f} | {_g(s)} "
                     f"| {_g((rd + wr) / s / 1e9 if s else None)} | {_g(bound)} "
                     f"| {_g(s / bound if s and bound else None)} |")
    return "\n".join(head + t) if t else ""


def scaling_table(rows: list[dict]) -> str:
    cl = [r for r in rows if r["role"] == "hifft" and r["spec"].get("workers") and "wall" in r]
    if not cl:
        return ""
    t = ["| N³ | workers × threads | wall (s) | speedup vs 1 worker | efficiency | pass 1 (s) | pass 2 (s) "
         "| peak RSS (GiB) |", "|---|---|---|---|---|---|---|---|"]
    for r in cl:
        w = r["spec"]["workers"]
        one = next((x["wall"] for x in cl if x["n"] == r["n"] and x["spec"]["workers"] == 1), None)
        sp = one / r["wall"] if one else None
        times = (r.get("meta") or {}).get("times_s") or {}
        t.append(f"| {r['n']} | {w} × 1 | {r['wall']:.2f} | {_g(sp)} | {_g(sp / w if sp else None)} "
                 f"| {_g(times.get('pass1'))} | {_g(times.get('pass2'))} | {_g(r['peak_rss'], GiB)} |")
    return "\n".join(t)


def bandwidth_table(bw: dict | None) -> str:
    if not bw:
        return "disk bandwidth: not measured"
    res = bw.get("resident_before_read")
    cached = "unknown (no fincore)" if res is None else f"{res / bw['bytes']:.0%} of the file"
    return ("| file (GiB) | write + fsync (GB/s) | read (GB/s) | still cached before the read | "
            "re-read from page cache (GB/s) |\n|---|---|---|---|---|\n"
            f"| {bw['bytes'] / GiB:.2f} | {bw['write_Bps'] / 1e9:.2f} | {bw['read_Bps'] / 1e9:.2f} | {cached} "
            f"| {bw['reread_Bps'] / 1e9:.2f} |")


def inputs_table(inputs: dict[int, dict]) -> str:
    t = ["| N³ | spacing (Å) | sphere radius (Å) | stored (GiB) | uncompressed (GiB) | build (s) | reused |",
         "|---|---|---|---|---|---|---|"]
    for n, v in sorted(inputs.items()):
        if "error" in v:
            t.append(f"| {n} | | | | | failed: {v['error'][:80]} | |")
            continue
        t.append(f"| {n} | {v['spacing']} | {v['radius']:.1f} | {v['stored_bytes'] / GiB:.3f} "
                 f"| {v['nbytes'] / GiB:.2f} | {v['build_s']:.1f} | {'yes' if v['reused'] else 'no'} |")
    return "\n".join(t)


# =============================================================== parent: run
def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", type=int, nargs="*", default=[512, 1024],
                    help="N for the default rfftn call vs in-memory contenders (default: 512 1024)")
    ap.add_argument("--budgets", nargs="*", default=["2GiB"],
                    help="memory_budget values for extra rfftn runs at --sizes (default: 2GiB; none: empty)")
    ap.add_argument("--disk-intermediate", action="store_true",
                    help="pass intermediate='disk' with --budgets (by default the engine keeps an intermediate "
                         "that fits 60%% of the budget in memory: at 512³ it does under 2GiB)")
    ap.add_argument("--cluster-sizes", type=int, nargs="*", default=[1024],
                    help="N for rfftn on a LocalCluster with each of --workers (default: 1024)")
    ap.add_argument("--workers", type=int, nargs="*", default=[1, 2], help="LocalCluster sizes (default: 1 2)")
    ap.add_argument("--worker-memory", default="4GiB", help="memory limit per cluster worker (default: 4GiB)")
    ap.add_argument("--saxs-sizes", type=int, nargs="*", default=[1024],
                    help="N for hifft.saxs vs the in-memory torch recipe (default: 1024)")
    ap.add_argument("--job-sizes", "--pipeline", type=int, nargs="*", default=[],
                    help="N for the saxs job on a stored volume judged by the limit only, e.g. 2048 "
                         "(builds a 2048³ volume once; refused with the numbers when the disk is short)")
    ap.add_argument("--in-memory", nargs="*", default=["torch", "scipy"], choices=["torch", "scipy"],
                    help="in-memory contenders (default: torch scipy; the saxs recipe is torch's)")
    ap.add_argument("--pieces", action="store_true",
                    help="also estimate compute from timed pieces where the in-memory contenders run")
    ap.add_argument("--threads", type=int, default=2, help="threads of the in-memory contenders (default: 2)")
    ap.add_argument("--backend", default="auto", help="hifft's FFT backend (default: auto)")
    ap.add_argument("--work", default="bench_work", help="work directory: inputs, spectra, the bandwidth file")
    ap.add_argument("--out", default=str(RESULTS), help="results directory (default: benchmarks/results)")
    ap.add_argument("--name", default="fft", help="results file stem (default: fft)")
    ap.add_argument("--bw-size", default=None, help="bandwidth file size (default: the largest intermediate, capped)")
    ap.add_argument("--bw-cap", default="4GiB", help="cap of the bandwidth file (default: 4GiB)")
    ap.add_argument("--warm-memory", default="16GiB",
                    help="touch this much memory once before the contenders ('' to skip; see main)")
    ap.add_argument("--max-load", type=float, default=1.5, help="refuse to start above this 1-minute load")
    ap.add_argument("--force", action="store_true", help="start anyway; every figure is flagged as under load")
    ap.add_argument("--settle", type=float, default=120, help="max seconds to wait before each contender")
    ap.add_argument("--settle-load", type=float, default=1.0, help="1-minute load to wait for (default: 1.0)")
    ap.add_argument("--update-package-rates", action="store_true",
                    help="also write the pass rates to hifft/fft/rates.json (the copy shipped with hifft)")
    ap.add_argument("--clean", action="store_true", help="remove the work directory (input volumes too) at the end")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    return ap.parse_args(argv)


def _bytes(s: str) -> int:
    from dask.utils import parse_bytes

    return int(parse_bytes(s))


def run_contender(c: Contender, a: argparse.Namespace, work: Path, forced: bool) -> dict:
    """Settle, flush, drop the input's cache, snapshot the load, run ``c`` in a fresh process."""
    waited = settle(a.settle_load, a.settle)
    os.sync()
    path = c.spec.get("path")
    dropped = drop_page_cache(path) if path else 0
    still = resident_bytes(path) if path else None
    tmp = work / "run" / "tmp"

    def clear() -> None:  # the spectrum, the engine's work dirs: nothing is resumed from a previous figure
        for p in ([c.spec["store"], c.spec["store"] + ".work"] if c.spec.get("store") else []) + [str(tmp)]:
            shutil.rmtree(p, ignore_errors=True)

    clear()
    before = snapshot()
    env = {"HIFFT_TMPDIR": str(tmp)}  # the engine's work dir for saxs: on the disk measured here
    r = run_child([__file__, "--child", json.dumps({"kind": c.kind, **c.spec})], interval=0.05,
                  timeout=6 * 3600 if c.n >= 2048 else 3600, env=env)
    after = snapshot(0)
    clear()
    flags = []
    if forced:
        flags.append("run forced at load > max")
    if before["load"][0] > a.max_load:
        flags.append(f"UNDER LOAD ({before['load'][0]:.2f} > {a.max_load})")
    row = {**asdict(c), "role": c.role, **r, "before": before, "after": after, "settled_s": waited,
           "input_cache_dropped": dropped, "input_resident_after_drop": still, "flags": flags}
    if c.kind == "hifft" and "wall" in r:
        row["bytes_logical"] = pass_bytes(r.get("meta"))
        if not r.get("meta"):
            flags.append("no engine meta: bytes moved unknown, limit = compute only")
    return row


def main(argv: list[str] | None = None) -> int:
    a = parse_args(argv)
    if a.child:
        spec = json.loads(a.child)
        print(json.dumps(CHILDREN[spec.pop("kind")](spec), default=str))
        return 0
    command = "python benchmarks/bench_fft.py " + " ".join(sys.argv[1:] if argv is None else argv)
    start = snapshot()
    start["machine"] = machine()
    forced = start["load"][0] > a.max_load
    require_quiet(a.max_load, a.force, start["load"],
                  f" (CPU busy {start['cpu_busy_pct']}%), or pass --force to run with every figure flagged")
    work = Path(a.work)
    (work / "inputs").mkdir(parents=True, exist_ok=True)
    (work / "run").mkdir(parents=True, exist_ok=True)
    cs = plan_run(a, work)
    sizes = sorted({c.n for c in cs})
    print(f"{len(cs)} contenders at N = {sizes}; load {start['load']}; work dir {work}", flush=True)

    # refuse sizes whose disk does not fit, with the numbers
    refused: dict[int, str] = {}
    from hifft.store import free_bytes

    for n in sizes:
        need = disk_need(n, cs, volume_complete(work / "inputs" / f"rho{n}.zarr"))
        free = free_bytes(work)
        if need > free:
            refused[n] = (f"N={n} refused: needs up to {need / GiB:.1f} GiB of disk (input {n}³ float32 "
                          f"uncompressed + intermediate + spectrum), {free / GiB:.1f} GiB free in {work}")
            print(refused[n], flush=True)

    if a.warm_memory:
        # This VM backs guest memory on first touch: a process that touches never-used pages
        # paid ~1.2 s/GiB here (5.5 s for 4.3 GiB, then 0.6–0.9 s for the same size), so the
        # first contender would pay for every later one. Touch it once, outside every timer.
        t0 = time.perf_counter()
        touch = f"import numpy as np; a = np.ones({int(_bytes(a.warm_memory))}, np.uint8); print(a[::4096].sum())"
        subprocess.run([sys.executable, "-c", touch], check=True, capture_output=True)
        start["memory_warmup"] = {"bytes": _bytes(a.warm_memory), "seconds": round(time.perf_counter() - t0, 2)}
        print(f"memory warm-up: touched {a.warm_memory} in {start['memory_warmup']['seconds']} s", flush=True)

    bw = None
    on_disk = [n for n in sizes if n not in refused and any(c.n == n and c.kind == "hifft" for c in cs)]
    if on_disk:
        size = _bytes(a.bw_size) if a.bw_size else max(256 * 2**20, min(_bytes(a.bw_cap), half_bytes(max(on_disk))))
        os.sync()
        bw = disk_bandwidth(work, size)
        bw["load_before"] = start["load"]
        print(f"disk: write+fsync {bw['write_Bps'] / 1e9:.2f} GB/s, read {bw['read_Bps'] / 1e9:.2f} GB/s, "
              f"page-cache re-read {bw['reread_Bps'] / 1e9:.2f} GB/s ({size / GiB:.2f} GiB file)", flush=True)

    rows: list[dict] = []
    inputs: dict[int, dict] = {}
    for n in sizes:
        if n in refused:
            rows += [{**asdict(c), "role": c.role, "error": refused[n], "peak_rss": 0, "flags": []}
                     for c in cs if c.n == n]
            continue
        if any(c.n == n and c.kind in ("memory", "hifft") for c in cs):
            path = work / "inputs" / f"rho{n}.zarr"
            b = run_child([__file__, "--child", json.dumps({"kind": "build", "n": n, "path": str(path)})],
                          interval=0.5, timeout=6 * 3600)
            inputs[n] = b
            print(f"input {path}: {json.dumps(b, default=str)}", flush=True)
            if "error" in b:
                rows += [{**asdict(c), "role": c.role, "error": f"input build failed: {b['error']}",
                          "peak_rss": 0, "flags": []} for c in cs if c.n == n and c.kind != "pieces"]
                cs = [c for c in cs if c.n != n or c.kind == "pieces"]
        for c in [c for c in cs if c.n == n]:
            row = run_contender(c, a, work, forced)
            rows.append(row)
            brief = {k: row.get(k) for k in ("case", "n", "name", "wall", "load_s", "sync_s", "peak_rss", "error")}
            print(json.dumps({**brief, "load": row.get("before", {}).get("load")}, default=str), flush=True)

    judge(rows, bw, inputs)
    header = (f"Started {start['time']} at load {start['load']} (1/5/15 min), CPU busy {start['cpu_busy_pct']}%, "
              f"{start['mem_available'] / GiB:.1f} GiB memory available, {start['machine']['cpus']} CPUs.  \n"
              + (f"**Started at load {start['load'][0]:.2f} > {a.max_load} with --force: every figure was taken "
                 "under load.**  \n" if forced else "")
              + "In-memory contenders: transform only, input read before the timer (\"load input\"); hifft: the "
                "whole call, stored input to result. limit = max(compute, disk): compute = the fastest in-memory "
                "time of the same work in this run (\"est.\": timed pieces, scaled), disk = bytes read / read "
                "bandwidth + bytes written / write bandwidth (input at its stored size). Input pages dropped "
                "before each contender; hifft's writes are not fsync'd (the sync after its call is a note).\n\n")
    tables = [("Contenders", main_table(rows)), ("Per pass (disk bytes)", pass_table(rows, bw)),
              ("Scaling (LocalCluster)", scaling_table(rows)), ("Disk bandwidth", bandwidth_table(bw)),
              ("Input volumes", inputs_table(inputs))]
    md = "\n\n".join(f"## {title}\n\n{t}" for title, t in tables if t)
    print(md)
    out = Path(a.out)
    save(a.name, command, rows, md, out=out, header=header,
         extra={"start": start, "bandwidth": bw, "inputs": inputs, "args": vars(a), "refused": refused})
    rt = rates(rows, bw, command, start)
    if rt:
        from hifft.atomic import atomic_write

        text = json.dumps(rt, indent=1)
        atomic_write(out / "fft_rates.json", text)
        if a.update_package_rates:
            atomic_write(PACKAGE_RATES, text)
        print(f"pass rates ({rt['from']}): pass 1 {rt['rates']['pass1'] / 1e6:.0f} MB/s, pass 2 "
              f"{rt['rates']['pass2'] / 1e6:.0f} MB/s per worker -> {out / 'fft_rates.json'}"
              + (f" and {PACKAGE_RATES}" if a.update_package_rates else ""))
    if a.clean:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
