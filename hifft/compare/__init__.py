"""Comparison with sasmodels (SasView) on absolute scale, physics checks, validation suite.

Public: :func:`compare_sasmodels`, :func:`compare_scene`, :class:`Comparison`,
and the checks in :mod:`hifft.compare.checks` (Guinier, Porod, invariant).
Every sasmodels curve in hifft (here and in :mod:`hifft.ml`) comes from the
one adapter, :mod:`hifft.compare.sasmodels_`; shapes map onto sasmodels
models in :mod:`hifft.volume.shapes`.
"""

from __future__ import annotations

from .core import Comparison, bin_average, compare_model, compare_sasmodels

__all__ = [
    "Comparison",
    "bin_average",
    "compare_model",
    "compare_sasmodels",
    "compare_scene",
    "scene_to_sasmodels",
]


def __getattr__(name: str):
    if name in ("compare_scene", "scene_to_sasmodels"):
        from . import scene

        return getattr(scene, name)
    raise AttributeError(f"module 'hifft.compare' has no attribute {name!r}")
