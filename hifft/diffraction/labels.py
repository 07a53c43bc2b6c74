"""The 11 non-exclusive labels of helium-droplet diffraction images and their hierarchy.

Label set and hierarchy from seed 003 (Zimmermann et al., PRE 99, 063309,
2019; Table 1 and Fig. 2), in the order of the paper's Table 1:

- superordinate: ``spherical_oblate`` and ``prolate``, mutually exclusive;
  every non-empty image has exactly one of them;
- subclasses of ``spherical_oblate``: ``round``, ``elliptical``,
  ``double_rings`` (``round`` and ``elliptical`` exclude each other;
  ``round`` + ``double_rings`` is allowed);
- subclasses of ``prolate``: ``bent``, ``streak`` (not exclusive);
- general features, with any shape class: ``newton_rings``, ``asymmetric``,
  ``layered``;
- ``empty``: no droplet; excludes every other label.

Labels are bool vectors ``(..., 11)`` in :data:`LABELS` order, or collections
of names. :func:`enforce_hierarchy` repairs a labelling so it obeys the
rules; :func:`count_violations` counts the broken rules (the consistency
measure the paper proposes but never reports).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from typing import Any

import numpy as np

#: Label names, in the order of the paper's Table 1 (the index of each label in a vector).
LABELS: tuple[str, ...] = (
    "spherical_oblate", "round", "elliptical", "newton_rings", "prolate", "bent",
    "asymmetric", "streak", "double_rings", "layered", "empty",
)
#: The paper's spelling of each label.
DISPLAY: dict[str, str] = {
    "spherical_oblate": "Spherical/Oblate", "round": "Round", "elliptical": "Elliptical",
    "newton_rings": "Newton rings", "prolate": "Prolate", "bent": "Bent", "asymmetric": "Asymmetric",
    "streak": "Streak", "double_rings": "Double Rings", "layered": "Layered", "empty": "Empty",
}
#: Mutually exclusive shape classes; every non-empty image has exactly one.
SUPERORDINATE: tuple[str, str] = ("spherical_oblate", "prolate")
#: Subclass → the superordinate class it implies.
PARENT: dict[str, str] = {
    "round": "spherical_oblate", "elliptical": "spherical_oblate", "double_rings": "spherical_oblate",
    "bent": "prolate", "streak": "prolate",
}
#: Features that go with either shape class (never with ``empty``).
GENERAL: tuple[str, ...] = ("newton_rings", "asymmetric", "layered")
#: Pairs of labels that exclude each other (``empty`` excludes all others besides).
EXCLUSIVE: tuple[tuple[str, str], ...] = (("spherical_oblate", "prolate"), ("round", "elliptical"))
#: Names of the rules :func:`count_violations` checks.
RULES: tuple[str, ...] = ("both_superordinate", "round_and_elliptical", "no_superordinate",
                          "orphan_subclass", "empty_with_other")

INDEX: dict[str, int] = {name: i for i, name in enumerate(LABELS)}


class LabelError(ValueError):
    """An unknown label name or a label array of the wrong shape."""


def check_names(names: Iterable[Any], field: str = "labels") -> tuple[str, ...]:
    """The names, checked against :data:`LABELS`; LabelError naming ``field`` otherwise."""
    out = []
    for n in names:
        if not isinstance(n, str) or n not in INDEX:
            raise LabelError(f"{field}: unknown label {n!r}; the labels are {', '.join(LABELS)}")
        out.append(n)
    return tuple(out)


def encode(names: Iterable[str], field: str = "labels") -> np.ndarray:
    """Bool vector (11,) with ``names`` set."""
    v = np.zeros(len(LABELS), dtype=bool)
    for n in check_names(names, field):
        v[INDEX[n]] = True
    return v


def decode(vector: Any) -> tuple[str, ...]:
    """The names set in a bool vector (11,), in :data:`LABELS` order."""
    v = as_array(vector)
    if v.ndim != 1:
        raise LabelError(f"labels: decode takes one vector (11,), got shape {v.shape}")
    return tuple(n for n, on in zip(LABELS, v, strict=True) if on)


def as_array(pred: Any, threshold: float = 0.5, field: str = "labels") -> np.ndarray:
    """Bool array (..., 11) from bools, 0/1 or probabilities (> ``threshold`` is set)."""
    a = np.asarray(pred)
    if a.ndim == 0 or a.shape[-1] != len(LABELS):
        raise LabelError(f"{field}: expected a last axis of {len(LABELS)} labels, got shape {a.shape}")
    if a.dtype == bool:
        return a
    if a.dtype.kind not in "biuf":
        raise LabelError(f"{field}: expected bools or numbers, got dtype {a.dtype}")
    if a.dtype.kind == "f" and not np.isfinite(a).all():
        raise LabelError(f"{field}: non-finite values")
    return a > threshold


def _col(a: np.ndarray, name: str) -> np.ndarray:
    return a[..., INDEX[name]]


def violations(pred: Any, threshold: float = 0.5) -> dict[str, np.ndarray]:
    """Per rule of :data:`RULES`, a bool array (...,) marking the images that break it."""
    a = as_array(pred, threshold)
    so, pr, em = _col(a, "spherical_oblate"), _col(a, "prolate"), _col(a, "empty")
    others = np.delete(a, INDEX["empty"], axis=-1).any(axis=-1)
    orphan = np.zeros(a.shape[:-1], dtype=bool)
    for child, parent in PARENT.items():
        orphan |= _col(a, child) & ~_col(a, parent)
    return {
        "both_superordinate": so & pr,
        "round_and_elliptical": _col(a, "round") & _col(a, "elliptical"),
        "no_superordinate": ~em & ~so & ~pr,
        "orphan_subclass": orphan,
        "empty_with_other": em & others,
    }


def count_violations(pred: Any, threshold: float = 0.5) -> dict[str, int]:
    """Number of images breaking each rule, and ``images``: those breaking any.

    ``pred`` is (n, 11) or (11,) bools or probabilities (> ``threshold`` counts
    as predicted). Rules: both superordinate classes; round with elliptical; a
    non-empty image without a superordinate class (all-false included); a
    subclass without its parent; empty with any other label.
    """
    v = violations(pred, threshold)
    out = {k: int(np.count_nonzero(m)) for k, m in v.items()}
    out["images"] = int(np.count_nonzero(np.logical_or.reduce(list(v.values()))))
    return out


def enforce_hierarchy(labels: Any, scores: Any = None) -> Any:
    """A labelling that obeys the hierarchy, repaired in this order:

    1. a subclass implies its parent;
    2. ``empty`` with other labels: the other labels win (something was seen),
       unless ``scores`` rank ``empty`` above all of them;
    3. both superordinate classes: keep the higher score (without scores, the
       one with more subclasses set; a tie keeps ``spherical_oblate``, the
       majority class) and drop the other's subclasses;
    4. ``round`` with ``elliptical``: keep the higher score (else ``round``);
    5. nothing set or no superordinate class: the best of ``empty``,
       ``spherical_oblate``, ``prolate`` by score (else ``empty`` for an
       all-false image, ``spherical_oblate`` when general features are set).

    ``labels``: bool/probability array (..., 11), or a collection of names
    (then a tuple of names is returned). ``scores``: optional array like
    ``labels`` (e.g. probabilities) used to break conflicts.
    """
    if isinstance(labels, Collection) and not isinstance(labels, np.ndarray) and (
            len(labels) == 0 or all(isinstance(x, str) for x in labels)):
        fixed = enforce_hierarchy(encode(labels), None if scores is None else _score_vector(scores))
        return decode(fixed)
    a = as_array(labels).copy()
    s = None if scores is None else np.asarray(scores, dtype=np.float64)
    if s is not None and s.shape != a.shape:
        raise LabelError(f"scores: shape {s.shape} does not match labels {a.shape}")
    flat = a.reshape(-1, len(LABELS))
    sflat = None if s is None else s.reshape(-1, len(LABELS))
    for i in range(flat.shape[0]):
        flat[i] = _repair(flat[i], None if sflat is None else sflat[i])
    return flat.reshape(a.shape)


def _score_vector(scores: Any) -> np.ndarray:
    if isinstance(scores, Mapping):
        check_names(scores, "scores")
        return np.array([float(scores.get(n, 0.0)) for n in LABELS])
    return np.asarray(scores, dtype=np.float64)


def _repair(v: np.ndarray, s: np.ndarray | None) -> np.ndarray:
    ix = INDEX

    def score(name: str) -> float:
        return float(s[ix[name]]) if s is not None else 0.0

    for child, parent in PARENT.items():
        if v[ix[child]]:
            v[ix[parent]] = True
    others = [n for n in LABELS if n != "empty" and v[ix[n]]]
    if v[ix["empty"]] and others:
        if s is not None and score("empty") > max(score(n) for n in others):
            v[:] = False
            v[ix["empty"]] = True
            return v
        v[ix["empty"]] = False
    so, pr = ix["spherical_oblate"], ix["prolate"]
    if v[so] and v[pr]:
        if s is not None and score("prolate") != score("spherical_oblate"):
            keep = "prolate" if score("prolate") > score("spherical_oblate") else "spherical_oblate"
        else:
            n_so = sum(v[ix[c]] for c, p in PARENT.items() if p == "spherical_oblate")
            n_pr = sum(v[ix[c]] for c, p in PARENT.items() if p == "prolate")
            keep = "prolate" if n_pr > n_so else "spherical_oblate"
        drop = "prolate" if keep == "spherical_oblate" else "spherical_oblate"
        v[ix[drop]] = False
        for c, p in PARENT.items():
            if p == drop:
                v[ix[c]] = False
    if v[ix["round"]] and v[ix["elliptical"]]:
        loser = "elliptical" if s is None or score("round") >= score("elliptical") else "round"
        v[ix[loser]] = False
    if not v[ix["empty"]] and not v[so] and not v[pr]:
        anything = bool(v.any())
        if s is not None:
            cands = ("spherical_oblate", "prolate") if anything else ("empty", "spherical_oblate", "prolate")
            best = max(cands, key=score)
        else:
            best = "spherical_oblate" if anything else "empty"
        v[ix[best]] = True
    return v


__all__ = ["DISPLAY", "EXCLUSIVE", "GENERAL", "INDEX", "LABELS", "PARENT", "RULES", "SUPERORDINATE",
           "LabelError", "as_array", "check_names", "count_violations", "decode", "encode",
           "enforce_hierarchy", "violations"]
