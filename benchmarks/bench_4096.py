"""4096³ with q-cropping to q_Nyquist/4 on this 2-core machine: time, peak memory, disk.

The density is never stored: pass 1 rasterizes each z-slab of the scene
(`Scene.to_volume()`, a lazy volume), transforms it and keeps |q_i| ≤ q_max,
so the intermediate is (4096, 1023, 512) complex64 ≈ 16 GiB; pass 2 reduces
it to I(q) with the radial reducer. Run:

    python benchmarks/bench_4096.py [--n 4096] [--workers 0] [--memory 2560MiB]

``--workers 0`` (default) runs the job in this process, as ``client=None``
does (tasks on all CPUs, ``memory`` as the budget); ``--workers N`` on a
LocalCluster of N process workers with ``memory`` each.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _harness import run_child, save


def du(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) if path.exists() else 0


def child(n: int, workers: int, memory: str, workdir: str) -> dict:
    import numpy as np

    import hifft
    from hifft.cluster import get_client

    d = 1.0
    q_max = math.pi / (4 * d)
    grid = hifft.Grid(n, d)
    scene = hifft.Scene(grid, seed=4)
    scene.add(hifft.shapes.Sphere(radius=100.0 * n / 4096, sld=1.0), volume_fraction=0.01, polydispersity=0.1)
    t0 = time.perf_counter()
    vol = scene.to_volume()
    t_plan = time.perf_counter() - t0
    peak_disk = [0]
    stop = threading.Event()

    def watch() -> None:
        while not stop.is_set():
            peak_disk[0] = max(peak_disk[0], du(Path(workdir)))
            time.sleep(5)

    threading.Thread(target=watch, daemon=True).start()
    kw = dict(bins=200, q_max=q_max * 0.999, workdir=workdir, progress=False)
    if workers == 0:
        t0 = time.perf_counter()
        ds = hifft.saxs(vol, memory_budget=memory, **kw)
        wall = time.perf_counter() - t0
    else:
        with get_client(n_workers=workers, memory_limit=memory) as c:
            t0 = time.perf_counter()
            ds = hifft.saxs(vol, client=c, **kw)
            wall = time.perf_counter() - t0
    stop.set()
    I = ds["I"].values
    return {"n": n, "wall": wall, "plan_s": t_plan, "peak_disk": peak_disk[0], "bins": int(ds.sizes["q"]),
            "I_first": float(I[0]),
            "I_finite": bool(np.isfinite(I).all()), "q_max": q_max}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=4096)
    ap.add_argument("--workers", type=int, default=0, help="0: in this process (client=None)")
    ap.add_argument("--memory", default="2560MiB", help="budget in process, or limit per worker")
    ap.add_argument("--workdir", default="bench-scratch/w4096")
    ap.add_argument("--child", action="store_true")
    a = ap.parse_args()
    if a.child:
        print(json.dumps(child(a.n, a.workers, a.memory, a.workdir)))
        return
    shutil.rmtree(a.workdir, ignore_errors=True)
    load = os.getloadavg()
    if load[0] > 1.5:
        print(f"warning: 1-minute load {load[0]:.2f} > 1.5: the figure is taken under load", file=sys.stderr)
    r = run_child([__file__, "--child", "--n", str(a.n), "--workers", str(a.workers), "--memory", a.memory,
                   "--workdir", a.workdir], interval=0.5, timeout=4 * 3600)
    shutil.rmtree(a.workdir, ignore_errors=True)
    r["load_at_start"] = list(load)
    print(json.dumps(r))
    if "error" in r:
        table = f"failed: {r['error']} (peak RSS {r['peak_rss'] / 2**30:.2f} GiB)"
    else:
        table = ("| N³ | q-crop | workers × limit | wall (min) | peak RSS, all processes (GiB) "
                 "| peak work dir (GiB) | bins |\n"
                 "|---|---|---|---|---|---|---|\n"
                 f"| {r['n']}³ | q ≤ {r['q_max']:.3f} 1/Å (Nyquist/4) "
                 f"| {'in process, budget ' + a.memory if a.workers == 0 else f'{a.workers} × {a.memory}'} "
                 f"| {r['wall'] / 60:.1f} "
                 f"| {r['peak_rss'] / 2**30:.2f} | {r['peak_disk'] / 2**30:.1f} | {r['bins']} |\n\n"
                 f"Load average at start (1/5/15 min): {' / '.join(f'{x:.2f}' for x in load)}")
    print(table)
    save(f"fft_{a.n}_cropped", "python benchmarks/bench_4096.py " + " ".join(sys.argv[1:]), [r], table)


if __name__ == "__main__":
    main()
