"""Held-out evaluation of gap inpainting: models against biharmonic interpolation, line fill and zero fill.

Patterns: ``evaluate.n_patterns`` simulated patterns of the *held-out* families on the test seed
stream (:func:`hifft.bcdi.inpaint_data.simulate_patterns`), never seen in training. 3D jobs inpaint
the whole pattern; 2D jobs inpaint three frames per pattern (the brightest and ± size/16). Each
sample gets one gap of every width in ``evaluate.widths`` (a band or a cross through every
frame, in the central half, :func:`hifft.bcdi.inpaint_data.peak_centred_gap`).

Truth: the Poisson counts the detector would have measured in the gap (metrics ``pcc_log``,
``pcc``, ``accuracy``, ``mae_log``), and the expected counts (``*_expected``). The ``ceiling``
entry scores the expected counts themselves against the Poisson counts: no method can do better
on average, as the counts' noise is not predictable. Per width and
method: means and medians over samples; per local-intensity bin (expected counts, pooled gap
voxels): accuracy and PCC. Targets (seed's average gap PCC, checked on ``pcc_log``, see
:mod:`hifft.bcdi.inpaint`): 3D 0.989/0.977/0.955/0.946 for 3/6/9/12 px, and above biharmonic at
every width; 2D ≥ 0.998.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from .._version import __version__
from .inpaint import binned_metrics, gap_metrics, inpaint
from .inpaint_config import InpaintJob
from .inpaint_data import peak_centred_gap, simulate_patterns

TARGETS_3D = {3: 0.989, 6: 0.977, 9: 0.955, 12: 0.946}
TARGET_2D = 0.998
Log = Callable[[str], None]
_KEYS = ("pcc_log", "pcc", "accuracy", "mae_log", "pcc_log_expected", "pcc_expected", "seconds")


def _stats(rows: list[dict[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {"n": len(rows)}
    for k in _KEYS:
        vals = [r[k] for r in rows if r.get(k) is not None]
        out[f"{k}_mean"] = float(np.mean(vals)) if vals else None
        out[f"{k}_median"] = float(np.median(vals)) if vals else None
        if k.startswith("pcc"):
            out[f"{k}_min"] = float(np.min(vals)) if vals else None
    return out


def _samples(counts: np.ndarray, expected: np.ndarray, dims: int) -> list[tuple[str, np.ndarray, np.ndarray]]:
    if dims == 3:
        return [("volume", counts, expected)]
    k0 = int(np.argmax(counts.sum(axis=(1, 2))))
    d = max(1, counts.shape[0] // 16)
    ks = sorted({min(max(k, 0), counts.shape[0] - 1) for k in (k0 - d, k0, k0 + d)})
    return [(f"frame {k}", counts[k], expected[k]) for k in ks]


def evaluate_inpaint(job: InpaintJob, models: dict[str, Any], *, log: Log = print,
                     progress: bool | None = None) -> dict[str, Any]:
    """Evaluate ``models`` ({name: :class:`~hifft.bcdi.unet.InpaintModel`}) and the baselines on the
    job's held-out patterns; returns the JSON-able result (see the module docstring)."""
    ec, pc = job.evaluate, job.train.patterns
    dims = job.train.model.dims
    size = ec.size or pc.size
    load_start = os.getloadavg()
    t0 = time.perf_counter()
    pats = simulate_patterns(pc, ec.n_patterns, ec.seed, "test", size=size, progress=progress)
    log(f"simulated {len(pats)} held-out patterns of {size}³ ({', '.join(sorted(pc.held_out_shapes))}; "
        f"strains {', '.join(sorted(pc.held_out_strains))}) in {time.perf_counter() - t0:.0f} s")
    methods = ["zero", "biharmonic", "line", *models]
    rows: dict[int, dict[str, list[dict[str, Any]]]] = {w: {m: [] for m in methods} for w in ec.widths}
    pooled: dict[int, dict[str, list[tuple[np.ndarray, np.ndarray, np.ndarray]]]] = {
        w: {m: [] for m in methods} for w in ec.widths}
    ceiling: dict[int, list[dict[str, Any]]] = {w: [] for w in ec.widths}
    rng = np.random.default_rng([ec.seed, 5])
    for i in range(len(pats)):
        for label, counts, expected in _samples(pats.counts[i], pats.expected[i], dims):
            for j, w in enumerate(ec.widths):
                kind = ec.kind if ec.kind != "both" else ("line", "cross")[(i + j) % 2]
                mask = peak_centred_gap(counts.shape, rng, w, kind)
                cm = gap_metrics(expected, counts, mask)  # the noise-free truth as a prediction: the ceiling
                ceiling[w].append({"pattern": i, "sample": label, "kind": kind,
                                   **{k: cm[k] for k in ("pcc_log", "pcc", "accuracy", "mae_log")}})
                for meth in methods:
                    t = time.perf_counter()
                    pred = inpaint(counts, mask, "model" if meth in models else meth, models.get(meth),
                                   batch_size=ec.batch_size, threads=ec.threads, progress=False)
                    dt = time.perf_counter() - t
                    mc, me = gap_metrics(pred, counts, mask), gap_metrics(pred, expected, mask)
                    rows[w][meth].append({"pattern": i, "sample": label, "kind": kind, "seconds": dt,
                                          **{k: mc[k] for k in ("pcc_log", "pcc", "accuracy", "mae_log")},
                                          "pcc_log_expected": me["pcc_log"], "pcc_expected": me["pcc"]})
                    pooled[w][meth].append((pred[mask], counts[mask], expected[mask]))
        log(f"pattern {i + 1}/{len(pats)} ({pats.info[i]['shape']}, {pats.info[i]['strain']}) done")
    widths: dict[str, Any] = {}
    bins: dict[str, Any] = {}
    for w in ec.widths:
        widths[str(w)] = {m: _stats(rows[w][m]) for m in methods}
        widths[str(w)]["ceiling"] = _stats(ceiling[w])
        bins[str(w)] = {}
        for m in methods:
            pv, tv, ev = (np.concatenate([c[k] for c in pooled[w][m]]) for k in range(3))
            bins[str(w)][m] = binned_metrics(pv, tv, np.ones(pv.shape, bool), ev, ec.bins)
    targets: dict[str, Any] = {}
    for name in models:
        per = {}
        for w in ec.widths:
            goal = TARGET_2D if dims == 2 else TARGETS_3D.get(w)
            got = widths[str(w)][name]["pcc_log_mean"]
            bh = widths[str(w)]["biharmonic"]["pcc_log_mean"]
            per[str(w)] = {"target": goal, "pcc_log_mean": got, "biharmonic": bh,
                           "meets_target": None if goal is None or got is None else bool(got >= goal),
                           "beats_biharmonic": None if got is None or bh is None else bool(got > bh)}
        targets[name] = per
    result: dict[str, Any] = {
        "format": "hifft.bcdi.inpaint.evaluation/1",
        "dims": dims,
        "size": size,
        "n_patterns": len(pats),
        "patterns": pats.info,
        "held_out": {"shapes": list(pc.held_out_shapes), "strains": list(pc.held_out_strains),
                     "trained_shapes": list(pc.shapes), "trained_strains": list(pc.strains)},
        "truth": "Poisson counts in the gap (pcc_log, pcc, accuracy, mae_log); expected counts (*_expected); "
                 "widths[w]['ceiling']: the expected counts scored against the Poisson counts",
        "target_metric": "pcc_log_mean",
        "methods": methods,
        "widths": widths,
        "bins": {"edges": list(ec.bins), "reference": "expected counts", "by_width": bins},
        "targets": targets,
        "samples": {str(w): rows[w] for w in ec.widths},
        "evaluate_config": ec.model_dump(mode="json"),
        "threads": ec.threads,
        "load_average_start": list(load_start),
        "hifft_version": __version__,
    }
    if ec.timing_size:
        result["timing"] = time_inpaint(job, models, ec.timing_size, log=log)
    result["load_average_end"] = list(os.getloadavg())
    result["seconds"] = time.perf_counter() - t0
    return result


def time_inpaint(job: InpaintJob, models: dict[str, Any], size: int, *, width: int = 6,
                 log: Log = print) -> dict[str, Any]:
    """Seconds to inpaint one held-out ``size``³ pattern (a ``width``-px cross through every frame) per method."""
    from .gaps import cross_gap, extend

    ec = job.evaluate
    pats = simulate_patterns(job.train.patterns, 1, ec.seed + 1, "test", size=size, progress=False)
    counts = pats.counts[0]
    mask = extend(cross_gap(counts.shape[1:], (size // 2, size // 2), width), size)
    out: dict[str, Any] = {"size": size, "gap": f"{width}-px cross through every frame",
                           "gap_voxels": int(mask.sum()), "threads": ec.threads, "seconds": {}}
    for meth in ["biharmonic", *models]:
        t = time.perf_counter()
        inpaint(counts, mask, "model" if meth in models else meth, models.get(meth), batch_size=ec.batch_size,
                threads=ec.threads, progress=False)
        out["seconds"][meth] = time.perf_counter() - t
        log(f"{size}³ with a {width}-px cross: {meth} {out['seconds'][meth]:.1f} s")
    out["load_average"] = list(os.getloadavg())
    return out


__all__ = ["TARGETS_3D", "TARGET_2D", "evaluate_inpaint", "time_inpaint"]
