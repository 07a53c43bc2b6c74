"""YAML job for the gap-inpainting models: simulated training patterns, gaps, network, loss, training,
evaluation (``pipelines/bcdi_inpaint_2d.yaml``, ``bcdi_inpaint_3d.yaml``).

Sections ``train`` (:class:`InpaintTrainConfig`) and ``evaluate`` (:class:`InpaintEvalConfig`);
every section is a :class:`hifft.config.StrictModel`, so an unknown key is an error naming the
field and the file. Lengths accept units ("10 Å", "1 nm") and are stored in Å; |G| in 1/Å
(with 2π); intensities in counts; times in minutes.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from .. import units
from ..config import PositiveRange, StrictModel, load_config

Shape = Literal["cube", "octahedron", "truncated_octahedron", "dodecahedron", "wulff", "sphere"]
Strain = Literal["none", "inclusion", "uniform", "screw"]
TRAIN_SHAPES: tuple[Shape, ...] = ("cube", "octahedron", "wulff", "sphere")
TRAIN_STRAINS: tuple[Strain, ...] = ("none", "inclusion", "uniform")
TEST_SHAPES: tuple[Shape, ...] = ("truncated_octahedron", "dodecahedron")
TEST_STRAINS: tuple[Strain, ...] = ("screw",)


class PatternConfig(StrictModel):
    """Simulated patterns (:func:`hifft.bcdi.simulate_pattern`): random crystal of ``shapes``, random
    rotation, oversampling, peak counts (log-uniform), Bragg direction and displacement of ``strains``.

    ``held_out_shapes``/``held_out_strains`` make the evaluation patterns (another seed stream);
    families listed there and not in ``shapes``/``strains`` are never seen in training.
    """

    size: int = Field(64, ge=16, le=512)
    spacing: float = 10.0
    oversampling: PositiveRange = PositiveRange(low=2.0, high=5.0)
    peak: PositiveRange = PositiveRange(low=5e4, high=2e5)
    bragg: float = Field(2.78, gt=0)
    misfit: PositiveRange = PositiveRange(low=5e-4, high=5e-3)
    shapes: list[Shape] = Field(default_factory=lambda: list(TRAIN_SHAPES), min_length=1)
    strains: list[Strain] = Field(default_factory=lambda: list(TRAIN_STRAINS), min_length=1)
    held_out_shapes: list[Shape] = Field(default_factory=lambda: list(TEST_SHAPES), min_length=1)
    held_out_strains: list[Strain] = Field(default_factory=lambda: list(TEST_STRAINS), min_length=1)

    @field_validator("spacing", mode="before")
    @classmethod
    def _length(cls, v: Any) -> float:
        out = units.length(v, "spacing")
        if not out > 0:
            raise ValueError(f"must be a positive length, got {v!r}")
        return out

    @model_validator(mode="after")
    def _oversampled(self) -> PatternConfig:
        if self.oversampling.low < 2:
            raise ValueError(f"oversampling: low must be ≥ 2 (BCDI needs a twice-oversampled pattern), "
                             f"got {self.oversampling.low}")
        return self


class GapConfig(StrictModel):
    """Gaps drawn for training: a width from ``widths`` (px), a cross with probability ``cross_fraction``
    (else one band), always planes through every frame (axis 0) in 3D."""

    widths: list[int] = Field(default_factory=lambda: [3, 6, 9, 12], min_length=1)
    cross_fraction: float = Field(0.2, ge=0, le=1)

    @field_validator("widths")
    @classmethod
    def _positive(cls, v: list[int]) -> list[int]:
        if any(w < 1 for w in v):
            raise ValueError(f"gap widths must be ≥ 1 px, got {v}")
        return v


class NetConfig(StrictModel):
    """The network (:class:`hifft.bcdi.unet.InpaintUNet`) and its patches (voxels).

    ``stride`` between inference patches (default (patch − 2·margin)/2: each interior voxel in
    about two patches per axis). ``precision`` of training and (by default) inference:
    "bfloat16" autocasts the convolutions (~2× faster on CPUs with AVX512-BF16), weights stay float32.
    ``residual``: the network corrects a line interpolation across the gap
    (:func:`hifft.bcdi.inpaint.line_fill`, a third input channel) instead of predicting the gap from scratch.
    """

    dims: Literal[2, 3] = 3
    widths: list[int] = Field(default_factory=lambda: [16, 32, 64], min_length=1)
    dilations: list[list[int]] = Field(default_factory=lambda: [[4, 3, 2, 1], [3, 2, 2, 1]])
    patch: int = Field(32, ge=8)
    margin: int = Field(4, ge=0)
    stride: int | None = Field(None, ge=1)
    precision: Literal["float32", "bfloat16"] = "float32"
    residual: bool = False

    @model_validator(mode="after")
    def _geometry(self) -> NetConfig:
        if self.patch - 2 * self.margin < 1:
            raise ValueError(f"margin: {self.margin} px leaves no interior in a {self.patch}-px patch")
        if self.stride is not None and self.stride > self.patch - 2 * self.margin:
            raise ValueError(f"stride: {self.stride} px > patch − 2·margin = {self.patch - 2 * self.margin} px "
                             "leaves voxels no patch interior covers")
        if len(self.dilations) > len(self.widths):
            raise ValueError(f"dilations: {len(self.dilations)} levels for {len(self.widths)} widths")
        if any(w < 1 for w in self.widths) or any(r < 1 for d in self.dilations for r in d):
            raise ValueError("widths and dilation rates must be positive")
        return self

    @property
    def inference_stride(self) -> int:
        return self.stride if self.stride is not None else max(1, (self.patch - 2 * self.margin) // 2)


class LossConfig(StrictModel):
    """Weights of the gap loss: MAE over gap voxels, (1 − SSIM) over 2D slices (frames) of the
    prediction composited into the truth, MAE of finite differences touching the gap."""

    mae: float = Field(1.0, ge=0)
    ssim: float = Field(1.0, ge=0)
    grad: float = Field(1.0, ge=0)


class InpaintTrainConfig(StrictModel):
    """Training: ``minutes`` of wall clock (learning rate annealed over it), at most ``max_steps``."""

    out: Path
    seed: int = 0
    minutes: float = Field(90.0, gt=0)
    max_steps: int | None = Field(None, ge=1)
    batch_size: int = Field(8, ge=1)
    lr: float = Field(1e-3, gt=0)
    weight_decay: float = Field(1e-5, ge=0)
    #: torch threads (default: every core of this machine)
    threads: int | None = Field(None, ge=1)
    n_patterns: int = Field(200, ge=1)
    n_val_patterns: int = Field(8, ge=1)
    val_patches: int = Field(64, ge=1)
    checkpoint_minutes: float = Field(5.0, gt=0)
    #: reference peak of the log scale x = log1p(g·I)/log1p(peak), counts
    peak_ref: float = Field(1e5, gt=1)
    #: what the gap voxels are trained towards: the expected counts or the Poisson counts
    target: Literal["expected", "counts"] = "expected"
    patterns: PatternConfig = PatternConfig()
    gaps: GapConfig = GapConfig()
    model: NetConfig = NetConfig()
    loss: LossConfig = LossConfig()

    @model_validator(mode="after")
    def _fits(self) -> InpaintTrainConfig:
        m = self.model
        if max(self.gaps.widths) > m.patch - 2 * m.margin:
            raise ValueError(f"gaps.widths: {max(self.gaps.widths)} px does not fit the patch interior "
                             f"({m.patch} − 2·{m.margin} = {m.patch - 2 * m.margin} px)")
        if m.patch > self.patterns.size:
            raise ValueError(f"model.patch: {m.patch} px is larger than the patterns (size {self.patterns.size})")
        return self


class InpaintEvalConfig(StrictModel):
    """Held-out evaluation: ``n_patterns`` patterns (size: ``size`` or the training size) of the
    held-out families, each with one gap of every width in ``widths`` (``kind``: band, cross, or
    alternating), placed to cross the central half of the pattern. ``bins``: edges (expected counts)
    of the local-intensity bins. ``timing_size``: also time one pattern of that size (0: no)."""

    seed: int = 1_000_003
    n_patterns: int = Field(8, ge=1)
    size: int | None = Field(None, ge=16)
    widths: list[int] = Field(default_factory=lambda: [3, 6, 9, 12], min_length=1)
    kind: Literal["line", "cross", "both"] = "both"
    bins: list[float] = Field(default_factory=lambda: [1.0, 10.0, 100.0, 1e3, 1e4])
    timing_size: int = Field(0, ge=0)
    batch_size: int = Field(16, ge=1)
    threads: int | None = Field(None, ge=1)

    @field_validator("bins")
    @classmethod
    def _increasing(cls, v: list[float]) -> list[float]:
        if any(b <= a for a, b in itertools.pairwise(v)) or any(b <= 0 for b in v):
            raise ValueError(f"bin edges must be positive and increasing, got {v}")
        return v


class InpaintJob(StrictModel):
    """One inpainting job file."""

    train: InpaintTrainConfig
    evaluate: InpaintEvalConfig = InpaintEvalConfig()


def load(path: str | os.PathLike[str], environ: Mapping[str, str] | None = None) -> InpaintJob:
    """Load an inpainting job (YAML; ``HIFFT_TRAIN__MINUTES=…`` overrides from ``environ``, default
    the process environment)."""
    return load_config(Path(path), InpaintJob, environ)


__all__ = ["PatternConfig", "GapConfig", "NetConfig", "LossConfig", "InpaintTrainConfig", "InpaintEvalConfig",
           "InpaintJob", "load"]
