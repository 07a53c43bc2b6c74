"""Classical baseline: weighted least squares with sasmodels + scipy, per candidate shape.

For every candidate class the shape parameters are fitted with
``scipy.optimize.least_squares`` (trust-region reflective, bounds = the
support of the dataset's priors; lengths in log space) on residuals
``(s·P(q; θ) + b − I) / σ``. Scale ``s`` and flat background ``b`` enter
linearly and are solved exactly for every θ (non-negative weighted least
squares: variable projection), so the optimizer only sees the shape
parameters. Starts: the best ``starts`` of ``scan`` random draws from the
priors, plus the fits of the classes fitted before where parameters are
shared (nested models: the hard-sphere fit also starts from the sphere
fit). The class with the smallest AIC (χ² + 2k, k = free parameters
including scale and background) wins: plain χ² would always pick the
hard-sphere model over the sphere it contains.

Time per curve is wall and process CPU time of all candidate fits.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy.optimize import least_squares, nnls

from ..runner import Outcome, Runner, client_context
from . import shapes as S
from .config import DatasetConfig


@dataclass
class Fit:
    model: str
    params: dict[str, float]
    scale: float
    background: float
    chi2: float
    aic: float
    nfev: int


@dataclass
class CurveFit:
    best: str
    fits: dict[str, Fit] = field(default_factory=dict)
    seconds: float = 0.0
    cpu_seconds: float = 0.0


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


class _Problem:
    def __init__(self, cfg: DatasetConfig, model: str, q: np.ndarray, i: np.ndarray, s: np.ndarray) -> None:
        self.cfg, self.model, self.q, self.i, self.s = cfg, model, q, i, s
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
        )

    def linear(self, p: np.ndarray) -> tuple[float, float, np.ndarray]:
        a = np.stack([p * self.w, self.w], axis=1)
        coef, _ = nnls(a, self.i * self.w)
        r = (coef[0] * p + coef[1] - self.i) * self.w
        return float(coef[0]), float(coef[1]), r

    def residuals(self, th: np.ndarray) -> np.ndarray:
        return self.linear(self.shape_curve(th))[2]


def fit_model(
    cfg: DatasetConfig,
    model: str,
    q: np.ndarray,
    i: np.ndarray,
    s: np.ndarray,
    rng: np.random.Generator,
    scan: int = 48,
    starts: int = 3,
    warm: list[dict[str, float]] | None = None,
) -> Fit:
    """Fit one class. ``warm``: fitted parameters of other classes; each gives
    one more start where parameter names are shared (e.g. the sphere fit
    starts the hard-sphere fit at a small volume fraction)."""
    lo, hi = _bounds(cfg, model)
    prob = _Problem(cfg, model, q, i, s)
    draws = S.sample_params(model, cfg.shapes, rng, scan)

    def theta(get) -> np.ndarray:
        th = np.array([math.log(get(p)) if p in S.LENGTHS else get(p) for p in S.PARAMS[model]])
        return np.clip(th, lo, hi)

    cands = []
    for j in range(scan):
        th = theta(lambda p, j=j: draws[p][j])
        cands.append((float(np.sum(prob.residuals(th) ** 2)), th))
    cands.sort(key=lambda c: c[0])
    start_points = [th for _, th in cands[:starts]]
    defaults = {"volfraction": 0.001}
    for w in warm or []:
        shared = [p for p in S.PARAMS[model] if p in w]
        if shared:
            base = _theta_to_label(model, cands[0][1])
            start_points.append(theta(lambda p, w=w, base=base: w.get(p, defaults.get(p, base[p]))))
    best: tuple[float, np.ndarray] | None = None
    for th0 in start_points:
        eps = 1e-9 * (hi - lo)
        th0 = np.clip(th0, lo + eps, hi - eps)
        res = least_squares(prob.residuals, th0, bounds=(lo, hi), x_scale="jac", method="trf", max_nfev=200)
        c2 = float(np.sum(res.fun**2))
        if best is None or c2 < best[0]:
            best = (c2, res.x)
    assert best is not None
    c2, th = best
    sc, bg, _ = prob.linear(prob.shape_curve(th))
    k = len(th) + 2
    return Fit(model, _theta_to_label(model, th), sc, bg, c2, c2 + 2 * k, prob.nfev)


def fit_curve(
    cfg: DatasetConfig,
    q: np.ndarray,
    i: np.ndarray,
    s: np.ndarray,
    mask: np.ndarray | None = None,
    seed: int = 0,
    scan: int = 48,
    starts: int = 3,
    classes: list[str] | None = None,
) -> CurveFit:
    """Fit every candidate class to one curve; the lowest AIC wins."""
    m = np.ones(q.size, dtype=bool) if mask is None else np.asarray(mask, dtype=bool)
    m &= np.isfinite(i) & np.isfinite(s) & (s > 0)
    q, i, s = q[m], np.asarray(i, dtype=np.float64)[m], np.asarray(s, dtype=np.float64)[m]
    t0, c0 = time.perf_counter(), time.process_time()
    rng = np.random.default_rng(seed)
    fits: dict[str, Fit] = {}
    for c in classes or cfg.classes:
        warm = [f.params for f in fits.values()]
        fits[c] = fit_model(cfg, c, q, i, s, rng, scan, starts, warm)
    best = min(fits.values(), key=lambda f: f.aic).model
    return CurveFit(best, fits, time.perf_counter() - t0, time.process_time() - c0)


@dataclass(frozen=True)
class FitSettings:
    """What every curve of a :func:`fit_many` job shares: the priors, the q grid (1/Å) and the search."""

    cfg: DatasetConfig
    q: np.ndarray
    scan: int = 48
    starts: int = 3


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
    r = fit_curve(job.cfg, job.q, task.i, task.s, task.m, task.index, job.scan, job.starts)
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
    scan: int = 48,
    starts: int = 3,
    progress: bool | None = None,
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
            fit_task, tasks, desc="least-squares fits", shared=FitSettings(cfg, q, scan, starts), unit="curves"
        )
    return [res[t.name] for t in tasks]
