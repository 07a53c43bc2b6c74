"""Multi-label metrics, per-label thresholds and the seed's noise test (numpy only).

- :func:`best_thresholds`: per label, the score threshold maximising F1
  (chosen on the validation split); predicted = score > threshold.
- :func:`label_metrics`: per-label precision/recall/F1 and support, macro-F1
  (mean over labels with a positive in truth or prediction), micro
  precision/recall/F1 and accuracy over all image × label pairs (the seed's
  Acc/P/R; accuracy = 1 − Hamming loss), exact match (subset accuracy).
  0/0 ratios are None (JSON null), never silently 0 or 1.
- :func:`noise_bounds`, :func:`add_uniform_noise`: seed 003's robustness test,
  U(0, b) added to every active pixel, b = median over the images of the
  per-image mean, mean + std (median mean + median std) or max.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .config import NOISE_LEVELS
from .labels import LABELS, count_violations, enforce_hierarchy


def best_threshold(scores: np.ndarray, truth: np.ndarray, default: float = 0.0) -> float:
    """The threshold t maximising F1 of ``scores > t`` against bool ``truth`` (1D).

    t lies midway between the lowest selected score and the next lower one
    (below the lowest score when all are selected); ties of F1 keep the
    highest t (fewest positives). Without positives: ``default``.
    """
    s = np.asarray(scores, dtype=np.float64)
    y = np.asarray(truth, dtype=bool)
    if s.shape != y.shape or s.ndim != 1:
        raise ValueError(f"best_threshold: scores {s.shape} and truth {y.shape} must be equal 1D shapes")
    if not np.isfinite(s).all():
        raise ValueError("best_threshold: non-finite scores")
    n_pos = int(y.sum())
    if n_pos == 0 or s.size == 0:
        return float(default)
    order = np.argsort(-s, kind="stable")
    ss, ys = s[order], y[order]
    tp = np.cumsum(ys)
    fp = np.cumsum(~ys)
    cut = np.r_[ss[1:] < ss[:-1], True]  # only after the last of equal scores
    f1 = np.where(cut, 2 * tp / (tp + fp + n_pos), -1.0)
    k = int(np.argmax(f1))
    if k + 1 < ss.size:
        return float(0.5 * (ss[k] + ss[k + 1]))
    return float(ss[k] - max(1.0, abs(ss[k])) * 1e-6)


def best_thresholds(scores: np.ndarray, truth: np.ndarray, default: float = 0.0) -> np.ndarray:
    """Per-label :func:`best_threshold` of (n, L) scores against (n, L) bool truth."""
    s, y = np.asarray(scores), np.asarray(truth, dtype=bool)
    if s.ndim != 2 or s.shape != y.shape:
        raise ValueError(f"best_thresholds: scores {s.shape} and truth {y.shape} must be equal (n, labels)")
    return np.array([best_threshold(s[:, j], y[:, j], default) for j in range(s.shape[1])])


def _ratio(a: float, b: float) -> float | None:
    return None if b == 0 else float(a / b)


def label_metrics(pred: np.ndarray, truth: np.ndarray, names: tuple[str, ...] = LABELS) -> dict[str, Any]:
    """Per-label and averaged metrics of bool predictions (n, L) against bool truth (n, L) (module doc)."""
    p = np.asarray(pred, dtype=bool)
    y = np.asarray(truth, dtype=bool)
    if p.shape != y.shape or p.ndim != 2 or p.shape[1] != len(names):
        raise ValueError(f"label_metrics: pred {p.shape} and truth {y.shape} must both be (n, {len(names)})")
    tp = (p & y).sum(0)
    fp = (p & ~y).sum(0)
    fn = (~p & y).sum(0)
    per: dict[str, dict[str, Any]] = {}
    f1s = []
    for j, name in enumerate(names):
        f1 = _ratio(2 * tp[j], 2 * tp[j] + fp[j] + fn[j])
        per[name] = {"precision": _ratio(tp[j], tp[j] + fp[j]), "recall": _ratio(tp[j], tp[j] + fn[j]), "f1": f1,
                     "support": int(tp[j] + fn[j]), "predicted": int(tp[j] + fp[j])}
        if f1 is not None:
            f1s.append(f1)
    TP, FP, FN = int(tp.sum()), int(fp.sum()), int(fn.sum())
    n = p.shape[0]
    return {
        "n_images": int(n),
        "per_label": per,
        "macro_f1": float(np.mean(f1s)) if f1s else None,
        "macro_f1_labels": len(f1s),
        "micro_precision": _ratio(TP, TP + FP),
        "micro_recall": _ratio(TP, TP + FN),
        "micro_f1": _ratio(2 * TP, 2 * TP + FP + FN),
        "micro_accuracy": _ratio(int((p == y).sum()), p.size),
        "exact_match": _ratio(int((p == y).all(1).sum()), n),
    }


def score_metrics(scores: np.ndarray, thresholds: np.ndarray, truth: np.ndarray) -> dict[str, Any]:
    """Metrics of ``scores > thresholds`` raw and after :func:`enforce_hierarchy`, with violation counts.

    Conflicts are settled by the margin score − threshold (so every label
    is ranked on its own scale). Returns ``raw`` and ``enforced`` metric
    dicts (:func:`label_metrics`) and ``violations`` of each (counts per rule
    and ``images``: those breaking any).
    """
    s = np.asarray(scores, dtype=np.float64)
    margin = s - np.asarray(thresholds, dtype=np.float64)[None, :]
    raw = margin > 0
    fixed = enforce_hierarchy(raw, margin) if raw.size else raw
    n = max(raw.shape[0], 1)
    out: dict[str, Any] = {"raw": label_metrics(raw, truth), "enforced": label_metrics(fixed, truth)}
    for key, pred in (("raw", raw), ("enforced", fixed)):
        v = count_violations(pred)
        out[key]["violations"] = v
        out[key]["violation_fraction"] = v["images"] / n
    return out


def noise_bounds(images: np.ndarray, active: np.ndarray | None = None) -> dict[str, float]:
    """b of each noise level of :data:`~hifft.diffraction.config.NOISE_LEVELS` from images (n, rows, cols).

    Per-image statistics over the ``active`` pixels (bool (n, rows, cols) or
    (rows, cols); default all), then the median over the images.
    """
    x = np.asarray(images, dtype=np.float64)
    if x.ndim != 3 or x.shape[0] == 0:
        raise ValueError(f"noise_bounds: expected images (n, rows, cols), got shape {x.shape}")
    m = np.ones(x.shape, bool) if active is None else np.broadcast_to(np.asarray(active, bool), x.shape)
    cnt = m.sum(axis=(1, 2))
    if (cnt == 0).any():
        raise ValueError(f"noise_bounds: image {int(np.argmax(cnt == 0))} has no active pixel")
    mean = np.where(m, x, 0).sum(axis=(1, 2)) / cnt
    var = np.where(m, (x - mean[:, None, None]) ** 2, 0).sum(axis=(1, 2)) / cnt
    mx = np.where(m, x, -np.inf).max(axis=(1, 2))
    return {"none": 0.0, "mean": float(np.median(mean)),
            "mean+std": float(np.median(mean) + np.median(np.sqrt(var))), "max": float(np.median(mx))}


def add_uniform_noise(images: np.ndarray, b: float, rng: np.random.Generator,
                      active: np.ndarray | None = None) -> np.ndarray:
    """images + U(0, b) on the ``active`` pixels (default all); float32 copy. b = 0 returns a copy."""
    x = np.array(images, dtype=np.float32)
    if b <= 0:
        return x
    noise = rng.uniform(0.0, b, size=x.shape).astype(np.float32)
    if active is not None:
        noise *= np.broadcast_to(np.asarray(active, bool), x.shape)
    return x + noise


__all__ = ["NOISE_LEVELS", "add_uniform_noise", "best_threshold", "best_thresholds", "score_metrics", "label_metrics",
           "noise_bounds"]
