"""Synthetic reduced Datasets from analytic I(|q|): the oracle side of the comparison.

:func:`shell_dataset` evaluates an isotropic ``I(|q|)`` on the actual Fourier
modes of a periodic ``n³`` grid and bins them exactly as a radial reduction
does (mean per shell, std, SEM, count, q_std, and a |q| sub-histogram per
bin as ``q_samples``/``q_weights`` with dims ``("q", "sub")``). It is what a
perfect FFT of an ensemble with no speckle and no voxel error would give, and
lets :func:`hifft.compare.compare_sasmodels` be tested without the volume,
FFT and reduction stages.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import xarray as xr


def mode_q(n: int, spacing: float, unique: bool = False):
    """|q| of every non-zero mode of a full n³ spectrum (1/Å), flattened.

    With ``unique=True`` returns (distinct |q| values, index of each mode
    into them): on a cubic grid |q|² is an integer multiple of (2π/L)², so a
    function of |q| needs evaluating only a few thousand times.
    """
    m = np.fft.fftfreq(n, 1.0 / n).astype(np.int64)
    k2 = (m[:, None, None] ** 2 + m[None, :, None] ** 2 + m[None, None, :] ** 2).ravel()
    k2 = k2[k2 > 0]
    dq = 2 * np.pi / (n * spacing)
    if unique:
        u, inv = np.unique(k2, return_inverse=True)
        return dq * np.sqrt(u), inv
    return dq * np.sqrt(k2)


def log_edges(
    n: int, spacing: float, bins: int, q_lo_modes: float = 1.0, qd_max: float = np.pi
) -> np.ndarray:
    """Log-spaced bin edges from ``q_lo_modes``·2π/L to ``qd_max``/d."""
    dq = 2 * np.pi / (n * spacing)
    return np.geomspace(q_lo_modes * dq * (1 - 1e-9), qd_max / spacing, bins + 1)


def shell_dataset(
    func: Callable[[np.ndarray], np.ndarray],
    n: int,
    spacing: float,
    edges: np.ndarray | None = None,
    bins: int = 60,
    n_sub: int = 16,
    e_min: float = 0.01,
    noise: float = 0.0,
    seed: int = 0,
) -> xr.Dataset:
    """Radially binned ``func(|q|)`` over the modes of an n³ grid of spacing d.

    ``noise`` > 0 multiplies each bin by (1 + noise·N(0,1)) and sets ``sem``
    to noise·I, so that χ² against the exact model is χ²-distributed with
    the number of bins as degrees of freedom.
    """
    qu, inv = mode_q(n, spacing, unique=True)
    qm = qu[inv]
    if edges is None:
        edges = log_edges(n, spacing, bins)
    edges = np.asarray(edges, dtype=float)
    nb = edges.size - 1
    ib = np.digitize(qm, edges) - 1
    keep = (ib >= 0) & (ib < nb)
    qm, ib = qm[keep], ib[keep]
    Im = np.asarray(func(qu), dtype=np.float64)[inv[keep]]
    count = np.bincount(ib, minlength=nb).astype(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        qmean = np.bincount(ib, qm, nb) / count
        q_std = np.sqrt(np.maximum(np.bincount(ib, qm * qm, nb) / count - qmean**2, 0))
        I = np.bincount(ib, Im, nb) / count
        std = np.sqrt(
            np.maximum(np.bincount(ib, Im * Im, nb) / count - I**2, 0)
            * count
            / np.maximum(count - 1, 1)
        )
        sem = std / np.sqrt(count)
    # sub-histogram of |q| inside each bin
    frac = (qm - edges[ib]) / (edges[ib + 1] - edges[ib])
    isub = np.clip((frac * n_sub).astype(int), 0, n_sub - 1)
    flat = ib * n_sub + isub
    w = np.bincount(flat, minlength=nb * n_sub).astype(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        qs = np.bincount(flat, qm, nb * n_sub) / w
    qs = np.where(w > 0, qs, np.nan).reshape(nb, n_sub)
    w = w.reshape(nb, n_sub)
    if noise > 0:
        rng = np.random.default_rng(seed)
        I = I * (1 + noise * rng.standard_normal(nb))
        sem = noise * np.abs(I)
    sigma = np.maximum(sem, e_min * np.abs(I))
    ok = count > 0
    ds = xr.Dataset(
        {
            "I": ("q", I[ok], {"units": "1/cm"}),
            "sigma": ("q", sigma[ok], {"units": "1/cm"}),
            "sem": ("q", sem[ok], {"units": "1/cm"}),
            "std": ("q", std[ok], {"units": "1/cm"}),
            "count": ("q", count[ok]),
            "q_std": ("q", q_std[ok], {"units": "1/angstrom"}),
            "q_samples": (("q", "sub"), qs[ok], {"units": "1/angstrom"}),
            "q_weights": (("q", "sub"), w[ok]),
        },
        coords={"q": ("q", qmean[ok], {"units": "1/angstrom"})},
        attrs={
            "grid": {"shape": [n, n, n], "spacing": [spacing] * 3, "units": "angstrom"},
            "source": "hifft.compare.synthetic.shell_dataset",
            "e_min": e_min,
        },
    )
    return ds
