"""Cost of the fused reductions in pass 2, and azimuthal integration vs pyFAI.

Three measurements, all in this process tree and this run (ratios, not
absolute times, are what to compare on these shared machines):

1. ``loop``: a bare pass-2-like loop over y-blocks of a synthetic
   half-spectrum intermediate (complex64, the engine's block size): 1D FFT
   along z per block, then each reducer's ``block()``; plus merge and
   finalize. This omits pass 2's disk reads, so it is the *worst case*
   for the relative overhead.
2. ``engine``: the real out-of-core engine (``hifft.fft.reduce_spectrum``,
   in-process executor, one thread) on a float32 Zarr volume: pass 1 runs
   once (kept), then pass 2 alone is timed with a no-op reducer (the bare
   pass 2: read the intermediate, FFT along z, pickle partials) and with
   the reducers. The intermediate was just written, so it is largely in the
   page cache: disk reads are cheaper than on a cold or shared disk.
3. ``azimuthal``: a 2048² detector image, 1000 radial bins, no pixel
   splitting: :class:`hifft.reduce.Azimuthal` (geometry precomputed once)
   vs pyFAI ``integrate1d`` with ("no", "histogram", "cython") and
   ("bbox", "csr", "cython"), frames per second after setup.

Usage::

    nice -n 10 python benchmarks/bench_reduce.py --sizes 512 1024
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from functools import reduce as fold
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _harness import save

from hifft.fft.plan import plan_fft
from hifft.fft.reducer import Reducer, make_block
from hifft.grid import Grid
from hifft.reduce import (
    Azimuthal,
    Detector,
    EwaldReducer,
    PlaneReducer,
    RadialReducer,
    detector_frame,
)

WAVELENGTH = 1.0  # Å; k = 2π/Å


class NullReducer(Reducer):
    """Does nothing: pass 2 with it is the bare pass 2."""

    def __init__(self, name: str) -> None:
        self.name = name

    def block(self, blk: Any) -> None:
        return None

    def merge(self, a: Any, b: Any) -> None:
        return None

    def finalize(self, partial: Any, grid: Grid) -> None:
        return None


def reducers(n: int, d: float) -> list[Reducer]:
    """I(q) with 200 log bins (+ sub-histograms), the q_z = 0 plane, and an n²-pixel
    Ewald image reaching 30° (inside Nyquist: λ = 1 Å, d chosen below)."""
    det = Detector.from_angle(n, 30.0)
    return [RadialReducer(200), PlaneReducer("z"), EwaldReducer(WAVELENGTH, det)]


def voxel(n: int) -> float:
    # Nyquist π/d must exceed |q| at 30°: 4π sin 15° / λ ≈ 3.25/Å → d ≤ 0.96 Å
    return 0.9


def bench_loop(n: int, budget: str = "2GiB") -> dict[str, Any]:
    import scipy.fft as sfft

    from hifft.cluster import parse_bytes

    plan = plan_fft(n, real=True, dtype="float32", workers=1,
                    memory_budget=int(parse_bytes(budget)))
    by = plan.block
    g = Grid(n, voxel(n))
    nh = n // 2 + 1
    rng = np.random.default_rng(0)
    mid = (rng.standard_normal((n, by, nh), np.float32)
           + 1j * rng.standard_normal((n, by, nh), np.float32)).astype(np.complex64)
    reds = reducers(n, g.spacing[0])
    for r in reds:  # compile / load the numba kernels outside the timing
        r.block(make_block(mid[:, :1], g, True, iy=np.arange(1)))
    sfft.fft(mid[:, :1], axis=0, workers=1)
    t_fft = 0.0
    t_red = {r.name: 0.0 for r in reds}
    parts: dict[str, list] = {r.name: [] for r in reds}
    for y0 in range(0, n, by):
        y1 = min(n, y0 + by)
        t = time.process_time()
        F = sfft.fft(mid[:, : y1 - y0], axis=0, workers=1)
        t_fft += time.process_time() - t
        blk = make_block(F, g, True, iy=np.arange(y0, y1))
        for r in reds:
            t = time.process_time()
            parts[r.name].append(r.block(blk))
            t_red[r.name] += time.process_time() - t
        del F, blk
    t_fin = {}
    for r in reds:
        t = time.process_time()
        r.finalize(fold(r.merge, parts[r.name]), g)
        t_fin[r.name] = time.process_time() - t
    total = sum(t_red.values())
    return {"kind": "loop", "n": n, "block_rows": by, "n_blocks": -(-n // by), "fft_s": t_fft,
            "block_s": t_red, "finalize_s": t_fin,
            "overhead": {k: v / t_fft for k, v in t_red.items()},
            "overhead_all": total / t_fft,
            "ns_per_point": {k: v / (n * n * nh) * 1e9 for k, v in t_red.items()},
            "fft_ns_per_point": t_fft / (n * n * nh) * 1e9}


def make_volume(path: Path, n: int, slab: int) -> None:
    import zarr

    arr = zarr.create_array(store=str(path), shape=(n, n, n), chunks=(slab, n, n), dtype="float32",
                            compressors=None, zarr_format=3, overwrite=True)
    rng = np.random.default_rng(1)
    for z0 in range(0, n, slab):
        z1 = min(n, z0 + slab)
        arr[z0:z1] = rng.random((z1 - z0, n, n), dtype=np.float32)


def bench_engine(n: int, workdir: Path, budget: str = "2GiB", repeats: int = 3) -> dict[str, Any]:
    from hifft.fft import reduce_spectrum

    src = workdir / f"rho{n}.zarr"
    make_volume(src, n, 32)
    kw = dict(spacing=voxel(n), memory_budget=budget, in_core=False, workdir=workdir / "work",
              keep_intermediate=True, progress=False)

    def run(reds: list[Reducer]) -> tuple[float, float, dict]:
        t, c = time.perf_counter(), time.process_time()
        out = reduce_spectrum(str(src), reds, **kw)
        return time.perf_counter() - t, time.process_time() - c, out

    t_both, _, out = run([NullReducer("null0")])  # pass 1 + pass 2
    plan = out["meta"]["plan"]
    # pass 2 alone (pass 1 resumed), alternating the variants; each reducer set gets a
    # fresh name per repeat so that its partials are recomputed, not resumed
    wall: dict[str, list[float]] = {"bare": [], "radial": [], "all": []}
    cpu: dict[str, list[float]] = {"bare": [], "radial": [], "all": []}
    for rep in range(repeats):
        rad = reducers(n, voxel(n))
        for r in rad:
            r.name = f"{r.name}{rep}"
        for key, reds in (("bare", [NullReducer(f"null{rep + 1}")]), ("radial", rad[:1]),
                          ("all", rad)):
            w, c, _ = run(reds)
            wall[key].append(w)
            cpu[key].append(c)
    best = {k: min(v) for k, v in cpu.items()}
    return {"kind": "engine", "n": n, "block_rows": plan.get("block"), "slab": plan.get("slab"),
            "pass1_plus_pass2_s": t_both, "pass2_wall_s": wall, "pass2_cpu_s": cpu,
            "pass2_bare_s": best["bare"], "pass2_radial_s": best["radial"],
            "pass2_all_s": best["all"], "overhead_radial": best["radial"] / best["bare"] - 1,
            "overhead_all": best["all"] / best["bare"] - 1}


def bench_azimuthal(size: int = 2048, bins: int = 1000, frames: int = 10) -> dict[str, Any]:
    from pyFAI.detectors import Detector as FaiDetector
    from pyFAI.integrator.azimuthal import AzimuthalIntegrator

    pix, dist, lam = 75e-6, 1.0, 1e-10
    det = Detector(size, pix * 1e10, dist * 1e10, beam_center=(size / 2 - 10.3, size / 2 + 20.7))
    rng = np.random.default_rng(2)
    data = rng.random((size, size), dtype=np.float32) * 1000
    img = detector_frame(data, det, lam * 1e10)
    qr = (0.0, float(img.coords["q"].max()))
    res: dict[str, Any] = {"kind": "azimuthal", "size": size, "bins": bins, "frames": frames,
                           "note": "wall-clock frames/s, best of 3 interleaved rounds; pyFAI's "
                                   "cython engines use OpenMP threads, hifft's kernel one thread"}
    t = time.perf_counter()
    integ = Azimuthal(img, bins=bins, q_min=qr[0], q_max=qr[1])
    res["hifft_setup_s"] = time.perf_counter() - t
    integ(data)
    ai = AzimuthalIntegrator(dist=dist, poni1=(det.beam_center[0] + 0.5) * pix,
                             poni2=(det.beam_center[1] + 0.5) * pix,
                             detector=FaiDetector(pix, pix, max_shape=(size, size)), wavelength=lam)
    methods = {"pyfai_no_histogram_cython": ("no", "histogram", "cython"),
               "pyfai_bbox_csr_cython": ("bbox", "csr", "cython")}
    kws = {label: dict(unit="q_A^-1", method=m, radial_range=qr, correctSolidAngle=False,
                       polarization_factor=None) for label, m in methods.items()}
    for label, kw in kws.items():
        t = time.perf_counter()
        ai.integrate1d(data, bins, **kw)  # first call builds the engine / LUT
        res[f"{label}_setup_s"] = time.perf_counter() - t
    fps: dict[str, list[float]] = {"hifft": [], **{k: [] for k in kws}}
    for _ in range(3):
        t = time.perf_counter()
        for _ in range(frames):
            integ(data)
        fps["hifft"].append(frames / (time.perf_counter() - t))
        for label, kw in kws.items():
            t = time.perf_counter()
            for _ in range(frames):
                ai.integrate1d(data, bins, **kw)
            fps[label].append(frames / (time.perf_counter() - t))
    for k, v in fps.items():
        res[f"{k}_fps"] = max(v)
        res[f"{k}_fps_rounds"] = v
    return res


def table(rows: list[dict[str, Any]]) -> str:
    out = []
    loops = [r for r in rows if r["kind"] == "loop"]
    if loops:
        out += ["## Fused reductions vs a bare FFT-only pass-2 loop (worst case: no disk reads)",
                "",
                "| N³ | block rows | FFT along z (s) | radial (s) | plane z (s) | Ewald n² (s) | "
                "overhead radial | overhead all | radial ns/point | FFT ns/point |",
                "|---|---|---|---|---|---|---|---|---|---|"]
        for r in loops:
            b = r["block_s"]
            out.append(f"| {r['n']} | {r['block_rows']} | {r['fft_s']:.2f} | {b['radial']:.2f} | "
                       f"{b['plane_z']:.3f} | {b['ewald']:.3f} | {r['overhead']['radial']:.0%} | "
                       f"{r['overhead_all']:.0%} | {r['ns_per_point']['radial']:.2f} | "
                       f"{r['fft_ns_per_point']:.2f} |")
        out.append("")
        fin = "; ".join(
            f"{r['n']}³: " + ", ".join(f"{k} {v:.2f} s" for k, v in r["finalize_s"].items())
            for r in loops)
        out.append(f"Finalize (once, on the client; includes the radial geometry pass): {fin}")
        out.append("")
    eng = [r for r in rows if r["kind"] == "engine"]
    if eng:
        out += ["## Fused reductions in the real engine's pass 2 (in-process, 1 thread)", "",
                "CPU seconds of the (single-threaded) process, best of the repeats (all runs in "
                "parentheses); wall times are in the JSON. CPU time is used because the machine "
                "is shared (load average ~13 on 2 cores during these runs), which makes wall "
                "times swing by 2-3x.", "",
                "| N³ | block rows | pass 1+2 (wall s) | bare pass 2 (s) | + radial (s) "
                "| + radial, plane, Ewald (s) | overhead radial | overhead all |",
                "|---|---|---|---|---|---|---|---|"]
        for r in eng:
            runs = {k: ", ".join(f"{x:.1f}" for x in v) for k, v in r["pass2_cpu_s"].items()}
            out.append(f"| {r['n']} | {r['block_rows']} | {r['pass1_plus_pass2_s']:.1f} | "
                       f"{r['pass2_bare_s']:.1f} ({runs['bare']}) | {r['pass2_radial_s']:.1f} "
                       f"({runs['radial']}) | {r['pass2_all_s']:.1f} ({runs['all']}) | "
                       f"{r['overhead_radial']:.0%} | {r['overhead_all']:.0%} |")
        out.append("")
    both = [(lp, e) for lp in loops for e in eng if lp["n"] == e["n"]]
    if both:
        out += ["## Estimate: the fused reductions' CPU time as a share of the engine's pass 2",
                "",
                "The kernels' CPU time per point (loop rows) over the engine's bare pass-2 CPU "
                "time per point (engine rows): the engine differences above are within their "
                "run-to-run noise, so this ratio is the sharper number.", "",
                "| N³ | engine bare pass 2 (ns/point) | radial (ns/point) | radial share | "
                "radial + plane + Ewald share |", "|---|---|---|---|---|"]
        for lp, e in both:
            pts = lp["n"] ** 2 * (lp["n"] // 2 + 1)
            bare = e["pass2_bare_s"] / pts * 1e9
            rad = lp["ns_per_point"]["radial"]
            allp = sum(lp["block_s"].values()) / pts * 1e9
            out.append(f"| {lp['n']} | {bare:.2f} | {rad:.2f} | {rad / bare:.0%} | "
                       f"{allp / bare:.0%} |")
        out.append("")
    az = [r for r in rows if r["kind"] == "azimuthal"]
    for r in az:
        out += [f"## Azimuthal integration, {r['size']}² image, {r['bins']} bins, "
                "no pixel splitting", "",
                "| integrator | setup (s) | frames/s |", "|---|---|---|",
                f"| hifft Azimuthal | {r['hifft_setup_s']:.2f} | {r['hifft_fps']:.1f} |",
                f"| pyFAI (no, histogram, cython) | {r['pyfai_no_histogram_cython_setup_s']:.2f} | "
                f"{r['pyfai_no_histogram_cython_fps']:.1f} |",
                f"| pyFAI (bbox, csr, cython) | {r['pyfai_bbox_csr_cython_setup_s']:.2f} | "
                f"{r['pyfai_bbox_csr_cython_fps']:.1f} |", ""]
    return "\n".join(out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[512])
    ap.add_argument("--engine-sizes", type=int, nargs="*", default=None,
                    help="sizes for the real-engine measurement (default: --sizes)")
    ap.add_argument("--azimuthal-size", type=int, default=2048)
    ap.add_argument("--frames", type=int, default=10)
    ap.add_argument("--workdir", default=None,
                    help="scratch for the engine runs (default: a temp dir)")
    ap.add_argument("--no-save", action="store_true")
    args = ap.parse_args()
    rows: list[dict[str, Any]] = []
    for n in args.sizes:
        runs = [bench_loop(n) for _ in range(2)]  # shared machine: keep the faster run
        rows.append(min(runs, key=lambda r: r["fft_s"] + sum(r["block_s"].values())))
        print(table(rows[-1:]), flush=True)
    eng_sizes = args.sizes if args.engine_sizes is None else args.engine_sizes
    if eng_sizes:
        tmp = Path(args.workdir or tempfile.mkdtemp(prefix="hifft-bench-reduce-"))
        try:
            for n in eng_sizes:
                rows.append(bench_engine(n, tmp))
                print(table(rows[-1:]), flush=True)
                shutil.rmtree(tmp, ignore_errors=True)
                tmp.mkdir(parents=True, exist_ok=True)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    if args.azimuthal_size:
        rows.append(bench_azimuthal(args.azimuthal_size, frames=args.frames))
        print(table(rows[-1:]), flush=True)
    if not args.no_save:
        cmd = "nice -n 10 python benchmarks/bench_reduce.py " + " ".join(sys.argv[1:])
        notes = ("Target (issue 5): reductions add <= 15 % to pass 2 at 1024³. The loop rows are a "
                 "worst case (FFT only, no disk); the engine rows include pass 2's reads of the "
                 "intermediate (mostly from the page cache here).")
        save("reduce", cmd.strip(), rows, table(rows) + "\n" + notes)


if __name__ == "__main__":
    main()
