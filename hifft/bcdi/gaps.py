"""Detector-gap masks (True = missing): straight gaps, crosses, and real detectors' module layouts.

A rocking scan stacks 2D frames along axis 0, so a 2D detector mask becomes a 3D mask that
repeats along the frame axis (:func:`extend`): a line gap becomes a plane of missing signal.

Layouts (pixels; rows, cols), from pyFAI's detector definitions (``pyFAI/detectors/_esrf.py``,
``_dectris.py``):

- MAXIPIX (ESRF, Medipix2/Timepix chips of 256×256, 55 µm): modules 256×256 separated by
  4-pixel gaps; 1x1 = 256×256, 2x2 = 516×516, 5x1 = 256×1296. The chip-edge pixels are
  three pixels wide (165 µm) and are spread over three positions (LIMA's reconstruction),
  so a 6-pixel band (the 4 gap pixels plus one edge pixel each side, indices 255–260 of a
  2x2) carries no independent signal: the **6 px** gap the thesis quotes (Masto, §4.1).
- EIGER (Dectris, 75 µm): modules 514×1030 of 2×4 chips of 256×256, with 37-pixel gaps
  between module rows and 10-pixel gaps between module columns (500k = 514×1030,
  1M = 1065×1030, 4M = 2167×2070). Inside a module, two interpolated pixels sit at each
  chip boundary (rows 256–257; columns 256–257, 514–515, 772–773). The thesis quotes
  **12 px and 38 px** gaps at ID01; ``widths="thesis"`` widens the module gaps to those
  (10 → 12, 37 → 38), centred on the physical gap, the odd pixel after it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np


class MaskError(ValueError):
    """A mask or a gap specification is invalid."""


def _axis(axis: int, ndim: int) -> int:
    if not -ndim <= axis < ndim:
        raise MaskError(f"axis: {axis} out of range for a {ndim}D shape")
    return axis % ndim


def line_gap(shape: tuple[int, ...], axis: int, position: int, width: int) -> np.ndarray:
    """True on the band ``position ≤ i < position + width`` of index i along ``axis`` (any ndim)."""
    shape = tuple(int(s) for s in shape)
    ax = _axis(axis, len(shape))
    if not 1 <= width <= shape[ax]:
        raise MaskError(f"width: {width} px must be between 1 and the axis length {shape[ax]}")
    if not 0 <= position <= shape[ax] - width:
        raise MaskError(f"position: a {width}-px gap at {position} does not fit axis {ax} of length {shape[ax]}")
    out = np.zeros(shape, dtype=bool)
    idx: list[Any] = [slice(None)] * len(shape)
    idx[ax] = slice(position, position + width)
    out[tuple(idx)] = True
    return out


def cross_gap(shape: tuple[int, ...], centre: tuple[int, int], width: int,
              axes: tuple[int, int] = (-2, -1)) -> np.ndarray:
    """Two perpendicular ``width``-px gaps along ``axes`` crossing at ``centre`` (their centre indices)."""
    out = np.zeros(tuple(int(s) for s in shape), dtype=bool)
    for ax, c in zip(axes, centre, strict=True):
        out |= line_gap(shape, ax, int(c) - width // 2, width)
    return out


def random_gap(shape: tuple[int, ...], width: int, rng: np.random.Generator, *, kind: str = "line",
               axes: tuple[int, ...] = (-2, -1), margin: int = 0) -> np.ndarray:
    """A ``kind`` = "line" (random axis among ``axes``) or "cross" gap at a random position.

    ``margin`` px are kept free at both ends of each axis.
    """
    shape = tuple(int(s) for s in shape)
    if kind == "line":
        ax = _axis(int(rng.choice(axes)), len(shape))
        hi = shape[ax] - width - margin
        if hi < margin:
            raise MaskError(f"width: a {width}-px gap with margin {margin} does not fit axis length {shape[ax]}")
        return line_gap(shape, ax, int(rng.integers(margin, hi + 1)), width)
    if kind == "cross":
        if len(axes) != 2:
            raise MaskError(f"axes: a cross needs two axes, got {axes}")
        centre = tuple(int(rng.integers(margin + width // 2, shape[_axis(a, len(shape))] - margin - width + width // 2
                                        + 1)) for a in axes)
        return cross_gap(shape, (centre[0], centre[1]), width, (axes[0], axes[1]))
    raise MaskError(f"kind: expected 'line' or 'cross', got {kind!r}")


@dataclass(frozen=True)
class Layout:
    """A tiled detector: ``modules`` (rows, cols) of ``module`` pixels separated by ``gap`` pixels;
    ``chip_borders`` = interpolated pixel indices at chip boundaries inside a module (rows, cols);
    ``thesis_gap`` = the effective gap widths (rows, cols) quoted by Masto's thesis."""

    name: str
    modules: tuple[int, int]
    module: tuple[int, int]
    gap: tuple[int, int]
    chip_borders: tuple[tuple[int, ...], tuple[int, ...]] = ((), ())
    thesis_gap: tuple[int, int] | None = None

    @property
    def shape(self) -> tuple[int, int]:
        """Full detector frame (rows, cols) in pixels."""
        return (self.modules[0] * self.module[0] + (self.modules[0] - 1) * self.gap[0],
                self.modules[1] * self.module[1] + (self.modules[1] - 1) * self.gap[1])


_EIGER_BORDERS = ((256, 257), (256, 257, 514, 515, 772, 773))
LAYOUTS: dict[str, Layout] = {
    "maxipix_1x1": Layout("maxipix_1x1", (1, 1), (256, 256), (4, 4), thesis_gap=(6, 6)),
    "maxipix_2x2": Layout("maxipix_2x2", (2, 2), (256, 256), (4, 4), thesis_gap=(6, 6)),
    "maxipix_5x1": Layout("maxipix_5x1", (1, 5), (256, 256), (4, 4), thesis_gap=(6, 6)),
    "eiger_500k": Layout("eiger_500k", (1, 1), (514, 1030), (37, 10), _EIGER_BORDERS, (38, 12)),
    "eiger_1m": Layout("eiger_1m", (2, 1), (514, 1030), (37, 10), _EIGER_BORDERS, (38, 12)),
    "eiger_4m": Layout("eiger_4m", (4, 2), (514, 1030), (37, 10), _EIGER_BORDERS, (38, 12)),
}


def detector_mask(layout: str | Layout, *, widths: str = "physical", chip_borders: bool = False,
                  roi: tuple[int, int, int, int] | None = None) -> np.ndarray:
    """Gap mask of a whole detector frame (rows, cols), or of ``roi`` = (row0, col0, rows, cols).

    ``widths``: "physical" (the layout's gaps) or "thesis" (widened to ``thesis_gap``).
    ``chip_borders``: also mask the interpolated pixels at chip boundaries inside modules.
    """
    lay = LAYOUTS.get(layout) if isinstance(layout, str) else layout
    if lay is None:
        raise MaskError(f"layout: unknown detector {layout!r}; choose one of {sorted(LAYOUTS)}")
    if widths not in ("physical", "thesis"):
        raise MaskError(f"widths: expected 'physical' or 'thesis', got {widths!r}")
    out = np.zeros(lay.shape, dtype=bool)
    for ax in (0, 1):
        period = lay.module[ax] + lay.gap[ax]
        width = lay.gap[ax]
        if widths == "thesis" and lay.thesis_gap is not None:
            width = lay.thesis_gap[ax]
        for k in range(1, lay.modules[ax]):
            start = k * period - lay.gap[ax] - (width - lay.gap[ax]) // 2
            sl = slice(max(start, 0), start + width)
            if ax == 0:
                out[sl, :] = True
            else:
                out[:, sl] = True
        if chip_borders:
            idx = np.concatenate([np.asarray(lay.chip_borders[ax], dtype=int) + k * period
                                  for k in range(lay.modules[ax])]) if lay.chip_borders[ax] else np.array([], int)
            if ax == 0:
                out[idx, :] = True
            else:
                out[:, idx] = True
    if roi is None:
        return out
    r0, c0, nr, nc = (int(v) for v in roi)
    if r0 < 0 or c0 < 0 or nr < 1 or nc < 1 or r0 + nr > out.shape[0] or c0 + nc > out.shape[1]:
        raise MaskError(f"roi: {roi} (row0, col0, rows, cols) is not inside the {lay.name} frame {out.shape}")
    return out[r0:r0 + nr, c0:c0 + nc].copy()


def extend(mask2d: Any, frames: int) -> np.ndarray:
    """A 2D detector mask repeated along a new axis 0 of ``frames`` rocking steps: (frames, rows, cols)."""
    m = np.asarray(mask2d, dtype=bool)
    if m.ndim != 2:
        raise MaskError(f"mask: expected a 2D detector mask, got shape {m.shape}")
    if frames < 1:
        raise MaskError(f"frames: must be ≥ 1, got {frames}")
    return np.repeat(m[None], int(frames), axis=0)


def as_mask(mask: Any, pattern_shape: tuple[int, ...], name: str = "mask") -> np.ndarray:
    """``mask`` (bool, True = missing) checked against a pattern; a 2D frame mask of a 3D pattern is extended.

    Raises ValueError naming both shapes when they disagree.
    """
    shape = tuple(int(s) for s in pattern_shape)
    if mask is None:
        return np.zeros(shape, dtype=bool)
    m = np.asarray(mask)
    if m.dtype != bool:
        if m.dtype.kind not in "biu" or not np.isin(m, (0, 1)).all():
            raise MaskError(f"{name}: expected booleans (True = missing), got dtype {m.dtype}")
        m = m.astype(bool)
    if m.ndim == 2 and len(shape) == 3 and m.shape == shape[1:]:
        return extend(m, shape[0])
    if m.shape != shape:
        hint = f" (or its frame shape {shape[1:]} for a 2D mask)" if len(shape) == 3 else ""
        raise MaskError(f"{name}: shape {m.shape} does not match the pattern's shape {shape}{hint}")
    return m


def describe(mask: np.ndarray) -> dict[str, Any]:
    """Missing fraction and, per axis, the fully masked bands (start, width) — for reports and round trips."""
    m = np.asarray(mask, dtype=bool)
    out: dict[str, Any] = {"fraction": float(m.mean()), "bands": {}}
    for ax in range(m.ndim):
        full = m.all(axis=tuple(a for a in range(m.ndim) if a != ax))
        edges = np.flatnonzero(np.diff(np.concatenate([[0], full.astype(np.int8), [0]])))
        out["bands"][ax] = [(int(a), int(b - a)) for a, b in zip(edges[::2], edges[1::2], strict=True)]
    return out


__all__ = [
    "MaskError", "line_gap", "cross_gap", "random_gap", "Layout", "LAYOUTS", "detector_mask", "extend", "as_mask",
    "describe",
]
