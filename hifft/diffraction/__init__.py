"""Wide-angle XUV diffraction of helium nanodroplets: synthetic labelled images (seed 003).

Labels and their hierarchy (:mod:`.labels`), droplet geometries and the
rules that label them (:mod:`.droplets`), Ewald-sphere images with MCP
nuisances (:mod:`.patterns`), configuration (:mod:`.config`) and the
resumable image dataset job (:mod:`.dataset`).

Units: lengths in Å (or strings with units), photon energies in eV, angles
in degrees; images are float32 detector units (not log-scaled).
"""

from __future__ import annotations

from .config import FAMILIES, DiffractionConfig, load
from .droplets import Body, Droplets, GeometryError, derive_labels, draw, shape_features
from .labels import (
    DISPLAY,
    LABELS,
    PARENT,
    SUPERORDINATE,
    LabelError,
    count_violations,
    decode,
    encode,
    enforce_hierarchy,
)
from .patterns import (
    Nuisance,
    PatternError,
    detector_counts,
    ewald_intensity,
    expected_signal,
    grid_for,
    make_detector,
    render,
    wavelength_of,
)

__all__ = [
    "DISPLAY", "FAMILIES", "LABELS", "PARENT", "SUPERORDINATE",
    "Body", "DiffractionConfig", "Droplets", "GeometryError", "LabelError", "Nuisance", "PatternError",
    "count_violations", "decode", "derive_labels", "detector_counts", "draw", "encode", "enforce_hierarchy",
    "ewald_intensity", "expected_signal", "grid_for", "load", "make_detector", "render", "shape_features",
    "wavelength_of",
]
