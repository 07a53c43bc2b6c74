"""Evaluation of one or more classifiers on a dataset's test split (``hifft diffraction evaluate``).

For every model, on the test split (split 2) of the store, at every noise
level of the seed's test (U(0, b) added to the detector's active pixels,
those between the central hole and 2θ_max; b from the *test* images,
:func:`~hifft.diffraction.metrics.noise_bounds`; the same noise draw for
every model): per-label precision/recall/F1, macro-F1, micro
precision/recall/accuracy (the seed's Acc/P/R; accuracy = 1 − Hamming),
exact match, hierarchy violations of the thresholded outputs and, after
:func:`~hifft.diffraction.labels.enforce_hierarchy`, the same metrics again
(:func:`~hifft.diffraction.metrics.score_metrics`); without added noise, the
same scores again on the images at least ``clear_margin`` from every labelling
threshold (:func:`clear_images`, a diagnostic of how much of the error sits at
label boundaries). Models are ``model.pt`` files of single classifiers or of
ensembles (:mod:`hifft.diffraction.ensemble`). Then inference throughput
(images/s: image in, logits out, CCF maps included; batches of
``batch_size`` after one warm-up batch, ``threads`` torch threads) and, for
CCF models, the CCF maps alone; the load average before and after.

The JSON (one dict) holds everything ``benchmarks/diffraction_report.py``
writes into ``benchmarks/results/classifier.md``.
"""

from __future__ import annotations

import functools
import json
import os
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .._version import __version__
from .config import NOISE_LEVELS, ClassifierEvaluateConfig
from .metrics import add_uniform_noise, noise_bounds, score_metrics

Log = Callable[[str], None]

#: Seed 003's numbers on its 15 % evaluation split (micro Acc / P / R; Tables 4 and 6).
SEED_REFERENCE: dict[str, Any] = {
    "source": "Zimmermann et al., PRE 99, 063309 (2019), Tables 4 and 6 (max over training on the eval split)",
    "log_alpha_0.2": {"accuracy": 0.965, "precision": 0.922, "recall": 0.870},
    "unmodified": {"accuracy": 0.955, "precision": 0.918, "recall": 0.867},
    "noise": {
        "image": {"none": [0.965, 0.922, 0.870], "mean": [0.954, 0.910, 0.853],
                  "mean+std": [0.944, 0.887, 0.815], "max": [0.926, 0.865, 0.808]},
        "ccf": {"none": [0.950, 0.901, 0.838], "mean": [0.948, 0.897, 0.833],
                "mean+std": [0.946, 0.893, 0.823], "max": [0.944, 0.905, 0.814]},
    },
}


def store_active_pixels(ds: Any, sel: np.ndarray) -> np.ndarray | None:
    """Bool (n, rows, cols): for images ``sel`` of a dataset store, the pixels between each image's hole and
    2θ_max (None without that geometry); :func:`hifft.diffraction.patterns.active_pixels` per detector.

    2θ per pixel comes from the detector of the store's job config (the
    store's ``two_theta`` coordinate is not relied on).
    """
    if "hole_radius" not in ds or "config" not in ds.attrs:
        return None
    from .config import DiffractionConfig
    from .patterns import make_detector, two_theta

    dcfg = DiffractionConfig.model_validate_json(ds.attrs["config"])
    tt = two_theta(make_detector(dcfg.detector))
    if tt.shape != (ds.sizes["row"], ds.sizes["col"]):
        return None
    hole = np.asarray(ds["hole_radius"].values)[sel]
    return (tt[None] >= hole[:, None, None]) & (tt[None] <= dcfg.detector.two_theta_max)


def clear_images(ds: Any, sel: np.ndarray, labels: np.ndarray, margin: float) -> np.ndarray | None:
    """Bool (n,): images of ``sel`` at least ``margin`` from every labelling threshold (None when the
    store lacks the measures or its job config)."""
    if "projected_aspect" not in ds or "config" not in ds.attrs:
        return None
    from .config import DiffractionConfig
    from .droplets import rule_margins

    rules = DiffractionConfig.model_validate_json(ds.attrs["config"]).rules
    names = ("projected_aspect", "elongation", "inversion_defect", "body_bend", "streak_bend", "layer_contrast",
             "layer_thickness", "newton_fringes", "transverse_fringes", "radius", "radius_2")
    measures = {k: np.asarray(ds[k].values)[sel] for k in names if k in ds}
    return rule_margins(measures, labels, rules) >= margin


def throughput(fn: Callable[[np.ndarray], Any], images: np.ndarray, n: int, batch: int) -> dict[str, Any]:
    """Images/s of ``fn`` over batches of ``images`` (repeated to ``n`` images) after one warm-up batch."""
    reps = -(-n // images.shape[0])
    x = np.concatenate([images] * reps)[:n] if reps > 1 else images[:n]
    fn(x[:batch])
    t = time.perf_counter()
    for s in range(0, n, batch):
        fn(x[s:s + batch])
    dt = time.perf_counter() - t
    return {"images_per_s": n / dt, "images": n, "batch": batch, "seconds": dt}


def _names(paths: Sequence[Path]) -> list[str]:
    base = [(p.parent.name or p.stem) if p.name == "model.pt" else p.stem for p in paths]
    return [b if base.count(b) == 1 else f"{b}-{i}" for i, b in enumerate(base)]


def evaluate(models: Sequence[str | os.PathLike[str]], store: str | os.PathLike[str],
             cfg: ClassifierEvaluateConfig | None = None, log: Log = print) -> dict[str, Any]:
    """The evaluation dict of ``models`` (paths of ``model.pt``) on ``store``'s test split (module doc)."""
    import torch

    from .classify import dataset_fingerprint, load, read_split
    from .dataset import open_dataset

    cfg = cfg or ClassifierEvaluateConfig()
    load_start = list(os.getloadavg())
    torch.set_num_threads(cfg.threads)
    ds = open_dataset(store)
    test, imgs = read_split(ds, 2, str(store), cfg.max_test_samples)
    if len(test) == 0:
        raise ValueError(f"{store}: no test images (split 2)")
    assert imgs is not None
    codes = ds["split"].values
    sel = np.flatnonzero(codes == 2)[:len(test)]
    active = store_active_pixels(ds, sel)
    bounds = noise_bounds(imgs, active)
    levels = list(dict.fromkeys(cfg.noise_levels))
    clear = clear_images(ds, sel, test.y, cfg.clear_margin)
    log(f"{store}: {len(test)} test images; noise b: "
        + ", ".join(f"{k} {bounds[k]:.4g}" for k in levels))
    paths = [Path(m) for m in models]
    res: dict[str, Any] = {
        "format": "hifft.diffraction.evaluation/1", "hifft_version": __version__,
        "torch_version": str(torch.__version__), "store": str(store),
        "dataset_fingerprint": dataset_fingerprint(store), "n_test": len(test),
        "test_label_counts": dict(zip(ds["label"].values.tolist(), test.y.sum(0).tolist(), strict=True)),
        "noise": {"levels": levels, "bounds": {k: bounds[k] for k in levels}, "seed": cfg.noise_seed,
                  "protocol": "U(0, b) added to the active detector pixels (hole to 2θ_max); b = median over the "
                              "test images of the per-image mean / mean + std (median mean + median std) / max "
                              "over the active pixels"},
        "clear": None if clear is None else {
            "margin": cfg.clear_margin, "images": int(clear.sum()),
            "label_counts": dict(zip(ds["label"].values.tolist(), test.y[clear].sum(0).tolist(), strict=True)),
            "rule": "images whose geometry is >= margin (|ln(measure/threshold)|) from every labelling threshold "
                    "it was read at (hifft.diffraction.droplets.rule_margins); no added noise"},
        "threads": cfg.threads, "batch_size": cfg.batch_size, "seed_reference": SEED_REFERENCE,
        "load_average_start": load_start, "models": {},
    }
    for name, path in zip(_names(paths), paths, strict=True):
        clf = load(path)
        rec_path = path.with_name("model.json")
        record = json.loads(rec_path.read_text()) if rec_path.exists() else {}
        if clf.image_shape != tuple(imgs.shape[1:]):
            raise ValueError(f"{path}: model for {clf.image_shape} images, {store} has {tuple(imgs.shape[1:])}")
        m: dict[str, Any] = {
            "path": str(path), **clf.describe(),
            "weights_bytes": path.stat().st_size, "thresholds": clf.thresholds.tolist(),
            "trained_on": clf.meta.get("dataset"), "epochs": clf.meta.get("epochs"),
            "train": {k: record.get(k) for k in ("wall_seconds", "loop_seconds", "train_images_per_s", "threads",
                                                 "load_average_start", "epochs", "selected_epoch", "steps")},
            "augment": ((record.get("config") or {}).get("train") or {}).get("augment"),
            "levels": {},
        }
        for k, level in enumerate(NOISE_LEVELS):
            if level not in levels:
                continue
            rng = np.random.default_rng([cfg.noise_seed, k])  # the same draw for every model
            noisy = add_uniform_noise(imgs, bounds[level], rng, active)
            t = time.perf_counter()
            lg = clf.logits(noisy, cfg.batch_size, source=str(store))
            m["levels"][level] = score_metrics(lg, clf.thresholds, test.y)
            if level == "none" and clear is not None:
                m["clear"] = score_metrics(lg[clear], clf.thresholds, test.y[clear])
            e = m["levels"][level]["enforced"]
            log(f"{name} [{level}]: macro-F1 {e['macro_f1'] or 0:.4f}, micro P/R {e['micro_precision'] or 0:.3f}/"
                f"{e['micro_recall'] or 0:.3f}, violations raw {m['levels'][level]['raw']['violations']['images']} "
                f"({time.perf_counter() - t:.0f} s)")
        m["throughput"] = throughput(functools.partial(clf.logits, batch=cfg.batch_size), imgs,
                                     cfg.throughput_images, cfg.batch_size)
        if clf.ccf is not None:
            m["ccf_throughput"] = throughput(clf.ccf, imgs, cfg.throughput_images, cfg.batch_size)
        log(f"{name}: {m['throughput']['images_per_s']:.0f} images/s ({cfg.threads} threads, batch "
            f"{cfg.batch_size})" + (f"; CCF maps alone {m['ccf_throughput']['images_per_s']:.0f} images/s"
                                    if "ccf_throughput" in m else ""))
        res["models"][name] = m
    res["load_average_end"] = list(os.getloadavg())
    return res


__all__ = ["SEED_REFERENCE", "clear_images", "evaluate", "store_active_pixels", "throughput"]
