"""Measurement noise for 1D curves: Poisson counting, flat background, multiplicative.

See :class:`hifft.ml.config.NoiseConfig` for the model. The background is
part of the true intensity passed in (sasmodels' ``background``), so it
adds counts and noise like on an instrument.
"""

from __future__ import annotations

import numpy as np

from .config import NoiseConfig


def bin_widths(q: np.ndarray) -> np.ndarray:
    """Δq of each point, from edges at the geometric midpoints (log grids)
    or arithmetic midpoints where q is not strictly positive."""
    q = np.asarray(q, dtype=np.float64)
    if q.size < 2:
        raise ValueError("need at least two q points")
    if np.any(np.diff(q) <= 0):
        raise ValueError("q must be strictly increasing")
    mid = np.sqrt(q[1:] * q[:-1]) if q[0] > 0 else 0.5 * (q[1:] + q[:-1])
    lo = np.concatenate([[q[0] ** 2 / mid[0] if q[0] > 0 else q[0]], mid])
    hi = np.concatenate([mid, [q[-1] ** 2 / mid[-1]]])
    return hi - lo


def solid_angle(q: np.ndarray, wavelength: float) -> np.ndarray:
    """Solid angle (sr) of the detector annulus of each q bin: 2π q Δq / k²."""
    k = 2 * np.pi / wavelength
    return 2 * np.pi * np.asarray(q) * bin_widths(q) / k**2


def counts_per_intensity(q: np.ndarray, cfg: NoiseConfig, exposure: float) -> np.ndarray:
    """Expected counts per (1/cm) of intensity in each q bin."""
    return cfg.flux * exposure * cfg.transmission * cfg.thickness_cm * solid_angle(q, cfg.wavelength)


def add_noise(
    i_true: np.ndarray, q: np.ndarray, cfg: NoiseConfig, exposure: float, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Noisy intensity and its σ for one curve (``i_true`` ≥ 0 includes the background).

    Returns ``(I, sigma)`` in the units of ``i_true``. σ is what a reduction
    would report: √(observed counts, at least 1) over the conversion factor,
    plus the multiplicative part in quadrature when configured.
    """
    i_true = np.asarray(i_true, dtype=np.float64)
    if np.any(~np.isfinite(i_true)) or np.any(i_true < 0):
        raise ValueError("true intensity must be finite and non-negative")
    k = counts_per_intensity(q, cfg, exposure)
    if cfg.poisson:
        n = rng.poisson(i_true * k).astype(np.float64)
        i = n / k
        sigma = np.sqrt(np.maximum(n, 1.0)) / k
    else:
        i = i_true.copy()
        sigma = np.sqrt(np.maximum(i_true * k, 1.0)) / k
    if cfg.multiplicative > 0:
        i = i * rng.normal(1.0, cfg.multiplicative, i.shape)
        if cfg.multiplicative_in_sigma:
            sigma = np.hypot(sigma, cfg.multiplicative * np.abs(i))
    return i, sigma
