"""Compare a reconstruction with the true object, up to BCDI's trivial ambiguities.

|F|² does not change under (i) a real-space translation, (ii) a global phase, (iii) the
twin x → conj(x(−r)), and a centred pattern fixes the linear phase ramp only up to the
peak's sub-voxel position. :func:`compare` removes the ramp from both objects
(:func:`remove_ramp`), tries the reconstruction and its twin, registers each on the truth
by cross-correlation of the moduli (:func:`register`, scikit-image, sub-voxel), removes the global phase
and modulus scale, and keeps the better candidate.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


def remove_ramp(obj: np.ndarray, support: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """``obj`` times exp(−i k·r) with k (rad/voxel per axis) the mean phase step between neighbours
    inside ``support`` (default |obj| > 0.3·max): a linear-phase fit that needs no unwrapping."""
    obj = np.asarray(obj)
    s = np.abs(obj) > 0.3 * np.abs(obj).max() if support is None else np.asarray(support, dtype=bool)
    slopes = np.zeros(obj.ndim)
    for ax in range(obj.ndim):
        a = np.moveaxis(obj, ax, 0)
        m = np.moveaxis(s, ax, 0)
        both = m[1:] & m[:-1]
        slopes[ax] = np.angle(np.sum((a[1:] * np.conj(a[:-1]))[both]))
    ramp = sum(k * (np.arange(n) - n // 2).reshape([-1 if a == ax else 1 for a in range(obj.ndim)])
               for ax, (k, n) in enumerate(zip(slopes, obj.shape, strict=True)))
    return obj * np.exp(-1j * ramp), slopes


def twin(obj: np.ndarray) -> np.ndarray:
    """conj(obj(−r)) on the periodic grid (index i → (−i) mod n): the twin image."""
    return np.conj(np.roll(np.flip(obj), 1, axis=tuple(range(obj.ndim))))


def register(reference: np.ndarray, moving: np.ndarray, upsample: int = 20) -> np.ndarray:
    """Shift (voxels per axis) that moves ``moving`` onto ``reference``: scikit-image's
    ``phase_cross_correlation`` (plain cross-correlation, sub-voxel to 1/``upsample``)."""
    from skimage.registration import phase_cross_correlation

    by, _, _ = phase_cross_correlation(reference, moving, upsample_factor=upsample, normalization=None)
    return np.asarray(by, dtype=float)


def shift(obj: np.ndarray, by: np.ndarray) -> np.ndarray:
    """``obj`` translated by ``by`` voxels (periodic, exact for band-limited data: a Fourier phase ramp)."""
    from scipy.ndimage import fourier_shift

    return np.fft.ifftn(fourier_shift(np.fft.fftn(obj), by))


@dataclass
class Comparison:
    """Metrics after alignment: ``modulus_error`` = ‖|r|−|t|‖/‖t‖ (the truth being zero outside
    its support), ``phase_rmse`` (rad) over the truth's support; ``aligned`` and ``truth`` are the
    compared (ramp-free) arrays."""

    modulus_error: float
    phase_rmse: float
    twin: bool
    shift: np.ndarray
    aligned: np.ndarray = field(repr=False)
    truth: np.ndarray = field(repr=False)


def _align(candidate: np.ndarray, truth: np.ndarray) -> np.ndarray:
    c = shift(candidate, register(np.abs(truth), np.abs(candidate)))
    overlap = np.sum(truth * np.conj(c))
    c = c * np.exp(1j * np.angle(overlap))
    return c * (np.sum(np.abs(truth) * np.abs(c)) / max(float(np.sum(np.abs(c) ** 2)), 1e-300))


def compare(recon: np.ndarray, truth: np.ndarray, support: np.ndarray | None = None) -> Comparison:
    """Align ``recon`` on ``truth`` (both complex, same shape) and measure the modulus and phase errors.

    ``support``: voxels where the phase is compared (default |truth| ≥ 0.5·max).
    """
    recon, truth = np.asarray(recon), np.asarray(truth)
    if recon.shape != truth.shape:
        raise ValueError(f"recon: shape {recon.shape} does not match truth shape {truth.shape}")
    s = np.abs(truth) >= 0.5 * np.abs(truth).max() if support is None else np.asarray(support, dtype=bool)
    t, _ = remove_ramp(truth)  # the same rule (|x| > 0.3·max) for both, so equal objects get equal fits
    r, _ = remove_ramp(recon)
    best: Comparison | None = None
    for is_twin, cand in ((False, r), (True, twin(r))):
        a = _align(cand, t)
        mod_err = float(np.linalg.norm(np.abs(a) - np.abs(t)) / np.linalg.norm(t))
        dphi = np.angle(a[s] * np.conj(t[s]))
        res = Comparison(mod_err, float(np.sqrt(np.mean(dphi**2))), is_twin,
                         register(np.abs(t), np.abs(cand)), a, t)
        if best is None or np.linalg.norm(a - t) < np.linalg.norm(best.aligned - t):
            best = res
    assert best is not None
    return best


__all__ = ["remove_ramp", "twin", "register", "shift", "Comparison", "compare"]
