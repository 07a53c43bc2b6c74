"""hifft's out-of-core rfftn against in-memory torch.fft.rfftn, scipy.fft and numpy.fft.

One invocation runs every competitor side by side, each in its own child
process (so peak memory is per competitor, summed over its process tree,
Dask workers included), and prints a table of wall time, ratio to torch,
peak RSS, bytes moved, GFLOP/s and effective I/O bandwidth.

    python benchmarks/bench_fft.py --sizes 256 512 1024 [--hifft-only 2048]

Conventions: input is float32 white noise stored uncompressed in Zarr
(z-slab chunks); in-memory competitors are timed on the transform alone
(loading excluded), hifft on the whole job (read, two passes, write).
GFLOP/s use 2.5·N³·log2(N³) for a real-to-complex transform.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _harness import run_child, save  # noqa: E402

COMPETITORS = ["torch", "scipy", "numpy", "hifft-sync", "hifft-cluster"]
#: For --pipeline sizes: the real job (dilute-sphere scene built to a compressed
#: Zarr volume, out-of-core FFT fused with the radial reduction, no spectrum
#: written), as `hifft run` does it; timed per step.
PIPELINE = "hifft-pipeline"


def make_input(path: Path, n: int) -> None:
    import zarr

    if (path / "zarr.json").exists():
        return
    a = zarr.create_array(store=str(path), shape=(n, n, n), chunks=(min(n, 32), n, n), dtype="float32",
                          compressors=None, zarr_format=3, overwrite=True)
    rng = np.random.default_rng(0)
    for z0 in range(0, n, 32):
        a[z0 : z0 + 32] = rng.standard_normal((min(32, n - z0), n, n), dtype=np.float32)


def pipeline_child(n: int, workdir: str, threads: int) -> dict:
    from hifft.config import validate
    from hifft.pipeline import JobConfig, run

    cfg = validate(JobConfig, {
        "name": f"bench{n}",
        "grid": {"shape": n, "spacing": 2.0},
        "scene": {"seed": 1, "components": [{"shape": "sphere", "radius": 40.0, "sld": 1.0,
                                             "volume_fraction": 0.01, "polydispersity": 0.1}]},
        "fft": {"backend": os.environ.get("HIFFT_BENCH_BACKEND", "auto"), "memory_budget": "1.2GiB"},
        "reduce": {"bins": 200},
        "detector": {"enabled": False},
        "compare": {"enabled": False},
        "output": {"dir": workdir, "overwrite": True, "formats": []},
        "cluster": {"n_workers": threads, "memory_limit": "2.5GiB"},
    }, "bench")
    s = run(cfg, progress=False, echo=lambda *a: None)
    t = s["times_s"]
    return {"wall": t["fft+reduce"], "build": t["build"], "backend": "auto",
            "moved": n**3 * 4 + 2 * n * n * (n // 2 + 1) * 8}


def child(name: str, path: str, n: int, workdir: str, threads: int) -> dict:
    import zarr

    if name == PIPELINE:
        return pipeline_child(n, workdir, threads)

    if name in ("torch", "scipy", "numpy"):
        x = zarr.open_array(path, mode="r")[:]
        if name == "torch":
            import torch

            torch.set_num_threads(threads)
            t = torch.from_numpy(x)
            torch.fft.rfftn(t[:8, :8, :8])  # warm up
            t0 = time.perf_counter()
            F = torch.fft.rfftn(t)
            dt = time.perf_counter() - t0
        elif name == "scipy":
            import scipy.fft

            t0 = time.perf_counter()
            F = scipy.fft.rfftn(x, workers=threads)
            dt = time.perf_counter() - t0
        else:
            t0 = time.perf_counter()
            F = np.fft.rfftn(x)
            dt = time.perf_counter() - t0
        return {"wall": dt, "shape": list(F.shape)}
    import hifft
    from hifft.fft.engine import FFTJob

    backend = os.environ.get("HIFFT_BENCH_BACKEND", "auto")
    if name == "hifft-sync":
        job = FFTJob(path, real=True, reducers=None, backend=backend, threads=threads, workdir=workdir,
                     progress=False, in_core=False, memory_budget=os.environ.get("HIFFT_BENCH_BUDGET", "2GiB"))
        # spectrum to disk like the cluster case
        t0 = time.perf_counter()
        job.execute()
        dt = time.perf_counter() - t0
        plan = job.plan
    else:
        from hifft.cluster import get_client

        with get_client(n_workers=threads, memory_limit=os.environ.get("HIFFT_BENCH_WORKER_MEM", "3GiB")) as c:
            job = FFTJob(path, real=True, client=c, backend=backend, workdir=workdir, progress=False,
                         in_core=False)
            t0 = time.perf_counter()
            job.execute()
            dt = time.perf_counter() - t0
            plan = job.plan
    moved = sum(plan.bytes_read.values()) + sum(plan.bytes_written.values())
    return {"wall": dt, "backend": job.backend, "moved": moved, "slab": plan.slab, "block": plan.block,
            "pass_s": job.times, "in_bytes": plan.bytes_read["pass1 (input)"],
            "mid_bytes": plan.bytes_read["pass2 (intermediate)"], "workers": job.ex.workers,
            "hifft_version": hifft.__version__}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", type=int, nargs="*", default=[256, 512])
    ap.add_argument("--hifft-only", type=int, nargs="*", default=[])
    ap.add_argument("--pipeline", type=int, nargs="*", default=[],
                    help="sizes for the whole build+FFT+I(q) job (compressed scene input)")
    ap.add_argument("--competitors", nargs="+", default=COMPETITORS)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--scratch", default="bench-scratch")
    ap.add_argument("--name", default="fft")
    ap.add_argument("--child", nargs=5, metavar=("NAME", "PATH", "N", "WORKDIR", "THREADS"))
    a = ap.parse_args()
    if a.child:
        name, path, n, wd, thr = a.child
        print(json.dumps(child(name, path, int(n), wd, int(thr))))
        return
    scratch = Path(a.scratch)
    rows = []
    jobs = [(n, c) for n in a.sizes for c in a.competitors]
    jobs += [(n, c) for n in a.hifft_only for c in a.competitors if c.startswith("hifft")]
    jobs += [(n, PIPELINE) for n in a.pipeline]
    for n in sorted({n for n, _ in jobs}):
        need = n**3 * 4 * (3.2 if any(m == n and c != PIPELINE for m, c in jobs) else 1.1)
        free = shutil.disk_usage(scratch.parent if scratch.exists() else Path.cwd()).free
        if need > free:
            print(f"skip N={n}: needs {need / 2**30:.1f} GiB of disk, {free / 2**30:.1f} GiB free")
            continue
        scratch.mkdir(exist_ok=True)
        inp = scratch / f"in{n}.zarr"
        if any(m == n and c != PIPELINE for m, c in jobs):
            make_input(inp, n)
        for name in [c for m, c in jobs if m == n]:
            wd = scratch / f"work-{name}-{n}"
            shutil.rmtree(wd, ignore_errors=True)
            r = run_child([__file__, "--child", name, str(inp), str(n), str(wd), str(a.threads)])
            shutil.rmtree(wd, ignore_errors=True)
            r.update(name=name, n=n)
            rows.append(r)
            print(json.dumps(r))
        shutil.rmtree(inp, ignore_errors=True)
    table = ["| N | competitor | wall (s) | × torch | peak RSS (GiB) | moved (GiB) | GFLOP/s | I/O (GB/s) |",
             "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        n = r["n"]
        torch_t = next((x["wall"] for x in rows if x["n"] == n and x["name"] == "torch" and "wall" in x), None)
        if "error" in r:
            table.append(f"| {n} | {r['name']} | failed: {r['error'][:60]} | | {r['peak_rss'] / 2**30:.2f} | | | |")
            continue
        flops = 2.5 * n**3 * math.log2(n**3)
        ratio = f"{r['wall'] / torch_t:.2f}" if torch_t else "-"
        moved = r.get("moved")
        table.append(
            f"| {n} | {r['name']}{' (' + r['backend'] + ')' if 'backend' in r else ''}"
            f"{' [+ build ' + format(r['build'], '.1f') + ' s]' if 'build' in r else ''} | {r['wall']:.2f} | {ratio} "
            f"| {r['peak_rss'] / 2**30:.2f} | {moved / 2**30:.2f} | {flops / r['wall'] / 1e9:.1f} "
            f"| {moved / r['wall'] / 1e9:.2f} |" if moved else
            f"| {n} | {r['name']} | {r['wall']:.2f} | {ratio} | {r['peak_rss'] / 2**30:.2f} | - "
            f"| {flops / r['wall'] / 1e9:.1f} | - |"
        )
    md = "\n".join(table)
    print(md)
    cmd = "python benchmarks/bench_fft.py " + " ".join(sys.argv[1:])
    save(a.name, cmd, rows, md)
    cl = [r for r in rows if r.get("name") == "hifft-cluster" and "pass_s" in r]
    if cl:  # per-worker pass rates for `hifft plan` projections, from the largest cluster run
        r = max(cl, key=lambda r: r["n"])
        rates = {"pass1": r["in_bytes"] / (r["pass_s"]["pass1"] * r["workers"]),
                 "pass2": r["mid_bytes"] / (r["pass_s"]["pass2"] * r["workers"])}
        (Path(__file__).resolve().parent / "results" / "fft_rates.json").write_text(json.dumps(
            {"rates": rates, "from": f"hifft-cluster N={r['n']}", "command": cmd}, indent=1))
    shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
