"""The contract between the FFT engine's pass 2 and fused reductions.

Pass 2 holds, per task, the finished spectrum for a block of q_y rows: all
kept q_z, the block's q_y, all kept q_x. It hands that block to each
:class:`Reducer`, which returns a small picklable *partial*; partials are
merged pairwise as a tree and finalized on the client, so the full 3D
spectrum is never gathered (DESIGN.md, data flow (b)).

:func:`reduce_in_memory` drives the same reducers over an in-memory spectrum
(e.g. ``numpy.fft.rfftn`` output); it is the oracle the engine is tested
against, and the in-core path for small arrays.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from functools import reduce as _fold
from typing import Any

import numpy as np

from ..grid import Grid


@dataclass
class SpectrumBlock:
    """One pass-2 block of the unnormalized spectrum F (numpy convention).

    Attributes
    ----------
    values : complex ndarray (n_qz, n_qy_block, n_qx)
        F at the kept frequencies; axes in FFT order (no shift).
    iz, iy, ix : int ndarrays
        Global FFT indices of each kept row along z, y, x.
    qz, qy, qx : float ndarrays
        The matching q values in 1/Å (``2π·fftfreq``; ``rfftfreq`` for x when half).
    wx : float ndarray (n_qx,)
        Hermitian weight per x column: 2 for the interior columns of a
        real-to-complex spectrum (they stand for ±q_x), 1 for q_x = 0 and for
        the Nyquist column of even n_x; all 1 for a full (complex) spectrum.
    grid : Grid
        The real-space grid that was transformed.
    half : bool
        True for a real-to-complex (half) spectrum.
    """

    values: np.ndarray
    iz: np.ndarray
    iy: np.ndarray
    ix: np.ndarray
    qz: np.ndarray
    qy: np.ndarray
    qx: np.ndarray
    wx: np.ndarray
    grid: Grid
    half: bool

    def intensity(self, contrast: float = 1.0) -> np.ndarray:
        """Absolute-scale I(q) in 1/cm for the block (DESIGN.md conventions).

        A = d³·Δρ·F (F from a density in units of ``contrast``·1e-6/Å²),
        I = 1e-4·|A|²/V_box.
        """
        scale = self.grid.intensity_scale(contrast)
        v = self.values
        return scale * (v.real.astype(np.float64) ** 2 + v.imag.astype(np.float64) ** 2)


def hermitian_weights(nx: int, half: bool) -> np.ndarray:
    """Weights per x column of a spectrum of a length-``nx`` real axis."""
    if not half:
        return np.ones(nx)
    w = np.full(nx // 2 + 1, 2.0)
    w[0] = 1.0
    if nx % 2 == 0:
        w[-1] = 1.0
    return w


class Reducer(ABC):
    """A reduction fused into pass 2. Partials must be picklable and small."""

    #: key under which the engine returns this reducer's result
    name: str = "reduced"

    @abstractmethod
    def block(self, blk: SpectrumBlock) -> Any:
        """Partial result for one block."""

    @abstractmethod
    def merge(self, a: Any, b: Any) -> Any:
        """Combine two partials (associative; order of merging must not matter)."""

    @abstractmethod
    def finalize(self, partial: Any, grid: Grid) -> Any:
        """Turn the merged partial into the user-facing result (xarray)."""


def make_block(
    values: np.ndarray,
    grid: Grid,
    half: bool,
    iz: np.ndarray | None = None,
    iy: np.ndarray | None = None,
    ix: np.ndarray | None = None,
) -> SpectrumBlock:
    """Build a SpectrumBlock from values and the global indices they sit at."""
    nx = grid.shape[2]
    iz = np.arange(values.shape[0]) if iz is None else np.asarray(iz)
    iy = np.arange(values.shape[1]) if iy is None else np.asarray(iy)
    ix = np.arange(values.shape[2]) if ix is None else np.asarray(ix)
    qz = grid.q(0)[iz]
    qy = grid.q(1)[iy]
    qx = (grid.q_half() if half else grid.q(2))[ix]
    wx = hermitian_weights(nx, half)[ix]
    return SpectrumBlock(values, iz, iy, ix, qz, qy, qx, wx, grid, half)


def reduce_in_memory(
    F: np.ndarray,
    grid: Grid,
    reducers: Sequence[Reducer],
    half: bool = True,
    block_rows: int = 16,
) -> dict[str, Any]:
    """Run ``reducers`` over an in-memory spectrum split into y-blocks, as pass 2 would."""
    ny = F.shape[1]
    out: dict[str, Any] = {}
    for r in reducers:
        partials = [
            r.block(make_block(F[:, y0 : y0 + block_rows], grid, half, iy=np.arange(y0, min(ny, y0 + block_rows))))
            for y0 in range(0, ny, block_rows)
        ]
        out[r.name] = r.finalize(_fold(r.merge, partials), grid)
    return out
