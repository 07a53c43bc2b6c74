"""Metrics of the inverse problem, the comparison with least squares, and the report.

Parameters are scored *given the true class* (the slot of the true class,
whichever class the network ranked first), for the network and the
least-squares baseline alike; shape accuracy is scored separately.
Relative RMSE for lengths, absolute RMSE for polydispersities and volume
fractions; coverage is the fraction of truths inside the predicted central
interval (nominal ``attrs["coverage"]``). From the class probabilities:
top-2 accuracy, expected calibration error (15 equal-width bins) and the
accuracy of, and fraction of, predictions with p > 0.9. A curve is
*unidentifiable* when another class fits it not significantly worse than its
own (likelihood-ratio test at 95 %, :func:`unidentifiable`).
"""

from __future__ import annotations

import itertools
import json
import time
from pathlib import Path
from typing import Any

import numpy as np

from ..atomic import atomic_write
from . import shapes as S
from .config import CLASSES

#: Targets of the network on the test split (issue 14): (metric key, comparison, threshold, description).
TARGETS: list[tuple[str, str, float, str]] = [
    ("accuracy", ">=", 0.95, "shape accuracy, five classes, raw"),
    ("ece", "<=", 0.03, "expected calibration error of the class probabilities"),
    ("radius_rel_rmse", "<=", 0.02, "radius RMSE, relative (sphere, hard sphere, core-shell core)"),
    ("ellipsoid_axes_rel_rmse", "<=", 0.05, "ellipsoid semi-axes RMSE, relative"),
    ("cylinder_length_rel_rmse", "<=", 0.10, "cylinder length RMSE, relative"),
    ("volfraction_rmse", "<=", 0.02, "volume fraction RMSE, absolute"),
    ("pd_rmse_max", "<=", 0.03, "polydispersity RMSE, absolute (worst slot)"),
    ("coverage_min", ">=", 0.85, "90% interval coverage, lowest slot"),
    ("coverage_max", "<=", 0.95, "90% interval coverage, highest slot"),
]

#: Targets read elsewhere in the result: (path of keys, comparison, threshold, description).
OTHER_TARGETS: list[tuple[tuple[str, ...], str, float, str]] = [
    (("identifiability", "accuracy_identifiable"), ">=", 0.99, "shape accuracy on identifiable curves"),
    (("fft", "accuracy"), ">=", 0.95, "fresh FFT-made test set, raw accuracy"),
    (("fft", "ellipsoid_axes_rel_rmse"), "<=", 0.05, "FFT set: ellipsoid semi-axes RMSE, relative"),
    (("fft", "radius_rel_rmse"), "<=", 0.02, "FFT set: radius RMSE, relative"),
    (("fft", "coverage_min"), ">=", 0.85, "FFT set: 90% interval coverage, lowest slot"),
    (("fft", "coverage_max"), "<=", 0.95, "FFT set: 90% interval coverage, highest slot"),
    (("baseline", "accuracy"), ">=", 0.90, "least-squares baseline, raw accuracy"),
    (("refined", "speedup_vs_baseline"), ">=", 100.0, "network + refinement vs baseline, CPU time per curve"),
]

RADIUS_SLOTS = [
    ("sphere", "radius"),
    ("sphere@hardsphere", "radius"),
    ("core_shell_sphere", "radius"),
]
ELLIPSOID_SLOTS = [("ellipsoid", "radius_polar"), ("ellipsoid", "radius_equatorial")]


def shape_metrics(true: np.ndarray, pred: np.ndarray, classes: tuple[str, ...] | list[str] = CLASSES) -> dict[str, Any]:
    true = np.asarray(true)
    pred = np.asarray(pred)
    k = len(classes)
    conf = np.zeros((k, k), dtype=int)
    np.add.at(conf, (true, pred), 1)
    per = {c: (float(conf[j, j] / conf[j].sum()) if conf[j].sum() else None) for j, c in enumerate(classes)}
    return {
        "n": int(true.size),
        "accuracy": float((true == pred).mean()) if true.size else float("nan"),
        "per_class_accuracy": per,
        "confusion": conf.tolist(),
        "classes": list(classes),
    }


def slot_metrics(
    true_shape: np.ndarray,
    labels: dict[str, np.ndarray],
    value: np.ndarray,
    slots: list[tuple[str, str]],
    lower: np.ndarray | None = None,
    upper: np.ndarray | None = None,
) -> dict[str, dict[str, Any]]:
    """Per slot: n, RMSE (relative for lengths), bias, coverage and width of the interval."""
    out: dict[str, dict[str, Any]] = {}
    for j, (c, p) in enumerate(slots):
        sel = true_shape == S.class_index(c)
        if not sel.any():
            continue
        t = labels[p][sel]
        v = value[sel, j]
        rel = p in S.LENGTHS
        err = (v - t) / t if rel else v - t
        d: dict[str, Any] = {
            "n": int(sel.sum()),
            "relative": rel,
            "rmse": float(np.sqrt(np.mean(err**2))),
            "bias": float(np.mean(err)),
            "median_abs": float(np.median(np.abs(err))),
        }
        if lower is not None and upper is not None:
            lo, hi = lower[sel, j], upper[sel, j]
            d["coverage"] = float(np.mean((t >= lo) & (t <= hi)))
            d["mean_width"] = float(np.mean((hi - lo) / t if rel else hi - lo))
        out[f"{c}:{p}"] = d
    return out


def pooled_rel_rmse(
    true_shape: np.ndarray,
    labels: dict[str, np.ndarray],
    value: np.ndarray,
    slots: list[tuple[str, str]],
    which: list[tuple[str, str]],
) -> float:
    errs = []
    for j, (c, p) in enumerate(slots):
        if (c, p) in which:
            sel = true_shape == S.class_index(c)
            errs.append((value[sel, j] - labels[p][sel]) / labels[p][sel])
    e = np.concatenate(errs) if errs else np.array([])
    return float(np.sqrt(np.mean(e**2))) if e.size else float("nan")


def summary(
    true_shape: np.ndarray,
    pred_shape: np.ndarray,
    labels: dict[str, np.ndarray],
    value: np.ndarray,
    slots: list[tuple[str, str]],
    lower: np.ndarray | None = None,
    upper: np.ndarray | None = None,
) -> dict[str, Any]:
    """Shape metrics, per-slot metrics and the pooled numbers the targets name."""
    sm = shape_metrics(true_shape, pred_shape)
    per = slot_metrics(true_shape, labels, value, slots, lower, upper)
    pd_slots = [k for k in per if k.endswith("_pd")]
    res: dict[str, Any] = {
        **sm,
        "slots": per,
        "radius_rel_rmse": pooled_rel_rmse(true_shape, labels, value, slots, RADIUS_SLOTS),
        "ellipsoid_axes_rel_rmse": pooled_rel_rmse(true_shape, labels, value, slots, ELLIPSOID_SLOTS),
        "cylinder_length_rel_rmse": per.get("cylinder:length", {}).get("rmse", float("nan")),
        "volfraction_rmse": per.get("sphere@hardsphere:volfraction", {}).get("rmse", float("nan")),
        "pd_rmse_max": max((per[k]["rmse"] for k in pd_slots), default=float("nan")),
    }
    cov = [v["coverage"] for v in per.values() if "coverage" in v]
    if cov:
        res["coverage_min"], res["coverage_max"] = float(min(cov)), float(max(cov))
    return res


def breakdowns(true_shape: np.ndarray, pred_shape: np.ndarray, labels: dict[str, np.ndarray]) -> dict[str, Any]:
    """Class accuracy against the parameters that make classes look alike:
    hard-sphere volume fraction (φ → 0 is a plain sphere), ellipsoid axis
    ratio (→ 1 is a sphere), polydispersity (smears the features)."""
    out: dict[str, Any] = {}

    def acc_bins(name: str, cls: str, x: np.ndarray, edges: list[float]) -> None:
        k = S.class_index(cls)
        rows = []
        for lo, hi in itertools.pairwise(edges):
            sel = (true_shape == k) & (x >= lo) & (x < hi)
            if sel.any():
                counts = np.bincount(pred_shape[sel], minlength=len(CLASSES))
                rows.append(
                    {
                        "range": [lo, hi],
                        "n": int(sel.sum()),
                        "accuracy": float(counts[k] / sel.sum()),
                        "predicted": dict(zip(CLASSES, counts.tolist(), strict=True)),
                    }
                )
        out[name] = rows

    acc_bins(
        "sphere@hardsphere by volfraction",
        "sphere@hardsphere",
        labels["volfraction"],
        [0.0, 0.02, 0.05, 0.1, 0.2, 0.31],
    )
    rp, re = labels["radius_polar"], labels["radius_equatorial"]
    with np.errstate(invalid="ignore"):
        ratio = np.maximum(rp, re) / np.minimum(rp, re)
    acc_bins("ellipsoid by axis ratio", "ellipsoid", ratio, [1.0, 1.5, 2.0, 3.0, 100.0])
    for c in CLASSES:
        acc_bins(f"{c} by radius_pd", c, labels["radius_pd"], [0.0, 0.05, 0.1, 0.15, 0.21])
    return out


def check_targets(res: dict[str, Any], whole: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """Rows of :data:`TARGETS` read from ``res`` (the network's figures), and of
    :data:`OTHER_TARGETS` read from ``whole`` (the whole result) where present."""

    def row(key: str, v: Any, op: str, thr: float, desc: str) -> dict[str, Any]:
        ok = None if v is None or not np.isfinite(v) else bool(v >= thr if op == ">=" else v <= thr)
        return {"metric": key, "target": f"{op} {thr}", "value": v, "met": ok, "what": desc}

    rows = [row(key, res.get(key), op, thr, desc) for key, op, thr, desc in TARGETS]
    for path, op, thr, desc in OTHER_TARGETS if whole is not None else []:
        v: Any = whole
        for k in path:
            v = v.get(k) if isinstance(v, dict) else None
        if v is not None:
            rows.append(row(".".join(path), v, op, thr, desc))
    return rows


#: Equal-width confidence bins of the expected calibration error.
ECE_BINS = 15
#: Confidence above which predictions are counted as "confident".
CONFIDENT = 0.9


def probability_metrics(
    true: np.ndarray, prob: np.ndarray, bins: int = ECE_BINS, threshold: float = CONFIDENT
) -> dict[str, Any]:
    """Figures of the class probabilities ``prob`` (n, classes) against the true class indices.

    - ``top2_accuracy``: fraction whose true class is among the two most probable;
    - ``ece``: expected calibration error, ``Σ_b n_b/n · |accuracy_b − mean confidence_b|``
      over ``bins`` equal-width bins of the top probability, bin b = ((b−1)/bins, b/bins]
      (Guo et al. 2017), with the per-bin table in ``reliability``;
    - ``confident_accuracy`` and ``confident_coverage``: accuracy on, and fraction of,
      the curves whose top probability exceeds ``threshold``.
    """
    true = np.asarray(true, dtype=int)
    prob = np.asarray(prob, dtype=np.float64)
    n = true.size
    if n == 0:
        raise ValueError("probability_metrics: no curves")
    pred = prob.argmax(1)
    conf = prob[np.arange(n), pred]
    right = pred == true
    top2 = np.argsort(-prob, axis=1, kind="stable")[:, :2]
    b = np.clip(np.ceil(conf * bins).astype(int) - 1, 0, bins - 1)
    rel, ece = [], 0.0
    for k in range(bins):
        sel = b == k
        if sel.any():
            acc, c = float(right[sel].mean()), float(conf[sel].mean())
            ece += sel.sum() / n * abs(acc - c)
            rel.append({"range": [k / bins, (k + 1) / bins], "n": int(sel.sum()), "accuracy": acc, "confidence": c})
    hi = conf > threshold
    return {
        "top2_accuracy": float((top2 == true[:, None]).any(1).mean()),
        "ece": float(ece),
        "ece_bins": bins,
        "confident_threshold": threshold,
        "confident_accuracy": float(right[hi].mean()) if hi.any() else None,
        "confident_coverage": float(hi.mean()),
        "reliability": rel,
    }


def lrt_unidentifiable(chi2_true: float, chi2_other: float, dof: int = 1, level: float = 0.95) -> bool:
    """True when a fit of another class is not significantly worse than the true class's.

    Likelihood-ratio test: with Gaussian errors, ``Δχ² = χ²_other − χ²_true``
    is χ²-distributed with ``dof`` degrees of freedom when the other model is
    adequate (``dof``: the difference in free parameters, at least 1); the
    other class is rejected when ``Δχ² > chi2.ppf(level, dof)`` (scipy.stats).
    """
    from scipy.stats import chi2

    return bool(chi2_other - chi2_true <= chi2.ppf(level, max(1, int(dof))))


def unidentifiable(
    fits: dict[str, dict[str, Any]], true_class: str, level: float = 0.95
) -> list[str]:
    """Classes whose best fit is not significantly worse than ``true_class``'s (empty: identifiable).

    ``fits`` maps class → ``{"chi2": χ², "k": free parameters}`` (e.g. from
    :func:`hifft.ml.baseline.fit_curve`); each other class is tested with
    :func:`lrt_unidentifiable`, ``dof = |k_true − k_other|`` (at least 1).
    A curve is *unidentifiable* when the list is not empty.
    """
    t = fits[true_class]
    return [
        c
        for c, f in fits.items()
        if c != true_class and lrt_unidentifiable(t["chi2"], f["chi2"], abs(int(t["k"]) - int(f["k"])), level)
    ]


def identifiability(
    fit: Any,
    q: np.ndarray,
    i: np.ndarray,
    s: np.ndarray,
    m: np.ndarray,
    true_shape: np.ndarray,
    pred_shape: np.ndarray,
    classes: tuple[str, ...] | list[str] = CLASSES,
    level: float = 0.95,
) -> dict[str, Any]:
    """Which curves are unidentifiable (:func:`unidentifiable`), and the accuracy on the others.

    ``fit(q, i, s, m)`` returns class → ``{"chi2", "k"}`` for one curve
    (e.g. best least-squares fits per class); it runs once per row of ``i``,
    so keep the rows few.
    """
    flags, confusable = [], []
    for r in range(len(i)):
        others = unidentifiable(fit(q, i[r], s[r], m[r]), classes[int(true_shape[r])], level)
        flags.append(bool(others))
        confusable.append(others)
    fl = np.asarray(flags, dtype=bool)
    ok = np.asarray(true_shape) == np.asarray(pred_shape)
    return {
        "n": int(fl.size),
        "level": level,
        "unidentifiable_fraction": float(fl.mean()) if fl.size else None,
        "accuracy_identifiable": float(ok[~fl].mean()) if (~fl).any() else None,
        "accuracy_unidentifiable": float(ok[fl].mean()) if fl.any() else None,
        "confusable": confusable,
    }


# ---------------------------------------------------------------------------
# evaluation runs
# ---------------------------------------------------------------------------


def _labels(ds: Any) -> dict[str, np.ndarray]:
    return {p: ds[p].values.astype(np.float64) for p in S.ALL_PARAMS}


def network_latency(pred: Any, curve: Any, repeats: int = 20) -> tuple[float, float]:
    """Median wall and CPU seconds to predict one curve on its own (ensemble, this process)."""
    pred.predict(curve)
    ts, cs = [], []
    for _ in range(repeats):
        t0, c0 = time.perf_counter(), time.process_time()
        pred.predict(curve)
        ts.append(time.perf_counter() - t0)
        cs.append(time.process_time() - c0)
    return float(np.median(ts)), float(np.median(cs))


def baseline_subset(ds: Any, per_class: int, split: int = 2) -> np.ndarray:
    """Sample ids of the first ``per_class`` curves of each class in ``split`` (sample order)."""
    sid = ds["sample"].values
    sel = ds["split"].values == split
    shape = ds["shape"].values
    picks = [sid[np.flatnonzero(sel & (shape == k))[:per_class]] for k in np.unique(shape[sel])]
    return np.sort(np.concatenate(picks)) if picks else np.array([], dtype=int)


def run_baseline(
    dataset: str | Path,
    per_class: int,
    scan: int = 128,
    starts: int = 20,
    client: Any = None,
    log: Any = print,
    out: str | Path | None = None,
    allow_incomplete: bool = False,
    progress: bool | None = None,
    library: int = 0,
    neighbours: int = 5,
) -> dict[str, Any]:
    """Least-squares fits of the baseline subset of the test split (JSON-able; to ``out``).

    ``library`` > 0: the labels of the ``neighbours`` nearest of that many
    training curves (:class:`~hifft.ml.baseline.CurveLibrary`) start the
    fits as well (a library lookup + local refinement).

    ``client`` as in :func:`hifft.ml.baseline.fit_many`; ``progress`` shows
    the bar (None: when stderr is a terminal).

    With ``allow_incomplete`` a dataset still being written may be used, as
    long as every curve of the subset lies in a finished chunk (the subset is
    the same once the dataset is complete).
    """
    from ..store import Manifest
    from .baseline import CurveLibrary, fit_many
    from .config import DatasetConfig
    from .dataset import chunk_name, open_dataset

    ds = open_dataset(dataset, allow_incomplete=allow_incomplete)
    dcfg = DatasetConfig.model_validate_json(ds.attrs["config"])
    if allow_incomplete and not Manifest(dataset).complete:
        done = Manifest(dataset).done()
        ok = np.array([chunk_name(int(s) // dcfg.chunk_size) in done for s in ds["sample"].values])
        ds = ds.isel(sample=np.flatnonzero(ok))
        log(f"dataset not complete: choosing among the {ok.sum()} curves of finished chunks")
    ids = baseline_subset(ds, per_class)
    sub = ds.sel(sample=ids).load()
    log(f"least-squares baseline on {ids.size} test curves ({per_class} per class)")
    lib = CurveLibrary.from_dataset(ds, split=0, max_curves=library) if library > 0 else None
    fits = fit_many(
        dcfg,
        sub["q"].values,
        sub["I"].values,
        sub["sigma"].values,
        sub["mask"].values,
        client=client,
        scan=scan,
        starts=starts,
        progress=progress,
        library=lib,
        neighbours=neighbours,
    )
    res = {
        "dataset": str(dataset),
        "sample": [int(v) for v in ids],
        "true_shape": [S.CLASSES[int(k)] for k in sub["shape"].values],
        "fits": fits,
        "method": "scipy.optimize.least_squares (TRF) per class within the priors' bounds and shape "
        f"constraints, variable projection for scale/background, best {starts} of {scan} Sobol draws "
        "of the priors + nested warm starts"
        + (f" + labels of the {neighbours} nearest of {library} training curves per class" if lib else "")
        + ", AIC",
    }
    if out:
        Path(out).parent.mkdir(parents=True, exist_ok=True)
        atomic_write(out, json.dumps(res, indent=1, default=float))
    return res


def evaluate(
    checkpoint: str | Path,
    dataset: str | Path,
    split: int | None = 2,
    fft_dataset: str | Path | None = None,
    baseline_per_class: int = 0,
    baseline_scan: int = 128,
    baseline_starts: int = 20,
    client: Any = None,
    log: Any = print,
    max_samples: int | None = None,
    baseline: str | Path | None = None,
    identifiability_fit: Any = None,
    identifiability_max: int = 50,
    refine_top: int = 0,
) -> dict[str, Any]:
    """Score a checkpoint on a dataset split (and on an FFT subset, and against least squares).

    ``baseline``: a JSON file from :func:`run_baseline` (``hifft ml baseline``);
    otherwise ``baseline_per_class`` > 0 runs the fits here. The network's
    class probabilities give top-2 accuracy, ECE and confident accuracy
    (:func:`probability_metrics`). ``identifiability_fit``: a fit function as
    :func:`identifiability` takes; then the first ``identifiability_max``
    test curves are fitted and split into identifiable or not. With baseline
    fits, identifiability comes from them (:func:`baseline_identifiability`)
    and ``refine_top`` > 0 also runs predict + refine on the same curves.
    """
    from .dataset import open_dataset
    from .inference import load

    pred = load(checkpoint)
    ds = open_dataset(dataset)
    sel = np.flatnonzero(ds["split"].values == split) if split is not None else np.arange(ds.sizes["sample"])
    if max_samples is not None:
        sel = sel[:max_samples]
    test = ds.isel(sample=sel).load()
    log(f"predicting {test.sizes['sample']} curves of {dataset}")
    t0, c0 = time.perf_counter(), time.process_time()
    out = pred.predict(test[["I", "sigma", "mask"]])
    t_net, c_net = time.perf_counter() - t0, time.process_time() - c0
    slots = pred.coder.slots
    true_shape = test["shape"].values.astype(int)
    labels = _labels(test)
    res: dict[str, Any] = {
        "checkpoint": str(checkpoint),
        "dataset": str(dataset),
        "split": split,
        "ensemble_size": len(pred.members),
        "network": summary(
            true_shape,
            out["shape_index"].values.astype(int),
            labels,
            out["slot_value"].values,
            slots,
            out["slot_lower"].values,
            out["slot_upper"].values,
        ),
    }
    res["network"]["breakdowns"] = breakdowns(true_shape, out["shape_index"].values.astype(int), labels)
    lat, lat_cpu = network_latency(pred, test[["I", "sigma", "mask"]].isel(sample=0))
    n_test = max(1, test.sizes["sample"])
    res["network"]["seconds_per_curve_batched"] = t_net / n_test
    res["network"]["cpu_seconds_per_curve_batched"] = c_net / n_test
    res["network"]["seconds_per_curve_single"] = lat
    res["network"]["cpu_seconds_per_curve_single"] = lat_cpu
    res["network"].update(probability_metrics(true_shape, out["prob"].values))
    if identifiability_fit is not None:
        k = min(identifiability_max, test.sizes["sample"])
        res["network"]["identifiability"] = identifiability(
            identifiability_fit,
            test["q"].values,
            test["I"].values[:k],
            test["sigma"].values[:k],
            test["mask"].values[:k],
            true_shape[:k],
            out["shape_index"].values.astype(int)[:k],
        )
    log(f"network: accuracy {res['network']['accuracy']:.4f}, radius rel RMSE {res['network']['radius_rel_rmse']:.4f}")

    if fft_dataset is not None:
        fds = open_dataset(fft_dataset).load()
        fo = pred.predict(fds[["I", "sigma", "mask"]])
        fres = summary(
            fds["shape"].values.astype(int),
            fo["shape_index"].values.astype(int),
            _labels(fds),
            fo["slot_value"].values,
            slots,
            fo["slot_lower"].values,
            fo["slot_upper"].values,
        )
        fres.update(probability_metrics(fds["shape"].values.astype(int), fo["prob"].values))
        fres["dataset"] = str(fft_dataset)
        fres["config"] = json.loads(fds.attrs["config"]) if "config" in fds.attrs else None
        res["fft"] = fres
        log(f"FFT-pipeline curves: accuracy {fres['accuracy']:.4f} on {fres['n']}")

    if baseline is not None or baseline_per_class > 0:
        if baseline is not None:
            bres = json.loads(Path(baseline).read_text())
            log(f"least-squares fits of {len(bres['sample'])} curves read from {baseline}")
        else:
            bres = run_baseline(dataset, baseline_per_class, baseline_scan, baseline_starts, client, log)
        sample_ids = test["sample"].values
        pos = {int(v): k for k, v in enumerate(sample_ids)}
        missing = [sid for sid in bres["sample"] if sid not in pos]
        if missing:
            raise ValueError(f"baseline fits name {len(missing)} curve(s) not in this split, e.g. {missing[:3]}")
        pick = np.array([pos[sid] for sid in bres["sample"]])
        fits = bres["fits"]
        ts = true_shape[pick]
        lsq_pred = np.array([S.class_index(f["best"]) for f in fits])
        # parameters given the true class
        val = np.full((pick.size, len(slots)), np.nan)
        for r, f in enumerate(fits):
            for j, (c, p) in enumerate(slots):
                if c in f["fits"]:
                    val[r, j] = f["fits"][c]["params"][p]
        lab = {p: v[pick] for p, v in labels.items()}
        res["baseline"] = summary(ts, lsq_pred, lab, val, slots)
        res["baseline"]["seconds_per_curve"] = float(np.mean([f["seconds"] for f in fits]))
        res["baseline"]["cpu_seconds_per_curve"] = float(np.mean([f["cpu_seconds"] for f in fits]))
        res["baseline"]["method"] = bres["method"]
        res["network_on_baseline_subset"] = summary(
            ts,
            out["shape_index"].values.astype(int)[pick],
            lab,
            out["slot_value"].values[pick],
            slots,
            out["slot_lower"].values[pick],
            out["slot_upper"].values[pick],
        )
        # per-curve CPU time: the shared machine inflates wall times of both
        res["speedup_single"] = res["baseline"]["cpu_seconds_per_curve"] / lat_cpu
        res["speedup_batched"] = (
            res["baseline"]["cpu_seconds_per_curve"] / res["network"]["cpu_seconds_per_curve_batched"]
        )
        log(
            f"baseline: accuracy {res['baseline']['accuracy']:.3f}, "
            f"{res['baseline']['cpu_seconds_per_curve']:.2f} CPU s/curve;"
            f" network {lat_cpu * 1e3:.2f} CPU ms/curve alone → {res['speedup_single']:.0f}× faster"
        )
        idf = baseline_identifiability(pred.dataset_config(), test, pick, fits, out["shape_index"].values[pick])
        idf["baseline_accuracy_identifiable"] = _masked_acc(ts == lsq_pred, idf["flags"])
        res["identifiability"] = idf
        log(
            f"identifiability on {idf['n']} curves: {100 * idf['unidentifiable_fraction']:.1f} % unidentifiable; "
            f"network accuracy on identifiable {idf['accuracy_identifiable']}"
        )
        if refine_top > 0:
            res["refined"] = refine_subset(pred, test, pick, refine_top, log)
            r = res["refined"]
            r["speedup_vs_baseline"] = res["baseline"]["cpu_seconds_per_curve"] / r["cpu_seconds_per_curve"]
            r["accuracy_identifiable"] = _masked_acc(np.asarray(r["correct"]), idf["flags"])
    res["targets"] = check_targets(res["network"], res)
    return res


def _masked_acc(right: np.ndarray, unidentifiable: list[bool]) -> float | None:
    keep = ~np.asarray(unidentifiable, dtype=bool)
    return float(np.asarray(right)[keep].mean()) if keep.any() else None


def baseline_identifiability(
    cfg: Any, test: Any, pick: np.ndarray, fits: list[dict[str, Any]], net_pred: np.ndarray, level: float = 0.95
) -> dict[str, Any]:
    """Identifiability of the baseline curves from their many-start fits of every class.

    The true class's χ² is the lower of its best fit and its value at the
    true parameters (a fit can stop in a local minimum; the truth is a
    point it could have reached), then :func:`unidentifiable` applies the
    likelihood-ratio test against every other class's best fit.
    """
    from .baseline import chi2_at

    q = test["q"].values
    flags, confusable, chi_truth = [], [], []
    for r, f in enumerate(fits):
        row = int(pick[r])
        true_c = S.CLASSES[int(test["shape"].values[row])]
        m = test["mask"].values[row] & np.isfinite(test["I"].values[row]) & (test["sigma"].values[row] > 0)
        label = {p: float(test[p].values[row]) for p in S.PARAMS[true_c]}
        c_truth = chi2_at(cfg, true_c, q[m], test["I"].values[row][m].astype(float),
                          test["sigma"].values[row][m].astype(float), label)
        chi_truth.append(c_truth)
        table = {c: {"chi2": v["chi2"], "k": v["k"]} for c, v in f["fits"].items()}
        table[true_c] = {"chi2": min(table[true_c]["chi2"], c_truth), "k": table[true_c]["k"]}
        others = unidentifiable(table, true_c, level)
        flags.append(bool(others))
        confusable.append(others)
    true_shape = test["shape"].values[pick].astype(int)
    fl = np.asarray(flags, dtype=bool)
    ok = true_shape == np.asarray(net_pred).astype(int)
    return {
        "n": int(fl.size),
        "level": level,
        "definition": "another class's many-start least-squares fit is not worse than the true class's "
        "(min of its fit and the truth) by more than chi2.ppf(level, |dk|) (likelihood-ratio test)",
        "unidentifiable_fraction": float(fl.mean()) if fl.size else None,
        "n_unidentifiable": int(fl.sum()),
        "accuracy_identifiable": _masked_acc(ok, flags),
        "accuracy_unidentifiable": float(ok[fl].mean()) if fl.any() else None,
        "flags": flags,
        "confusable": confusable,
        "chi2_truth": chi_truth,
    }


def refine_subset(pred: Any, test: Any, pick: np.ndarray, top: int, log: Any = print) -> dict[str, Any]:
    """Predict + refine (:func:`hifft.ml.refine.refine`) each picked curve; accuracy, time, OOD flags."""
    from .refine import refine

    cfg, aug = pred.dataset_config(), pred.augment_config()
    correct, secs, cpu, ood, chi2r, shapes = [], [], [], [], [], []
    for row in pick:
        curve = test[["I", "sigma", "mask"]].isel(sample=int(row))
        t0, c0 = time.perf_counter(), time.process_time()
        a = refine(pred, curve, cfg, aug, top=top, p_min=1.0)
        secs.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
        shapes.append(a.shape)
        correct.append(a.shape == S.CLASSES[int(test["shape"].values[row])])
        ood.append(bool(a.ood))
        chi2r.append(a.best.chi2_red)
    log(f"predict + refine (top {top}) on {len(pick)} curves: accuracy {np.mean(correct):.3f}, "
        f"{np.mean(cpu):.2f} CPU s/curve")
    return {
        "n": len(pick),
        "top": top,
        "accuracy": float(np.mean(correct)),
        "correct": correct,
        "shape": shapes,
        "seconds_per_curve": float(np.mean(secs)),
        "cpu_seconds_per_curve": float(np.mean(cpu)),
        "ood_fraction": float(np.mean(ood)),
        "chi2_red_median": float(np.median(chi2r)),
    }


def _met(ok: bool | None) -> str:
    return "–" if ok is None else ("yes" if ok else "NO")


def _fmt(v: Any, pct: bool = False) -> str:
    if v is None or (isinstance(v, float) and not np.isfinite(v)):
        return "–"
    return f"{100 * v:.2f} %" if pct else (f"{v:.4g}" if isinstance(v, float) else str(v))


def markdown(res: dict[str, Any]) -> str:
    """A markdown report of :func:`evaluate`'s result."""
    net = res["network"]
    L = [
        f"Test split: {net['n']} curves; ensemble of {res['ensemble_size']}.",
        "",
        "| target | required | measured | met |",
        "|---|---|---|---|",
    ]
    L += [f"| {t['what']} | {t['target']} | {_fmt(t['value'])} | {_met(t['met'])} |" for t in res["targets"]]
    L += [
        "",
        "Per class accuracy: " + ", ".join(f"{c} {_fmt(v, True)}" for c, v in net["per_class_accuracy"].items()),
    ]
    if "ece" in net:
        L += [
            "",
            f"Top-2 accuracy {_fmt(net['top2_accuracy'], True)}; expected calibration error "
            f"{_fmt(net['ece'], True)} ({net['ece_bins']} equal-width bins of the top probability); "
            f"p > {net['confident_threshold']:g}: accuracy {_fmt(net['confident_accuracy'], True)} "
            f"on {_fmt(net['confident_coverage'], True)} of the curves.",
        ]
    if "identifiability" in res or "identifiability" in net:
        idf = res.get("identifiability") or net["identifiability"]
        L += [
            "",
            f"Unidentifiable (another class's best fit not worse at {100 * idf['level']:g} %, LRT): "
            f"{_fmt(idf['unidentifiable_fraction'], True)} of {idf['n']}; accuracy on identifiable curves "
            f"{_fmt(idf['accuracy_identifiable'], True)}.",
        ]
    L += [
        "",
        "Confusion (rows true, columns predicted; " + ", ".join(net["classes"]) + "):",
        "",
        "```",
    ]
    L += [" ".join(f"{x:6d}" for x in row) for row in net["confusion"]]
    L += [
        "```",
        "",
        "| slot | n | RMSE | bias | coverage (90 %) | mean width |",
        "|---|---|---|---|---|---|",
    ]
    for k, d in net["slots"].items():
        L.append(
            f"| {k} | {d['n']} | {_fmt(d['rmse'], d['relative'])} | "
            f"{_fmt(d['bias'], d['relative'])} | "
            f"{_fmt(d.get('coverage'), True)} | {_fmt(d.get('mean_width'), d['relative'])} |"
        )
    for name, rows in net.get("breakdowns", {}).items():
        if name.endswith("radius_pd"):
            continue
        L += [
            "",
            f"Accuracy, {name}: "
            + "; ".join(
                f"[{r['range'][0]:g}, {r['range'][1]:g}) {_fmt(r['accuracy'], True)} (n={r['n']})" for r in rows
            ),
        ]
    if "fft" in res:
        f = res["fft"]
        L += [
            "",
            f"FFT-pipeline curves: {f['n']}, accuracy {_fmt(f['accuracy'], True)}; per class "
            + ", ".join(f"{c} {_fmt(v, True)}" for c, v in f["per_class_accuracy"].items()),
        ]
    if "baseline" in res:
        b, nb = res["baseline"], res["network_on_baseline_subset"]

        def row(name: str, r: dict[str, Any], secs: str) -> str:
            cells = [
                _fmt(r["accuracy"], True),
                _fmt(r["radius_rel_rmse"], True),
                _fmt(r["cylinder_length_rel_rmse"], True),
                _fmt(r["volfraction_rmse"]),
                _fmt(r["pd_rmse_max"]),
                secs,
            ]
            return f"| {name} | " + " | ".join(cells) + " |"

        L += [
            "",
            f"Least squares vs network on the same {b['n']} test curves:",
            "",
            "| | shape acc. | radius rel. RMSE | cyl. length rel. RMSE | φ RMSE | worst pd RMSE | s / curve |",
            "|---|---|---|---|---|---|---|",
            row(
                "least squares",
                b,
                f"{b['cpu_seconds_per_curve']:.3g} CPU ({b['seconds_per_curve']:.3g} wall)",
            ),
            row(
                "network",
                nb,
                f"{net['cpu_seconds_per_curve_single']:.3g} CPU alone, "
                f"{net['cpu_seconds_per_curve_batched']:.3g} CPU batched",
            ),
            "",
            f"Speed-up per curve (CPU time): {res['speedup_single']:.0f}× (one curve at a time), "
            f"{res['speedup_batched']:.0f}× (batched).",
        ]
        if "refined" in res:
            r = res["refined"]
            L += [
                "",
                f"Network + refinement (top {r['top']} classes refined by least squares from the network's "
                f"estimate) on the same {r['n']} curves: accuracy {_fmt(r['accuracy'], True)} "
                f"(identifiable: {_fmt(r.get('accuracy_identifiable'), True)}), "
                f"{r['cpu_seconds_per_curve']:.3g} CPU s per curve, {r['speedup_vs_baseline']:.1f}× faster than "
                f"the baseline; median refined χ²_red {r['chi2_red_median']:.3g}; "
                f"flagged out of distribution: {_fmt(r['ood_fraction'], True)}.",
            ]
        if "identifiability" in res:
            idf = res["identifiability"]
            L += [
                "",
                f"Least squares on identifiable curves: {_fmt(idf.get('baseline_accuracy_identifiable'), True)}; "
                f"unidentifiable curves: {idf['n_unidentifiable']} of {idf['n']} "
                f"(confusable classes: {[c for c in idf['confusable'] if c]}).",
            ]
    return "\n".join(L) + "\n"


def write(res: dict[str, Any], json_path: str | Path | None, md_path: str | Path | None) -> None:
    """Write :func:`evaluate`'s result as JSON and/or a markdown report (atomically; None skips)."""
    if json_path:
        Path(json_path).parent.mkdir(parents=True, exist_ok=True)
        atomic_write(json_path, json.dumps(res, indent=1, default=float))
    if md_path:
        Path(md_path).parent.mkdir(parents=True, exist_ok=True)
        atomic_write(md_path, markdown(res))
