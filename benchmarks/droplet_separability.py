"""How well can *any* classifier tell an elliptical droplet from a prolate one? (issue 17, physics check)

    python benchmarks/droplet_separability.py [--pairs 200] [--seed 0]

In the small-angle (projection) limit an ellipsoid's pattern depends only on
its density projected along the beam, t(x, y) = (2/√A_zz)·√(1 − xᵀA₂x), with
A the ellipsoid's matrix (xᵀAx ≤ 1) and A₂ = A_xy − A_xz A_zx / A_zz: every
ellipsoid with the same A₂ has the same pattern up to a scale, which the
images lose (each is normalised to a photon flux, times a random gain). So an
oblate droplet seen from the side (labels spherical_oblate + elliptical) has a
*projection twin*: the prolate spheroid lying in the detector plane with the
same projected ellipse (semi-axes L, b; depth b), labelled prolate. Only the
Ewald sphere's curvature, q_z = k(cos 2θ − 1), up to a quarter of q_⊥ at
2θ = 30°, reads the depth and separates them.

For each pair (droplets drawn from ``pipelines/diffraction_default.yaml``'s
priors; the oblates labelled elliptical, and conversely prolates labelled
prolate without a streak against their oblate twin, an oblate spheroid seen
edge-on), both patterns are rendered by the dataset's own route
(:func:`hifft.diffraction.render`, :func:`~hifft.diffraction.expected_signal`:
the same detector, beam energy, flux normalisation, a 3° hole). The best
possible test between the two, with every nuisance known and only Poisson
noise, is the likelihood ratio. With m and s² the mean and variance of
the log-likelihood ratio under each hypothesis (both ∝ flux), the table
gives the photons at which m = 1.645 s in both directions (a 95 % test
each way: z²s²/m²). Its errors are a lower bound on any classifier's
confusion of the pair: straylight, saturation, an
unknown gain and the other prolates that may resemble the oblate even more
only add to it. A second condition adds the dataset's uniform noise
U(0, b), b = 0.25 × the mean photons per active pixel (the middle of its
prior), whose variance b²/12 grows like flux², so above some flux it, not
photon counting, sets the error (Gaussian approximation: d² = Σ Δμ²/σ²,
error Φ(−d/2)). Both of a pair are rendered on boxes 9 × their extent
(the dataset's 6 leaves the trilinear reading of |F|² a few per cent off
at the fringes). The control scores the dataset's own render of the
droplet (6 ×) against that finer one the same way: the numerical error of
the training images, to be set beside the twins' physical difference.

Writes ``benchmarks/results/droplet_separability.{json,md}`` (pair errors at
the flux prior's ends and middle, and with each pair's flux drawn from the prior).
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
from scipy.special import ndtr

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _harness import REPO, loadavg, save

from hifft.diffraction import (
    LABELS,
    Body,
    Droplets,
    active_pixels,
    derive_labels,
    draw,
    expected_signal,
    load,
    make_detector,
    render,
    shape_features,
    wavelength_of,
)
from hifft.volume import shapes

HOLE_DEG = 3.0
#: low end of the dataset's flux prior (photons into the detector)
FLUX_LOW = 1e5
#: the dataset's uniform noise at the middle of its prior U(0, 0.5) (× mean photons per active pixel)
UNIFORM = 0.25
#: one-sided 95 % (z of the test in each direction)
Z95 = 1.645
#: real-space oversampling of the reference renders (the dataset's: 6; finer boxes sample |F|² finer)
FINE_OVERSAMPLING = 9.0
SLD = 1.0


def body_matrix(body: Body) -> np.ndarray:
    """A (3×3, lab x, y, z; 1/Å²) of an ellipsoid body: xᵀAx ≤ 1 inside."""
    s = body.shape
    if isinstance(s, shapes.Ellipsoid):
        semi = (s.radius_equatorial, s.radius_equatorial, s.radius_polar)
    elif isinstance(s, shapes.TriaxialEllipsoid):
        semi = (s.radius_equat_minor, s.radius_equat_major, s.radius_polar)
    else:
        raise TypeError(f"not an ellipsoid: {type(s).__name__}")
    r = body.rotation
    return r @ np.diag(1.0 / np.square(semi)) @ r.T


def projected_ellipse(a: np.ndarray) -> tuple[float, float, np.ndarray]:
    """Semi-axes (major, minor; Å) and the major axis's lab (x, y) direction of the projection along z."""
    a2 = a[:2, :2] - np.outer(a[:2, 2], a[2, :2]) / a[2, 2]
    ev, vec = np.linalg.eigh(a2)
    return 1 / math.sqrt(ev[0]), 1 / math.sqrt(ev[1]), vec[:, 0]


def in_plane_frame(axis_xy: np.ndarray) -> np.ndarray:
    """Rotation (particle → lab) putting the particle's c axis along the in-plane direction ``axis_xy``."""
    e3 = np.array([axis_xy[0], axis_xy[1], 0.0])
    e3 /= np.linalg.norm(e3)
    e1 = np.array([0.0, 0.0, 1.0])
    return np.column_stack([e1, np.cross(e3, e1), e3])


def twin(drop: Droplets) -> Droplets:
    """The projection twin (module doc): a prolate lying in the plane for an oblate, an edge-on oblate
    for a prolate. Same projected ellipse; the depth along the beam differs."""
    major, minor, u = projected_ellipse(body_matrix(drop.bodies[0]))
    if drop.family == "spheroid":  # → prolate spheroid (b, b, L), axis along the projected major axis
        shp = shapes.Ellipsoid(radius_polar=major, radius_equatorial=minor, sld=SLD)
        rot = in_plane_frame(u)
    else:  # → oblate (L, L, b), polar axis along the projected minor axis, so its depth is L
        shp = shapes.Ellipsoid(radius_polar=minor, radius_equatorial=major, sld=SLD)
        rot = in_plane_frame(np.array([-u[1], u[0]]))
    return Droplets("twin", (Body(shp, np.zeros(3), rot),), {"major": major, "minor": minor}, rotation=rot)


def llr_stats(mu_a: np.ndarray, mu_b: np.ndarray) -> tuple[float, float]:
    """Mean and variance of the Poisson log-likelihood ratio ln p_A/p_B under A, per photon of flux."""
    keep = (mu_a > 0) | (mu_b > 0)
    a, b = np.maximum(mu_a[keep], 1e-300), np.maximum(mu_b[keep], 1e-300)
    lr = np.log(a / b)
    return float(np.sum(a * lr - (a - b))), float(np.sum(a * lr * lr))


def photons_needed(mu_a: np.ndarray, mu_b: np.ndarray, z: float = Z95) -> float:
    """Photons (flux) at which the likelihood-ratio test tells A from B at ``z`` standard deviations in both
    directions, Poisson noise only: max over A, B of z²·s²/m² (m, s² per photon, :func:`llr_stats`)."""
    out = 0.0
    for x, y in ((mu_a, mu_b), (mu_b, mu_a)):
        m, v = llr_stats(x, y)
        out = max(out, z * z * v / (m * m) if m > 0 else math.inf)
    return out


def uniform_error(mu_a: np.ndarray, mu_b: np.ndarray, flux: float, uniform: float, n_active: int) -> float:
    """Error of the best test (equal priors) at ``flux`` photons with the dataset's uniform noise
    U(0, b), b = ``uniform`` × the mean photons per active pixel, added to the counts (Gaussian
    approximation: variance (μ_A + μ_B)/2 + b²/12 per pixel; error Φ(−d/2), d² = Σ Δμ²/variance).
    ``flux`` = inf: the limit d² = 12 n_active² Σ Δμ² / uniform², which no flux improves on."""
    diff = mu_a - mu_b
    if math.isinf(flux):
        d2 = 12.0 * n_active**2 * float(np.sum(diff**2)) / uniform**2 if uniform > 0 else math.inf
    else:
        b = uniform * flux / n_active
        var = 0.5 * flux * (mu_a + mu_b) + b * b / 12.0
        keep = var > 0
        d2 = float(np.sum((flux * diff[keep]) ** 2 / var[keep]))
    return float(ndtr(-0.5 * math.sqrt(d2)))


def labelled(drop: Droplets, lam: float, det: Any, cfg: Any, act: np.ndarray, grid_cfg: Any = None
             ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(expected photons per unit flux on the active pixels ``act``, labels, [projected aspect, elongation,
    tilt]) of a droplet."""
    inten, grid, rho = render(drop, lam, det, cfg.detector, grid_cfg or cfg.grid)
    feats = shape_features(rho, grid)
    labels, _ = derive_labels(drop, feats, lam, cfg.rules, cfg.detector.two_theta_max)
    return expected_signal(inten, det, cfg.detector, 1.0, act), labels, np.array(
        [feats["projected_aspect"], feats["elongation"], feats["tilt"]])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pairs", type=int, default=200, help="pairs per direction")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--config", type=Path, default=REPO / "pipelines" / "diffraction_default.yaml")
    a = ap.parse_args()
    load_start = loadavg()
    t0 = time.perf_counter()
    cfg = load(a.config)
    det = make_detector(cfg.detector)
    rng = np.random.default_rng(a.seed)
    fine = cfg.grid.model_copy(update={"real_oversampling": FINE_OVERSAMPLING,
                                       "max_size": max(cfg.grid.max_size, 288)})
    act = active_pixels(det, HOLE_DEG, cfg.detector.two_theta_max)
    n_act = int(act.sum())
    idx = {n: i for i, n in enumerate(LABELS)}
    rows: list[dict[str, Any]] = []
    for family, want in (("spheroid", "elliptical"), ("prolate", "prolate")):
        n, tries = 0, 0
        while n < a.pairs:
            tries += 1
            if tries > 200 * a.pairs:
                raise RuntimeError(f"{family}: too few draws labelled {want}")
            lam = wavelength_of(cfg.beam.energy.sample(rng))
            drop = draw(cfg.droplets, family, rng)
            if len(drop.bodies) != 1 or not isinstance(drop.bodies[0].shape,
                                                        (shapes.Ellipsoid, shapes.TriaxialEllipsoid)):
                continue  # a sphere
            mu_d, lab_a, m_a = labelled(drop, lam, det, cfg, act)  # as the dataset renders it
            if not lab_a[idx[want]] or lab_a[idx["streak"]]:
                continue
            tw = twin(drop)
            # the physics on finer boxes; the control: the dataset's render against the finer one
            mu_a, _, _ = labelled(drop, lam, det, cfg, act, fine)
            mu_b, lab_b, m_b = labelled(tw, lam, det, cfg, act, fine)
            flux = float(cfg.noise.flux.sample_log(rng))
            uni = float(cfg.noise.uniform.sample(rng))
            row: dict[str, Any] = {
                "direction": f"{want} → twin", "family": family, "wavelength_A": lam,
                "radius_A": drop.params["radius"], "aspect": drop.params["aspect"],
                "projected_aspect": float(m_a[0]), "tilt_deg": float(m_a[2]),
                "twin_projected_aspect": float(m_b[0]), "twin_elongation": float(m_b[1]),
                "labels": [n for n, v in zip(LABELS, lab_a, strict=True) if v],
                "twin_labels": [n for n, v in zip(LABELS, lab_b, strict=True) if v],
                "labels_differ": bool((lab_a != lab_b).any()), "prior_flux": flux, "prior_uniform": uni}
            for what, mu in (("twin", mu_b), ("control", mu_d)):
                row[what] = {"photons_95": photons_needed(mu_a, mu), "n_active": n_act,
                             "error_floor_uniform": uniform_error(mu_a, mu, math.inf, UNIFORM, n_act),
                             "error_prior": uniform_error(mu_a, mu, flux, uni, n_act)}
            rows.append(row)
            n += 1
            print(f"{family} {n}/{a.pairs}: ρ {m_a[0]:.2f}, photons for 95 %: twin "
                  f"{row['twin']['photons_95']:.3g}, control {row['control']['photons_95']:.3g}", flush=True)
    summary = summarize(rows)
    table = render_table(summary)
    save("droplet_separability", "python benchmarks/droplet_separability.py " + " ".join(sys.argv[1:]), rows,
         table, extra={"summary": summary, "load_average_start": load_start,
                       "seconds": time.perf_counter() - t0, "hole_deg": HOLE_DEG},
         header=f"{__doc__.split(chr(10) + chr(10), 1)[1].rsplit('Writes', 1)[0]}"
                f"Load average at the start: {' / '.join(map(str, load_start))}.\n\n")


def summarize(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per direction and comparison (twin, control), over the pairs whose labels differ: photons for a 95 %
    test (median, 90th percentile, share above the flux prior's low end), the error floor with the uniform
    noise, and the error at fluxes and uniform noise drawn from the prior (mean, share ≥ 5 %)."""
    out = []
    for d in dict.fromkeys(r["direction"] for r in rows):
        sel = [r for r in rows if r["direction"] == d and r["labels_differ"]]
        for what in ("twin", "control"):
            ph = np.array([r[what]["photons_95"] for r in sel])
            floor = np.array([r[what]["error_floor_uniform"] for r in sel])
            prior = np.array([r[what]["error_prior"] for r in sel])
            out.append({"direction": d, "comparison": what, "pairs": len(sel),
                        "pairs_total": sum(r["direction"] == d for r in rows),
                        "photons_95_median": float(np.median(ph)), "photons_95_p90": float(np.quantile(ph, 0.9)),
                        "share_photons_95_above_flux_low": float((ph > FLUX_LOW).mean()),
                        "error_floor_uniform_median": float(np.median(floor)),
                        "error_prior_mean": float(prior.mean()),
                        "share_error_prior_ge_5pct": float((prior >= 0.05).mean())})
    return out


def render_table(summary: list[dict[str, Any]]) -> str:
    lines = ["| pair | against | pairs with other labels | photons for 95 %: median | 90th pct. | share above "
             f"{FLUX_LOW:.0e} | error floor, uniform {UNIFORM}: median | error at prior flux and noise: mean | "
             "share ≥ 5 % |", "|---|---|---|---|---|---|---|---|---|"]
    lines += [f"| {s['direction']} | {s['comparison']} | {s['pairs']} of {s['pairs_total']} | "
              f"{s['photons_95_median']:.3g} | {s['photons_95_p90']:.3g} | "
              f"{100 * s['share_photons_95_above_flux_low']:.0f} % | "
              f"{100 * s['error_floor_uniform_median']:.2f} % | {100 * s['error_prior_mean']:.2f} % | "
              f"{100 * s['share_error_prior_ge_5pct']:.0f} % |" for s in summary]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
