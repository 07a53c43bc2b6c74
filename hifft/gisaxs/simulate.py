"""One-call images: islands described by parameters (analytic fast path) or a voxel layer.

Both return the intensity per unit area (1/sr, see :mod:`.dwba`) on the
detector's pixels and share the same DWBA terms (:func:`.dwba.dwba_terms`), so
the analytic fast path and the voxel route differ only in how F is obtained.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from .dwba import SLD2, Sample, dwba_terms
from .formfactors import Shape, make_shape
from .geometry import Geometry
from .layer import as_volume, layer_amplitude
from .structure import SizeDistribution, coverage_density, ensemble_intensity, radial_paracrystal


@dataclass(frozen=True)
class Islands:
    """Seed 000's island model: ``shape`` (``hemisphere``, ``truncated_sphere``, ``cylinder``, ``box``)
    of mean ``radius`` (Å) with Gaussian spread ``sigma_r`` (relative), nearest-neighbour distance
    ``distance`` (Å) with Gaussian spread ``omega_d`` (relative; 0 = dilute, no interference),
    at ``density`` islands per Å² (default 2/(√3 D²), a hexagonal arrangement's, as BornAgain's
    radial paracrystal; or from ``coverage``). ``aspect`` is height/radius
    for truncated spheres, cylinders and boxes."""

    radius: float
    sigma_r: float = 0.0
    distance: float = 0.0
    omega_d: float = 0.0
    shape: str = "hemisphere"
    aspect: float = 1.0
    density: float | None = None
    coverage: float | None = None

    def make_shape(self) -> Shape:
        r = self.radius
        if self.shape == "hemisphere":
            return make_shape("hemisphere", radius=r)
        if self.shape == "truncated_sphere":
            return make_shape("truncated_sphere", radius=r, height=self.aspect * r)
        if self.shape == "cylinder":
            return make_shape("cylinder", radius=r, length=self.aspect * r)
        if self.shape == "sphere":
            return make_shape("sphere", radius=r)
        return make_shape("box", length_a=2 * r, length_b=2 * r, length_c=self.aspect * r)

    def areal_density(self) -> float:
        if self.density is not None:
            return self.density
        if self.coverage is not None:
            return coverage_density(self.coverage, self.make_shape())
        if self.distance > 0:
            return 2.0 / (math.sqrt(3.0) * self.distance**2)
        raise ValueError("density: give density, coverage or distance")


def islands_image(islands: Islands, geometry: Geometry, sample: Sample, contrast: complex, *,
                  approximation: str = "dwba", ensemble: str = "da", nodes: int = 15) -> np.ndarray:
    """Intensity per unit area (1/sr) of ``islands`` (analytic form factors, the same DWBA terms)."""
    terms = dwba_terms(geometry, sample, approximation)
    inter = None
    if islands.distance > 0:
        inter = radial_paracrystal(islands.distance, islands.omega_d * islands.distance)
    size = SizeDistribution(islands.sigma_r, nodes) if islands.sigma_r > 0 else None
    return ensemble_intensity(islands.make_shape(), terms, contrast, islands.areal_density(), size=size,
                              interference=inter, approximation=ensemble)


def layer_image(layer: Any, geometry: Geometry, sample: Sample, *, spacing: Any = None,
                approximation: str = "dwba", **kwargs: Any) -> np.ndarray:
    """Intensity per unit area (1/sr) of a voxel layer of SLD contrast (1e-6/Å²): |A|²/area.

    ``kwargs`` go to :func:`.layer.layer_amplitude` (pad, client, backend, memory_budget, ...).
    """
    vol = as_volume(layer, spacing)
    _, ly, lx = vol.grid.box
    a = layer_amplitude(vol, dwba_terms(geometry, sample, approximation), **kwargs)
    return SLD2 * np.abs(a) ** 2 / (ly * lx)


__all__ = ["Islands", "islands_image", "layer_image"]
