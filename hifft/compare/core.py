"""Absolute-scale comparison of a reduced I(q) with a sasmodels model.

A radial bin is not a point: a shell of Fourier modes spans a range of |q|,
and near a form-factor minimum the model evaluated at the bin's mean q is off
by 15–40 % from the model averaged over the shell (reference/
scattering_anchors.md §5). :func:`compare_sasmodels` therefore averages the
model over each bin's own |q| distribution, carried by the reduction as
``q_samples``/``q_weights`` (dims ``("q", "sub")``):

    I_model(bin) = Σ_s w_s · I_sas(q_s) / Σ_s w_s

and falls back to a Gauss–Hermite average over ``q_std``, then to the bin's
mean q, only when those are absent (the method used is recorded).

χ²_red = Σ ((I − I_model)/σ)² / (n − n_fitted), with σ the Dataset's
``sigma`` (= max(SEM, E_min·I) from the reduction) unless given.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import xarray as xr

from . import sasmodels_ as sm

#: Default trusted window: from 3 box modes (fewer modes per shell: speckle
#: and the box's own discreteness) to q·d = 1 (beyond it the voxel staircase
#: and aliasing exceed ~2 %, reference/scattering_anchors.md §5).
DEFAULT_QMIN_MODES = 3.0
DEFAULT_QD_MAX = 1.0


# --------------------------------------------------------------------------- helpers
def _attr_json(ds: xr.Dataset, key: str) -> Any:
    v = ds.attrs.get(key)
    if isinstance(v, str):
        try:
            return json.loads(v)
        except ValueError:
            return v
    return v


def grid_info(ds: xr.Dataset) -> tuple[float | None, float | None]:
    """(voxel spacing d in Å, box fundamental 2π/L in 1/Å) from a Dataset's attrs, if recorded.

    Understands ``attrs["grid"]`` as a Grid dict (or its JSON), or plain
    ``spacing``/``shape`` attrs. Anisotropic grids give the largest spacing
    (the first to alias) and the largest 2π/L (the coarsest box mode).
    """
    g = _attr_json(ds, "grid")
    spacing = shape = None
    if isinstance(g, dict):
        spacing, shape = g.get("spacing"), g.get("shape")
    if spacing is None:
        spacing = _attr_json(ds, "spacing")
    if shape is None:
        shape = _attr_json(ds, "shape")
    d = dq = None
    if spacing is not None:
        sp = np.atleast_1d(np.asarray(spacing, dtype=float))
        d = float(sp.max())
        if shape is not None:
            sh = np.atleast_1d(np.asarray(shape, dtype=float))
            if sh.size == 1:
                sh = np.repeat(sh, sp.size)
            if sp.size == 1:
                sp = np.repeat(sp, sh.size)
            dq = float(np.max(2 * np.pi / (sh * sp)))
    return d, dq


def _gauss_hermite(n: int = 7) -> tuple[np.ndarray, np.ndarray]:
    x, w = np.polynomial.hermite_e.hermegauss(n)
    return x, w / w.sum()


def bin_average(
    func: Callable[[np.ndarray], np.ndarray],
    q: np.ndarray,
    q_samples: np.ndarray | None = None,
    q_weights: np.ndarray | None = None,
    q_std: np.ndarray | None = None,
) -> tuple[np.ndarray, str]:
    """``func`` averaged over each bin's |q| distribution; returns (values, method).

    ``func`` maps an array of q (1/Å, any shape) to I of the same shape.

    method is ``"samples"`` (q_samples/q_weights), ``"gauss"`` (a 7-point
    Gauss–Hermite rule over mean ± q_std) or ``"point"`` (mean q only).
    Bins whose samples carry no weight fall back to their mean q.
    """
    q = np.asarray(q, dtype=np.float64)
    if q_samples is not None and q_weights is not None:
        qs = np.asarray(q_samples, dtype=np.float64)
        ws = np.asarray(q_weights, dtype=np.float64)
        if qs.shape != ws.shape or qs.shape[0] != q.size:
            raise ValueError(
                f"q_samples {qs.shape} and q_weights {ws.shape} must both be (n_q={q.size}, n_sub)"
            )
        ok = np.isfinite(qs) & np.isfinite(ws) & (ws > 0) & (qs > 0)
        wsum = np.where(ok, ws, 0.0).sum(axis=1)
        vals = np.empty(q.size)
        if ok.any():
            Im = func(qs[ok])
            num = np.zeros(qs.shape)
            num[ok] = Im * ws[ok]
            with np.errstate(invalid="ignore", divide="ignore"):
                vals = num.sum(axis=1) / wsum
        empty = wsum <= 0
        if empty.any():
            vals[empty] = func(q[empty])
        return vals, "samples"
    if q_std is not None:
        s = np.nan_to_num(np.asarray(q_std, dtype=np.float64), nan=0.0)
        x, w = _gauss_hermite()
        pts = q[:, None] + s[:, None] * x[None, :]
        pts = np.where(pts > 0, pts, q[:, None])
        return func(pts) @ w, "gauss"
    return func(q), "point"


def _lstsq(I: np.ndarray, m: np.ndarray, sig: np.ndarray, fit_scale: bool, fit_bkg: bool):
    """Weighted linear least squares for I ≈ a·m + b; returns a, b, cov (2×2, zeros where fixed)."""
    w = 1.0 / sig**2
    cov = np.zeros((2, 2))
    if fit_scale and fit_bkg:
        A = np.array([[np.sum(w * m * m), np.sum(w * m)], [np.sum(w * m), np.sum(w)]])
        rhs = np.array([np.sum(w * m * I), np.sum(w * I)])
        cov = np.linalg.inv(A)
        a, b = cov @ rhs
        return float(a), float(b), cov
    if fit_scale:
        s = np.sum(w * m * m)
        cov[0, 0] = 1.0 / s
        return float(np.sum(w * m * I) / s), 0.0, cov
    if fit_bkg:
        s = np.sum(w)
        cov[1, 1] = 1.0 / s
        return 1.0, float(np.sum(w * (I - m)) / s), cov
    return 1.0, 0.0, cov


# --------------------------------------------------------------------------- result
@dataclass
class Comparison:
    """Outcome of :func:`compare_sasmodels`.

    ``model``, ``residuals`` (normalized, (I − I_model)/σ) and ``ratio``
    (I/I_model) are DataArrays on the Dataset's full q; the coordinate
    ``used`` marks the bins inside ``q_range`` that enter χ².
    """

    model_name: str
    pars: dict[str, Any]
    chi2: float
    chi2_sum: float
    n: int
    n_fitted: int
    scale: float
    background: float
    scale_err: float
    background_err: float
    fit_scale: bool
    fit_background: bool
    model: xr.DataArray
    residuals: xr.DataArray
    ratio: xr.DataArray
    q_range: tuple[float, float]
    qd_range: tuple[float, float] | None
    spacing: float | None
    averaging: str
    attrs: dict[str, Any] = field(default_factory=dict)

    @property
    def dof(self) -> int:
        return self.n - self.n_fitted

    @property
    def max_abs_rel(self) -> float:
        """Largest |I/I_model − 1| over the bins used."""
        r = self.ratio.where(self.ratio["used"])
        return float(np.nanmax(np.abs(r.values - 1.0)))

    @property
    def rms_rel(self) -> float:
        """Root-mean-square of I/I_model − 1 over the bins used."""
        r = self.ratio.values[self.ratio["used"].values]
        return float(np.sqrt(np.mean((r - 1.0) ** 2)))

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": self.model_name,
            "pars": self.pars,
            "chi2": self.chi2,
            "chi2_sum": self.chi2_sum,
            "n": self.n,
            "n_fitted": self.n_fitted,
            "scale": self.scale,
            "background": self.background,
            "scale_err": self.scale_err,
            "background_err": self.background_err,
            "q_range": list(self.q_range),
            "qd_range": None if self.qd_range is None else list(self.qd_range),
            "spacing": self.spacing,
            "averaging": self.averaging,
            "rms_rel": self.rms_rel,
            "max_abs_rel": self.max_abs_rel,
        }

    def __repr__(self) -> str:
        qd = "" if self.qd_range is None else f", q·d {self.qd_range[0]:.3g}–{self.qd_range[1]:.3g}"
        fit = [s for s, f in (("scale", self.fit_scale), ("background", self.fit_background)) if f]
        return (
            f"Comparison({self.model_name}: chi2_red={self.chi2:.3g} (n={self.n}, "
            f"fitted={fit or 'none'}), q {self.q_range[0]:.4g}–{self.q_range[1]:.4g} 1/Å{qd}, "
            f"scale={self.scale:.5g}, background={self.background:.3g}, averaging={self.averaging})"
        )


# --------------------------------------------------------------------------- main entry
def _resolve_q_range(
    q: np.ndarray, q_range: Any, qd_max: float | None, d: float | None, dq: float | None
) -> tuple[float, float]:
    lo, hi = -np.inf, np.inf
    if q_range is None or q_range == "auto":
        if dq is not None:
            lo = DEFAULT_QMIN_MODES * dq
        if d is not None:
            hi = (DEFAULT_QD_MAX if qd_max is None else qd_max) / d
    elif q_range == "all":
        pass
    else:
        a, b = q_range
        lo = -np.inf if a is None else float(a)
        hi = np.inf if b is None else float(b)
    if q_range not in (None, "auto") and qd_max is not None:
        if d is None:
            raise ValueError(
                "qd_max needs the voxel spacing: pass spacing= or a Dataset with grid attrs"
            )
        hi = min(hi, qd_max / d)
    return lo, hi


def compare_sasmodels(
    ds: xr.Dataset,
    model: str,
    *,
    fit_scale: bool = False,
    fit_background: bool = False,
    q_range: Any = "auto",
    qd_max: float | None = None,
    sigma: Any = None,
    min_rel_sigma: float | None = None,
    spacing: float | None = None,
    average: str = "auto",
    **pars: Any,
) -> Comparison:
    """Compare a reduced I(q) with sasmodels' ``model`` on absolute scale.

    Parameters
    ----------
    ds : xarray.Dataset
        From :func:`hifft.saxs`: coordinate ``q`` (1/Å), ``I`` and ``sigma``
        (1/cm), ideally ``q_samples``/``q_weights`` (``("q", "sub")``).
    model : str
        A sasmodels model name (``"sphere"``, ``"sphere@hardsphere"``,
        ``"sphere+cylinder"``, ...).
    **pars
        sasmodels parameters with sasmodels' names, in hifft/sasmodels units
        (Å, 1e-6/Å²), including polydispersity (``radius_pd=0.1,
        radius_pd_type="schulz"``; ``radius_pd_n`` defaults to 81, not to
        sasmodels' silent 0). Every SLD parameter (``sld``, ``sld_solvent``,
        ...) must be passed. ``scale`` is the volume fraction for a form
        factor (absolute scale, no fit); for a ``P@S`` model pass
        ``volfraction=φ`` and leave ``scale=1``.
    fit_scale, fit_background : bool
        Fit I ≈ a·I_model + b in closed form (weighted linear least squares);
        the reported ``scale`` is the given scale times a.
    q_range : "auto" | "all" | (q_lo, q_hi)
        "auto" (default): from 3·2π/L to q·d = ``qd_max`` (default 1.0) when
        the grid is known from ``ds.attrs``, else all bins.
    qd_max : float, optional
        Upper limit in q·d (clips an explicit q_range too).
    sigma : None | str | array
        None: ``ds["sigma"]``; a variable name of ``ds``; or an array.
    min_rel_sigma : float, optional
        Extra floor σ ≥ min_rel_sigma·|I|.
    spacing : float, optional
        Voxel size d in Å where ``ds.attrs`` do not record the grid.
    average : "auto" | "samples" | "gauss" | "point"
        How the model is averaged over a bin (see :func:`bin_average`).
    """
    if (
        "scale" not in pars
        and not sm.is_product(model)
        and not fit_scale
        and not any(k.endswith("_scale") for k in pars)
    ):
        raise ValueError(
            "compare_sasmodels: pass scale= (the volume fraction, for absolute scale) "
            "or fit_scale=True"
        )
    pars = sm.check_pars(model, pars)
    pars.setdefault("scale", 1.0)
    pars.setdefault("background", 0.0)
    base = dict(pars)
    base["background"] = 0.0  # averaging is linear; the constant is added afterwards

    def func(q: np.ndarray) -> np.ndarray:
        return sm.evaluate(model, q, base)

    return compare_model(
        ds,
        func,
        label=model,
        pars=pars,
        fit_scale=fit_scale,
        fit_background=fit_background,
        q_range=q_range,
        qd_max=qd_max,
        sigma=sigma,
        min_rel_sigma=min_rel_sigma,
        spacing=spacing,
        average=average,
    )


def compare_model(
    ds: xr.Dataset,
    func: Callable[[np.ndarray], np.ndarray],
    *,
    label: str = "model",
    pars: dict[str, Any] | None = None,
    fit_scale: bool = False,
    fit_background: bool = False,
    q_range: Any = "auto",
    qd_max: float | None = None,
    sigma: Any = None,
    min_rel_sigma: float | None = None,
    spacing: float | None = None,
    average: str = "auto",
) -> Comparison:
    """:func:`compare_sasmodels` for any model ``func(q) -> I`` (1/Å → 1/cm, background-free).

    ``pars`` is recorded in the result (its ``scale`` multiplies a fitted
    scale; its ``background`` is added to ``func`` unless fitted).
    """
    pars = dict(pars or {})
    pars.setdefault("scale", 1.0)
    pars.setdefault("background", 0.0)
    if "q" not in ds.coords or "I" not in ds:
        raise ValueError("compare: Dataset needs coordinate 'q' and variable 'I'")
    q = np.asarray(ds["q"].values, dtype=np.float64)
    I = np.asarray(ds["I"].values, dtype=np.float64)
    if sigma is None:
        if "sigma" not in ds:
            raise ValueError("compare: Dataset has no 'sigma'; pass sigma=")
        sig = np.asarray(ds["sigma"].values, dtype=np.float64)
    elif isinstance(sigma, str):
        sig = np.asarray(ds[sigma].values, dtype=np.float64)
    else:
        sig = np.broadcast_to(np.asarray(sigma, dtype=np.float64), q.shape).copy()
    if min_rel_sigma is not None:
        sig = np.maximum(sig, float(min_rel_sigma) * np.abs(I))

    d_attr, dq = grid_info(ds)
    d = float(spacing) if spacing is not None else d_attr
    lo, hi = _resolve_q_range(q, q_range, qd_max, d, dq)

    # model, averaged over each bin's q distribution
    has_samples = "q_samples" in ds and "q_weights" in ds
    method = average
    if average == "auto":
        method = "samples" if has_samples else ("gauss" if "q_std" in ds else "point")
    if method == "samples" and not has_samples:
        raise ValueError("average='samples' needs q_samples and q_weights in the Dataset")
    if method == "gauss" and "q_std" not in ds:
        raise ValueError("average='gauss' needs q_std in the Dataset")
    valid_q = np.isfinite(q) & (q > 0)
    model_vals = np.full(q.size, np.nan)
    idx = np.flatnonzero(valid_q)
    bkg0 = float(pars["background"])
    if idx.size:
        qs = ds["q_samples"].transpose("q", ...).values[idx] if method == "samples" else None
        qw = ds["q_weights"].transpose("q", ...).values[idx] if method == "samples" else None
        qstd = ds["q_std"].values[idx] if method == "gauss" else None
        vals, used_method = bin_average(func, q[idx], qs, qw, qstd)
        model_vals[idx] = vals
        method = used_method

    used = valid_q & np.isfinite(I) & np.isfinite(sig) & (sig > 0) & (q >= lo) & (q <= hi)
    if "count" in ds:
        used &= np.asarray(ds["count"].values) > 0
    n = int(used.sum())
    n_fitted = int(fit_scale) + int(fit_background)
    if n <= n_fitted:
        raise ValueError(
            f"compare: {n} bins in q range [{lo:.4g}, {hi:.4g}] 1/Å; need more than {n_fitted}"
        )

    m_u, I_u, s_u = model_vals[used], I[used], sig[used]
    a, b, cov = _lstsq(I_u, m_u, s_u, fit_scale, fit_background)
    b_total = b if fit_background else bkg0
    full_model = a * model_vals + b_total
    resid = (I - full_model) / sig
    chi2_sum = float(np.sum(resid[used] ** 2))
    dof = n - n_fitted
    chi2 = chi2_sum / dof

    q_used = q[used]
    q_lo, q_hi = float(q_used.min()), float(q_used.max())
    qd = (q_lo * d, q_hi * d) if d is not None else None

    coords = {"q": ds["q"], "used": ("q", used)}
    attrs_I = {"units": "1/cm"}
    model_da = xr.DataArray(
        full_model,
        dims=("q",),
        coords=coords,
        name="I_model",
        attrs={**attrs_I, "model": label, "averaging": method},
    )
    resid_da = xr.DataArray(
        resid,
        dims=("q",),
        coords=coords,
        name="residuals",
        attrs={"long_name": "(I - I_model)/sigma", "units": ""},
    )
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio_da = xr.DataArray(
            I / full_model,
            dims=("q",),
            coords=coords,
            name="ratio",
            attrs={"long_name": "I / I_model", "units": ""},
        )
    out_pars = dict(pars)
    out_pars["scale"] = pars["scale"] * a
    out_pars["background"] = b_total
    return Comparison(
        model_name=label,
        pars=out_pars,
        chi2=chi2,
        chi2_sum=chi2_sum,
        n=n,
        n_fitted=n_fitted,
        scale=out_pars["scale"],
        background=b_total,
        scale_err=float(pars["scale"] * math.sqrt(cov[0, 0])) if fit_scale else 0.0,
        background_err=float(math.sqrt(cov[1, 1])) if fit_background else 0.0,
        fit_scale=fit_scale,
        fit_background=fit_background,
        model=model_da,
        residuals=resid_da,
        ratio=ratio_da,
        q_range=(q_lo, q_hi),
        qd_range=qd,
        spacing=d,
        averaging=method,
        attrs={"q_window": (lo, hi), "box_dq": dq},
    )
