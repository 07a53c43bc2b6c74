"""Ensembles of trained classifiers: weighted mean logits of several models, thresholds chosen again on validation.

Image and CCF models see different things (the CCF map drops the phase of the
angular Fourier components), so their errors differ and their mean logit is a
better score than either. :func:`build` reads the members' ``model.pt``, scores the
dataset's validation split with each, averages the logits with member weights
(``weights="mean"``: equal; ``"val"``: the weights on a 0.1 grid of the simplex
whose ensemble, with its own thresholds, has the best validation macro-F1 after
the hierarchy), chooses per-label thresholds that maximise F1 on that split (as
training does for one model) and writes one self-contained file (the members'
checkpoints inside) that :func:`hifft.diffraction.classify.load` reads like a
single model. Weights and thresholds are both validation choices; the test
split plays no part.
"""

from __future__ import annotations

import itertools
import json
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch

from .._version import __version__
from ..atomic import atomic_path, atomic_write
from ..checkpoint import read_checkpoint
from .classify import ENSEMBLE_FORMAT, Classifier, LabelPredictor, dataset_fingerprint, read_split
from .labels import LABELS
from .metrics import best_thresholds, score_metrics

Log = Callable[[str], None]


class Ensemble(LabelPredictor):
    """Mean logits of member classifiers, with the ensemble's own thresholds (:func:`build`)."""

    def __init__(self, ckpt: dict[str, Any], path: str = "<memory>") -> None:
        self._accept(ckpt, ENSEMBLE_FORMAT, "ensemble", path)
        self.members = [Classifier(m, f"{path} member {i}") for i, m in enumerate(ckpt["members"])]
        self.image_shape = self.members[0].image_shape
        self.thresholds = np.asarray(ckpt["thresholds"], dtype=np.float64)
        n = len(self.members)
        self.weights = np.asarray(ckpt.get("weights") or [1.0 / n] * n, dtype=np.float64)
        if self.weights.shape != (n,):
            raise ValueError(f"{path}: {self.weights.size} member weights for {n} members")
        self.meta = {k: ckpt.get(k) for k in ("hifft_version", "dataset", "member_paths")}

    def describe(self) -> dict[str, Any]:
        members = [m.describe() for m in self.members]
        return {"input": "+".join(m["input"] for m in members),
                "first_activation": "+".join(m["first_activation"] for m in members),
                "model_config": None, "ccf_config": None, "members": members, "weights": self.weights.tolist(),
                "parameters": sum(m["parameters"] for m in members)}

    def logits(self, images: Any, batch: int = 128, source: str = "images") -> np.ndarray:
        """Weighted mean of the members' logits (n, 11)."""
        return mix([m.logits(images, batch, source) for m in self.members], self.weights)


def mix(member_logits: Sequence[np.ndarray], weights: np.ndarray) -> np.ndarray:
    """Σ_k w_k · logits_k."""
    return np.tensordot(np.asarray(weights, dtype=np.float64), np.asarray(member_logits), axes=1)


def simplex_grid(n: int, step: float = 0.1) -> np.ndarray:
    """All weight vectors (m, n) with entries on a ``step`` grid, summing to 1."""
    k = round(1 / step)
    out = [np.array(c) / k for c in itertools.product(range(k + 1), repeat=n) if sum(c) == k]
    return np.array(out)


def choose_weights(member_logits: Sequence[np.ndarray], y: np.ndarray, step: float = 0.1
                   ) -> tuple[np.ndarray, list[dict[str, Any]]]:
    """The member weights (``step`` grid) whose mixed logits, with thresholds chosen on the same split,
    give the best macro-F1 after the hierarchy; ties go to the more even weights. Returns them and the scan."""
    n = len(member_logits)
    even = np.full(n, 1.0 / n)
    scan = []
    for w in simplex_grid(n, step):
        lv = mix(member_logits, w)
        f1 = score_metrics(lv, best_thresholds(lv, y), y)["enforced"]["macro_f1"] or 0.0
        scan.append({"weights": w.tolist(), "macro_f1": float(f1)})
    best = max(scan, key=lambda r: (r["macro_f1"], -float(np.abs(np.asarray(r["weights"]) - even).sum())))
    return np.asarray(best["weights"]), scan


def build(members: Sequence[str | os.PathLike[str]], dataset: str | os.PathLike[str],
          out: str | os.PathLike[str], log: Log = print, weights: Literal["mean", "val"] = "val") -> Path:
    """Write ``out`` (a directory: ``model.pt`` and the record ``model.json``) for the ensemble of
    ``members`` (paths of ``model.pt``), weights (module doc) and thresholds from ``dataset``'s validation
    split."""
    from .dataset import open_dataset

    if len(members) < 2:
        raise ValueError(f"an ensemble needs at least two models, got {len(members)}")
    if weights not in ("mean", "val"):
        raise ValueError(f"weights: 'mean' or 'val', got {weights!r}")
    ckpts = [read_checkpoint(p, "a diffraction classifier model file") for p in members]
    clfs = [Classifier(c, str(p)) for c, p in zip(ckpts, members, strict=True)]
    shapes = {c.image_shape for c in clfs}
    if len(shapes) > 1:
        raise ValueError(f"members take images of different sizes: {sorted(shapes)}")
    src = str(dataset)
    dfp = dataset_fingerprint(dataset)
    for c, p in zip(ckpts, members, strict=True):
        fp = (c.get("dataset") or {}).get("fingerprint")
        if fp != dfp:
            raise ValueError(f"{p}: trained on dataset {fp}, not on {src} ({dfp}); thresholds chosen on another "
                             "dataset's validation split would not be a validation choice")
    va, imgs = read_split(open_dataset(dataset), 1, src)
    assert imgs is not None
    member_logits = [c.logits(imgs, source=src) for c in clfs]
    scan: list[dict[str, Any]] = []
    if weights == "val":
        w, scan = choose_weights(member_logits, va.y)
    else:
        w = np.full(len(members), 1.0 / len(members))
    lv = mix(member_logits, w)
    thr = best_thresholds(lv, va.y)
    val = score_metrics(lv, thr, va.y)
    members_val = [score_metrics(lg, c.thresholds, va.y)["enforced"]["macro_f1"]
                   for lg, c in zip(member_logits, clfs, strict=True)]
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    final = out / "model.pt"
    ckpt = {"format": ENSEMBLE_FORMAT, "hifft_version": __version__, "labels": list(LABELS),
            "members": ckpts, "member_paths": [str(p) for p in members], "thresholds": thr.tolist(),
            "weights": w.tolist(), "weights_rule": weights,
            "dataset": {"path": src, "fingerprint": dfp}}
    with atomic_path(final) as tmp:
        torch.save(ckpt, tmp)
    records = []
    for p in members:
        rec = Path(p).with_name("model.json")
        records.append(json.loads(rec.read_text()) if rec.exists() else {})
    walls = [r.get("wall_seconds") for r in records]
    wall = sum(float(w) for w in walls if w is not None) if all(w is not None for w in walls) else None
    record = {
        "format": ENSEMBLE_FORMAT, "hifft_version": __version__, "members": [str(p) for p in members],
        "member_inputs": [c.model_config.input for c in clfs],
        "member_first_activations": [c.model_config.first_activation for c in clfs],
        "member_val_macro_f1": members_val, "dataset": {"path": src, "fingerprint": dfp, "n_val": len(va)},
        "weights": w.tolist(), "weights_rule": weights, "weights_scan": scan,
        "weights_bytes": final.stat().st_size,
        "wall_seconds": wall,
        "threads": records[0].get("threads"), "load_average_start": None,  # the members' records hold theirs
        "member_load_average_start": [r.get("load_average_start") for r in records],
        "epochs": None, "steps": None, "loop_seconds": None, "train_images_per_s": None,
        "thresholds": {n: float(t) for n, t in zip(LABELS, thr, strict=True)}, "val": val,
    }
    atomic_write(out / "model.json", json.dumps(record, indent=1))
    weights_s = ", ".join(f"{x:.1f}" for x in w)
    log(f"wrote {final}: {len(members)} members weighted {weights_s} ({weights}), val macro-F1 "
        f"{val['enforced']['macro_f1'] or 0:.3f} after the hierarchy (members "
        + ", ".join(f"{v or 0:.3f}" for v in members_val) + ")")
    return final


__all__ = ["Ensemble", "build", "choose_weights", "mix", "simplex_grid"]
