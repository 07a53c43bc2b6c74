"""The standard line cuts of GISAXS images, and least-squares fits of island parameters to them.

Cuts (:func:`standard_cuts`): a horizontal cut along 2θ_f through the Yoneda band
(the interference maximum gives D, the form factor R) and a vertical cut along α_f
through the cut's strongest lateral maximum; each averages a band of ``width``
rows or columns. :func:`fit_cuts` fits (R, σ/R, D, ω/D, scale) of
:class:`~hifft.gisaxs.simulate.Islands` to both cuts at once, on log10 intensity,
with the analytic simulator evaluated on the cut pixels alone.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from .dwba import Sample, yoneda_angle
from .geometry import Detector, Geometry
from .simulate import Islands, islands_image


class CutError(ValueError):
    """A cut does not fit the image or the detector; the message names the row or column."""


@dataclass(frozen=True)
class Cuts:
    """A horizontal band of rows ``rows`` and a vertical band of columns ``cols`` (pixel indices)."""

    rows: tuple[int, ...]
    cols: tuple[int, ...]

    def extract(self, image: np.ndarray) -> np.ndarray:
        """The two cuts of ``image`` (H, W), concatenated: horizontal (W values), then vertical (H)."""
        img = np.asarray(image, dtype=np.float64)
        if img.ndim != 2:
            raise CutError(f"image: expected (rows, cols), got shape {img.shape}")
        for name, idx, n in (("row", self.rows, img.shape[0]), ("column", self.cols, img.shape[1])):
            bad = [i for i in idx if not 0 <= i < n]
            if bad:
                raise CutError(f"{name} {bad[0]}: outside the {img.shape[0]}×{img.shape[1]} image")
        return np.concatenate([img[list(self.rows)].mean(axis=0), img[:, list(self.cols)].mean(axis=1)])

    def geometry(self, geometry: Geometry) -> Geometry:
        """A geometry holding only the pixels of both bands, as one row: (1, len(rows)·W + H·len(cols))."""
        d = geometry.detector
        r, c = list(self.rows), list(self.cols)

        def take(a: np.ndarray) -> np.ndarray:
            return np.concatenate([a[r].ravel(), a[:, c].ravel()])[None, :]

        det = Detector(take(d.alpha_f), take(d.two_theta_f), take(d.solid_angle), info={"kind": "cuts"})
        return Geometry(geometry.beam, det)

    def reduce(self, values: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
        """Band means of values on :meth:`geometry`'s pixels, in the order of :meth:`extract`."""
        h, w = shape
        v = np.asarray(values, dtype=np.float64).ravel()
        nr, nc = len(self.rows), len(self.cols)
        return np.concatenate([v[: nr * w].reshape(nr, w).mean(axis=0), v[nr * w:].reshape(h, nc).mean(axis=1)])


def standard_cuts(image: np.ndarray, geometry: Geometry, sample: Sample, width: int = 3,
                  min_col: int = 8) -> Cuts:
    """The Yoneda-band horizontal cut and the vertical cut through its strongest maximum at
    column ≥ ``min_col`` (clear of the specular beam), each ``width`` pixels wide."""
    d = geometry.detector
    if d.alpha_axis is None or d.two_theta_axis is None:
        raise CutError("detector: line cuts need an angular detector (rows of constant α_f)")
    img = np.asarray(image, dtype=np.float64)
    if img.shape != d.shape:
        raise CutError(f"image: shape {img.shape}, detector {d.shape}")
    if width < 1 or width > min(d.shape):
        raise CutError(f"width: must be 1–{min(d.shape)} pixels, got {width}")
    row = int(np.argmin(np.abs(d.alpha_axis - yoneda_angle(sample))))
    r0 = min(max(row - width // 2, 0), d.shape[0] - width)
    rows = tuple(range(r0, r0 + width))
    cut = img[list(rows)].mean(axis=0)
    if min_col >= d.shape[1] - width:
        raise CutError(f"min_col: {min_col} leaves no column in a {d.shape[1]}-column image")
    col = min_col + int(np.argmax(_local_maxima(cut[min_col:])))
    c0 = min(max(col - width // 2, 0), d.shape[1] - width)
    return Cuts(rows, tuple(range(c0, c0 + width)))


def _local_maxima(v: np.ndarray) -> np.ndarray:
    """v where it is a local maximum (or the whole of v if it has none inside), else 0."""
    inner = np.zeros_like(v)
    peak = (v[1:-1] >= v[:-2]) & (v[1:-1] >= v[2:])
    inner[1:-1] = np.where(peak, v[1:-1], 0.0)
    return inner if inner.any() else v


@dataclass(frozen=True)
class CutFit:
    """Fitted ``islands`` (R, σ/R, D, ω/D), intensity ``scale``, the rms residual of log10 I, the number
    of simulator calls and whether the optimiser converged."""

    islands: Islands
    scale: float
    rms_log10: float
    evaluations: int
    success: bool

    def to_dict(self) -> dict[str, Any]:
        i = self.islands
        return {"radius": i.radius, "sigma_r": i.sigma_r, "distance": i.distance, "omega_d": i.omega_d,
                "scale": self.scale, "rms_log10": self.rms_log10, "evaluations": self.evaluations,
                "success": self.success}


def fit_cuts(image: np.ndarray, cuts: Cuts, geometry: Geometry, sample: Sample, contrast: complex,
             start: Islands, *, epsilon: float, bounds: dict[str, tuple[float, float]] | None = None,
             nodes: int = 15, approximation: str = "dwba", ensemble: str = "da", max_nfev: int = 200) -> CutFit:
    """Least-squares fit of R, σ/R, D, ω/D and a scale to the cuts of ``image`` (1/sr), starting at ``start``.

    Residuals are log10(I + ε) differences on the cut points (``epsilon`` in 1/sr);
    ``bounds`` (R and D in Å) default to a factor 2 around the start, σ/R and ω/D in [0.005, 0.6];
    ``nodes``, ``approximation`` and ``ensemble`` go to :func:`~hifft.gisaxs.simulate.islands_image`.
    """
    from scipy.optimize import least_squares

    data = np.log10(np.maximum(cuts.extract(image), 0.0) + epsilon)
    sub = cuts.geometry(geometry)
    shape = geometry.detector.shape
    b = {"radius": (start.radius / 2, start.radius * 2), "sigma_r": (0.005, 0.6),
         "distance": (start.distance / 2, start.distance * 2), "omega_d": (0.005, 0.6), **(bounds or {})}
    lo = np.array([math.log(b["radius"][0]), b["sigma_r"][0], math.log(b["distance"][0]), b["omega_d"][0], -2.0])
    hi = np.array([math.log(b["radius"][1]), b["sigma_r"][1], math.log(b["distance"][1]), b["omega_d"][1], 2.0])
    x0 = np.clip([math.log(start.radius), start.sigma_r, math.log(start.distance), start.omega_d, 0.0],
                 lo + 1e-9, hi - 1e-9)

    def islands_of(x: np.ndarray) -> Islands:
        return replace(start, radius=math.exp(x[0]), sigma_r=float(x[1]), distance=math.exp(x[2]),
                       omega_d=float(x[3]), density=None, coverage=None)

    def residual(x: np.ndarray) -> np.ndarray:
        model = islands_image(islands_of(x), sub, sample, contrast, approximation=approximation, ensemble=ensemble,
                              nodes=nodes)
        return np.log10(10.0 ** x[4] * cuts.reduce(model, shape) + epsilon) - data

    res = least_squares(residual, x0, bounds=(lo, hi), x_scale=[0.05, 0.05, 0.05, 0.05, 0.1], max_nfev=max_nfev)
    return CutFit(islands_of(res.x), float(10.0 ** res.x[4]), float(np.sqrt(np.mean(res.fun**2))), int(res.nfev),
                  bool(res.success))


__all__ = ["CutError", "CutFit", "Cuts", "fit_cuts", "standard_cuts"]
