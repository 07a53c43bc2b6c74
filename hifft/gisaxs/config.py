"""Configuration of GISAXS jobs: strict pydantic models read from one YAML file (``pipelines/gisaxs_*.yaml``).

Top-level sections: ``beam``, ``detector``, ``sample``, ``islands``, ``dataset``.
Lengths accept units ("4 nm") and are stored in Å; angles are degrees or strings
with units; bad values are refused with the field named (:func:`hifft.config.load_config`).
"""

from __future__ import annotations

import os
from typing import Any, Literal

from pydantic import field_validator, model_validator

from .. import units
from ..config import LengthRange, Range, StrictModel, load_config
from ..sampleset import SplitConfig
from .geometry import Beam, Detector, Geometry, angle, wavelength_of


class BeamConfig(StrictModel):
    """Wavelength (Å or "0.096 nm") or energy ("12.9 keV"), and α_i (degrees or with units)."""

    wavelength: Any = None
    energy: Any = None
    alpha_i: Any = 0.4

    @model_validator(mode="after")
    def _check(self) -> BeamConfig:
        self.build()
        return self

    def build(self) -> Beam:
        return Beam(wavelength_of(self.wavelength, self.energy), angle(self.alpha_i, "alpha_i"))


class DetectorConfig(StrictModel):
    """An angular grid: α_f and 2θ_f edges (degrees or with units) and (rows, cols)."""

    alpha_f: tuple[Any, Any] = (0.0, 4.0)
    two_theta_f: tuple[Any, Any] = (0.0, 4.0)
    shape: tuple[int, int] = (499, 500)
    supersample: int = 1

    @model_validator(mode="after")
    def _check(self) -> DetectorConfig:
        if self.supersample < 1:
            raise ValueError("supersample: must be >= 1")
        self.build()
        return self

    def build(self, supersample: int = 1) -> Detector:
        r, c = self.shape
        return Detector.angular(self.alpha_f, self.two_theta_f, (r * supersample, c * supersample))


class SampleConfig(StrictModel):
    """Substrate, ambient and island materials (xraydb names or {formula, density}); roughness (Å)."""

    substrate: Any = "Si"
    ambient: Any = "vacuum"
    particle: Any = "Au"
    roughness: float = 0.0

    @field_validator("roughness", mode="before")
    @classmethod
    def _len(cls, v: Any) -> float:
        return units.length(v, "roughness")


class IslandsConfig(StrictModel):
    """Seed 000's parameter space (and wider): R, σ/R, D, ω/D; the island shape; size integration nodes."""

    shape: Literal["hemisphere", "truncated_sphere", "cylinder", "box", "sphere"] = "hemisphere"
    aspect: float = 1.0
    radius: LengthRange = LengthRange(low=25.0, high=75.0)
    sigma_r: Range = Range(low=0.01, high=0.5)
    distance: LengthRange = LengthRange(low=10.0, high=150.0)
    omega_d: Range = Range(low=0.01, high=0.5)
    #: seed 000's condition 2R < D (non-touching islands); draws violating it are redrawn
    require_gap: bool = True
    ensemble: Literal["da", "lma"] = "da"
    nodes: int = 15


class NoiseConfig(StrictModel):
    """Photons per image (``flux``, log-uniform range), detector gaps, dead pixels and beam stops."""

    flux: Range = Range(low=1e8, high=1e10)
    module: tuple[int, int] = (195, 487)
    gap: tuple[int, int] = (17, 7)
    gap_offset: tuple[int, int] = (100, 100)
    dead_fraction: float = 0.001
    beam_stop_radius: float = 0.15


class VoxelConfig(StrictModel):
    """The voxel-made subset: explicit islands on a 2D paracrystal, voxelized and sent through the layer route."""

    fraction: float = 0.0
    box: float = 2000.0
    spacing: float = 5.0
    pad: int = 1

    @field_validator("box", "spacing", mode="before")
    @classmethod
    def _len(cls, v: Any, info: Any) -> float:
        return units.length(v, info.field_name)

    @field_validator("fraction")
    @classmethod
    def _frac(cls, v: float) -> float:
        if not 0 <= v <= 1:
            raise ValueError("fraction: must be in [0, 1]")
        return v


class DatasetConfig(StrictModel):
    n_samples: int = 64
    chunk_size: int = 8
    seed: int = 0
    approximation: Literal["dwba", "born"] = "dwba"
    noise: NoiseConfig = NoiseConfig()
    voxel: VoxelConfig = VoxelConfig()
    split: SplitConfig = SplitConfig()

    @model_validator(mode="after")
    def _sizes(self) -> DatasetConfig:
        if self.n_samples < 1 or self.chunk_size < 1:
            raise ValueError("n_samples and chunk_size must be >= 1")
        return self

    @property
    def n_chunks(self) -> int:
        return -(-self.n_samples // self.chunk_size)


class GisaxsConfig(StrictModel):
    beam: BeamConfig = BeamConfig(wavelength=0.96)
    detector: DetectorConfig = DetectorConfig()
    sample: SampleConfig = SampleConfig()
    islands: IslandsConfig = IslandsConfig()
    dataset: DatasetConfig = DatasetConfig()

    def geometry(self, supersample: int = 1) -> Geometry:
        return Geometry(self.beam.build(), self.detector.build(supersample))


def load(path: str | os.PathLike[str]) -> GisaxsConfig:
    """Read and validate a GISAXS job file (errors name the file and field)."""
    return load_config(path, GisaxsConfig)


__all__ = ["BeamConfig", "DatasetConfig", "DetectorConfig", "GisaxsConfig", "IslandsConfig", "NoiseConfig",
           "SampleConfig", "VoxelConfig", "load"]
