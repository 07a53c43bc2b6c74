"""Bragg coherent diffraction imaging (BCDI): simulator, detector gaps, phase retrieval.

Crystals on a grid (:mod:`.crystals`), displacement fields and their Bragg phase
(:mod:`.strain`), patterns |FFT(ρ·exp(iG·u))|² with Poisson counts (:mod:`.simulate`),
detector-gap masks (:mod:`.gaps`), HIO/ER/shrink-wrap phasing (:mod:`.phasing`, arrays on
:mod:`.backends`) and comparison with the true object (:mod:`.evaluate`).

Gap inpainting: patch planning (:mod:`.patches`), inference, baselines and metrics
(:mod:`.inpaint`), the job config (:mod:`.inpaint_config`), training data (:mod:`.inpaint_data`),
held-out evaluation (:mod:`.inpaint_eval`), figures (:mod:`.inpaint_plot`); the network and its
file (:mod:`.unet`) and training (:mod:`.inpaint_train`) need torch (the ``ml`` extra) and load
lazily: ``InpaintUNet``, ``InpaintModel``, ``load_model``, ``save_model``, ``train_inpaint``.

Units: lengths and displacements in Å, the Bragg vector G in 1/Å including 2π, phases in
radians, intensities in counts. Vectors are in array axis order (z, y, x); axis 0 of a
pattern is the rocking (frame) axis.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

from .crystals import (
    Crystal,
    CrystalError,
    cube,
    fit_oversampling,
    octahedron,
    polyhedron,
    random_rotation,
    sphere,
    support,
    truncated_octahedron,
    wulff,
)
from .evaluate import Comparison, compare, remove_ramp, twin
from .gaps import LAYOUTS, Layout, MaskError, as_mask, cross_gap, describe, detector_mask, extend, line_gap, random_gap
from .inpaint import InpaintError, biharmonic, check_pattern, from_log, gap_metrics, to_log, zero_fill
from .inpaint_config import InpaintJob, InpaintTrainConfig
from .inpaint_config import load as load_inpaint_job
from .patches import PatchPlan, PlanError, gap_width, plan_patches
from .phasing import PhasingError, PhasingResult, Recipe, SupportWarning, phase_retrieval
from .simulate import complex_object, diffraction, object_of, poisson, scale_to_peak, simulate_pattern, write
from .strain import (
    DisplacementError,
    bragg_phase,
    imported,
    screw_dislocation,
    spherical_inclusion,
    strain_from_phase,
    uniform_strain,
)

__all__ = [
    "Crystal", "CrystalError", "cube", "octahedron", "truncated_octahedron", "wulff", "sphere", "polyhedron",
    "random_rotation", "fit_oversampling", "support",
    "DisplacementError", "uniform_strain", "spherical_inclusion", "screw_dislocation", "imported", "bragg_phase",
    "strain_from_phase",
    "complex_object", "diffraction", "scale_to_peak", "poisson", "simulate_pattern", "object_of", "write",
    "LAYOUTS", "Layout", "MaskError", "line_gap", "cross_gap", "random_gap", "detector_mask", "extend", "as_mask",
    "describe",
    "Recipe", "PhasingError", "PhasingResult", "SupportWarning", "phase_retrieval",
    "Comparison", "compare", "remove_ramp", "twin",
    "InpaintError", "check_pattern", "to_log", "from_log", "biharmonic", "zero_fill", "gap_metrics",
    "PatchPlan", "PlanError", "plan_patches", "gap_width", "InpaintJob", "InpaintTrainConfig", "load_inpaint_job",
    "InpaintUNet", "InpaintModel", "load_model", "save_model", "train_inpaint",
]

#: torch-backed names, imported on first use
_LAZY = {
    "InpaintUNet": "hifft.bcdi.unet",
    "InpaintModel": "hifft.bcdi.unet",
    "load_model": "hifft.bcdi.unet",
    "save_model": "hifft.bcdi.unet",
    "train_inpaint": "hifft.bcdi.inpaint_train",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'hifft.bcdi' has no attribute {name!r}")
