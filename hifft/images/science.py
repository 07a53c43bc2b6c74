"""Does compression change the science? Line cuts and fitted island parameters, decoded vs original.

For a GISAXS image the standard cuts (:func:`hifft.gisaxs.cuts.standard_cuts`) are
taken on the original clean image; the same pixels of a decoded image give its
cuts. Both are fitted with the analytic simulator (R, σ/R, D, ω/D and a scale,
started at the store's labels), and the decoded image's cuts and parameters are
compared with the original's — so the comparison isolates what the codec did, not
how well the model fits.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..gisaxs import Detector, Geometry, Islands, Sample
from ..gisaxs.config import GisaxsConfig
from ..gisaxs.cuts import CutFit, Cuts, fit_cuts, standard_cuts


@dataclass(frozen=True)
class Scene:
    """The crop window's geometry, the sample, the islands' contrast and the dataset job's configuration."""

    geometry: Geometry
    sample: Sample
    contrast: complex
    config: GisaxsConfig

    def fit(self, image: np.ndarray, cuts: Cuts, start: Islands, epsilon: float) -> CutFit:
        """:func:`~hifft.gisaxs.cuts.fit_cuts` with this scene's simulator settings."""
        c = self.config
        return fit_cuts(image, cuts, self.geometry, self.sample, self.contrast, start, epsilon=epsilon,
                        nodes=c.islands.nodes, approximation=c.dataset.approximation, ensemble=c.islands.ensemble)


def scene_of(path: str | os.PathLike[str], size: tuple[int, int], crop: tuple[int, int]) -> Scene:
    """The :class:`Scene` of the ``size`` window at ``crop`` of a GISAXS dataset store."""
    from ..gisaxs.dataset import open_dataset, sample_and_contrast

    cfg = GisaxsConfig.model_validate(json.loads(open_dataset(path).attrs["config"]))
    geo = cfg.geometry(1)
    d = geo.detector
    r, c = slice(crop[0], crop[0] + size[0]), slice(crop[1], crop[1] + size[1])
    if d.alpha_axis is None or d.two_theta_axis is None:
        raise ValueError(f"{path}: the store's detector is not angular; cuts need rows of constant α_f")
    det = Detector(d.alpha_f[r, c], d.two_theta_f[r, c], d.solid_angle[r, c], d.alpha_axis[r], d.two_theta_axis[c],
                   dict(d.info))
    sample, rho = sample_and_contrast(cfg)
    return Scene(Geometry(geo.beam, det), sample, rho, cfg)


def islands_of(scene: Scene, labels: dict[str, np.ndarray], i: int) -> Islands:
    """The islands of image ``i`` from the store's labels (R, σ/R, D in Å, ω/D)."""
    from ..gisaxs.dataset import islands_from_labels

    return islands_from_labels(scene.config, labels, i)


def reference_fit(scene: Scene, original: np.ndarray, start: Islands, epsilon: float) -> tuple[Cuts, CutFit]:
    """The cuts of the original image and its fit."""
    cuts = standard_cuts(original, scene.geometry, scene.sample)
    return cuts, scene.fit(original, cuts, start, epsilon)


#: Expected counts a cut point needs to count as measured (Poisson relative error ≤ 10 %).
MIN_COUNTS = 100.0


def measured_points(cuts: Cuts, original: np.ndarray, counts_per_intensity: np.ndarray | float,
                    min_counts: float = MIN_COUNTS) -> np.ndarray:
    """Bool mask of the cut points of ``original`` a detector measures: the expected counts summed
    over the point's band pixels (intensity × ``counts_per_intensity``, per pixel: per-photon map ×
    flux) reach ``min_counts``."""
    k = np.broadcast_to(np.asarray(counts_per_intensity, dtype=np.float64), np.shape(original))
    width = np.concatenate([np.full(np.shape(original)[1], len(cuts.rows)),
                            np.full(np.shape(original)[0], len(cuts.cols))])
    return cuts.extract(np.asarray(original, dtype=np.float64) * k) * width >= min_counts


def compare(scene: Scene, original: np.ndarray, decoded: np.ndarray, cuts: Cuts, ref: CutFit,
            epsilon: float, counts_per_intensity: np.ndarray | float | None = None,
            min_counts: float = MIN_COUNTS) -> dict[str, Any]:
    """Cut deviations (relative) and fitted-parameter differences (relative for R and D, absolute for
    σ/R and ω/D) of ``decoded`` against the original.

    The cut deviations are taken over the measured range: the points with ≥ ``min_counts`` expected
    counts (:func:`measured_points`) when ``counts_per_intensity`` is given, else those with
    I ≥ ``epsilon`` (the log floor, which keeps points no detector would measure)."""
    a, b = cuts.extract(original), cuts.extract(np.maximum(decoded, 0.0))
    if counts_per_intensity is None:
        keep = a >= epsilon
    else:
        keep = measured_points(cuts, original, counts_per_intensity, min_counts) & (a > 0)
    rel = np.abs(b[keep] / a[keep] - 1.0)
    fit = scene.fit(decoded, cuts, ref.islands, epsilon)
    o, d = ref.islands, fit.islands
    return {"cut_max_rel": float(rel.max()) if rel.size else float("nan"),
            "cut_median_rel": float(np.median(rel)) if rel.size else float("nan"),
            "cut_points": int(keep.sum()), "cut_range": "epsilon" if counts_per_intensity is None
            else f"counts>={min_counts:g}",
            "radius_rel": float(d.radius / o.radius - 1.0), "distance_rel": float(d.distance / o.distance - 1.0),
            "sigma_r_abs": float(d.sigma_r - o.sigma_r), "omega_d_abs": float(d.omega_d - o.omega_d),
            "fit_rms_log10": fit.rms_log10, "reference_rms_log10": ref.rms_log10}


__all__ = ["MIN_COUNTS", "Scene", "compare", "islands_of", "measured_points", "reference_fit", "scene_of"]
