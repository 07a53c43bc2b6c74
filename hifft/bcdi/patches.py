"""Patch planning for gap inpainting: pure code over a mask and integers (no model, no data, no I/O).

Along each axis of length n a patch spans ``p = min(patch, n)`` voxels; candidate origins are
``0, s, 2s, …`` clipped to ``n - p`` (stride ``s``). A patch's *interior* is the patch less
``margin`` voxels on each face, except on faces that lie on the array's faces (there is no
context beyond them). With ``s ≤ p - 2·margin`` the interiors of the candidates tile the axis,
so the candidates whose interior holds a gap voxel cover every gap voxel with at least
``margin`` voxels of context towards every patch face: those are the plan.

Weights: inside its interior a patch's prediction is weighted by a separable sin² window
(positive everywhere in the interior, smallest at its faces); outside the interior by 0.
Averaging with these weights (Σ w·pred / Σ w) joins overlapping patches smoothly, and a model
whose receptive field is within ``margin`` gives exactly what it would give on the whole array.

A gap wider than ``p - 2·margin`` cannot sit inside one interior with context on both sides:
:func:`check_width` refuses it and names the width.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np
from scipy import ndimage


class PlanError(ValueError):
    """A patch plan cannot be made: a gap too wide, or an inconsistent patch/stride/margin."""


@dataclass(frozen=True)
class PatchPlan:
    """Origins (n_patches, ndim) of patches of ``size`` (per axis) over an array of ``shape``;
    ``interiors`` (n_patches, ndim, 2) = [start, stop) of each patch's interior, relative to it."""

    shape: tuple[int, ...]
    size: tuple[int, ...]
    margin: int
    stride: tuple[int, ...]
    origins: np.ndarray
    interiors: np.ndarray

    def __len__(self) -> int:
        return int(self.origins.shape[0])

    def slices(self, k: int) -> tuple[slice, ...]:
        """Index of patch ``k`` in the array."""
        return tuple(slice(int(o), int(o) + s) for o, s in zip(self.origins[k], self.size, strict=True))

    def weight(self, k: int) -> np.ndarray:
        """Averaging weights of patch ``k`` (float32, shape ``size``): sin² inside the interior, 0 outside."""
        w = np.ones((1,) * len(self.size), dtype=np.float32)
        for ax, (a, b) in enumerate(self.interiors[k]):
            v = np.zeros(self.size[ax], dtype=np.float32)
            i = np.arange(int(a), int(b))
            v[int(a):int(b)] = np.sin(np.pi * (i - a + 0.5) / (b - a)) ** 2
            w = w * v.reshape([-1 if d == ax else 1 for d in range(len(self.size))])
        return w

    def covered(self) -> np.ndarray:
        """Boolean array of ``shape``: True where some patch's interior lies."""
        out = np.zeros(self.shape, dtype=bool)
        for k in range(len(self)):
            idx = tuple(slice(int(o + a), int(o + b)) for o, (a, b) in zip(self.origins[k], self.interiors[k],
                                                                             strict=True))
            out[idx] = True
        return out


def axis_origins(n: int, patch: int, stride: int) -> list[int]:
    """Candidate origins along an axis of length ``n`` (one patch of ``n`` when ``n ≤ patch``)."""
    p = min(patch, n)
    if n <= p:
        return [0]
    out = list(range(0, n - p, stride))
    return [*out, n - p]


def _interior(o: int, p: int, n: int, margin: int) -> tuple[int, int]:
    return (0 if o == 0 else margin), (p if o + p >= n else p - margin)


def gap_width(mask: np.ndarray) -> int:
    """Width (voxels) of the widest gap: the largest side s of a box (s voxels along every axis
    longer than s, the whole axis along shorter ones) that fits inside the mask. A w-px band or
    cross has width w; a mask that is all gap has the width of its longest axis."""
    m = np.asarray(mask, dtype=bool)
    if not m.any():
        return 0
    lo, hi = 1, max(m.shape)
    while lo < hi:  # largest s with an s-box inside
        s = (lo + hi + 1) // 2
        if _box_fits(m, s):
            lo = s
        else:
            hi = s - 1
    return lo


def _box_fits(m: np.ndarray, s: int) -> bool:
    size = [min(s, n) for n in m.shape]
    return bool(ndimage.minimum_filter(m.view(np.uint8), size=size, mode="constant", cval=0).any())


def check_width(mask: np.ndarray, patch: int, margin: int, name: str = "mask") -> None:
    """Raise :class:`PlanError` naming the width when a gap is wider than ``patch - 2·margin``."""
    m = np.asarray(mask, dtype=bool)
    if m.size and m.all():
        raise PlanError(f"{name}: every voxel is in the gap; there is nothing to inpaint from")
    limit = patch - 2 * margin
    if _box_fits(m, limit + 1):
        w = gap_width(m)
        raise PlanError(f"{name}: a gap is {w} px wide; patches of {patch} px with {margin} px of context on "
                        f"each side take at most {limit} px (use biharmonic, or a model with larger patches)")


def plan_patches(mask: np.ndarray, patch: int, stride: int | None = None, margin: int = 4,
                 name: str = "mask") -> PatchPlan:
    """The patches (size ``min(patch, n)`` per axis) whose interiors cover every gap voxel of ``mask``.

    ``stride`` defaults to ``patch - 2·margin`` (interiors just tile; smaller strides overlap more).
    Raises :class:`PlanError` for a gap wider than ``patch - 2·margin`` or a stride that leaves holes.
    """
    m = np.asarray(mask, dtype=bool)
    if patch < 1 or margin < 0 or patch - 2 * margin < 1:
        raise PlanError(f"patch {patch} px with margin {margin} px leaves no interior")
    s = patch - 2 * margin if stride is None else int(stride)
    if not 1 <= s <= patch - 2 * margin:
        raise PlanError(f"stride: {s} px must be between 1 and patch - 2·margin = {patch - 2 * margin} px, "
                        "or the interiors leave holes")
    check_width(m, patch, margin, name)
    shape = tuple(int(n) for n in m.shape)
    size = tuple(min(patch, n) for n in shape)
    per_axis = [axis_origins(n, patch, s) for n in shape]
    origins, interiors = [], []
    for combo in itertools.product(*per_axis):
        inner = [_interior(o, p, n, margin) for o, p, n in zip(combo, size, shape, strict=True)]
        idx = tuple(slice(o + a, o + b) for o, (a, b) in zip(combo, inner, strict=True))
        if m[idx].any():
            origins.append(combo)
            interiors.append(inner)
    nd = len(shape)
    return PatchPlan(shape, size, int(margin), tuple(min(s, p) for p in size),
                     np.asarray(origins, dtype=np.int64).reshape(-1, nd),
                     np.asarray(interiors, dtype=np.int64).reshape(-1, nd, 2))


__all__ = ["PlanError", "PatchPlan", "axis_origins", "gap_width", "check_width", "plan_patches"]
