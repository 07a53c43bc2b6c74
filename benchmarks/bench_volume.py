"""Volume builder benchmarks (issue 4).

1. Dilute sphere scene (φ = 1 %, R = 20 Å at d = 2 Å, 10 % gaussian polydispersity,
   random placement) built at N³ into a Zarr store on a LocalCluster: plan time,
   build time, end-to-end time with cluster start, stored bytes, peak memory summed
   over the client and worker processes. Target at 1024³: ≤ 20 s.
   Competitor in the same run (at --compare-n, default 512³): the thesis-style
   in-memory numpy binary voxelization (bounding-cube mask per sphere into one array).
2. Hard-sphere placement (random sequential addition with a cell list) of 10⁵ spheres
   to φ = 0.3. Target ≤ 30 s. Competitor: RSA with an all-pairs numpy overlap test per
   try (no cell list), at --naive-n spheres (same φ), and ours at the same n.

Usage:  nice -n 10 python benchmarks/bench_volume.py [--n 1024] [--workers 2] [--skip-dilute] ...
Results: printed table + benchmarks/results/volume.md and volume.json (with the command line).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import platform
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import psutil

import hifft
from hifft import shapes as S

RESULTS = Path(__file__).resolve().parent / "results"


class PeakMemory:
    """Samples the summed RSS of this process and the given worker pids every 50 ms."""

    def __init__(self, pids: list[int]) -> None:
        self.procs = [psutil.Process()] + [psutil.Process(p) for p in pids]
        self.peak = 0
        self._stop = threading.Event()
        self._t = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            total = 0
            for p in self.procs:
                with contextlib.suppress(psutil.Error):
                    total += p.memory_info().rss
            self.peak = max(self.peak, total)
            time.sleep(0.05)

    def __enter__(self) -> PeakMemory:
        self._t.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._t.join()


def cpu_seconds(procs: list[psutil.Process]) -> float:
    """User + system CPU seconds used so far by ``procs`` (load-independent work measure)."""
    total = 0.0
    for p in procs:
        try:
            t = p.cpu_times()
            total += t.user + t.system
        except psutil.Error:
            pass
    return total


def dilute_scene(n: int, seed: int = 1) -> hifft.Scene:
    grid = hifft.Grid(shape=n, spacing=2.0)
    scene = hifft.Scene(grid, sld_solvent=0.0, seed=seed)
    scene.add(
        S.Sphere(radius=20.0, sld=1.0),
        volume_fraction=0.01,
        polydispersity=0.1,
        distribution="gaussian",
        orientation="uniform",
        placement="random",
    )
    return scene


def bench_dilute(n: int, workers: int, scratch: Path) -> dict:
    from distributed import Client

    from hifft.cluster import local_cluster

    t0 = time.perf_counter()
    cluster = local_cluster(n_workers=workers, threads_per_worker=1)
    client = Client(cluster)
    t_cluster = time.perf_counter() - t0
    try:
        pids = list(client.run(os.getpid).values())
        # warm the workers (imports, numba cache) on a tiny build, as a long-running cluster is
        hifft.build_volume(
            dilute_scene(32), scratch / "warm.zarr", client=client, overwrite=True, progress=False
        )
        scene = dilute_scene(n)
        t0 = time.perf_counter()
        plan = scene.plan()
        t_plan = time.perf_counter() - t0
        path = scratch / f"dilute{n}.zarr"
        with PeakMemory(pids) as mem:
            cpu0 = cpu_seconds(mem.procs)
            t0 = time.perf_counter()
            vol = hifft.build_volume(scene, path, client=client, overwrite=True, progress=False)
            t_build = time.perf_counter() - t0
            cpu = cpu_seconds(mem.procs) - cpu0
        stats = vol.attrs["stats"]
        v_true = float((plan.w_o * plan.volume).sum())
        out = {
            "n": n,
            "workers": workers,
            "particles": len(plan),
            "slab_depth": vol.chunk_depth,
            "slabs": stats["slabs"],
            "cluster_start_s": t_cluster,
            "plan_s": t_plan,
            "build_s": t_build,
            "total_s": t_cluster + t_plan + t_build,
            "cpu_s": cpu,
            "idle_build_s_est": cpu / workers,
            "raw_GiB": vol.nbytes / 2**30,
            "stored_MiB": vol.stored_nbytes / 2**20,
            "peak_rss_GiB": mem.peak / 2**30,
            "integral_rel_err": stats["integral"] / v_true - 1,
            "phi": plan.summary[0]["volume_fraction"],
        }
        shutil.rmtree(path, ignore_errors=True)
        return out
    finally:
        client.close()
        cluster.close()


def numpy_binary_voxelize(scene: hifft.Scene) -> tuple[np.ndarray, float]:
    """The thesis's way: one in-memory array, a binary mask per sphere in its bounding cube."""
    g = scene.grid
    p = scene.plan()
    t0 = time.perf_counter()
    vol = np.zeros(g.shape, np.float32)
    d = g.spacing[0]
    n = g.shape[0]
    for c, r in zip(p.center[:, ::-1], p.parameters[0]["radius"], strict=True):
        ci = (c + 0.5 * n * d) / d - 0.5
        lo = np.floor(ci - r / d).astype(int)
        hi = np.ceil(ci + r / d).astype(int) + 1
        idx = [np.arange(lo[a], hi[a]) for a in range(3)]
        zz, yy, xx = np.meshgrid(
            *[(i - ci[a]) * d for a, i in enumerate(idx)], indexing="ij", sparse=True
        )
        mask = zz**2 + yy**2 + xx**2 <= r * r
        vol[np.ix_(*[i % n for i in idx])] += mask
    return vol, time.perf_counter() - t0


def bench_compare(n: int, workers: int, scratch: Path) -> dict:
    """Same scene at n³: hifft (anti-aliased, to disk, distributed) vs numpy binary in memory."""
    from distributed import Client

    from hifft.cluster import local_cluster

    scene = dilute_scene(n)
    scene.plan()
    _, t_np = numpy_binary_voxelize(scene)
    with local_cluster(n_workers=workers) as cluster, Client(cluster) as client:
        hifft.build_volume(
            dilute_scene(32), scratch / "warm.zarr", client=client, overwrite=True, progress=False
        )
        t0 = time.perf_counter()
        hifft.build_volume(
            scene, scratch / "cmp.zarr", client=client, overwrite=True, progress=False
        )
        t_h = time.perf_counter() - t0
    t0 = time.perf_counter()
    scene.to_volume().slab(0, n)  # one process, in memory, anti-aliased
    t_1 = time.perf_counter() - t0
    shutil.rmtree(scratch / "cmp.zarr", ignore_errors=True)
    return {
        "n": n,
        "workers": workers,
        "numpy_binary_in_memory_s": t_np,
        "hifft_inprocess_antialias_s": t_1,
        "hifft_build_to_zarr_s": t_h,
        "ratio_numpy_over_build": t_np / t_h,
    }


def hard_scene(n_particles: int, phi: float = 0.3, seed: int = 1) -> hifft.Scene:
    radius = 10.0
    box = (n_particles * 4 / 3 * math.pi * radius**3 / phi) ** (1 / 3)
    grid = hifft.Grid(shape=512, spacing=box / 512)
    return hifft.Scene(grid, seed=seed).add(
        S.Sphere(radius=radius, sld=1.0), volume_fraction=phi, placement="hard"
    )


def naive_rsa(
    n_particles: int, phi: float = 0.3, seed: int = 1, max_seconds: float = 120.0
) -> dict:
    """RSA with an all-pairs numpy distance check per try (no cell list)."""
    radius = 10.0
    box = (n_particles * 4 / 3 * math.pi * radius**3 / phi) ** (1 / 3)
    rng = np.random.default_rng(seed)
    pos = np.empty((n_particles, 3))
    placed, tries = 0, 0
    t0 = time.perf_counter()
    while placed < n_particles:
        p = rng.random(3) * box
        tries += 1
        d = pos[:placed] - p
        d -= box * np.round(d / box)
        if placed == 0 or (np.einsum("ij,ij->i", d, d) >= (2 * radius) ** 2).all():
            pos[placed] = p
            placed += 1
        if time.perf_counter() - t0 > max_seconds:
            break
    return {"n": n_particles, "placed": placed, "tries": tries, "seconds": time.perf_counter() - t0}


def bench_hard(n_particles: int, naive_n: int) -> dict:
    hifft.Scene(hifft.Grid(32, 1.0), seed=1).add(
        S.Sphere(radius=2.0, sld=1.0), count=5, placement="hard"
    ).plan()
    scene = hard_scene(n_particles)
    t0 = time.perf_counter()
    plan = scene.plan()
    t = time.perf_counter() - t0
    s = plan.summary[0]
    small = hard_scene(naive_n)
    t0 = time.perf_counter()
    small.plan()
    t_small = time.perf_counter() - t0
    naive = naive_rsa(naive_n)
    return {
        "particles": s["count"],
        "phi": s["volume_fraction"],
        "seconds": t,
        "tries": s["hard"]["tries"],
        "acceptance": s["count"] / s["hard"]["tries"],
        "naive_n": naive_n,
        "ours_at_naive_n_s": t_small,
        "naive_s": naive["seconds"],
        "naive_tries": naive["tries"],
        "naive_placed": naive["placed"],
        "ratio_naive_over_ours": naive["seconds"] / t_small,
    }


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument(
        "--n", type=int, nargs="+", default=[1024], help="grid edges of the dilute scene"
    )
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--compare-n", type=int, default=512)
    ap.add_argument("--hard-n", type=int, default=100_000)
    ap.add_argument("--naive-n", type=int, default=3000)
    ap.add_argument("--skip-dilute", action="store_true")
    ap.add_argument("--skip-compare", action="store_true")
    ap.add_argument("--skip-hard", action="store_true")
    ap.add_argument("--scratch", default=None, help="directory for stores (default: a temp dir)")
    ap.add_argument("--out", default=str(RESULTS / "volume"), help="results path without suffix")
    args = ap.parse_args()

    scratch = Path(args.scratch or tempfile.mkdtemp(prefix="hifft-bench-volume-"))
    scratch.mkdir(parents=True, exist_ok=True)
    res: dict = {
        "command": " ".join(
            [f"{k}={v}" for k, v in sorted(os.environ.items()) if k.startswith("DASK_")]
            + ["python", os.path.relpath(sys.argv[0])]
            + sys.argv[1:]
        ),
        "when": time.strftime("%Y-%m-%d %H:%M:%S"),
        "machine": {
            "cpus": os.cpu_count(),
            "memory_GiB": round(psutil.virtual_memory().total / 2**30, 1),
            "python": platform.python_version(),
            "load_avg_start": os.getloadavg(),
        },
        "hifft": hifft.__version__,
    }
    try:
        if not args.skip_dilute:
            res["dilute"] = [bench_dilute(n, args.workers, scratch) for n in args.n]
        if not args.skip_compare:
            res["compare"] = bench_compare(args.compare_n, args.workers, scratch)
        if not args.skip_hard:
            res["hard"] = bench_hard(args.hard_n, args.naive_n)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    res["machine"]["load_avg_end"] = os.getloadavg()
    report(res, Path(args.out))


def report(res: dict, out: Path) -> None:
    lines = [
        "# Volume builder benchmarks\n",
        f"Command: `{res['command']}`  ",
        f"Run: {res['when']}, "
        f"{res['machine']['cpus']} CPUs, {res['machine']['memory_GiB']} GiB, load average "
        f"{res['machine']['load_avg_start'][0]:.1f} → {res['machine']['load_avg_end'][0]:.1f} "
        f"(shared machine: ±30 %)\n",
    ]
    if "dilute" in res:
        lines += [
            "## Dilute spheres (φ = 1 %, R = 20 Å, d = 2 Å, pd 0.1), built to Zarr\n",
            "| N³ | particles | slabs × depth | cluster start s | plan s | build s | total s "
            "| CPU s | CPU s / workers | raw GiB | stored MiB | peak RSS GiB | ∫Δρ rel. err |",
            "|" + "---|" * 13,
        ]
        for d in res["dilute"]:
            lines.append(
                f"| {d['n']}³ | {d['particles']} | {d['slabs']} × {d['slab_depth']} "
                f"| {d['cluster_start_s']:.1f} | {d['plan_s']:.2f} | {d['build_s']:.1f} "
                f"| {d['total_s']:.1f} | {d['cpu_s']:.1f} | {d['idle_build_s_est']:.1f} "
                f"| {d['raw_GiB']:.1f} | "
                f"{d['stored_MiB']:.1f} | {d['peak_rss_GiB']:.2f} | {d['integral_rel_err']:.1e} |"
            )
        lines.append(
            "\nTargets (issue 4): build ≤ 20 s at 1024³; ≤ 20 min with ≤ 2 GiB peak at 4096³ "
            "(build s: wall time, workers already started and "
            "warm). CPU s: user+system seconds of the client and worker processes during the "
            "build, which do not depend on how busy the shared machine is; CPU s / workers is "
            "the wall time to expect with the cores to ourselves.\n"
        )
    if "compare" in res:
        c = res["compare"]
        lines += [
            f"## Same scene at {c['n']}³ against the thesis-style numpy voxelizer\n",
            "| method | s |",
            "|---|---|",
            f"| numpy, binary, one in-memory array | {c['numpy_binary_in_memory_s']:.2f} |",
            f"| hifft, anti-aliased, one process, in memory "
            f"| {c['hifft_inprocess_antialias_s']:.2f} |",
            f"| hifft build_volume → Zarr, {c['workers']} workers "
            f"| {c['hifft_build_to_zarr_s']:.2f} |",
            f"\nRatio numpy / build_volume: {c['ratio_numpy_over_build']:.2f}×\n",
        ]
    if "hard" in res:
        h = res["hard"]
        lines += [
            "## Hard spheres: random sequential addition to φ = 0.3\n",
            "| particles | φ | s | tries | acceptance |",
            "|---|---|---|---|---|",
            f"| {h['particles']} | {h['phi']:.4f} | {h['seconds']:.2f} | {h['tries']} "
            f"| {h['acceptance']:.3f} |",
            f"\nTarget ≤ 30 s. Naive RSA (numpy all-pairs check per try, no cell list) at "
            f"{h['naive_n']} spheres: {h['naive_s']:.2f} s ({h['naive_placed']} placed) vs ours "
            f"{h['ours_at_naive_n_s']:.3f} s: {h['ratio_naive_over_ours']:.0f}× faster.\n",
        ]
    text = "\n".join(lines)
    print(text)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_suffix(".md").write_text(text + "\n")
    out.with_suffix(".json").write_text(json.dumps(res, indent=1, default=float) + "\n")


if __name__ == "__main__":
    main()
