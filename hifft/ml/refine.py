"""Predict, then refine: the network's best classes fitted by least squares from its estimate.

For one measured curve (an xarray Dataset from :func:`hifft.ml.readers.read_curve`):

1. the ensemble gives class probabilities and, per class, parameters with
   intervals (:class:`hifft.ml.inference.Predictor`);
2. every class among the ``top`` most probable (and any above ``p_min``) is
   refined by a sasmodels weighted least-squares fit
   (:func:`hifft.ml.baseline.fit_model`) started at the network's estimate,
   on the curve's own q points, smeared by its dQ when the file has one;
   bounds are the training priors widened by ``widen`` (so a particle
   somewhat outside them is still fitted, and flagged);
3. the refined candidate with the lowest AIC is the answer; its parameters
   carry intervals from the fit's curvature (:func:`hifft.ml.baseline.theta_covariance`);
4. out-of-distribution flags say when the answer should not be trusted:
   a poor fit (χ²_red beyond its 99.9 % quantile and above 1.5), a parameter
   outside the training prior or at the widened bound, a q window narrower
   than any seen in training or mostly outside the model grid.
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
from scipy.stats import chi2 as chi2_dist
from scipy.stats import norm

from . import shapes as S
from .baseline import fit_model, theta_covariance
from .config import AugmentConfig, DatasetConfig, Prior

#: parameters fitted on a linear scale, and the widest range refinement allows
LINEAR_LIMITS = {"radius_pd": (0.0, 0.35), "length_pd": (0.0, 0.35), "volfraction": (0.0, 0.5)}


@dataclass
class Candidate:
    """One refined class: parameters (Å for lengths), intervals, fit quality."""

    model: str
    probability: float
    params: dict[str, float]
    lower: dict[str, float]
    upper: dict[str, float]
    network: dict[str, float]
    scale: float
    background: float
    chi2: float
    chi2_red: float
    aic: float
    n_points: int
    outside_prior: list[str] = field(default_factory=list)
    seconds: float = 0.0


@dataclass
class Answer:
    """Predict + refine for one curve (see module doc); ``to_dict`` is JSON-ready."""

    source: str
    shape: str
    network_shape: str
    probabilities: dict[str, float]
    coverage: float
    candidates: list[Candidate]
    ood: list[str]
    q_range: tuple[float, float]
    dq_used: bool
    seconds_network: float
    seconds_refine: float

    @property
    def best(self) -> Candidate:
        return next(c for c in self.candidates if c.model == self.shape)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def widened(cfg: DatasetConfig, factor: float) -> DatasetConfig:
    """``cfg`` with every length prior's support stretched by ``factor`` each way (log-uniform)
    and the linear ones opened to :data:`LINEAR_LIMITS`; constraints unchanged."""
    upd: dict[str, Any] = {}
    for c in cfg.classes:
        spec = cfg.shapes.spec(c)
        new = {}
        for p in S.PARAMS[c]:
            pr: Prior = getattr(spec, p)
            lo, hi = pr.bounds()
            if p in S.LENGTHS:
                lo, hi = lo / factor, hi * factor
                new[p] = type(pr).model_validate({"dist": "loguniform", "low": lo, "high": hi})
            else:
                a, b = LINEAR_LIMITS[p]
                new[p] = type(pr).model_validate({"dist": "uniform", "low": min(a, lo), "high": max(b, hi)})
        upd["hardsphere" if c == "sphere@hardsphere" else c] = spec.model_copy(update=new)
    return cfg.model_copy(update={"shapes": cfg.shapes.model_copy(update=upd)})


def window_flags(q: np.ndarray, grid: np.ndarray, aug: AugmentConfig) -> list[str]:
    """Why the measured q window lies outside what training covered (empty: inside)."""
    flags = []
    q0, q1 = float(np.min(q)), float(np.max(q))
    lo_limit = max(aug.max_q_min if aug.p_truncate_low > 0 else grid[0], grid[0])
    hi_limit = min(aug.min_q_max if aug.p_truncate_high > 0 else grid[-1], grid[-1])
    if q0 > lo_limit:
        flags.append(f"q window starts at {q0:.4g} 1/Å, above the highest training q_min {lo_limit:.4g}")
    if q1 < hi_limit:
        flags.append(f"q window ends at {q1:.4g} 1/Å, below the lowest training q_max {hi_limit:.4g}")
    inside = np.mean((q >= grid[0]) & (q <= grid[-1]))
    if inside < 0.5:
        flags.append(
            f"only {100 * inside:.0f} % of the points lie in the model grid [{grid[0]:.4g}, {grid[-1]:.4g}] 1/Å"
        )
    return flags


def _arrays(curve: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray | None]:
    m = curve["mask"].values.astype(bool) if "mask" in curve else np.ones(curve.sizes["q"], dtype=bool)
    q = curve["q"].values.astype(np.float64)
    i = curve["I"].values.astype(np.float64)
    s = curve["sigma"].values.astype(np.float64)
    m &= np.isfinite(i) & np.isfinite(s) & (s > 0) & (q > 0)
    dq = curve["q_std"].values.astype(np.float64)[m] if "q_std" in curve else None
    if dq is not None and not (np.all(np.isfinite(dq)) and np.any(dq > 0)):
        dq = None
    return q[m], i[m], s[m], dq


def refine(
    predictor: Any,
    curve: Any,
    cfg: DatasetConfig,
    aug: AugmentConfig,
    top: int = 2,
    p_min: float = 0.05,
    widen: float = 3.0,
    max_nfev: int | None = None,
    source: str = "",
) -> Answer:
    """Predict + refine one 1D curve (see module doc).

    ``predictor``: a loaded ensemble; ``cfg``/``aug``: its dataset and
    augmentation config (priors, precision, trained q windows).
    """
    if curve["I"].ndim != 1:
        raise ValueError(f"{source or 'curve'}: refine takes one curve; pick one entry")
    pred = predictor.predict(curve)
    r = pred.isel(sample=0)
    probs = {str(c): float(p) for c, p in zip(pred["class"].values, r["prob"].values, strict=True)}
    order = sorted(probs, key=probs.__getitem__, reverse=True)
    chosen = [c for k, c in enumerate(order) if (k < top or probs[c] >= p_min) and c in cfg.classes]
    q, i, s, dq = _arrays(curve)
    wide = widened(cfg, widen)
    z = norm.ppf(0.5 + predictor.coverage / 2)
    t0 = time.perf_counter()
    cands = []
    for c in chosen:
        tc = time.perf_counter()
        net = {p: float(r["slot_value"].sel(slot=f"{c}:{p}")) for p in S.PARAMS[c]}
        start = _inside(wide, c, net)
        fit = fit_model(wide, c, q, i, s, scan=0, starts=0, extra=[start], max_nfev=max_nfev, dq=dq)
        cov = theta_covariance(wide, c, q, i, s, fit.params, dq)
        lower, upper = {}, {}
        for j, p in enumerate(S.PARAMS[c]):
            sd = math.sqrt(cov[j, j]) if np.isfinite(cov[j, j]) else math.inf
            v = fit.params[p]
            if p in S.LENGTHS:
                lower[p], upper[p] = v * math.exp(-z * sd), v * math.exp(z * sd)
            else:  # a linear parameter's interval stops at its physical limits (pd, φ ≥ 0)
                lo_p, hi_p = LINEAR_LIMITS.get(p, (-math.inf, math.inf))
                lower[p], upper[p] = max(lo_p, v - z * sd), min(hi_p, v + z * sd)
        dof = max(1, q.size - fit.k)
        cands.append(
            Candidate(
                c, probs[c], fit.params, lower, upper, net, fit.scale, fit.background, fit.chi2,
                fit.chi2 / dof, fit.aic, int(q.size), _outside(cfg, wide, c, fit.params), time.perf_counter() - tc,
            )
        )
    best = min(cands, key=lambda f: f.aic)
    ood = window_flags(q, predictor.q, aug)
    dof = max(1, q.size - len(S.PARAMS[best.model]) - 2)
    if best.chi2_red > 1.5 and chi2_dist.sf(best.chi2, dof) < 1e-3:
        ood.append(f"poor fit: χ²_red = {best.chi2_red:.3g} over {q.size} points")
    ood += [f"{best.model}: {w}" for w in best.outside_prior]
    return Answer(
        source,
        best.model,
        order[0],
        probs,
        float(predictor.coverage),
        cands,
        ood,
        (float(q.min()), float(q.max())),
        dq is not None,
        float(pred.attrs["seconds_network"]),
        time.perf_counter() - t0,
    )


def _inside(cfg: DatasetConfig, model: str, label: dict[str, float]) -> dict[str, float]:
    """The network's label clipped into ``cfg``'s prior supports (a start must be feasible)."""
    spec = cfg.shapes.spec(model)
    out = {}
    for p, v in label.items():
        lo, hi = getattr(spec, p).bounds()
        out[p] = float(np.clip(v if np.isfinite(v) else 0.5 * (lo + hi), lo, hi))
    return out


def _outside(cfg: DatasetConfig, wide: DatasetConfig, model: str, params: dict[str, float]) -> list[str]:
    """Parameters outside the training prior (and at the widened bound) of ``model``."""
    out = []
    for p, v in params.items():
        lo, hi = getattr(cfg.shapes.spec(model), p).bounds()
        wlo, whi = getattr(wide.shapes.spec(model), p).bounds()
        edge = abs(v - wlo) <= 1e-3 * (whi - wlo) or abs(v - whi) <= 1e-3 * (whi - wlo)
        if v < lo or v > hi or edge:
            note = " (at the fit's bound: the true value may lie further out)" if edge else ""
            out.append(f"{p} = {v:.4g} outside the training prior [{lo:.4g}, {hi:.4g}]{note}")
    return out


def plot(answer: Answer, curve: Any, cfg: DatasetConfig, path: Any) -> str:
    """Data, the refined best model (smeared as fitted) and normalised residuals, as a PNG."""
    import xarray as xr

    from ..io.plots import plot_iq

    q, i, s, dq = _arrays(curve)
    b = answer.best
    model = S.forward(b.model, q, b.params, cfg.shapes, b.scale, b.background, cfg.precision, dq)
    ds = xr.Dataset({"I": ("q", i), "sigma": ("q", s)}, coords={"q": q})
    ds["q"].attrs["units"] = "1/angstrom"
    ds["I"].attrs["units"] = "1/cm"
    label = f"{b.model} (p = {b.probability:.2f}), χ²_red = {b.chi2_red:.2f}"
    flag = " — OOD" if answer.ood else ""
    return plot_iq(ds, path, model=xr.DataArray(model, dims="q", name=label), title=f"{answer.source}{flag}",
                   data_label="data")
