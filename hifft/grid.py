"""Grid: the sampling of a periodic box, in real and reciprocal space.

Conventions (DESIGN.md): axis order (z, y, x); spacing in Å; the box is
periodic with length ``n·d`` per axis; q axes are ``2π·fftfreq(n, d)`` in
1/Å; the last axis of a real-to-complex spectrum holds ``n_x//2 + 1``
non-negative frequencies.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from . import units

Shape3 = tuple[int, int, int]
Spacing3 = tuple[float, float, float]
AXES = ("z", "y", "x")

#: Refuse grids above this many voxels before any allocation (10⁶ per axis is
#: already absurd; 2⁴⁰ voxels is 4 TiB of float32).
MAX_VOXELS = 2**42


def _shape3(shape: Any) -> Shape3:
    if isinstance(shape, int | np.integer) and not isinstance(shape, bool):
        shape = (int(shape),) * 3
    if isinstance(shape, str | bytes):
        raise ValueError(f"shape: expected an int or 3 ints, got {shape!r}")
    try:
        out = tuple(int(s) for s in shape)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"shape: expected an int or 3 ints, got {shape!r}") from exc
    if len(out) != 3:
        raise ValueError(f"shape: expected 3 axes (nz, ny, nx), got {len(out)}: {shape!r}")
    if any(isinstance(s, bool) for s in shape) or any(s < 1 for s in out):
        raise ValueError(f"shape: every axis must be a positive int, got {shape!r}")
    if math.prod(out) > MAX_VOXELS:
        raise ValueError(f"shape: {out} has {math.prod(out):.3g} voxels, above the limit {MAX_VOXELS:.3g}")
    return out[0], out[1], out[2]


def _spacing3(spacing: Any) -> Spacing3:
    if isinstance(spacing, str | int | float) and not isinstance(spacing, bool):
        spacing = (spacing,) * 3
    vals = tuple(units.length(s, "spacing") for s in spacing)
    if len(vals) != 3:
        raise ValueError(f"spacing: expected 1 or 3 values, got {spacing!r}")
    if not all(math.isfinite(v) and v > 0 for v in vals):
        raise ValueError(f"spacing: must be positive and finite (Å), got {spacing!r}")
    return vals[0], vals[1], vals[2]


@dataclass(frozen=True, init=False)
class Grid:
    """A periodic 3D sampling grid.

    Parameters
    ----------
    shape : int or (nz, ny, nx)
    spacing : float, str or 3 of them
        Voxel size in Å ("5 nm" is accepted).
    """

    shape: Shape3
    spacing: Spacing3

    def __init__(self, shape: Any, spacing: Any = 1.0) -> None:
        object.__setattr__(self, "shape", _shape3(shape))
        object.__setattr__(self, "spacing", _spacing3(spacing))

    # ---- real space -------------------------------------------------------
    @property
    def ndim(self) -> int:
        """Always 3."""
        return 3

    @property
    def size(self) -> int:
        """Number of voxels."""
        return math.prod(self.shape)

    @property
    def box(self) -> Spacing3:
        """Box lengths (Lz, Ly, Lx) in Å."""
        return tuple(n * d for n, d in zip(self.shape, self.spacing, strict=True))  # type: ignore[return-value]

    @property
    def volume(self) -> float:
        """Box volume in Å³."""
        return math.prod(self.box)

    @property
    def voxel_volume(self) -> float:
        """Voxel volume d_z·d_y·d_x in Å³."""
        return math.prod(self.spacing)

    @property
    def isotropic(self) -> bool:
        """True when the three spacings agree (to 1e-12 relative)."""
        return max(self.spacing) - min(self.spacing) <= 1e-12 * max(self.spacing)

    def coords(self, axis: int | str) -> np.ndarray:
        """Voxel-centre coordinates along ``axis`` in Å, box centred on 0.

        Voxel i spans [i·d, (i+1)·d] − L/2, so its centre is (i + ½)·d − L/2.
        """
        a = self.axis_index(axis)
        n, d = self.shape[a], self.spacing[a]
        return (np.arange(n) + 0.5) * d - 0.5 * n * d

    # ---- reciprocal space -------------------------------------------------
    def q(self, axis: int | str) -> np.ndarray:
        """Full q axis 2π·fftfreq(n, d) in 1/Å, in FFT order (no shift)."""
        a = self.axis_index(axis)
        return 2 * np.pi * np.fft.fftfreq(self.shape[a], self.spacing[a])

    def q_half(self) -> np.ndarray:
        """Last-axis q of a real-to-complex spectrum: 2π·rfftfreq(n_x, d_x)."""
        return 2 * np.pi * np.fft.rfftfreq(self.shape[2], self.spacing[2])

    @property
    def spectrum_shape(self) -> Shape3:
        """Shape of ``rfftn`` output: (nz, ny, nx//2 + 1)."""
        nz, ny, nx = self.shape
        return (nz, ny, nx // 2 + 1)

    @property
    def dq(self) -> Spacing3:
        """Reciprocal spacing 2π/L per axis in 1/Å."""
        return tuple(2 * np.pi / length for length in self.box)  # type: ignore[return-value]

    @property
    def q_nyquist(self) -> Spacing3:
        """π/d per axis in 1/Å."""
        return tuple(np.pi / d for d in self.spacing)  # type: ignore[return-value]

    @property
    def q_min(self) -> float:
        """Smallest non-zero |q| that every axis resolves: max over axes of 2π/L."""
        return max(self.dq)

    @property
    def q_max(self) -> float:
        """Radius of the largest complete q shell: min over axes of π/d."""
        return min(self.q_nyquist)

    def intensity_scale(self, contrast: float = 1.0) -> float:
        """Factor turning |F|² into I in 1/cm, F the unnormalized DFT of the voxel values.

        DESIGN.md absolute scale: A = d³·Δρ·F with Δρ = ``contrast``·(voxel
        value) in 1e-6/Å², I = 1e-4·|A|²/V_box; so the factor is
        1e-4·(d³·contrast)²/V_box (d³ in Å³, V_box in Å³).
        """
        return units.INTENSITY_PREFACTOR * (self.voxel_volume * contrast) ** 2 / self.volume

    @property
    def valid_q_range(self) -> tuple[float, float]:
        """(q_min, q_max) in 1/Å: shells inside it are complete and non-aliased by the box."""
        return (self.q_min, self.q_max)

    # ---- serialization ----------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return {"shape": list(self.shape), "spacing": list(self.spacing), "units": "angstrom"}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Grid:
        unknown = set(d) - {"shape", "spacing", "units"}
        if unknown:
            raise ValueError(f"Grid.from_dict: unknown keys {sorted(unknown)}")
        if d.get("units", "angstrom") != "angstrom":
            raise ValueError(f"Grid.from_dict: units must be 'angstrom', got {d['units']!r}")
        return cls(shape=d["shape"], spacing=d["spacing"])

    def __repr__(self) -> str:
        sp = self.spacing[0] if self.isotropic else self.spacing
        return f"Grid(shape={self.shape}, spacing={sp} Å)"

    @staticmethod
    def axis_index(axis: int | str) -> int:
        """Axis number 0, 1, 2 of ``axis`` given as a number or as "z", "y", "x"."""
        if isinstance(axis, str):
            if axis not in AXES:
                raise ValueError(f"axis must be one of {AXES} or 0..2, got {axis!r}")
            return AXES.index(axis)
        if axis not in (0, 1, 2):
            raise ValueError(f"axis must be one of {AXES} or 0..2, got {axis!r}")
        return int(axis)
