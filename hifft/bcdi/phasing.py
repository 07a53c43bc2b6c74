"""Iterative phase retrieval of a (masked) BCDI pattern: HIO, ER and shrink-wrap, several random starts.

Conventions: the pattern is centred (``fftshift``, as :func:`.simulate.diffraction` makes it);
the object comes back centred too. Gap voxels (mask True) get no modulus constraint: the
Fourier projection keeps the current amplitude there. A held-out random set of measured
voxels (and their Friedel mates, so that a nearly real object cannot predict them; none near
the peak, whose voxels carry most of the information, as in PyNX) is also left free and scores
each start by the Poisson deviance there ("free log-likelihood"). Single starts stagnate now
and then (a twin-mixed object, ~0.13 modulus error on the test crystals); several starts and
this selection are part of the recipe.

Recipe (after Fienup 1982 for HIO/ER and Marchesini 2003 for shrink-wrap): ``hio`` HIO
iterations (β = 0.9) then ``er`` ER iterations; every ``shrinkwrap_every`` iterations the
support becomes {blur_σ(|ψ|) > threshold·max}, with σ shrinking geometrically from
``sigma_start`` to ``sigma_end`` voxels over the HIO iterations. A support that would vanish
(fewer than ``min_support`` voxels) is refused with a :class:`SupportWarning` and the last
good one kept.

Guided gaps (``fill``, e.g. an inpainting of the gaps): the gap voxels are held at the filled
modulus for the first ``release_fill`` iterations (default: all of HIO), then left free like a
plain masked run, so the fill steers HIO away from the gap's missing-data modes while the final
ER answers to the measured voxels alone; the free set never includes a filled voxel.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from pydantic import Field

from ..config import StrictModel
from .backends import ArrayOps, get_ops
from .gaps import as_mask


class SupportWarning(UserWarning):
    """Shrink-wrap would have emptied the support; the previous support was kept."""


class PhasingError(ValueError):
    """Invalid phasing input (the message names the argument)."""


class Recipe(StrictModel):
    """Iterations and shrink-wrap settings (σ in voxels, threshold relative to the blurred maximum)."""

    hio: int = Field(600, ge=0)
    er: int = Field(200, ge=0)
    beta: float = Field(0.9, gt=0, le=1)
    shrinkwrap_every: int = Field(20, ge=0, description="0: never")
    sigma_start: float = Field(3.0, gt=0)
    sigma_end: float = Field(1.0, gt=0)
    threshold: float = Field(0.2, gt=0, lt=1)
    autocorrelation_threshold: float = Field(0.04, gt=0, lt=1, description="initial support from |ifft(I)|")
    min_support: int = Field(8, ge=1, description="fewest voxels a shrink-wrapped support may have")
    free_fraction: float = Field(0.02, ge=0, lt=0.5, description="measured voxels held out (with Friedel mates)")
    free_exclude_centre: float = Field(0.1, ge=0, lt=0.5, description="no free voxel within this fraction of "
                                       "each axis length of the peak (the strongest, most informative voxels)")
    release_fill: int | None = Field(None, ge=0, description="iterations the gap voxels are held at ``fill`` "
                                     "(None: the HIO iterations); only with a fill")


@dataclass
class Start:
    """One random start: final Fourier error on the constrained voxels, free deviance (nan without a free set)."""

    seed: int
    error: float
    llk_free: float
    obj: np.ndarray = field(repr=False)
    support: np.ndarray = field(repr=False)
    history: list[float] = field(repr=False, default_factory=list)
    warnings: int = 0


@dataclass
class PhasingResult:
    """The best start (by ``selected_by``) and all of them; ``obj`` complex, centred; ``support`` bool."""

    obj: np.ndarray
    support: np.ndarray
    error: float
    llk_free: float
    selected_by: str
    starts: list[Start]


def _gaussian_tf(shape: tuple[int, ...], sigma: float) -> np.ndarray:
    """Fourier transfer function of a Gaussian blur of ``sigma`` voxels (periodic; FFT order).

    The blur is a multiplication in Fourier space so that it runs on every backend; the
    object sits in a zero-padded (oversampled) box, so the periodic wrap does not matter.
    """
    out = np.ones(shape)
    for ax, n in enumerate(shape):
        f = np.fft.fftfreq(n)
        g = np.exp(-2 * (np.pi * sigma * f) ** 2)
        out = out * g.reshape([-1 if a == ax else 1 for a in range(len(shape))])
    return out


def _friedel(a: np.ndarray) -> np.ndarray:
    """a(−k) in FFT order: index k → (−k) mod n on every axis."""
    return np.roll(np.flip(a), 1, axis=tuple(range(a.ndim)))


def free_set(mask: np.ndarray, fraction: float, rng: np.random.Generator, exclude_centre: float = 0.0) -> np.ndarray:
    """Random measured voxels (FFT order) plus their Friedel mates, never a masked one nor one with
    Σ_a (k_a/n_a)² < exclude_centre² (k_a the voxel's frequency index; PyNX also spares the centre)."""
    if fraction == 0:
        return np.zeros(mask.shape, dtype=bool)
    r2 = sum(np.fft.fftfreq(n).reshape([-1 if a == ax else 1 for a in range(mask.ndim)]) ** 2
             for ax, n in enumerate(mask.shape))
    free = (rng.random(mask.shape) < fraction) & ~mask & (r2 >= exclude_centre**2)
    return (free | _friedel(free)) & ~mask


def poisson_deviance(observed: np.ndarray, calculated: np.ndarray) -> float:
    """Mean Poisson deviance 2·[I·ln(I/Ic) − (I − Ic)] per voxel (0 for a perfect fit)."""
    i = np.asarray(observed, dtype=float)
    c = np.maximum(np.asarray(calculated, dtype=float), 1e-30)
    with np.errstate(divide="ignore", invalid="ignore"):
        t = np.where(i > 0, i * np.log(i / c), 0.0)
    return float(np.mean(2 * (t - (i - c)))) if i.size else float("nan")


def initial_support(intensity: np.ndarray, mask: np.ndarray, threshold: float) -> np.ndarray:
    """The autocorrelation's support |ifft(I)| > threshold·max (FFT order): about twice the object."""
    ac = np.abs(np.fft.ifftn(np.where(mask, 0.0, intensity)))
    return ac > threshold * ac.max()


class _Run:
    """One start's state on a backend."""

    def __init__(self, ops: ArrayOps, amp: np.ndarray, measured: np.ndarray, support: np.ndarray,
                 recipe: Recipe, rng: np.random.Generator) -> None:
        self.ops, self.recipe = ops, recipe
        self.constrain(amp, measured)
        self.s = ops.asarray(support, real=True)
        phases = np.exp(2j * np.pi * rng.random(amp.shape))
        self.psi = ops.ifftn(ops.asarray(amp * phases)) * self.s
        self.error = float("nan")
        self.warnings = 0

    def constrain(self, amp: np.ndarray, measured: np.ndarray) -> None:
        """Moduli ``amp`` imposed on the ``measured`` voxels (FFT order); the others keep theirs."""
        ops = self.ops
        self.amp = ops.asarray(amp, real=True)
        self.m = ops.asarray(measured, real=True)
        self.unconstrained = 1 - self.m
        self.norm = float((amp[measured] ** 2).sum()) or 1.0

    def fourier_projection(self, psi: Any) -> Any:
        F = self.ops.fftn(psi)
        mod = abs(F)
        self.error = float((self.m * (mod - self.amp) ** 2).sum()) / self.norm
        # measured voxels get the measured modulus, free/gap voxels keep theirs
        F = F * (self.m * self.amp / (mod + 1e-30) + self.unconstrained)
        return self.ops.ifftn(F)

    def hio(self) -> None:
        p = self.fourier_projection(self.psi)
        self.psi = self.s * p + (1 - self.s) * (self.psi - self.recipe.beta * p)

    def er(self) -> None:
        self.psi = self.s * self.fourier_projection(self.psi)

    def shrinkwrap(self, sigma: float) -> None:
        ops = self.ops
        mod = abs(self.psi)
        blurred = ops.ifftn(ops.fftn(mod) * ops.asarray(_gaussian_tf(mod.shape, sigma), real=True)).real
        peak = float(blurred.max())
        new = ops.real_mask(blurred > self.recipe.threshold * peak) if peak > 0 else self.s * 0
        count = int(float(new.sum()))
        if count < self.recipe.min_support:
            self.warnings += 1
            warnings.warn(f"shrink-wrap (σ={sigma:.2f} voxels, threshold {self.recipe.threshold}) left {count} "
                          f"support voxels < min_support={self.recipe.min_support}; kept the previous support "
                          f"({int(float(self.s.sum()))} voxels)", SupportWarning, stacklevel=3)
            return
        self.s = new


def _sigma(recipe: Recipe, it: int) -> float:
    frac = min(1.0, it / max(recipe.hio, 1))
    return float(recipe.sigma_start * (recipe.sigma_end / recipe.sigma_start) ** frac)


def run_start(ops: ArrayOps, amp: np.ndarray, measured: np.ndarray, support: np.ndarray, recipe: Recipe,
              seed: int, report_every: int = 10,
              fill: tuple[np.ndarray, np.ndarray] | None = None) -> tuple[Any, Any, list[float], int]:
    """Run the recipe from one random start; returns (ψ, support, error history, support warnings), FFT order.

    ``fill`` = (moduli, voxels): extra constraints held for ``recipe.release_fill`` iterations.
    """
    total = recipe.hio + recipe.er
    release = 0 if fill is None else (recipe.hio if recipe.release_fill is None else recipe.release_fill)
    if fill is not None and release > 0:
        run = _Run(ops, amp + fill[0] * fill[1], measured | fill[1], support, recipe, np.random.default_rng(seed))
    else:
        run = _Run(ops, amp, measured, support, recipe, np.random.default_rng(seed))
    every = recipe.shrinkwrap_every
    history: list[float] = []
    for it in range(total):
        if release and it == release:
            run.constrain(amp, measured)
        if it < recipe.hio:
            run.hio()
        else:
            run.er()
        # no support change in the last block, so the final ER converges on a fixed support
        if every and (it + 1) % every == 0 and it + 1 < total - every:
            run.shrinkwrap(_sigma(recipe, it + 1))
        if (it + 1) % report_every == 0 or it + 1 == total:
            history.append(run.error)
    return run.psi, run.s, history, run.warnings


def phase_retrieval(intensity: Any, mask: Any = None, *, recipe: Recipe | None = None, support: Any = None,
                    starts: int = 4, seed: int = 0, select: str = "llk_free", backend: str = "numpy",
                    device: Any = None, dtype: Any = np.complex64, fill: Any = None) -> PhasingResult:
    """Reconstruct a complex object from a centred pattern ``intensity`` (counts, 2D or 3D).

    ``mask``: True = missing (gaps), same shape (or a 2D frame mask of a 3D pattern).
    ``support``: initial support (centred, bool); default: the autocorrelation's support.
    ``select``: "llk_free" (needs ``recipe.free_fraction`` > 0) or "error" picks the best start.
    ``backend``/``device``: see :func:`.backends.get_ops`.
    ``fill``: intensities (same shape; only gap voxels are read, e.g. an inpainted pattern) that
    hold the gap voxels for ``recipe.release_fill`` iterations, after which they are free.
    """
    recipe = recipe or Recipe()
    I = np.asarray(intensity, dtype=float)
    if I.ndim not in (2, 3):
        raise PhasingError(f"intensity: expected a 2D or 3D pattern, got shape {I.shape}")
    if not np.all(np.isfinite(I)) or (I < 0).any():
        raise PhasingError("intensity: values must be finite and ≥ 0")
    if select not in ("llk_free", "error"):
        raise PhasingError(f"select: expected 'llk_free' or 'error', got {select!r}")
    if select == "llk_free" and recipe.free_fraction == 0:
        raise PhasingError("select='llk_free' needs recipe.free_fraction > 0")
    if starts < 1:
        raise PhasingError(f"starts: must be ≥ 1, got {starts}")
    gaps = np.fft.ifftshift(as_mask(mask, I.shape))
    I0 = np.fft.ifftshift(I)
    rng = np.random.default_rng(seed)
    free = free_set(gaps, recipe.free_fraction, rng, recipe.free_exclude_centre)
    measured = ~gaps & ~free
    if support is None:
        s0 = initial_support(I0, gaps | free, recipe.autocorrelation_threshold)
    else:
        s0 = np.fft.ifftshift(as_mask(support, I.shape, "support"))
        if not s0.any():
            raise PhasingError("support: the initial support is empty")
    amp = np.sqrt(I0) * measured
    guide = None
    if fill is not None:
        F = np.asarray(fill, dtype=float)
        if F.shape != I.shape:
            raise PhasingError(f"fill: shape {F.shape} does not match the pattern's shape {I.shape}")
        F0 = np.fft.ifftshift(F)
        if not np.all(np.isfinite(F0[gaps])) or (F0[gaps] < 0).any():
            raise PhasingError("fill: values in the gaps must be finite and ≥ 0")
        if not gaps.any():
            raise PhasingError("fill: given, but the mask has no gap voxels to fill")
        guide = (np.sqrt(np.where(gaps, F0, 0.0)), gaps)
    ops = get_ops(backend, dtype, device)
    results: list[Start] = []
    for _ in range(starts):
        sd = int(rng.integers(2**31))
        psi, s, history, nwarn = run_start(ops, amp, measured, s0, recipe, sd, fill=guide)
        psi_h = ops.to_numpy(psi)
        Ic = np.abs(np.fft.fftn(psi_h)) ** 2
        err = float(((np.sqrt(Ic) - np.sqrt(I0)) ** 2)[measured].sum() / max(I0[measured].sum(), 1e-300))
        llk = poisson_deviance(I0[free], Ic[free]) if free.any() else float("nan")
        results.append(Start(sd, err, llk, np.fft.fftshift(psi_h), np.fft.fftshift(ops.to_numpy(s) > 0.5),
                             history, nwarn))
    key = "llk_free" if select == "llk_free" else "error"
    best = min(results, key=lambda r: getattr(r, key))
    return PhasingResult(best.obj, best.support, best.error, best.llk_free, key, results)


__all__ = [
    "Recipe", "Start", "PhasingResult", "PhasingError", "SupportWarning", "phase_retrieval", "run_start",
    "initial_support", "free_set", "poisson_deviance",
]
