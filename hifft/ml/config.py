"""Configuration of the ML jobs: priors, q grid, noise, dataset, FFT subset, training.

All sections derive :class:`hifft.config.StrictModel` (unknown keys are errors)
and live in one YAML file (``pipelines/ml_*.yaml``) with top-level sections
``dataset``, ``fft_subset``, ``train``, ``evaluate``; each ``hifft ml``
subcommand reads the section it needs.

Lengths accept units (``"5 nm"``) and are stored in Å; q in 1/Å, SLD in
1e-6/Å², intensity in 1/cm (:mod:`hifft.units`).
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any, ClassVar, Literal

import numpy as np
from pydantic import Field, field_validator, model_validator

from .. import units
from ..cluster import ClusterConfig  # the one cluster model (kinds, TLS, dashboard)
from ..config import StrictModel, load_config
from ..sampleset import SplitConfig

# ---------------------------------------------------------------------------
# priors
# ---------------------------------------------------------------------------

Dist = Literal["fixed", "uniform", "loguniform", "normal", "truncnormal"]


class Prior(StrictModel):
    """A 1D prior. ``fixed`` uses ``value``; ``uniform``/``loguniform`` use
    ``low``/``high``; ``normal`` uses ``mean``/``std``; ``truncnormal`` uses
    ``mean``/``std`` cut to [``low``, ``high``].

    A bare number in YAML means ``fixed`` at that value; a two-element list
    ``[low, high]`` means ``uniform``.
    """

    #: unit kind of the values (None: dimensionless); subclasses set it.
    kind: ClassVar[str | None] = None

    dist: Dist = "fixed"
    value: float | None = None
    low: float | None = None
    high: float | None = None
    mean: float | None = None
    std: float | None = None

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, data: Any) -> Any:
        if isinstance(data, int | float | str) and not isinstance(data, bool):
            return {"dist": "fixed", "value": data}
        if isinstance(data, list | tuple):
            if len(data) != 2:
                raise ValueError(f"a list prior is [low, high] (uniform); got {len(data)} values")
            return {"dist": "uniform", "low": data[0], "high": data[1]}
        return data

    @field_validator("value", "low", "high", "mean", "std", mode="before")
    @classmethod
    def _units(cls, v: Any, info: Any) -> Any:
        if v is None or cls.kind is None:
            return v
        return units.convert(v, cls.kind, info.field_name)

    @model_validator(mode="after")
    def _check(self) -> Prior:
        d = self.dist
        need = {
            "fixed": ("value",),
            "uniform": ("low", "high"),
            "loguniform": ("low", "high"),
            "normal": ("mean", "std"),
            "truncnormal": ("mean", "std", "low", "high"),
        }[d]
        missing = [k for k in need if getattr(self, k) is None]
        if missing:
            raise ValueError(f"prior '{d}' needs {', '.join(missing)}")
        if d in ("uniform", "loguniform", "truncnormal") and not self._num("low") < self._num("high"):
            raise ValueError(f"prior '{d}': low ({self.low}) must be below high ({self.high})")
        if d == "loguniform" and self._num("low") <= 0:
            raise ValueError("prior 'loguniform': low must be > 0")
        if d in ("normal", "truncnormal") and self._num("std") <= 0:
            raise ValueError(f"prior '{d}': std must be > 0")
        return self

    def _num(self, name: str) -> float:
        """Field ``name`` as a float; the validator makes it set for this ``dist``, else raise."""
        v = getattr(self, name)
        if v is None:
            raise ValueError(f"prior '{self.dist}' needs {name}")
        return float(v)

    # -- use -----------------------------------------------------------------
    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        d = self.dist
        if d == "fixed":
            return np.full(n, self._num("value"))
        if d == "uniform":
            return rng.uniform(self._num("low"), self._num("high"), n)
        if d == "loguniform":
            return np.exp(rng.uniform(math.log(self._num("low")), math.log(self._num("high")), n))
        if d == "normal":
            return rng.normal(self._num("mean"), self._num("std"), n)
        # truncnormal by inverse CDF (exact, no rejection loop)
        from scipy.stats import truncnorm

        mean, std = self._num("mean"), self._num("std")
        a = (self._num("low") - mean) / std
        b = (self._num("high") - mean) / std
        u = rng.uniform(size=n)
        return truncnorm.ppf(u, a, b, loc=mean, scale=std)

    def bounds(self) -> tuple[float, float]:
        """Support of the prior (±inf for an untruncated normal)."""
        if self.dist == "fixed":
            return self._num("value"), self._num("value")
        if self.dist == "normal":
            return -math.inf, math.inf
        return self._num("low"), self._num("high")

    @property
    def varies(self) -> bool:
        return self.dist != "fixed"


class LengthPrior(Prior):
    """A prior over a length; values accept units and are stored in Å."""

    kind: ClassVar[str | None] = "length"


class IntensityPrior(Prior):
    """A prior over an intensity; values accept units and are stored in 1/cm."""

    kind: ClassVar[str | None] = "intensity"


def uniform(lo: float, hi: float) -> Any:
    return {"dist": "uniform", "low": lo, "high": hi}


def loguniform(lo: float, hi: float) -> Any:
    return {"dist": "loguniform", "low": lo, "high": hi}


def _sld(v: Any, info: Any) -> float:
    return units.sld(v, info.field_name)


# ---------------------------------------------------------------------------
# shapes
# ---------------------------------------------------------------------------


class _Shape(StrictModel):
    #: number of points of each polydispersity integral (sasmodels ``*_pd_n``)
    pd_n: int = Field(35, ge=1, le=201)
    pd_nsigma: float = Field(3.0, gt=0)


class SphereSpec(_Shape):
    radius: LengthPrior = LengthPrior.model_validate(loguniform(20.0, 200.0))
    radius_pd: Prior = Prior.model_validate(uniform(0.0, 0.2))
    sld: float = 1.0
    sld_solvent: float = 0.0

    @field_validator("sld", "sld_solvent", mode="before")
    @classmethod
    def _sld_units(cls, v: Any, info: Any) -> float:
        return _sld(v, info)


class HardSphereSpec(SphereSpec):
    #: from 0.05: below it S(q) differs from 1 by less than the noise of most
    #: curves and a hard-sphere fluid is a dilute sphere (the class of its own)
    volfraction: Prior = Prior.model_validate(uniform(0.05, 0.35))

    @field_validator("volfraction")
    @classmethod
    def _phi(cls, v: Prior) -> Prior:
        lo, hi = v.bounds()
        if lo < 0 or hi > 0.5:
            raise ValueError("volfraction prior must lie in [0, 0.5] (Percus-Yevick hard spheres)")
        return v


class CylinderSpec(_Shape):
    radius: LengthPrior = LengthPrior.model_validate(loguniform(15.0, 80.0))
    length: LengthPrior = LengthPrior.model_validate(loguniform(150.0, 1000.0))
    radius_pd: Prior = Prior.model_validate(uniform(0.0, 0.2))
    length_pd: Prior = Prior.model_validate(uniform(0.0, 0.2))
    #: samples with length < this × diameter are drawn again (a short
    #: cylinder is not distinguishable from a sphere-like blob)
    min_length_over_diameter: float = Field(1.0, ge=0)
    pd_n: int = Field(11, ge=1, le=201)
    sld: float = 1.0
    sld_solvent: float = 0.0

    @field_validator("sld", "sld_solvent", mode="before")
    @classmethod
    def _sld_units(cls, v: Any, info: Any) -> float:
        return _sld(v, info)


class CoreShellSphereSpec(_Shape):
    radius: LengthPrior = LengthPrior.model_validate(loguniform(20.0, 150.0))
    thickness: LengthPrior = LengthPrior.model_validate(loguniform(5.0, 40.0))
    radius_pd: Prior = Prior.model_validate(uniform(0.0, 0.2))
    sld_core: float = 1.0
    sld_shell: float = 3.0
    sld_solvent: float = 0.0

    @field_validator("sld_core", "sld_shell", "sld_solvent", mode="before")
    @classmethod
    def _sld_units(cls, v: Any, info: Any) -> float:
        return _sld(v, info)


class EllipsoidSpec(_Shape):
    radius_polar: LengthPrior = LengthPrior.model_validate(loguniform(20.0, 200.0))
    radius_equatorial: LengthPrior = LengthPrior.model_validate(loguniform(20.0, 200.0))
    #: relative width applied to both semi-axes (sasmodels integrates the two
    #: distributions independently)
    radius_pd: Prior = Prior.model_validate(uniform(0.0, 0.2))
    #: samples whose axis ratio (long/short) is below this are drawn again
    #: (a near-spherical ellipsoid is a sphere)
    min_axis_ratio: float = Field(1.5, ge=1.0)
    pd_n: int = Field(11, ge=1, le=201)
    sld: float = 1.0
    sld_solvent: float = 0.0

    @field_validator("sld", "sld_solvent", mode="before")
    @classmethod
    def _sld_units(cls, v: Any, info: Any) -> float:
        return _sld(v, info)


class ShapesConfig(StrictModel):
    """Per-class priors; YAML keys are the sasmodels model names."""

    model_config = StrictModel.model_config | {"populate_by_name": True}

    sphere: SphereSpec = SphereSpec()
    hardsphere: HardSphereSpec = Field(HardSphereSpec(), alias="sphere@hardsphere")
    cylinder: CylinderSpec = CylinderSpec()
    core_shell_sphere: CoreShellSphereSpec = CoreShellSphereSpec()
    ellipsoid: EllipsoidSpec = EllipsoidSpec()

    def spec(self, model: str) -> _Shape:
        return getattr(self, "hardsphere" if model == "sphere@hardsphere" else model)


class NuisanceConfig(StrictModel):
    """Parameters every curve has but no model is asked to predict."""

    #: sasmodels ``scale`` (volume fraction × unknown calibration)
    scale: Prior = Prior.model_validate(loguniform(0.003, 0.03))
    #: flat background in 1/cm
    background: IntensityPrior = IntensityPrior.model_validate(loguniform(1e-3, 3e-2))


# ---------------------------------------------------------------------------
# q grid and noise
# ---------------------------------------------------------------------------


class QGridConfig(StrictModel):
    """Log-spaced q grid (1/Å; strings with units accepted)."""

    min: float = 0.002
    max: float = 0.5
    n: int = Field(256, ge=8, le=8192)

    @field_validator("min", "max", mode="before")
    @classmethod
    def _units(cls, v: Any, info: Any) -> float:
        return units.q(v, info.field_name)

    @model_validator(mode="after")
    def _order(self) -> QGridConfig:
        if not 0 < self.min < self.max:
            raise ValueError(f"q grid needs 0 < min < max, got min={self.min}, max={self.max}")
        return self

    def values(self) -> np.ndarray:
        return np.geomspace(self.min, self.max, self.n)


class NoiseConfig(StrictModel):
    """Counting-statistics noise of a pinhole SAXS measurement on a 2D detector.

    Expected counts in q bin i: ``λ_i = flux · exposure · transmission ·
    thickness · ΔΩ_i · I_i`` with ``ΔΩ_i = 2π q_i Δq_i / k²`` the solid angle
    of the detector annulus of bin i (log bins: Δq ∝ q, so ΔΩ ∝ q²) and
    ``k = 2π/wavelength``. Measured counts are Poisson(λ); ``I = N / (flux ·
    exposure · transmission · thickness · ΔΩ)``, ``σ = √max(N, 1) / (...)``.
    Optional multiplicative noise ``I · ε``, ``ε ~ N(1, multiplicative²)``, is
    added to σ in quadrature when ``multiplicative_in_sigma``.
    """

    poisson: bool = True
    #: photons per second on the sample
    flux: float = Field(1e8, gt=0)
    #: seconds; a prior, so curves come with a range of noise levels
    exposure: Prior = Prior.model_validate(loguniform(10.0, 1000.0))
    wavelength: float = 1.54
    transmission: float = Field(0.5, gt=0, le=1)
    #: sample thickness in cm
    thickness_cm: float = Field(0.1, gt=0)
    multiplicative: float = Field(0.0, ge=0, lt=0.5)
    multiplicative_in_sigma: bool = True

    @field_validator("wavelength", mode="before")
    @classmethod
    def _wl(cls, v: Any) -> float:
        return units.length(v, "wavelength")


# ---------------------------------------------------------------------------
# dataset job
# ---------------------------------------------------------------------------

CLASSES: tuple[str, ...] = (
    "sphere",
    "sphere@hardsphere",
    "cylinder",
    "core_shell_sphere",
    "ellipsoid",
)


class DatasetConfig(StrictModel):
    n_samples: int = Field(50_000, ge=1)
    chunk_size: int = Field(1000, ge=1)
    seed: int = 0
    #: sasmodels kernel precision ("single" is 1.5-2× faster for cylinders and
    #: ellipsoids and differs by ~1e-6 relative, far below any noise level)
    precision: Literal["single", "double"] = "single"
    classes: list[str] = Field(default_factory=lambda: list(CLASSES))
    q: QGridConfig = QGridConfig()
    split: SplitConfig = SplitConfig()
    shapes: ShapesConfig = ShapesConfig()
    nuisance: NuisanceConfig = NuisanceConfig()
    noise: NoiseConfig = NoiseConfig()

    @field_validator("classes")
    @classmethod
    def _classes(cls, v: list[str]) -> list[str]:
        bad = [c for c in v if c not in CLASSES]
        if bad:
            raise ValueError(f"unknown class(es) {bad}; known: {list(CLASSES)}")
        if len(set(v)) != len(v) or not v:
            raise ValueError("classes must be a non-empty list without repeats")
        return v

    @property
    def n_chunks(self) -> int:
        return -(-self.n_samples // self.chunk_size)


class FFTSubsetConfig(StrictModel):
    """Validation curves from hifft's own pipeline: Scene → volume → FFT → saxs.

    Each curve is a fresh random scene of one class with parameters drawn
    from ``shapes`` (narrower than the training priors: particles must be
    resolved by the voxels and fit many times in the box). The FFT curve is
    interpolated (log-log) onto the dataset q grid; points outside the valid
    q range of the box are marked missing; the dataset's noise model is then
    applied with the FFT curve as the true intensity.
    """

    n_per_class: int = Field(10, ge=1)
    seed: int = 1000
    grid_shape: int = Field(256, ge=16)
    spacing: float = 4.0
    bins: int = Field(300, ge=16)
    #: volume fraction of the dilute classes (hard spheres use their own prior)
    volume_fraction: float = Field(0.05, gt=0, lt=0.5)
    #: independent scenes (seeds) averaged per curve: a box holds only tens to
    #: hundreds of particles, so one realization carries speckle at low q that
    #: a macroscopic sample (~1e12 particles) does not
    realizations: int = Field(4, ge=1)
    shapes: ShapesConfig = ShapesConfig(
        sphere=SphereSpec(radius=loguniform(25.0, 70.0), radius_pd=uniform(0.0, 0.15)),
        **{
            "sphere@hardsphere": HardSphereSpec(
                radius=loguniform(25.0, 50.0),
                radius_pd=uniform(0.0, 0.1),
                volfraction=uniform(0.1, 0.3),
            )
        },
        cylinder=CylinderSpec(
            radius=loguniform(15.0, 30.0),
            length=loguniform(150.0, 300.0),
            radius_pd=uniform(0.0, 0.1),
            length_pd=uniform(0.0, 0.1),
        ),
        core_shell_sphere=CoreShellSphereSpec(
            radius=loguniform(25.0, 60.0),
            thickness=loguniform(8.0, 20.0),
            radius_pd=uniform(0.0, 0.1),
        ),
        ellipsoid=EllipsoidSpec(
            radius_polar=loguniform(25.0, 100.0),
            radius_equatorial=loguniform(25.0, 60.0),
            radius_pd=uniform(0.0, 0.1),
            min_axis_ratio=1.5,
        ),
    )

    @field_validator("spacing", mode="before")
    @classmethod
    def _sp(cls, v: Any) -> float:
        return units.length(v, "spacing")


# ---------------------------------------------------------------------------
# training
# ---------------------------------------------------------------------------


class ModelConfig(StrictModel):
    widths: list[int] = Field(default_factory=lambda: [32, 48, 64, 96, 128])
    blocks_per_stage: int = Field(1, ge=1)
    kernel_size: int = Field(5, ge=1)
    hidden: int = Field(256, ge=8)
    dropout: float = Field(0.0, ge=0, lt=1)


class AugmentConfig(StrictModel):
    """Per-batch augmentation: instrument variety on top of the stored curves.

    ``renoise``: fraction of each batch whose measurement is simulated again
    from the stored noise-free curve ``I_true``: first the nuisances (the
    particle term rescaled by a factor from ``rescale``, the flat background
    drawn again from ``background``), then pinhole resolution smearing
    (``p_smear`` of them, σ_Q/Q from ``smear_dq_over_q``), then (optionally)
    finite-box speckle, then fresh Poisson noise with a new exposure (the
    dataset's own noise model). Every curve then has its q window cut at
    random (low and high truncation) and, for ``p_dead_bins`` of them, up to
    ``dead_fraction`` of its bins masked at random (beam-stop shadows, module
    gaps, rejected points). Truncation makes curves with a narrower valid
    range (FFT boxes, SANS configurations) in-distribution.
    """

    renoise: float = Field(0.9, ge=0, le=1)

    #: fraction of re-simulated curves whose particle term is multiplied by a
    #: factor drawn log-uniformly from ``rescale`` (calibration, concentration)
    p_rescale: float = Field(0.5, ge=0, le=1)
    rescale: tuple[float, float] = (0.3, 3.0)
    #: fraction of re-simulated curves whose flat background (1/cm) is drawn
    #: again, log-uniformly from ``background``
    p_background: float = Field(0.5, ge=0, le=1)
    background: tuple[float, float] = (1e-4, 0.1)
    #: fraction of re-simulated curves smeared by a Gaussian pinhole
    #: resolution of relative width σ_Q/Q drawn log-uniformly from
    #: ``smear_dq_over_q`` (canSAS dQ is one standard deviation)
    p_smear: float = Field(0.6, ge=0, le=1)
    smear_dq_over_q: tuple[float, float] = (0.02, 0.15)
    #: fraction of curves with randomly masked bins, up to ``dead_fraction``
    p_dead_bins: float = Field(0.2, ge=0, le=1)
    dead_fraction: float = Field(0.1, ge=0, lt=0.5)

    p_truncate_low: float = Field(0.4, ge=0, le=1)
    max_q_min: float = 0.02
    p_truncate_high: float = Field(0.4, ge=0, le=1)
    min_q_max: float = 0.1

    #: fraction of the re-noised curves that also get finite-ensemble
    #: ("speckle") noise: a curve computed from a box of side L (Å) averaged
    #: over R realizations holds n(q) = R·(L/2π)³·2πq²Δq independent modes per
    #: bin, so its intensity scatters as Gamma(n, 1/n) about the ensemble mean,
    #: with σ = I/√n reported. Simulation boxes (hifft's FFT pipeline) have
    #: this at low q; an instrument's ~1e12 particles do not.
    p_speckle: float = Field(0.0, ge=0, le=1)
    speckle_box: tuple[float, float] = (600.0, 6000.0)
    speckle_realizations: tuple[int, int] = (1, 8)

    @field_validator("rescale", "background", "smear_dq_over_q", "speckle_box")
    @classmethod
    def _ordered(cls, v: tuple[float, float], info: Any) -> tuple[float, float]:
        if not 0 < v[0] <= v[1]:
            raise ValueError(f"{info.field_name}: need 0 < low <= high, got {list(v)}")
        return v

    @field_validator("speckle_box", mode="before")
    @classmethod
    def _box_units(cls, v: Any) -> Any:
        if isinstance(v, list | tuple) and len(v) == 2:
            return tuple(units.length(x, "speckle_box") for x in v)
        return v


class TrainConfig(StrictModel):
    dataset: Path
    out: Path
    seed: int = 0
    ensemble: int = Field(4, ge=1)
    #: wall-clock budget in seconds for all members together (None: epochs only)
    time_budget_s: float | None = Field(None, gt=0)
    epochs: int = Field(20, ge=1)
    batch_size: int = Field(256, ge=1)
    lr: float = Field(2e-3, gt=0)
    weight_decay: float = Field(1e-4, ge=0)
    #: weight of the regression NLL against the classification cross-entropy
    regression_weight: float = Field(1.0, ge=0)
    #: torch threads per training process (default 1: on a shared machine
    #: several threads spin waiting for each other)
    threads: int | None = Field(None, ge=1)
    #: members trained at once, each in its own Dask worker process
    workers: int = Field(1, ge=1)
    max_train_samples: int | None = Field(None, ge=1)
    model: ModelConfig = ModelConfig()
    augment: AugmentConfig = AugmentConfig()


class EvaluateConfig(StrictModel):
    #: curves per class for the least-squares baseline (it is slow)
    baseline_per_class: int = Field(10, ge=0)
    #: random prior draws scanned per class before the local fits start
    baseline_scan: int = Field(128, ge=1)
    baseline_starts: int = Field(20, ge=1)
    #: training curves in the nearest-neighbour library whose labels start
    #: the fits (0: Sobol starts only), and neighbours per class
    baseline_library: int = Field(0, ge=0)
    baseline_neighbours: int = Field(5, ge=0)
    #: classes the predict-then-refine comparison refines per curve
    refine_top: int = Field(2, ge=1)
    coverage: float = Field(0.9, gt=0, lt=1)


class MLConfig(StrictModel):
    dataset: DatasetConfig = DatasetConfig()
    fft_subset: FFTSubsetConfig = FFTSubsetConfig()
    train: TrainConfig | None = None
    evaluate: EvaluateConfig = EvaluateConfig()
    cluster: ClusterConfig = ClusterConfig()


def load(path: str | os.PathLike[str]) -> MLConfig:
    """Load an ML job file; relative paths in ``train`` resolve against the CWD."""
    return load_config(Path(path), MLConfig)
