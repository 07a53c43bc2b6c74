"""Classical baseline: weighted least squares with sasmodels + scipy, per candidate shape.

For every candidate class the shape parameters are fitted with
``scipy.optimize.least_squares`` (trust-region reflective) on residuals
``(s·P(q; θ) + b − I) / σ``. Scale ``s`` and flat background ``b`` enter
linearly and are solved exactly for every θ (non-negative weighted least
squares: variable projection), so the optimizer only sees the shape
parameters.

The search space is the priors' (:class:`hifft.ml.config.ShapesConfig`):
box bounds = each prior's support (lengths in log space; ±4σ for an
untruncated normal), and the shape constraints the dataset draws under
(cylinder length ≥ ``min_length_over_diameter`` × diameter, ellipsoid axis
ratio ≥ ``min_axis_ratio``) as a stiff penalty residual, with the final
point projected onto the feasible set. An ellipsoid is fitted on both
branches (prolate and oblate) separately, because the ratio constraint cuts
its space in two.

Starts: ``scan`` scrambled Sobol points (scipy.stats.qmc) mapped through the
priors' inverse CDFs, of which the ``starts`` (≥ 20 by default) feasible ones
with the lowest χ² are refined; plus the fits of classes fitted before where
parameters are shared (nested models: the hard-sphere fit also starts from
the sphere fit), plus, optionally, the labels of the nearest training curves
(:class:`CurveLibrary`, a k-d tree on normalized log I). The class with the
smallest AIC (χ² + 2k, k = free parameters including scale and background)
wins: plain χ² would always pick the hard-sphere model over the sphere it
contains.

Time per curve is wall and process CPU time of all candidate fits.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy.optimize import least_squares, nnls
from scipy.stats import norm, qmc, truncnorm

from ..runner import Outcome, Runner, client_context
from . import shapes as S
from .config import DatasetConfig, Prior

#: Weight of the constraint penalty: a violation of 1e-4 in log length costs Δχ² = 1.
PENALTY = 1e4


@dataclass
class Fit:
    model: str
    params: dict[str, float]
    scale: float
    background: float
    chi2: float
    aic: float
    nfev: int
    #: free parameters (shape parameters + scale + background)
    k: int = 0


@dataclass
class CurveFit:
    best: str
    fits: dict[str, Fit] = field(default_factory=dict)
    seconds: float = 0.0
    cpu_seconds: float = 0.0


def prior_ppf(prior: Prior, u: np.ndarray) -> np.ndarray:
    """Values of ``prior`` at quantiles ``u`` ∈ (0, 1): maps a uniform design onto the prior."""
    u = np.clip(np.asarray(u, dtype=np.float64), 1e-12, 1 - 1e-12)
    d = prior.dist
    if d == "fixed":
        return np.full(u.shape, float(prior.value))  # type: ignore[arg-type]
    if d == "uniform":
        return prior.low + u * (prior.high - prior.low)  # type: ignore[operator]
    if d == "loguniform":
        lo, hi = math.log(prior.low), math.log(prior.high)  # type: ignore[arg-type]
        return np.exp(lo + u * (hi - lo))
    if d == "normal":
        return norm.ppf(u, loc=prior.mean, scale=prior.std)
    a = (prior.low - prior.mean) / prior.std  # type: ignore[operator]
    b = (prior.high - prior.mean) / prior.std  # type: ignore[operator]
    return truncnorm.ppf(u, a, b, loc=prior.mean, scale=prior.std)


def _bounds(cfg: DatasetConfig, model: str) -> tuple[np.ndarray, np.ndarray]:
    spec = cfg.shapes.spec(model)
    lo, hi = [], []
    for p in S.PARAMS[model]:
        a, b = getattr(spec, p).bounds()
        if not (math.isfinite(a) and math.isfinite(b)):
            pr = getattr(spec, p)
            a, b = pr.mean - 4 * pr.std, pr.mean + 4 * pr.std
        if p in S.LENGTHS:
            a, b = math.log(max(a, 1e-3)), math.log(b)
        else:
            a = max(a, 0.0)
        if b <= a:
            b = a + 1e-6
        lo.append(a)
        hi.append(b)
    return np.asarray(lo), np.asarray(hi)


def _theta_to_label(model: str, th: np.ndarray) -> dict[str, float]:
    return {p: (math.exp(t) if p in S.LENGTHS else float(t)) for p, t in zip(S.PARAMS[model], th, strict=True)}


def _label_to_theta(model: str, label: dict[str, float]) -> np.ndarray:
    return np.array([math.log(label[p]) if p in S.LENGTHS else float(label[p]) for p in S.PARAMS[model]])


def _violation(cfg: DatasetConfig, model: str, th: np.ndarray, branch: int) -> float:
    """How far (in log length) θ lies outside the class's constraint; 0 when feasible.

    ``branch``: for the ellipsoid, +1 prolate (polar ≥ ratio·equatorial), −1 oblate.
    """
    if model == "cylinder" and cfg.shapes.cylinder.min_length_over_diameter > 0:
        return max(0.0, math.log(2 * cfg.shapes.cylinder.min_length_over_diameter) + th[0] - th[1])
    if model == "ellipsoid":
        return max(0.0, math.log(cfg.shapes.ellipsoid.min_axis_ratio) - branch * (th[0] - th[1]))
    return 0.0


def _project(cfg: DatasetConfig, model: str, th: np.ndarray, branch: int, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """θ moved onto the constraint where it lies (slightly) outside it, kept in the box."""
    v = _violation(cfg, model, th, branch)
    if v <= 0:
        return th
    th = th.copy()
    # lengthen the long axis (cylinder length, ellipsoid's long semi-axis), or at the box edge shorten the other
    j, other = (1, 0) if model == "cylinder" else ((0, 1) if branch > 0 else (1, 0))
    if th[j] + v <= hi[j]:
        th[j] += v
    else:
        th[other] -= v
    return np.clip(th, lo, hi)


class _Problem:
    def __init__(
        self, cfg: DatasetConfig, model: str, q: np.ndarray, i: np.ndarray, s: np.ndarray,
        dq: np.ndarray | None = None,
    ) -> None:
        self.cfg, self.model, self.q, self.i, self.s, self.dq = cfg, model, q, i, s, dq
        self.w = 1.0 / s
        self.nfev = 0

    def shape_curve(self, th: np.ndarray) -> np.ndarray:
        self.nfev += 1
        return S.forward(
            self.model,
            self.q,
            _theta_to_label(self.model, th),
            self.cfg.shapes,
            1.0,
            0.0,
            self.cfg.precision,
            self.dq,
        )

    def linear(self, p: np.ndarray) -> tuple[float, float, np.ndarray]:
        a = np.stack([p * self.w, self.w], axis=1)
        coef, _ = nnls(a, self.i * self.w)
        r = (coef[0] * p + coef[1] - self.i) * self.w
        return float(coef[0]), float(coef[1]), r

    def residuals(self, th: np.ndarray) -> np.ndarray:
        return self.linear(self.shape_curve(th))[2]

    def chi2(self, th: np.ndarray) -> float:
        return float(np.sum(self.residuals(th) ** 2))


def sobol_draws(cfg: DatasetConfig, model: str, n: int, seed: int) -> list[np.ndarray]:
    """Feasible θ (log lengths) from ``n`` (rounded up to a power of 2) Sobol points mapped through the priors."""
    spec = cfg.shapes.spec(model)
    names = S.PARAMS[model]
    # a power of two keeps the Sobol sequence balanced (scipy warns otherwise)
    u = qmc.Sobol(len(names), scramble=True, seed=seed).random_base2(max(0, math.ceil(math.log2(max(n, 1)))))
    vals = {p: prior_ppf(getattr(spec, p), u[:, j]) for j, p in enumerate(names)}
    bad = S.violations(model, spec, vals)  # the dataset's own constraint test
    return [_label_to_theta(model, {p: vals[p][r] for p in names}) for r in np.flatnonzero(~bad)]


@dataclass(frozen=True)
class CurveLibrary:
    """Nearest-neighbour starts: labelled curves on a fixed q grid, searched by normalized log I.

    ``log_i`` (n, q) holds ln I of library curves, each minus its mean (so an
    unknown scale drops out); one k-d tree (scipy.spatial.cKDTree) per class.
    """

    q: np.ndarray
    trees: dict[str, Any]
    labels: dict[str, list[dict[str, float]]]

    @classmethod
    def from_arrays(cls, q: np.ndarray, i: np.ndarray, shape: np.ndarray, labels: dict[str, np.ndarray],
                    classes: tuple[str, ...] | list[str] = S.CLASSES) -> CurveLibrary:
        """A library from curves ``i`` (n, q) with class indices ``shape`` and label columns ``labels``."""
        from scipy.spatial import cKDTree

        x = _normalized_log(np.asarray(i, dtype=np.float64))
        trees, labs = {}, {}
        for c in classes:
            sel = np.flatnonzero(np.asarray(shape) == S.class_index(c))
            if sel.size:
                trees[c] = cKDTree(x[sel])
                labs[c] = [{p: float(labels[p][r]) for p in S.PARAMS[c]} for r in sel]
        return cls(np.asarray(q, dtype=np.float64), trees, labs)

    @classmethod
    def from_dataset(cls, ds: Any, split: int = 0, max_curves: int | None = None) -> CurveLibrary:
        """A library from an hifft ML dataset (:func:`hifft.ml.dataset.open_dataset`), its ``split`` curves."""
        sel = np.flatnonzero(ds["split"].values == split)[:max_curves]
        sub = ds.isel(sample=sel).load()
        # the noise-free curves where the store has them: a lookup table of the forward model
        curves = sub["I_true"].values if "I_true" in sub else sub["I"].values
        return cls.from_arrays(sub["q"].values, curves, sub["shape"].values,
                               {p: sub[p].values for p in S.ALL_PARAMS})

    def nearest(self, model: str, q: np.ndarray, i: np.ndarray, k: int) -> list[dict[str, float]]:
        """Labels of the ``k`` library curves of class ``model`` closest to curve ``i`` on grid ``q``."""
        if model not in self.trees or k <= 0:
            return []
        li = np.interp(np.log(self.q), np.log(q), np.log(np.maximum(i, 1e-300)))
        _, idx = self.trees[model].query(_normalized_log(np.exp(li))[0], k=min(k, self.trees[model].n))
        return [self.labels[model][j] for j in np.atleast_1d(idx)]


def _normalized_log(i: np.ndarray) -> np.ndarray:
    x = np.log(np.maximum(np.atleast_2d(i), 1e-300))
    return x - x.mean(axis=1, keepdims=True)


def fit_model(
    cfg: DatasetConfig,
    model: str,
    q: np.ndarray,
    i: np.ndarray,
    s: np.ndarray,
    seed: int = 0,
    scan: int = 128,
    starts: int = 20,
    warm: list[dict[str, float]] | None = None,
    extra: list[dict[str, float]] | None = None,
    max_nfev: int | None = None,
    dq: np.ndarray | None = None,
) -> Fit:
    """Fit one class from ``starts`` Sobol starts (of ``scan``), warm starts and ``extra`` labels.

    ``warm``: fitted parameters of other classes; each gives one more start
    where parameter names are shared (e.g. the sphere fit starts the
    hard-sphere fit at a small volume fraction). ``extra``: full labels of
    this class (library neighbours). ``max_nfev``: evaluations per local fit
    (default 100 × (parameters + 1)). ``scan=0`` or ``starts=0``: no Sobol
    starts (a local refinement from ``extra``). ``dq``: 1-σ pinhole
    resolution per q point (1/Å), the model is smeared by it.
    """
    lo, hi = _bounds(cfg, model)
    prob = _Problem(cfg, model, q, i, s, dq)
    start_points: list[np.ndarray] = []
    if scan > 0 and starts > 0:
        draws = sobol_draws(cfg, model, scan, seed)
        scored = sorted(((prob.chi2(th), k) for k, th in enumerate(draws)), key=lambda c: c[0])
        start_points = [draws[k] for _, k in scored[:starts]]
    base = _theta_to_label(model, start_points[0]) if start_points else {}
    defaults = {"volfraction": 0.001}
    names = S.PARAMS[model]
    start_points += [
        _label_to_theta(model, {p: float(w.get(p, defaults.get(p, base.get(p, math.nan)))) for p in names})
        for w in warm or []
        if base and any(p in w for p in names)
    ]
    start_points += [_label_to_theta(model, lab) for lab in extra or []]
    if not start_points:
        raise ValueError(f"{model}: no feasible start among {scan} Sobol draws of the priors")
    nfev = max_nfev or 100 * (len(lo) + 1)
    # finite-difference step: float32 kernels (rounding ~1e-7) need a wider one than float64
    step = 1e-3 if cfg.precision == "single" else None
    best: tuple[float, np.ndarray] | None = None
    eps = 1e-9 * (hi - lo)
    for th0 in start_points:
        th0 = np.clip(th0, lo + eps, hi - eps)
        branches = [1 if th0[0] >= th0[1] else -1] if model == "ellipsoid" else [0]
        for br in branches:

            def res(th: np.ndarray, br: int = br) -> np.ndarray:
                return np.append(prob.residuals(th), PENALTY * _violation(cfg, model, th, br))

            r = least_squares(res, th0, bounds=(lo, hi), x_scale="jac", method="trf", max_nfev=nfev, diff_step=step)
            th = _project(cfg, model, r.x, br, lo, hi)
            c2 = prob.chi2(th)
            if best is None or c2 < best[0]:
                best = (c2, th)
    assert best is not None
    c2, th = best
    sc, bg, _ = prob.linear(prob.shape_curve(th))
    k = len(th) + 2
    return Fit(model, _theta_to_label(model, th), sc, bg, c2, c2 + 2 * k, prob.nfev, k)


def chi2_at(
    cfg: DatasetConfig,
    model: str,
    q: np.ndarray,
    i: np.ndarray,
    s: np.ndarray,
    params: dict[str, float],
    dq: np.ndarray | None = None,
) -> float:
    """χ² of class ``model`` at ``params`` (scale and background profiled out), e.g. at the truth."""
    return _Problem(cfg, model, q, i, s, dq).chi2(_label_to_theta(model, params))


def theta_covariance(
    cfg: DatasetConfig,
    model: str,
    q: np.ndarray,
    i: np.ndarray,
    s: np.ndarray,
    params: dict[str, float],
    dq: np.ndarray | None = None,
) -> np.ndarray:
    """Covariance of θ (log lengths, plain otherwise) at ``params`` from the Gauss–Newton curvature.

    The Jacobian of the weighted residuals (scale and background re-solved
    at every point: the profile over the linear parameters) by central
    differences; ``(JᵀJ)⁻¹`` scaled by χ²_red when above 1 (errors that
    underestimate the scatter widen the intervals). A direction the data do
    not constrain gets an infinite variance (pseudo-inverse rank test).
    """
    prob = _Problem(cfg, model, q, i, s, dq)
    th = _label_to_theta(model, params)
    step = 1e-3 if cfg.precision == "single" else 1e-4
    jac = np.empty((q.size, th.size))
    for j in range(th.size):
        d = np.zeros_like(th)
        d[j] = step
        jac[:, j] = (prob.residuals(th + d) - prob.residuals(th - d)) / (2 * step)
    chi2 = prob.chi2(th)
    dof = max(1, q.size - th.size - 2)
    jtj = jac.T @ jac
    cov = np.linalg.pinv(jtj, rcond=1e-10) * max(1.0, chi2 / dof)
    weak = np.diag(jtj) <= 1e-12 * max(float(np.max(np.diag(jtj))), 1e-300)
    cov[weak, :] = np.inf
    cov[:, weak] = np.inf
    return cov


def fit_curve(
    cfg: DatasetConfig,
    q: np.ndarray,
    i: np.ndarray,
    s: np.ndarray,
    mask: np.ndarray | None = None,
    seed: int = 0,
    scan: int = 128,
    starts: int = 20,
    classes: list[str] | None = None,
    library: CurveLibrary | None = None,
    neighbours: int = 5,
    max_nfev: int | None = None,
) -> CurveFit:
    """Fit every candidate class to one curve; the lowest AIC wins.

    ``library``: adds the labels of the ``neighbours`` nearest library curves
    of each class as starts.
    """
    m = np.ones(q.size, dtype=bool) if mask is None else np.asarray(mask, dtype=bool).copy()
    m &= np.isfinite(i) & np.isfinite(s) & (s > 0)
    q, i, s = q[m], np.asarray(i, dtype=np.float64)[m], np.asarray(s, dtype=np.float64)[m]
    t0, c0 = time.perf_counter(), time.process_time()
    fits: dict[str, Fit] = {}
    for c in classes or cfg.classes:
        warm = [f.params for f in fits.values()]
        extra = library.nearest(c, q, i, neighbours) if library is not None else None
        fits[c] = fit_model(cfg, c, q, i, s, seed, scan, starts, warm, extra, max_nfev)
    best = min(fits.values(), key=lambda f: f.aic).model
    return CurveFit(best, fits, time.perf_counter() - t0, time.process_time() - c0)


@dataclass(frozen=True)
class FitSettings:
    """What every curve of a :func:`fit_many` job shares: the priors, the q grid (1/Å) and the search."""

    cfg: DatasetConfig
    q: np.ndarray
    scan: int = 128
    starts: int = 20
    library: CurveLibrary | None = None
    neighbours: int = 5


@dataclass(frozen=True)
class CurveTask:
    """One curve to fit: row ``index`` of the job, I and σ in 1/cm, mask of measured points."""

    index: int
    i: np.ndarray
    s: np.ndarray
    m: np.ndarray

    @property
    def name(self) -> str:
        return f"curve-{self.index:06d}"


def fit_task(task: CurveTask, job: FitSettings) -> Outcome:
    """Runner task: fit every class to one curve (seeded by its index); a JSON-able result."""
    r = fit_curve(
        job.cfg, job.q, task.i, task.s, task.m, task.index, job.scan, job.starts,
        library=job.library, neighbours=job.neighbours,
    )
    return Outcome(
        value={
            "best": r.best,
            "seconds": r.seconds,
            "cpu_seconds": r.cpu_seconds,
            "fits": {
                c: {
                    "params": f.params,
                    "scale": f.scale,
                    "background": f.background,
                    "chi2": f.chi2,
                    "aic": f.aic,
                    "k": f.k,
                    "nfev": f.nfev,
                }
                for c, f in r.fits.items()
            },
        }
    )


def fit_many(
    cfg: DatasetConfig,
    q: np.ndarray,
    i: np.ndarray,
    s: np.ndarray,
    m: np.ndarray,
    client: Any = None,
    scan: int = 128,
    starts: int = 20,
    progress: bool | None = None,
    library: CurveLibrary | None = None,
    neighbours: int = 5,
) -> list[dict[str, Any]]:
    """Fit curves ``i[k]`` (rows; σ ``s[k]``, mask ``m[k]``) on grid ``q``; results in input order.

    ``client``: None fits in this process, ``"local"`` on a LocalCluster, an
    address or a ``distributed.Client`` on that cluster. Curve ``k`` is fitted
    with seed ``k``. ``progress``: show the bar (None: when stderr is a terminal).
    """
    S.compile_models(cfg.classes, cfg.precision)  # here, before workers race to compile
    tasks = [CurveTask(k, i[k], s[k], m[k]) for k in range(len(i))]
    with client_context(client) as c:
        res = Runner(c, progress=progress).map(
            fit_task,
            tasks,
            desc="least-squares fits",
            shared=FitSettings(cfg, q, scan, starts, library, neighbours),
            unit="curves",
        )
    return [res[t.name] for t in tasks]
