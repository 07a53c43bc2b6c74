"""Per-case analysis for the validation suite: bins, realization averaging,
I(q→0) error, Guinier/Porod/invariant against exact values, and where the
agreement with sasmodels ends (in q·d).

Kept apart from :mod:`hifft.compare.validate` (which builds volumes) so it can
be tested on synthetic Datasets alone.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import xarray as xr

from . import checks
from .core import Comparison, compare_sasmodels


# --------------------------------------------------------------------------- bins
def validation_edges(
    n: int,
    spacing: float,
    *,
    q_lo_modes: float = 2.5,
    min_width_modes: float = 1.0,
    log_step: float = 0.04,
    qd_max: float = math.pi,
) -> np.ndarray:
    """Bin edges: at least ``min_width_modes``·2π/L wide at low q, log-spaced above.

    Log bins narrower than the box's mode spacing Δq = 2π/L hold a handful of
    Fourier modes each (6 to 30 at 3·Δq): their mean scatters by tens of
    percent from the speckle of random placement and their SEM, estimated
    from those few modes, is itself unreliable. Shells one Δq wide hold
    ~4π(q/Δq)² modes (≈110 at 3·Δq, half of them independent), so SEM is a
    fair σ there; above q = Δq/log_step the bins become log-spaced with
    relative width ``log_step``. Edges run from ``q_lo_modes``·Δq to
    ``qd_max``/d (default Nyquist, π/d).
    """
    dq = 2 * math.pi / (n * spacing)
    q_hi = qd_max / spacing
    e = [q_lo_modes * dq]
    while e[-1] < q_hi:
        e.append(max(e[-1] + min_width_modes * dq, e[-1] * (1 + log_step)))
    e[-1] = q_hi
    if len(e) >= 3 and (e[-1] - e[-2]) < 0.5 * (e[-2] - e[-3]):
        del e[-2]
    return np.asarray(e)


# --------------------------------------------------------------------------- realizations
def combine_realizations(datasets: list[xr.Dataset], e_min: float | None = None) -> xr.Dataset:
    """Average reduced Datasets of independent realizations on identical bins.

    I is the count-weighted mean; the SEM combines the per-realization SEMs
    (independent realizations); ``count``/``n_independent``/``q_weights`` add;
    q and q_samples are count-weighted means; sigma = max(sem, e_min·I).
    """
    if len(datasets) == 1:
        return datasets[0]
    base = datasets[0]
    for ds in datasets[1:]:
        if ds.sizes["q"] != base.sizes["q"] or not np.allclose(
            ds["q_lo"].values, base["q_lo"].values
        ):
            raise ValueError("combine_realizations: the Datasets have different bins")
    w = np.stack([ds["count"].values for ds in datasets])
    wsum = w.sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        frac = w / np.where(wsum > 0, wsum, 1)
        I = (frac * np.stack([ds["I"].values for ds in datasets])).sum(axis=0)
        sem = np.sqrt((frac**2 * np.stack([ds["sem"].values for ds in datasets]) ** 2).sum(axis=0))
        q = (frac * np.stack([ds["q"].values for ds in datasets])).sum(axis=0)
        qw = np.stack([ds["q_weights"].values for ds in datasets])
        qwsum = qw.sum(axis=0)
        qs = (qw * np.stack([ds["q_samples"].values for ds in datasets])).sum(axis=0) / np.where(
            qwsum > 0, qwsum, 1
        )
        qs = np.where(qwsum > 0, qs, base["q_samples"].values)
        # pooled spread: within + between
        m2 = sum(
            wi * (ds["std"].values ** 2 + (ds["I"].values - I) ** 2)
            for wi, ds in zip(w, datasets, strict=True)
        )
        std = np.sqrt(m2 / np.where(wsum > 0, wsum, 1))
    e = float(base.attrs.get("e_min", 0.01)) if e_min is None else e_min
    out = base.copy()
    out = out.assign_coords(q=("q", q, base["q"].attrs))
    out["I"] = ("q", I, base["I"].attrs)
    out["sem"] = ("q", sem, base["sem"].attrs)
    out["std"] = ("q", std, base["std"].attrs)
    out["sigma"] = ("q", np.fmax(sem, e * I), base["sigma"].attrs)
    out["count"] = ("q", wsum, base["count"].attrs)
    if "n_independent" in base:
        out["n_independent"] = (
            "q",
            sum(ds["n_independent"].values for ds in datasets),
            base["n_independent"].attrs,
        )
    out["q_samples"] = (("q", "sub"), qs, base["q_samples"].attrs)
    out["q_weights"] = (("q", "sub"), qwsum, base["q_weights"].attrs)
    out.attrs["realizations"] = len(datasets)
    return out


# --------------------------------------------------------------------------- analysis
@dataclass
class Analysis:
    """Numbers one validation case reports."""

    chi2: float
    chi2_nominal: float | None
    chi2_point: float
    n: int
    q_range: tuple[float, float]
    qd_range: tuple[float, float]
    chi2_fit_scale: float
    fitted_scale_ratio: float
    i0_error: float  # relative, from the absolute-scale ratio in the Guinier window
    i0_error_sigma: float  # its statistical (speckle) uncertainty
    i0_window: tuple[float, float]
    i0_error_realized: float | None  # vs the exact shells of the realized configurations
    max_rel_realized: float | None
    rg: float
    rg_err: float
    rg_model_fit: float
    rg_exact: float
    porod_K: float
    porod_K_model: float
    porod_K_exact: float
    porod_window: tuple[float, float]
    invariant: float
    invariant_exact: float
    invariant_measured_fraction: float
    qd_agreement_end: float | None
    bands: list[dict[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        from dataclasses import asdict

        return asdict(self)

    @property
    def rg_corrected(self) -> float:
        """Data R_g with the Guinier window's bias removed (× R_g,exact / R_g of binned model)."""
        if not (self.rg_model_fit > 0 and self.rg_exact > 0):
            return float("nan")
        return self.rg * self.rg_exact / self.rg_model_fit

    @property
    def sv_ratio(self) -> float:
        """Recovered/exact specific surface: K_data / K_model on the same Porod window."""
        if not self.porod_K_model > 0:
            return float("nan")
        return self.porod_K / self.porod_K_model

    @property
    def invariant_ratio(self) -> float:
        return self.invariant / self.invariant_exact


QD_BANDS = ((0.0, 0.5), (0.5, 1.0), (1.0, 1.5), (1.5, 2.0), (2.0, math.pi + 1e-9))


def analyse(
    ds: xr.Dataset,
    model: str,
    pars: dict[str, Any],
    *,
    func: Any = None,
    scenes: list[Any] | None = None,
    spacing: float,
    box_dq: float,
    qd_max: float = 1.0,
    q_min_modes: float = 3.0,
    agreement_tol: float = 0.02,
) -> tuple[Comparison, Comparison, Analysis]:
    """Absolute-scale comparison over [q_min_modes·Δq, qd_max/d], plus every check.

    ``scenes``: the Scene objects behind ``ds``; when they hold only spherical particles, the
    low-q bins are also compared with the exact scattering of those very configurations
    (:mod:`hifft.compare.exact`, speckle included), which isolates the pipeline's own error.

    ``func`` (q → I), when given, replaces sasmodels' ``model``/``pars`` as
    the model (e.g. summed over a scene's realized sizes); ``model``/``pars``
    then still give the length scales and the nominal χ² (``chi2_nominal``).

    Returns (comparison in the window, comparison over all bins up to the
    Nyquist frequency (for the plots and q·d bands), analysis).
    """
    from . import sasmodels_ as sm
    from .core import compare_model

    window = (q_min_modes * box_dq, qd_max / spacing)

    def comp(**kw: Any) -> Comparison:
        if func is None:
            return compare_sasmodels(ds, model, spacing=spacing, **kw, **pars)
        return compare_model(
            ds,
            func,
            label=f"{model} (realized sizes)",
            spacing=spacing,
            pars={"scale": 1.0, "background": 0.0},
            **kw,
        )

    cmp = comp(q_range=window)
    full = comp(q_range=(q_min_modes * box_dq, None))
    fit = comp(q_range=window, fit_scale=True)
    point = comp(q_range=window, average="point")
    chi2_nominal = None
    if func is not None:
        chi2_nominal = compare_sasmodels(ds, model, spacing=spacing, q_range=window, **pars).chi2
        a_min, a_max = checks.size_scale(model.split("@")[0], pars)
        exact = checks.func_exact(func, a_min, a_max)
        model_fn = func
    else:
        exact = checks.model_exact(model, pars)
        p0 = dict(pars)
        p0["background"] = 0.0

        def model_fn(qq: np.ndarray) -> np.ndarray:
            return sm.evaluate(model, qq, p0)

    q = ds["q"].values
    I = ds["I"].values
    m = full.model.values
    sem = ds["sem"].values
    notes: list[str] = []

    # I(q→0): absolute-scale ratio over the Guinier window q·Rg ≤ 1.3 (Rg of the form factor
    # for a P@S model), weighted by SEM only (the 1 % floor is not noise); its uncertainty is
    # the speckle SEM.
    rg_ex = exact["rg"]
    rg_win = rg_ex
    if sm.is_product(model):
        p_only = {k: v for k, v in pars.items() if k in sm.known_keys(model.split("@")[0])}
        rg_win = checks.model_exact(model.split("@")[0], p_only)["rg"]
        notes.append(
            f"structure factor: I(q→0) window set by the form factor's R_g = {rg_win:.3g} Å; "
            "Guinier R_g of P·S is not a particle size"
        )
    gw = (q >= window[0]) & (q * rg_win <= 1.3) & np.isfinite(I) & np.isfinite(sem) & (sem > 0)
    if gw.sum() < 2:
        gw = (q >= window[0]) & np.isfinite(I) & np.isfinite(sem) & (sem > 0)
        gw &= np.cumsum(gw) <= 3
        notes.append("fewer than 2 bins with q·Rg ≤ 1.3 above 3·Δq: I(0) from the first 3 bins")
    # weights ∝ independent modes per bin (the expected speckle variance is I_model²/n_ind), not
    # the measured SEM: SEM ∝ I_bin for speckle, so 1/SEM² weights favour low-fluctuating bins
    # and bias the mean low
    if "n_independent" in ds:
        wts = np.asarray(ds["n_independent"].values, dtype=float)[gw]
    else:
        wts = np.asarray(ds["count"].values, dtype=float)[gw]
    ratio_g = I[gw] / m[gw]
    srel_g = sem[gw] / np.abs(m[gw])
    a = float(np.sum(wts * ratio_g) / np.sum(wts))
    da = float(np.sqrt(np.sum((wts * srel_g) ** 2)) / np.sum(wts))
    i0_win = (float(q[gw].min()), float(q[gw].max()))

    realized = None
    if scenes:
        from .exact import realized_check

        try:
            realized = realized_check(
                list(scenes),
                ds,
                q_max=float(ds["q_hi"].values[gw].max()),
                window=(window[0], i0_win[1]),
            )
        except (ValueError, KeyError) as exc:
            notes.append(f"exact realized-configuration check skipped: {exc}")

    # Guinier on data and on the identically binned model (its own window bias), vs exact.
    # Weights from the *expected* speckle variance, σ = I_model/√n_ind (floored at 1 %), for
    # the same reason as above: measured SEMs ∝ I bias a weighted fit.
    sel = (q >= window[0]) & np.isfinite(I) & (I > 0)
    n_ind = np.asarray(
        ds["n_independent"].values if "n_independent" in ds else ds["count"].values, dtype=float
    )
    with np.errstate(divide="ignore", invalid="ignore"):
        sig_exp = np.maximum(np.abs(m) / np.sqrt(np.maximum(n_ind, 1.0)), 0.01 * np.abs(m))
    try:
        if sm.is_product(model):
            raise ValueError("skipped: P·S has no particle Guinier regime")
        # the window is set by the model, and the data fitted on exactly the same bins, so
        # that the model's fit bias cancels in R_g,data·R_g,exact/R_g,model
        gm = checks.guinier(q[sel], m[sel], sig_exp[sel], qrg_max=1.3)
        g = checks.guinier(q[sel], I[sel], sig_exp[sel], q_max=gm.q_range[1])
        rg, rg_err, rg_m = g.rg, g.rg_err, gm.rg
        if g.n < 4 or g.q_range[1] * rg_ex > 1.6:
            notes.append(
                f"Guinier window has {g.n} bins up to q·R_g = {g.q_range[1] * rg_ex:.2f}: "
                "R_g poorly determined at this box size"
            )
    except ValueError as exc:
        rg = rg_err = rg_m = float("nan")
        if not sm.is_product(model):
            notes.append(f"Guinier fit failed: {exc}")

    # Porod over the upper half of the trusted window (in q), data vs binned model vs exact
    pw = (0.5 * window[1], window[1])
    try:
        K = checks.porod(q, I, q_range=pw).K
        Km = checks.porod(q, m, q_range=pw).K
    except ValueError as exc:
        K = Km = float("nan")
        notes.append(f"Porod window too small: {exc}")

    # invariant Q = ∫q²I dq: the data over the window; below it the exact model's integral
    # (a few % of Q); above it the model's own tail Q_exact − ∫₀^q_hi q²I_model, scaled by the
    # measured/model ratio of q⁴I on the Porod window (no asymptotic K/q assumed: at q·R ≈ 10
    # a two-interface particle is not yet in the Porod regime)
    inside = (q >= window[0]) & (q <= window[1]) & np.isfinite(I)
    try:
        q_a, q_b = float(q[inside].min()), float(q[inside].max())
        qh = np.linspace(0.0, q_a, 400)[1:]
        head = float(np.trapezoid(qh**2 * model_fn(qh), qh))
        qm_ = np.linspace(q_a, q_b, 4000)
        below_b = head + float(np.trapezoid(qm_**2 * model_fn(qm_), qm_))
        mid = float(np.trapezoid(q[inside] ** 2 * I[inside], q[inside]))
        scale_tail = K / Km if np.isfinite(K) and Km > 0 else 1.0
        tail = max(exact["invariant"] - below_b, 0.0) * scale_tail
        Q = head + mid + tail
        q_measured_fraction = mid / Q
    except ValueError as exc:
        Q = q_measured_fraction = float("nan")
        notes.append(f"invariant failed: {exc}")

    # where agreement ends: first bin above q·d = 0.5 whose |ratio − 1| exceeds the tolerance
    # plus 3 SEM, and stays beyond it for the next bin as well
    ratio = full.ratio.values
    qd = q * spacing
    srel = np.where(I > 0, sem / np.abs(I), np.inf)
    bad = (qd >= 0.5) & (np.abs(ratio - 1) > agreement_tol + 3 * srel)
    end = None
    idx = np.flatnonzero(bad)
    for i in idx:
        if i + 1 < bad.size and bad[i + 1]:
            end = float(qd[i])
            break
    if end is None and idx.size:
        end = float(qd[idx[0]])

    bands = []
    sig = ds["sigma"].values
    for lo, hi in QD_BANDS:
        b = (qd >= lo) & (qd < hi) & (q >= window[0]) & np.isfinite(ratio)
        if b.sum() == 0:
            continue
        r = ratio[b]
        bands.append(
            {
                "qd": [lo, min(hi, math.pi)],
                "n": int(b.sum()),
                "chi2": float(np.mean(((I[b] - m[b]) / sig[b]) ** 2)),
                "rms_rel": float(np.sqrt(np.mean((r - 1) ** 2))),
                "median_rel": float(np.median(r - 1)),
            }
        )

    return (
        cmp,
        full,
        Analysis(
            chi2=cmp.chi2,
            chi2_nominal=chi2_nominal,
            chi2_point=point.chi2,
            n=cmp.n,
            q_range=cmp.q_range,
            qd_range=cmp.qd_range or (np.nan, np.nan),
            chi2_fit_scale=fit.chi2,
            fitted_scale_ratio=fit.scale / cmp.scale,
            i0_error=a - 1.0,
            i0_error_sigma=da,
            i0_window=i0_win,
            i0_error_realized=None if realized is None else realized["i0_error"],
            max_rel_realized=None if realized is None else realized["max_abs"],
            rg=rg,
            rg_err=rg_err,
            rg_model_fit=rg_m,
            rg_exact=rg_ex,
            porod_K=K,
            porod_K_model=Km,
            porod_K_exact=exact["porod_K"],
            porod_window=pw,
            invariant=Q,
            invariant_exact=exact["invariant"],
            invariant_measured_fraction=q_measured_fraction,
            qd_agreement_end=end,
            bands=bands,
            notes=notes,
        ),
    )
