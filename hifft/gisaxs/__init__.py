"""Grazing-incidence small-angle scattering (GISAXS) of island layers: Born and DWBA images.

Geometry (:mod:`.geometry`), materials and Fresnel coefficients (:mod:`.materials`),
the four-term DWBA for any amplitude (:mod:`.dwba`), analytic island form factors
(:mod:`.formfactors`), the out-of-core voxel route (:mod:`.layer`), interference
and size distributions (:mod:`.structure`), detector realism and outputs
(:mod:`.detector`), one-call images (:mod:`.simulate`) and the resumable image
dataset job (:mod:`.dataset`, ``hifft gisaxs dataset``).

Units: lengths in Å (or strings with units), angles in degrees at input and
radians inside, q in 1/Å, intensity per unit area in 1/sr.
"""

from __future__ import annotations

from .detector import (
    DEAD,
    GAP,
    apply_conventions,
    beam_stops,
    bin_down,
    dead_pixels,
    expected_counts,
    horizon,
    module_gaps,
    plot,
    poisson_counts,
    to_nexus,
    to_xarray,
)
from .dwba import Sample, Terms, amplitude, contrast, dwba_terms, particle_cross_section, yoneda_angle
from .formfactors import Box, Cylinder, Hemisphere, Shape, SphereOnSurface, TruncatedSphere, make_shape
from .geometry import Beam, Detector, Geometry, GeometryError
from .layer import LayerError, layer_amplitude, voxelize
from .materials import VACUUM, Material, MaterialError, fresnel_r, material
from .simulate import Islands, islands_image, layer_image
from .structure import (
    SizeDistribution,
    coherent_intensity,
    coverage_density,
    ensemble_intensity,
    lattice_2d,
    paracrystal_2d,
    place,
    radial_paracrystal,
    realisation_average,
)

__all__ = [
    "DEAD", "GAP", "VACUUM",
    "Beam", "Box", "Cylinder", "Detector", "Geometry", "GeometryError", "Hemisphere", "Islands", "LayerError",
    "Material", "MaterialError", "Sample", "Shape", "SizeDistribution", "SphereOnSurface", "Terms",
    "TruncatedSphere",
    "amplitude", "apply_conventions", "beam_stops", "bin_down", "coherent_intensity", "contrast",
    "coverage_density", "dead_pixels", "dwba_terms", "ensemble_intensity", "expected_counts", "fresnel_r",
    "horizon", "islands_image", "lattice_2d", "layer_amplitude", "layer_image", "make_shape", "material",
    "module_gaps", "paracrystal_2d", "particle_cross_section", "place", "plot", "poisson_counts",
    "radial_paracrystal", "realisation_average", "to_nexus", "to_xarray", "voxelize", "yoneda_angle",
]
