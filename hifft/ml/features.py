"""From curves (I, σ, mask on a q grid) to network inputs and back to labels; numpy only.

Inputs: ``log10 I`` and ``log10 σ`` with I clipped below at σ/10 (so a bin
with zero counts, or a background-subtracted negative point, stays finite
and is flagged by its large relative error). The per-curve offset (mean of
``log10 I`` over measured points) is removed in :mod:`hifft.ml.model`, so the
unknown absolute scale does not enter; see ``curve_channels`` there.

Targets: each (class, parameter) slot is regressed in a transformed space
— ``ln x`` for lengths, ``x`` for polydispersities and volume fractions —
standardized with the training set's mean and std.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from . import shapes as S

#: Relative error beyond which a point carries no information (log10).
MAX_LOG_REL = 1.0


def log_curves(
    i: np.ndarray, sigma: np.ndarray, mask: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(log10 I_clipped, log10 σ, mask)`` as float32/bool, invalid points masked.

    A point is invalid where I or σ is not finite or σ ≤ 0.
    """
    i = np.asarray(i, dtype=np.float64)
    s = np.asarray(sigma, dtype=np.float64)
    m = np.ones(i.shape, dtype=bool) if mask is None else np.asarray(mask, dtype=bool).copy()
    m &= np.isfinite(i) & np.isfinite(s) & (s > 0)
    s_safe = np.where(m, s, 1.0)
    i_clip = np.where(m, np.maximum(i, s_safe / 10), 1.0)
    li = np.log10(i_clip)
    ls = np.log10(s_safe)
    ls = np.minimum(ls, li + MAX_LOG_REL)
    li[~m] = 0.0
    ls[~m] = 0.0
    return li.astype(np.float32), ls.astype(np.float32), m


def transform(param: str, x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    return np.log(x) if param in S.LENGTHS else x


def inverse(param: str, t: np.ndarray) -> np.ndarray:
    t = np.asarray(t, dtype=np.float64)
    return np.exp(t) if param in S.LENGTHS else t


@dataclass
class TargetCoder:
    """Standardization of every (class, parameter) slot, fitted on training labels."""

    slots: list[tuple[str, str]] = field(default_factory=S.slots)
    mean: np.ndarray | None = None
    std: np.ndarray | None = None

    def fit(self, shape: np.ndarray, labels: dict[str, np.ndarray]) -> TargetCoder:
        mean = np.zeros(len(self.slots))
        std = np.ones(len(self.slots))
        for j, (c, p) in enumerate(self.slots):
            sel = shape == S.class_index(c)
            if sel.sum() >= 2:
                t = transform(p, labels[p][sel])
                mean[j] = t.mean()
                std[j] = max(t.std(), 1e-6)
        self.mean, self.std = mean, std
        return self

    def fitted(self) -> tuple[np.ndarray, np.ndarray]:
        """(mean, std) per slot; raises if :meth:`fit` (or :meth:`from_dict`) has not set them."""
        if self.mean is None or self.std is None:
            raise ValueError("TargetCoder is not fitted: call fit() or from_dict() first")
        return self.mean, self.std

    def encode(self, shape: np.ndarray, labels: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        """Standardized targets (n, n_slots) and a mask of the slots of each row's class."""
        n = len(shape)
        y = np.zeros((n, len(self.slots)), dtype=np.float32)
        w = np.zeros((n, len(self.slots)), dtype=bool)
        for j, (c, p) in enumerate(self.slots):
            sel = shape == S.class_index(c)
            if sel.any():
                mean, std = self.fitted()
                y[sel, j] = (transform(p, labels[p][sel]) - mean[j]) / std[j]
                w[sel, j] = True
        if not np.all(np.isfinite(y[w])):
            raise ValueError("labels contain non-finite values where the class needs them")
        return y, w

    def to_dict(self) -> dict:
        mean, std = self.fitted()
        return {
            "slots": [list(s) for s in self.slots],
            "mean": mean.tolist(),
            "std": std.tolist(),
        }

    @classmethod
    def from_dict(cls, d: dict) -> TargetCoder:
        return cls([tuple(s) for s in d["slots"]], np.asarray(d["mean"]), np.asarray(d["std"]))
