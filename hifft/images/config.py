"""Configuration of image-codec jobs (``pipelines/images_codec.yaml``): strict models, one YAML file.

Sections: ``data`` (which images, crop), ``preprocess`` (log scale), ``model`` (codec
kind and widths), ``train`` (rate–distortion loss, budget, augmentation). Relative
paths resolve against the working directory. Errors name the file and field
(:func:`hifft.config.load_config`).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator

from ..config import PositiveRange, StrictModel, load_config

#: codec kinds (:mod:`hifft.images.codecs`)
KINDS = ("factorized", "hyperprior", "mean_scale")
Kind = Literal["factorized", "hyperprior", "mean_scale"]


class DataConfig(StrictModel):
    """Images of a GISAXS dataset store (``hifft gisaxs dataset``), cropped to ``size`` at ``crop``."""

    #: the store; training reads its clean intensities ``I`` (1/sr), the noisy route draws its own counts
    dataset: Path
    #: (row, col) of the crop window's first pixel on the detector image
    crop: tuple[int, int] = (0, 0)
    #: (rows, cols) of the model's images (multiples of 64 for the hyperpriors)
    size: tuple[int, int] = (256, 256)
    max_train: int | None = Field(None, ge=1)
    max_val: int | None = Field(32, ge=1)

    @model_validator(mode="after")
    def _check(self) -> DataConfig:
        if min(self.size) < 1 or min(self.crop) < 0:
            raise ValueError(f"size must be positive and crop non-negative, got size {self.size}, crop {self.crop}")
        return self


class PreprocessConfig(StrictModel):
    """log10(I + ε) mapped to [0, 1] (see :mod:`hifft.images.preprocess`); unset values fitted on train."""

    #: ε in the images' unit (1/sr); None: 10^−decades × the 99.9th percentile of the training images
    epsilon: float | None = Field(None, gt=0)
    decades: float = Field(6.0, gt=0)


class ModelConfig(StrictModel):
    """Codec kind, widths N (transforms) and M (latent channels), and whether it sees a mask channel."""

    name: str = Field("codec", min_length=1, max_length=64)
    kind: Kind = "mean_scale"
    n: int = Field(32, ge=1)
    m: int = Field(48, ge=1)
    mask_channel: bool = False


class AugmentConfig(StrictModel):
    """The denoising / gap-filling route: the input gets gaps and Poisson noise, the target stays clean."""

    #: photons per image, drawn log-uniformly per image (None: no noise)
    flux: PositiveRange | None = None
    #: detector gaps of the input: none, the dataset's own (counts −1/−2) or module gaps at a random offset
    gaps: Literal["none", "dataset", "random"] = "none"
    #: (rows, cols) of a detector module and of the gaps between modules, for ``gaps: random``
    module: tuple[int, int] = (195, 487)
    gap: tuple[int, int] = (17, 7)
    dead_fraction: float = Field(0.0, ge=0, lt=1)


class TrainConfig(StrictModel):
    """Rate–distortion training: loss = λ·D + R (R in bits per pixel, D on the normalised log image)."""

    out: Path
    distortion: Literal["mse", "ms_ssim"] = "ms_ssim"
    #: λ of the loss (D = MSE or 1 − MS-SSIM)
    lmbda: float = Field(2.4, gt=0)
    batch_size: int = Field(8, ge=1)
    lr: float = Field(1e-3, gt=0)
    #: wall-clock budget for the whole training (resumed runs included), minutes
    minutes: float = Field(60.0, gt=0)
    #: at most this many optimiser steps (None: the budget decides)
    max_steps: int | None = Field(None, ge=1)
    seed: int = 0
    #: torch threads (1 by default: on a shared machine more threads spin waiting for each other,
    #: measured 30× slower per step under load; 2 pays only on an idle 2-core machine)
    threads: int = Field(1, ge=1)
    #: seconds between checkpoints
    checkpoint_s: float = Field(120.0, gt=0)
    clip_grad: float = Field(1.0, gt=0)
    #: first steps of an ms_ssim training with distortion MSE and no rate term: MS-SSIM is a product of
    #: ReLU-clipped terms, zero with zero gradient until the output correlates with the target at every scale
    #: (measured: a fresh mean–scale model stuck at 1 − MS-SSIM = 1.000 for 184 steps)
    warmup_steps: int = Field(300, ge=0)
    augment: AugmentConfig = AugmentConfig()


class ImagesConfig(StrictModel):
    data: DataConfig
    preprocess: PreprocessConfig = PreprocessConfig()
    model: ModelConfig = ModelConfig()
    train: TrainConfig

    @model_validator(mode="after")
    def _consistent(self) -> ImagesConfig:
        stride = 16 if self.model.kind == "factorized" else 64
        if self.data.size[0] % stride or self.data.size[1] % stride:
            raise ValueError(f"data.size {list(self.data.size)}: a {self.model.kind} codec needs multiples of {stride}")
        a = self.train.augment
        if (a.gaps != "none" or a.dead_fraction > 0) and not self.model.mask_channel:
            raise ValueError("train.augment: gaps or dead pixels need model.mask_channel: true")
        return self


def load(path: str | os.PathLike[str]) -> ImagesConfig:
    """Read and validate an image-codec job file (errors name the file and field)."""
    return load_config(path, ImagesConfig)


__all__ = ["KINDS", "AugmentConfig", "DataConfig", "ImagesConfig", "Kind", "ModelConfig", "PreprocessConfig",
           "TrainConfig", "load"]
