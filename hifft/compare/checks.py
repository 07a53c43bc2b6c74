"""Guinier, Porod and invariant checks on computed I(q) curves.

Each check takes a reduced Dataset (or arrays q, I, σ) and returns a small
result with the estimate and its window. The *exact* values for a sasmodels
model (I(0), R_g, Porod constant, invariant) are computed from sasmodels
itself by :func:`model_exact`, so every shape and polydispersity is covered;
closed forms for the simple shapes are in the tests as the independent oracle.

Units: q 1/Å, I 1/cm, R_g Å, Porod constant K = lim q⁴·I in 1/(cm·Å⁴),
invariant Q = ∫ q² I dq in 1/(cm·Å³). For a two-phase system with contrast
Δρ (1e-6/Å²) at volume fraction φ and specific surface S/V (1/Å):

    K = 2π·1e-4·Δρ²·φ·(S/V),        Q = 2π²·1e-4·Δρ²·φ        (φ → 0)
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import xarray as xr

from . import sasmodels_ as sm

PREFACTOR = 1e-4  # (1e-6/Å²)²·Å → 1/cm


def _arrays(
    data: Any, I: Any = None, sigma: Any = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    if isinstance(data, xr.Dataset):
        q = np.asarray(data["q"].values, dtype=float)
        Iv = np.asarray(data["I"].values, dtype=float)
        sv = np.asarray(data["sigma"].values, dtype=float) if "sigma" in data else None
        return q, Iv, sv
    q = np.asarray(data, dtype=float)
    Iv = np.asarray(I, dtype=float)
    sv = None if sigma is None else np.asarray(sigma, dtype=float)
    return q, Iv, sv


# --------------------------------------------------------------------------- Guinier
@dataclass
class GuinierResult:
    rg: float
    rg_err: float
    i0: float
    i0_err: float
    q_range: tuple[float, float]
    qrg_max: float
    n: int
    order: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def guinier(
    data: Any,
    I: Any = None,
    sigma: Any = None,
    *,
    q_min: float | None = None,
    q_max: float | None = None,
    qrg_max: float = 1.3,
    order: int = 1,
    min_points: int = 4,
    max_iter: int = 30,
) -> GuinierResult:
    """Guinier fit ln I = ln I₀ − q²R_g²/3 (+ c·q⁴ when ``order=2``) up to q·R_g = ``qrg_max``.

    The window's upper end is iterated to self-consistency with the fitted
    R_g. Weights are (I/σ)² (σ of ln I is σ/I); without σ, uniform.
    ``order=2`` absorbs the next cumulant and removes most of the ~1 %
    bias a first-order fit up to q·R_g ≈ 1 has for compact particles.
    ``q_max`` fixes the window's upper end instead (no iteration), e.g. to
    fit data on exactly the bins a model was fitted on.
    """
    q, Iv, sv = _arrays(data, I, sigma)
    ok = np.isfinite(q) & np.isfinite(Iv) & (Iv > 0) & (q > 0)
    if q_min is not None:
        ok &= q >= q_min
    q, Iv = q[ok], Iv[ok]
    s_ln = (sv[ok] / Iv) if sv is not None else np.ones_like(q)
    order_idx = np.argsort(q)
    q, Iv, s_ln = q[order_idx], Iv[order_idx], s_ln[order_idx]
    need = min_points + (1 if order == 2 else 0)
    if q.size < need:
        raise ValueError(f"guinier: {q.size} usable points, need at least {need}")

    def fit(n: int):
        x = q[:n] ** 2
        cols = [np.ones(n), -x / 3.0] + ([x**2] if order == 2 else [])
        A = np.stack(cols, axis=1) / s_ln[:n, None]
        b = np.log(Iv[:n]) / s_ln[:n]
        coef, *_ = np.linalg.lstsq(A, b, rcond=None)
        cov = np.linalg.pinv(A.T @ A)
        resid = b - A @ coef
        dof = max(n - len(cols), 1)
        red = float(resid @ resid / dof)
        if sv is None:  # unweighted: scale cov by the residual variance
            cov = cov * red
        return coef, cov

    n = need
    if q_max is not None:
        n = max(need, int(np.searchsorted(q, q_max * (1 + 1e-12), side="right")))
        max_iter = 0
    coef, cov = fit(n)
    for _ in range(max_iter):
        rg2 = coef[1]
        if rg2 <= 0:
            raise ValueError(
                "guinier: the curve does not fall at low q (R_g² ≤ 0); no Guinier regime"
            )
        qmax = qrg_max / math.sqrt(rg2)
        n_new = max(need, int(np.searchsorted(q, qmax, side="right")))
        if n_new == n:
            break
        n = n_new
        coef, cov = fit(n)
    rg2 = coef[1]
    if rg2 <= 0:
        raise ValueError("guinier: R_g² ≤ 0")
    rg = math.sqrt(rg2)
    rg_err = 0.5 * math.sqrt(max(cov[1, 1], 0.0)) / rg
    i0 = math.exp(coef[0])
    i0_err = i0 * math.sqrt(max(cov[0, 0], 0.0))
    return GuinierResult(
        rg, rg_err, i0, i0_err, (float(q[0]), float(q[n - 1])), float(q[n - 1] * rg), n, order
    )


# --------------------------------------------------------------------------- Porod
def window_mean(x: np.ndarray, y: np.ndarray) -> float:
    """Hann-weighted mean of y over [x₀, x₁] (trapezoid in x).

    A plain mean over a window holding a non-integer number of form-factor
    oscillations is off by up to 1/(2·periods); the Hann taper (sin² over
    the window) makes that error fall as periods⁻³.
    """
    t = (x - x[0]) / (x[-1] - x[0])
    w = np.sin(np.pi * t) ** 2
    return float(np.trapezoid(w * y, x) / np.trapezoid(w, x))


@dataclass
class PorodResult:
    K: float  # lim q⁴ I, 1/(cm·Å⁴)
    q_range: tuple[float, float]
    n: int
    surface_per_volume: float | None  # S/V of the particles, 1/Å, when contrast and φ were given

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def porod(
    data: Any,
    I: Any = None,
    *,
    q_range: tuple[float, float],
    contrast: float | None = None,
    volume_fraction: float | None = None,
) -> PorodResult:
    """Porod constant K = ⟨q⁴·I⟩ over ``q_range`` (Hann-weighted mean over q).

    Averaging in q over the window takes out the form-factor oscillations
    (cos² averages to ½) rather than fitting through them; the window should
    span at least ~2 oscillations (period π/R for a sphere). With ``contrast``
    (Δρ, 1e-6/Å²) and ``volume_fraction`` φ it also returns the particles'
    specific surface S/V = K / (2π·1e-4·Δρ²·φ).
    """
    q, Iv, _ = _arrays(data, I)
    lo, hi = q_range
    sel = np.isfinite(q) & np.isfinite(Iv) & (q >= lo) & (q <= hi)
    qs, Is = q[sel], Iv[sel]
    o = np.argsort(qs)
    qs, Is = qs[o], Is[o]
    if qs.size < 3:
        raise ValueError(f"porod: {qs.size} points in q range {q_range}; need at least 3")
    y = qs**4 * Is
    K = window_mean(qs, y)
    sv = None
    if contrast is not None and volume_fraction is not None:
        sv = K / (2 * math.pi * PREFACTOR * contrast**2 * volume_fraction)
    return PorodResult(K, (float(qs[0]), float(qs[-1])), int(qs.size), sv)


# --------------------------------------------------------------------------- invariant
@dataclass
class InvariantResult:
    Q: float  # ∫ q² I dq, 1/(cm·Å³)
    Q_measured: float  # part from the data window
    Q_low: float  # Guinier extrapolation below the window
    Q_high: float  # Porod tail above the window
    q_range: tuple[float, float]
    contrast_sq_phi: float  # Q / (2π²·1e-4) = φ·Δρ² for a two-phase system

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def invariant(
    data: Any,
    I: Any = None,
    *,
    q_range: tuple[float, float] | None = None,
    guinier_fit: GuinierResult | None = None,
    porod_K: float | None = None,
) -> InvariantResult:
    """Invariant Q = ∫₀^∞ q²·I dq from a curve, extrapolated at both ends.

    Below the window: the Guinier law (``guinier_fit``, fitted here if not
    given), integrated exactly. Above it: the Porod tail K/q_hi (``porod_K``,
    or K = q_hi⁴·I(q_hi) from the last point if not given).
    """
    q, Iv, sv = _arrays(data, I)
    sel = np.isfinite(q) & np.isfinite(Iv) & (q > 0)
    if q_range is not None:
        sel &= (q >= q_range[0]) & (q <= q_range[1])
    qs, Is = q[sel], Iv[sel]
    o = np.argsort(qs)
    qs, Is = qs[o], Is[o]
    if qs.size < 3:
        raise ValueError("invariant: fewer than 3 points in the window")
    if guinier_fit is None:
        sig = None
        if sv is not None:
            sig = sv[sel][o]
        guinier_fit = guinier(qs, Is, sig)
    q1, q2 = float(qs[0]), float(qs[-1])
    # ∫0^q1 q² I0 exp(-q² Rg²/3) dq, exactly
    a = guinier_fit.rg / math.sqrt(3.0)
    if a > 0:
        x = q1 * a
        head = (
            guinier_fit.i0
            / a**3
            * (math.sqrt(math.pi) / 4 * math.erf(x) - 0.5 * x * math.exp(-x * x))
        )
    else:
        head = guinier_fit.i0 * q1**3 / 3
    K = porod_K if porod_K is not None else float(q2**4 * Is[-1])
    tail = K / q2
    mid = float(np.trapezoid(qs**2 * Is, qs))
    Q = head + mid + tail
    return InvariantResult(Q, mid, head, tail, (q1, q2), Q / (2 * math.pi**2 * PREFACTOR))


# ----------------------------------------------------------------- exact values from sasmodels
def size_scale(name: str, pars: dict[str, Any]) -> tuple[float, float]:
    """(smallest, largest) length among the model's volume parameters (Å)."""
    table = sm.parameter_table(name)
    vals = []
    for p in table.values():
        if p.type == "volume" or p.name == "radius_effective":
            v = float(pars.get(p.name, p.default))
            if v > 0:
                vals.append(v)
    if not vals:
        raise ValueError(f"model {name!r}: no positive size parameter to set the q scale")
    return min(vals), max(vals)


def model_exact(name: str, pars: dict[str, Any]) -> dict[str, float]:
    """I(0), R_g, Porod constant K and invariant Q of a sasmodels model, numerically.

    See :func:`func_exact`; the length scales come from the model's size parameters.
    """
    pars = dict(pars)
    pars["background"] = 0.0
    a_min, a_max = size_scale(name, pars)
    return func_exact(lambda q: sm.evaluate(name, q, pars), a_min, a_max)


def func_exact(func: Any, a_min: float, a_max: float) -> dict[str, float]:
    """I(0), R_g, Porod constant K and invariant Q of a model ``func(q) -> I``.

    ``a_min``/``a_max``: smallest and largest particle dimension (Å).

    * I(0): the model at q = 1e-6/a_max;
    * R_g: −3·d ln I/d(q²) at q → 0, Richardson-extrapolated from q·a_max = 0.02, 0.04;
    * K: Hann-weighted mean of q⁴·I over q·a_min ∈ [40, 120] (many oscillations; Porod
      corrections ~ (q·a)⁻² are ~1e-3);
    * Q: ∫ q² I dq on a log grid up to q·a_min = 120, plus the tail K/q_max.
    """
    i0 = float(func(np.array([1e-6 / a_max]))[0])
    q1 = 0.02 / a_max
    I1, I2 = func(np.array([q1, 2 * q1]))
    rg2_1 = -3 * math.log(I1 / i0) / q1**2
    rg2_2 = -3 * math.log(I2 / i0) / (2 * q1) ** 2
    rg2 = (4 * rg2_1 - rg2_2) / 3
    qp = np.linspace(40 / a_min, 120 / a_min, 1601)
    K = window_mean(qp, qp**4 * func(qp))
    qi = np.geomspace(1e-4 / a_max, 120 / a_min, 4001)
    Ii = func(qi)
    Q = float(np.trapezoid(qi**2 * Ii, qi) + i0 * qi[0] ** 3 / 3 + K / qi[-1])
    return {"I0": i0, "rg": math.sqrt(max(rg2, 0.0)), "porod_K": K, "invariant": Q}
