"""Wide-angle XUV diffraction of helium nanodroplets: synthetic labelled images (seed 003).

Labels and their hierarchy (:mod:`.labels`), droplet geometries and the
rules that label them (:mod:`.droplets`), Ewald-sphere images with MCP
nuisances (:mod:`.patterns`), configuration (:mod:`.config`) and the
resumable image dataset job (:mod:`.dataset`).

The classifier: CCF maps (:mod:`.ccf`), image files (:mod:`.images`),
metrics and thresholds (:mod:`.metrics`), the pre-activated ResNet18
(:mod:`.model`), training and prediction (:mod:`.classify`), ensembles
(:mod:`.ensemble`) and evaluation (:mod:`.evaluate`). Names that need torch
(``PreActResNet18``, ``LogActivation``, ``log_activation``, ``Classifier``,
``Ensemble``, ``train_classifier``, ``build_ensemble``, ``load_model``,
``predict_files``, ``evaluate_classifiers``) load lazily; the rest imports
without torch.

Units: lengths in Å (or strings with units), photon energies in eV, angles
in degrees; images are float32 detector units (not log-scaled).
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

from .ccf import CCF, ccf_maps
from .config import FAMILIES, ClassifierConfig, DiffractionConfig, load, load_classifier
from .droplets import Body, Droplets, GeometryError, derive_labels, draw, rule_margins, shape_features
from .images import ImageError, check_images, read_images
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
from .metrics import add_uniform_noise, best_thresholds, label_metrics, noise_bounds, score_metrics
from .patterns import (
    Nuisance,
    PatternError,
    active_pixels,
    detector_counts,
    ewald_intensity,
    expected_signal,
    grid_for,
    make_detector,
    render,
    wavelength_of,
)

#: torch-dependent names, imported on first use
_LAZY: dict[str, tuple[str, str]] = {
    "PreActResNet18": ("hifft.diffraction.model", "PreActResNet18"),
    "LogActivation": ("hifft.diffraction.model", "LogActivation"),
    "log_activation": ("hifft.diffraction.model", "log_activation"),
    "Classifier": ("hifft.diffraction.classify", "Classifier"),
    "Ensemble": ("hifft.diffraction.ensemble", "Ensemble"),
    "build_ensemble": ("hifft.diffraction.ensemble", "build"),
    "train_classifier": ("hifft.diffraction.classify", "train"),
    "load_model": ("hifft.diffraction.classify", "load"),
    "predict_files": ("hifft.diffraction.classify", "predict_files"),
    "evaluate_classifiers": ("hifft.diffraction.evaluate", "evaluate"),
}

__all__ = [
    "DISPLAY", "FAMILIES", "LABELS", "PARENT", "SUPERORDINATE",
    "Body", "CCF", "ClassifierConfig", "DiffractionConfig", "Droplets", "GeometryError", "ImageError", "LabelError",
    "Nuisance", "PatternError",
    "active_pixels", "add_uniform_noise", "best_thresholds", "ccf_maps", "check_images", "score_metrics",
    "count_violations", "decode",
    "derive_labels", "detector_counts", "draw", "encode", "enforce_hierarchy", "ewald_intensity", "expected_signal",
    "grid_for", "label_metrics", "load", "load_classifier", "make_detector", "noise_bounds", "read_images", "render",
    "rule_margins", "shape_features", "wavelength_of",
    *_LAZY,
]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        mod, attr = _LAZY[name]
        value = getattr(import_module(mod), attr)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'hifft.diffraction' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
