"""GISAXS: hifft against BornAgain 25 (accuracy and images/s), and the voxel route's speed and memory.

Run (the lead runs it alone; each part in a fresh child process, peak RSS of its tree recorded):

    python benchmarks/bench_gisaxs.py                     # full sizes → benchmarks/results/gisaxs.{json,md}
    python benchmarks/bench_gisaxs.py --small --out /tmp/g # tiny sizes, to check the script

Parts:
1. accuracy: hemisphere, cylinder, truncated sphere (R = 5 nm) on Si, Born and DWBA,
   n × n pixels (α_f 0–2°, 2θ_f ±2°, λ = 1 Å, α_i = 0.2°): median relative difference over
   pixels above 1e-4 of the maximum, Yoneda pixel of each; a radial paracrystal; line cuts
   plotted (``gisaxs_cuts.png``).
2. images/s of the analytic fast path against BornAgain, same samples, detector and threads (1).
3. the voxel route: a 499 × 500 DWBA image of a 1024² × 64 layer of hemispheres (in memory),
   and of a 4096² × 128 layer read lazily slab by slab (out of core), with peak memory.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _harness import require_quiet, run_child, save

DEG = math.pi / 180


# ------------------------------------------------------------------ BornAgain and hifft for one case
def _ba(kind: str, dwba: bool, n: int, paracrystal: bool = False):
    import bornagain as ba
    import numpy as np

    si = ba.RefractiveMaterial("Si", (0.5, 0.5, 0.5), 3.168e-6, 3.108e-8)
    au = ba.RefractiveMaterial("Au", (1.0, 0.8, 0.0), 1.861e-5, 2.5e-6)
    ff = {"hemisphere": lambda: ba.SpheroidalSegment(5.0, 5.0, 0.0, 5.0), "cylinder": lambda: ba.Cylinder(5.0, 5.0),
          "truncated_sphere": lambda: ba.SphericalSegment(5.0, 0.0, 3.0)}[kind]()
    p = ba.Particle(au, ff)
    if paracrystal:
        st = ba.RadialParacrystal(p, 15.0, 0.0)
        st.setProbabilityDistribution(ba.Profile1DGauss(1.5))
    else:
        st = ba.Dilute2D(0.01, p)
    top = ba.Layer(ba.Vacuum())
    top.deposit2D(st)
    s = ba.Sample()
    s.addLayer(top)
    s.addLayer(ba.Layer(si if dwba else ba.Vacuum()))
    det = ba.SphericalDetector(n, -2 * DEG, 2 * DEG, n, 0.0, 2 * DEG)
    sim = ba.ScatteringSimulation(ba.Beam(1.0, 0.1, 0.2 * DEG), s, det)
    sim.options().setUseAvgMaterials(False)
    sim.options().setNumberOfThreads(1)
    t0 = time.perf_counter()
    out = np.array(sim.simulate().intensities())
    return out, time.perf_counter() - t0


def _hifft(kind: str, dwba: bool, n: int, paracrystal: bool = False):
    from hifft.gisaxs import VACUUM, Beam, Detector, Geometry, Islands, Material, Sample, expected_counts, islands_image

    si = Material("Si", 3.168e-6, 3.108e-8)
    au = Material("Au", 1.861e-5, 2.5e-6)
    shape, aspect = {"hemisphere": ("hemisphere", 1.0), "cylinder": ("cylinder", 1.0),
                     "truncated_sphere": ("truncated_sphere", 1.4)}[kind]
    isl = Islands(radius=50.0, shape=shape, aspect=aspect, distance=150.0 if paracrystal else 0.0,
                  omega_d=0.1 if paracrystal else 0.0, density=None if paracrystal else 1e-4)
    t0 = time.perf_counter()
    g = Geometry(Beam(1.0, 0.2 * DEG), Detector.angular((0, 2), (-2, 2), (n, n)))
    img = expected_counts(islands_image(isl, g, Sample(si if dwba else VACUUM), au.sld(1.0),
                                        approximation="dwba" if dwba else "born"), g)
    return img, time.perf_counter() - t0


def child_accuracy(n: int, out: str) -> dict:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    rows = []
    fig, axes = plt.subplots(2, 4, figsize=(14, 6))
    cases = [(k, d, False) for k in ("hemisphere", "cylinder", "truncated_sphere") for d in (False, True)]
    cases.append(("cylinder", True, True))
    for i, (kind, dwba, para) in enumerate(cases):
        ref, t_ba = _ba(kind, dwba, n, para)
        _hifft(kind, dwba, n, para)  # warm (imports, quadrature nodes)
        img, t_h = _hifft(kind, dwba, n, para)
        m = ref > 1e-4 * ref.max()
        rel = np.abs(img[m] - ref[m]) / ref[m]
        col = n // 2
        rows.append({"case": f"{kind}{' paracrystal' if para else ''}", "approximation": "dwba" if dwba else "born",
                     "median_rel": float(np.median(rel)), "p95_rel": float(np.percentile(rel, 95)),
                     "yoneda_px_hifft": int(np.argmax(img[:, col])), "yoneda_px_ba": int(np.argmax(ref[:, col])),
                     "t_bornagain_s": t_ba, "t_hifft_s": t_h, "speedup": t_ba / t_h})
        ax = axes.flat[i]
        ax.semilogy(ref[:, col], "k-", label="BornAgain")
        ax.semilogy(img[:, col], "r--", label="hifft")
        ax.set_title(f"{rows[-1]['case']} {rows[-1]['approximation']}: α_f cut", fontsize=8)
    axes.flat[0].legend(fontsize=7)
    axes.flat[-1].axis("off")
    fig.tight_layout()
    Path(out).mkdir(parents=True, exist_ok=True)
    fig.savefig(Path(out) / "gisaxs_cuts.png", dpi=100)
    return {"rows": rows}


def _layer_height_map(n: int, spacing: float, radius: float, distance: float, seed: int):
    """Height of hemispherical islands on a jittered square lattice, an (n, n) float32 map (Å)."""
    import numpy as np

    rng = np.random.default_rng(seed)
    h = np.zeros((n, n), dtype=np.float32)
    m = int(n * spacing / distance)
    r_pix = math.ceil(radius / spacing) + 1
    off = np.arange(-r_pix, r_pix + 1) * spacing
    for i in range(m):
        for j in range(m):
            cy, cx = (np.array([i, j]) + 0.5) * distance + rng.normal(0, 0.1 * distance, 2)
            iy, ix = int(cy / spacing), int(cx / spacing)
            yy, xx = np.meshgrid(off + iy * spacing - cy, off + ix * spacing - cx, indexing="ij")
            hh = np.sqrt(np.clip(radius**2 - yy**2 - xx**2, 0, None)).astype(np.float32)
            ys, xs = (np.arange(-r_pix, r_pix + 1) + iy) % n, (np.arange(-r_pix, r_pix + 1) + ix) % n
            h[np.ix_(ys, xs)] = np.maximum(h[np.ix_(ys, xs)], hh)
    return h


def child_layer(n: int, nz: int, shape: tuple[int, int], lazy: bool) -> dict:
    import dask.array as da
    import numpy as np

    from hifft.gisaxs import Beam, Detector, Geometry, Material, Sample, layer_image
    from hifft.volume import from_array

    spacing = 5.0  # lateral (Å); the planes are thinner so that the islands fill ~90 % of them
    radius = 40.0
    dz = radius / (0.9 * nz)
    h = _layer_height_map(n, spacing, radius, 100.0, 0)
    zc = (np.arange(nz) + 0.5) * dz
    if lazy:  # slab by slab from the height map: the 3D layer never exists in memory
        def block(_, block_info=None):
            z0, z1 = block_info[None]["array-location"][0]
            return (h[None] > zc[z0:z1, None, None]).astype(np.float32)

        arr = da.map_blocks(block, da.empty((nz, n, n), chunks=(2, n, n), dtype=np.float32), dtype=np.float32)
    else:
        arr = (h[None] > zc[:, None, None]).astype(np.float32)
    vol = from_array(arr, spacing=(dz, spacing, spacing))
    g = Geometry(Beam.create(0.4, wavelength="0.096 nm"), Detector.angular((0, 4), (0, 4), shape))
    sample = Sample(Material("Si", 3.0e-6, 2.9e-8))
    t0 = time.perf_counter()
    img = layer_image(vol, g, sample, pad=1, progress=False)
    dt = time.perf_counter() - t0
    return {"layer": f"{n}² × {nz}", "detector": f"{shape[0]} × {shape[1]}", "seconds": dt,
            "lazy": lazy, "finite": bool(np.isfinite(img).all())}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--small", action="store_true", help="tiny sizes (checks the script only)")
    ap.add_argument("--out", default=None, help="results directory (default benchmarks/results)")
    ap.add_argument("--child", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--args", default="{}", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.child:
        kw = json.loads(a.args)
        res = {"accuracy": child_accuracy, "layer": child_layer}[a.child](**kw)
        print(json.dumps(res))
        return
    out = a.out or str(Path(__file__).resolve().parent / "results")
    n_img = 30 if a.small else 200
    layers = [(64, 8, (50, 50), False), (128, 16, (50, 50), True)] if a.small else \
        [(1024, 64, (499, 500), False), (4096, 128, (499, 500), True)]
    me = str(Path(__file__).resolve())
    load = require_quiet()
    acc = run_child([me, "--child", "accuracy", "--args", json.dumps({"n": n_img, "out": out})])
    rows = acc.get("rows", [])
    lay = []
    for n, nz, shape, lazy in layers:
        r = run_child([me, "--child", "layer", "--args",
                       json.dumps({"n": n, "nz": nz, "shape": list(shape), "lazy": lazy})])
        r["peak_rss_GiB"] = r.get("peak_rss", 0) / 2**30
        lay.append(r)
    table = "| case | approx | median rel | p95 rel | Yoneda px hifft/BA | BA s | hifft s | speed-up |\n"
    table += "|---|---|---|---|---|---|---|---|\n"
    for r in rows:
        table += (f"| {r['case']} | {r['approximation']} | {r['median_rel']:.2e} | {r['p95_rel']:.2e} | "
                  f"{r['yoneda_px_hifft']}/{r['yoneda_px_ba']} | {r['t_bornagain_s']:.3f} | {r['t_hifft_s']:.3f} | "
                  f"{r['speedup']:.1f}× |\n")
    table += "\n| voxel layer | detector | lazy | seconds | peak RSS GiB |\n|---|---|---|---|---|\n"
    for r in lay:
        table += (f"| {r.get('layer', r.get('error'))} | {r.get('detector', '')} | {r.get('lazy', '')} | "
                  f"{r.get('seconds', float('nan')):.2f} | {r['peak_rss_GiB']:.2f} |\n")
    cmd = "python benchmarks/bench_gisaxs.py" + (" --small" if a.small else "")
    save("gisaxs", cmd, rows + lay, table, out=out,
         header=f"{n_img} × {n_img} pixel images, α_f 0–2°, 2θ_f ±2°, λ = 1 Å, α_i = 0.2°, one thread each; "
                "line cuts in gisaxs_cuts.png.  \n"
                f"Load average at start (1/5/15 min): {' / '.join(f'{x:.2f}' for x in load)}\n\n")
    print(table)


if __name__ == "__main__":
    main()
