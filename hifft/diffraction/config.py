"""Configuration of droplet-diffraction jobs: strict pydantic models read from one YAML file.

Sections: ``beam``, ``detector``, ``grid``, ``droplets`` (the priors),
``rules`` (label thresholds, keyed by label name), ``noise`` (detector
nuisances) and ``dataset``. Lengths accept units ("250 nm") and are stored
in Å; photon energies accept units ("19 eV") and are stored in eV; angles are
degrees. Bad values are refused with the field named
(:func:`hifft.config.load_config`); so are unknown label or family names.

Defaults follow seed 003 (notes_003.md): FERMI XUV photons of 19–35 eV
(λ ≈ 65–35 nm), a flat MCP 65 mm downstream reaching 30° scattering angle
with a central hole; droplet sizes from a few hundred nm to about 1 µm
across (Langbehn et al., PRL 121, 255301, 2018).
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import Field, field_validator, model_validator

from .. import units
from ..config import PositiveLengthRange as LengthRange
from ..config import PositiveRange, Range, StrictModel, load_config
from ..sampleset import SplitConfig
from .labels import LABELS

#: Geometry families the generator draws (see :mod:`hifft.diffraction.droplets`).
FAMILIES: tuple[str, ...] = ("empty", "spheroid", "prolate", "capsule", "bent", "pair", "core_shell", "lobed")


class GapRange(Range):
    """A non-negative length range in Å (a separation may be zero)."""

    @field_validator("low", "high", mode="before")
    @classmethod
    def _len(cls, v: Any, info: Any) -> float:
        return units.length(v, info.field_name)

    @model_validator(mode="after")
    def _nonneg(self) -> GapRange:
        if self.low < 0:
            raise ValueError(f"low must be >= 0, got {self.low}")
        return self


class EnergyRange(PositiveRange):
    """Photon energies in eV (strings with units accepted)."""

    @field_validator("low", "high", mode="before")
    @classmethod
    def _ev(cls, v: Any, info: Any) -> float:
        return units.photon_energy(v, info.field_name)


class BeamConfig(StrictModel):
    """Photon energy per image, drawn uniformly in ``energy`` (eV)."""

    energy: EnergyRange = EnergyRange(low=19.0, high=35.0)


class DetectorConfig(StrictModel):
    """A flat square detector normal to the beam whose inscribed circle reaches ``two_theta_max``.

    Pixels beyond ``two_theta_max`` (the corners, outside the round MCP) read 0.
    ``polarization``: direction of the linear polarization ("x" horizontal,
    "y", or "none") for the dipole factor; ``solid_angle``: weight pixels by
    their solid angle (cos³ 2θ on a flat detector).
    """

    shape: int = Field(128, ge=16, le=2048)
    two_theta_max: float = Field(30.0, gt=0, lt=80)
    distance: float = 650000.0  # 65 mm
    polarization: Literal["x", "y", "none"] = "x"
    solid_angle: bool = True

    @field_validator("distance", mode="before")
    @classmethod
    def _len(cls, v: Any) -> float:
        d = units.length(v, "distance")
        if not d > 0:
            raise ValueError(f"distance: must be positive, got {v!r}")
        return d


class GridConfig(StrictModel):
    """Voxel grid per image, chosen from the wavelength and the droplet's size.

    Spacing per axis puts the grid's Nyquist at ``q_oversampling`` × the
    largest q component the detector needs (q_⊥ = k sin 2θ_max across the
    beam, q_z = k (1 − cos 2θ_max) along it; z voxels at most ``z_stretch`` ×
    the transverse ones), so aliased voxel harmonics stay small at the
    detector edge. Sizes per axis make the box ``real_oversampling`` × the
    droplet's extent (fast FFT sizes, at most ``max_size``), so the linear
    interpolation of |F|² sees ~6 samples per fringe; the box must hold at
    least ``min_oversampling`` × the extent (2 = Nyquist sampling of |F|²).
    """

    q_oversampling: float = Field(1.5, ge=1.2, le=4.0)
    z_stretch: float = Field(2.0, ge=1.0, le=4.0)
    real_oversampling: float = Field(6.0, ge=2.0, le=16.0)
    min_oversampling: float = Field(2.0, ge=2.0, le=8.0)
    min_size: int = Field(16, ge=8)
    max_size: int = Field(192, ge=16, le=1024)

    @model_validator(mode="after")
    def _sizes(self) -> GridConfig:
        if self.min_size > self.max_size:
            raise ValueError("min_size: must not exceed max_size")
        if self.min_oversampling > self.real_oversampling:
            raise ValueError("min_oversampling: must not exceed real_oversampling")
        return self


class DropletsConfig(StrictModel):
    """Priors of the droplet geometry (see :mod:`hifft.diffraction.droplets` for each family).

    ``families``: relative weight of each geometry family (unknown names are
    errors). Sizes: ``radius`` is the volume-equivalent radius of single
    droplets; ``pair_radius`` that of each droplet of a pair. Orientations are
    uniform on SO(3) for every non-spherical body.
    """

    families: dict[str, float] = Field(default_factory=lambda: {
        "empty": 0.04, "spheroid": 0.42, "prolate": 0.12, "capsule": 0.08, "bent": 0.08,
        "pair": 0.10, "core_shell": 0.06, "lobed": 0.10})
    radius: LengthRange = LengthRange(low=1000.0, high=5000.0)
    #: fraction of spheroid draws that are exact spheres
    sphere_fraction: float = Field(0.3, ge=0, le=1)
    #: polar / equatorial semi-axis of oblate spheroids (1 = sphere)
    oblate_aspect: PositiveRange = PositiveRange(low=0.6, high=1.0)
    #: long / short semi-axis of prolate ellipsoids
    prolate_aspect: PositiveRange = PositiveRange(low=1.3, high=2.5)
    #: middle / short semi-axis of prolate ellipsoids (1 = prolate spheroid)
    triaxial: PositiveRange = PositiveRange(low=1.0, high=1.2)
    #: total length / diameter of capsules and bent capsules
    capsule_aspect: PositiveRange = PositiveRange(low=1.5, high=4.0)
    #: angle (degrees) the axis of a bent capsule turns through
    bend_angle: PositiveRange = PositiveRange(low=40.0, high=120.0)
    #: core radius / outer radius of core-shell droplets
    core_fraction: PositiveRange = PositiveRange(low=0.4, high=0.8)
    #: core SLD / shell SLD of core-shell droplets
    core_contrast: PositiveRange = PositiveRange(low=1.5, high=4.0)
    #: small / large lobe radius of lobed droplets (a bump to a second lobe)
    lobe_ratio: PositiveRange = PositiveRange(low=0.3, high=0.8)
    #: lobe centre distance / (sum of the lobe radii); < 1 overlaps
    lobe_distance: PositiveRange = PositiveRange(low=0.5, high=0.9)
    pair_radius: LengthRange = LengthRange(low=1000.0, high=3000.0)
    #: separation of a pair's centres along the beam and across it
    pair_axial: GapRange = GapRange(low=0.0, high=12000.0)
    pair_transverse: GapRange = GapRange(low=0.0, high=12000.0)
    #: fraction of pairs lined up along the beam (transverse separation ≤ 0.15 × axial)
    pair_inline: float = Field(0.5, ge=0, le=1)

    @field_validator("families")
    @classmethod
    def _families(cls, v: dict[str, float]) -> dict[str, float]:
        unknown = sorted(set(v) - set(FAMILIES))
        if unknown:
            raise ValueError(f"unknown family {unknown[0]!r}; the families are {', '.join(FAMILIES)}")
        if any(not (math.isfinite(w) and w >= 0) for w in v.values()):
            raise ValueError("weights must be finite and >= 0")
        if sum(v.values()) <= 0:
            raise ValueError("at least one family needs a positive weight")
        return v

    @model_validator(mode="after")
    def _shapes(self) -> DropletsConfig:
        if self.oblate_aspect.high > 1.0:
            raise ValueError("oblate_aspect: must be <= 1 (polar <= equatorial)")
        if self.prolate_aspect.low < 1.0 or self.triaxial.low < 1.0 or self.capsule_aspect.low < 1.0:
            raise ValueError("prolate_aspect, triaxial, capsule_aspect: must be >= 1")
        if self.core_fraction.high >= 1.0 or self.lobe_ratio.high > 1.0:
            raise ValueError("core_fraction: must be < 1; lobe_ratio: must be <= 1")
        if self.bend_angle.high > 270:
            raise ValueError("bend_angle: at most 270 degrees")
        return self

    def weights(self) -> tuple[tuple[str, ...], np.ndarray]:
        """Families with positive weight and their probabilities."""
        names = tuple(f for f in FAMILIES if self.families.get(f, 0.0) > 0)
        w = np.array([self.families[f] for f in names])
        return names, w / w.sum()


class RoundRule(StrictModel):
    max_aspect: float = Field(1.1, ge=1.0)


class ProlateRule(StrictModel):
    min_elongation: float = Field(1.15, ge=1.0)
    min_projected_aspect: float = Field(1.1, ge=1.0)


class StreakRule(StrictModel):
    min_aspect: float = Field(2.0, ge=1.0)


class BentRule(StrictModel):
    min_streak_bend: float = Field(0.1, ge=0)
    min_body_bend: float = Field(0.06, ge=0)


class AsymmetricRule(StrictModel):
    min_defect: float = Field(0.12, ge=0, le=1)


class LayeredRule(StrictModel):
    min_contrast: float = Field(0.25, ge=0, le=1)
    min_thickness: float = Field(0.1, ge=0, le=1)


class NewtonRule(StrictModel):
    min_fringes: float = Field(1.5, ge=0)


class DoubleRingsRule(StrictModel):
    min_radius_ratio: float = Field(1.2, ge=1.0)


class RulesConfig(StrictModel):
    """Thresholds of the labelling rules, keyed by label (see :func:`droplets.derive_labels`)."""

    round: RoundRule = RoundRule()
    prolate: ProlateRule = ProlateRule()
    streak: StreakRule = StreakRule()
    bent: BentRule = BentRule()
    asymmetric: AsymmetricRule = AsymmetricRule()
    layered: LayeredRule = LayeredRule()
    newton_rings: NewtonRule = NewtonRule()
    double_rings: DoubleRingsRule = DoubleRingsRule()

    @model_validator(mode="before")
    @classmethod
    def _known_labels(cls, data: Any) -> Any:
        if isinstance(data, dict):
            for key in data:
                if key not in LABELS:
                    raise ValueError(f"unknown label {key!r}; the labels are {', '.join(LABELS)}")
                if key not in cls.model_fields:
                    raise ValueError(f"label {key!r} has no thresholds (rules exist for "
                                     f"{', '.join(cls.model_fields)})")
        return data


class NoiseConfig(StrictModel):
    """Detector nuisances, drawn per image.

    ``flux``: photons scattered into the detector (log-uniform); ``gain``: MCP
    and phosphor gain, signal units per photon (log-uniform); ``hole_radius``:
    MCP central hole, degrees of 2θ; ``straylight``: straylight at the hole
    edge relative to the mean signal per pixel, decaying as exp(−Δ2θ/width)
    with ``straylight_width`` degrees; ``uniform``: width b of added U(0, b)
    noise relative to the mean signal (the paper's noise test); ``saturation``:
    clip level relative to the brightest expected pixel; ``adc_max``: the
    largest value the camera writes (uint16).
    """

    flux: PositiveRange = PositiveRange(low=1e5, high=1e7)
    gain: PositiveRange = PositiveRange(low=0.5, high=2.0)
    hole_radius: Range = Range(low=2.0, high=4.0)
    straylight: Range = Range(low=0.0, high=1.0)
    straylight_width: PositiveRange = PositiveRange(low=2.0, high=8.0)
    uniform: Range = Range(low=0.0, high=0.5)
    saturation: PositiveRange = PositiveRange(low=0.2, high=2.0)
    adc_max: float = Field(65535.0, gt=0)

    @model_validator(mode="after")
    def _nonneg(self) -> NoiseConfig:
        for name in ("hole_radius", "straylight", "uniform"):
            if getattr(self, name).low < 0:
                raise ValueError(f"{name}: must be >= 0")
        return self


class DatasetConfig(StrictModel):
    n_samples: int = Field(64, ge=1)
    chunk_size: int = Field(16, ge=1)
    seed: int = Field(0, ge=0)
    split: SplitConfig = SplitConfig()
    #: also store the noise-free expected photon counts per pixel (``clean``)
    store_clean: bool = False

    @property
    def n_chunks(self) -> int:
        return -(-self.n_samples // self.chunk_size)


class DiffractionConfig(StrictModel):
    beam: BeamConfig = BeamConfig()
    detector: DetectorConfig = DetectorConfig()
    grid: GridConfig = GridConfig()
    droplets: DropletsConfig = DropletsConfig()
    rules: RulesConfig = RulesConfig()
    noise: NoiseConfig = NoiseConfig()
    dataset: DatasetConfig = DatasetConfig()

    @model_validator(mode="after")
    def _fits(self) -> DiffractionConfig:
        if self.noise.hole_radius.high >= self.detector.two_theta_max:
            raise ValueError("noise.hole_radius: the hole must be smaller than detector.two_theta_max")
        from .droplets import max_extent
        from .patterns import spacings, wavelength_of

        lam = wavelength_of(self.beam.energy.high)  # the finest voxels
        d_xy, d_z = spacings(lam, self.detector.two_theta_max, self.grid.q_oversampling, self.grid.z_stretch)
        names, _ = self.droplets.weights()
        for fam in names:
            for ext, d, where in zip(max_extent(self.droplets, fam), (d_xy, d_z), ("across", "along"),
                                     strict=True):
                if self.grid.min_oversampling * ext > self.grid.max_size * d:
                    raise ValueError(
                        f"droplets: family {fam!r} reaches {ext / 1e4:.3g} µm {where} the beam, more than "
                        f"grid.max_size ({self.grid.max_size}) voxels of {d / 10:.3g} nm hold at "
                        f"{self.grid.min_oversampling}× oversampling (at {self.beam.energy.high:g} eV); "
                        "shrink its size priors or raise grid.max_size")
        return self


def load(path: str | os.PathLike[str]) -> DiffractionConfig:
    """Read and validate a diffraction job file (errors name the file and field)."""
    return load_config(path, DiffractionConfig)


# ---------------------------------------------------------------------------
# the classifier (pipelines/diffraction_classifier.yaml)
# ---------------------------------------------------------------------------

NoiseLevel = Literal["none", "mean", "mean+std", "max"]
#: Noise levels of the seed's robustness test (U(0, b) added; b from the test images).
NOISE_LEVELS: tuple[NoiseLevel, ...] = ("none", "mean", "mean+std", "max")


class ClassifierModelConfig(StrictModel):
    """The network (:mod:`hifft.diffraction.model`).

    ``input``: the raw image, or its CCF map (``ccf`` section);
    ``first_activation``: seed 003's log activation (α = ``alpha``) or
    LeakyReLU(``leak``) after the stem conv; ``base_width``: filters of the
    first stage (the seed's 64; 32 fits a 2-core CPU); ``input_scale``: the
    fixed divisor of every input (detector units, or CCF units); None: the
    median over the training inputs of their per-input mean, measured at
    training start and stored with the model.
    """

    input: Literal["image", "ccf"] = "image"
    first_activation: Literal["log", "relu"] = "log"
    base_width: int = Field(32, ge=4, le=256)
    alpha: float = Field(0.2, gt=0)
    leak: float = Field(0.2, ge=0, lt=1)
    input_scale: float | None = Field(None, gt=0)


class CCFConfig(StrictModel):
    """Cross-correlation maps (:func:`hifft.diffraction.ccf.ccf_maps`).

    ``n_q`` radial bins from ``r_min`` to ``r_max`` (fractions of the image's
    half-width: 1 is the inscribed circle, the edge of the round MCP; the
    default ``r_min`` clears the largest central hole, 4° of 30°);
    ``n_phi`` azimuthal sectors; ``order``: the angular Fourier order of the
    upper triangle; ``reduce``: |I_n*(q_i) I_n(q_j)| (``abs``) or its real part;
    ``orders``: further angular orders, one map channel each (Re below, |Im|
    above the diagonal; not in the seed; empty: the seed's one map).
    """

    n_q: int = Field(48, ge=4, le=1024)
    n_phi: int = Field(32, ge=4, le=4096)
    order: int = Field(8, ge=1)
    r_min: float = Field(0.15, ge=0, lt=1.5)
    r_max: float = Field(1.0, gt=0, le=1.5)
    reduce: Literal["abs", "real"] = "abs"
    orders: list[int] = Field(default_factory=list, max_length=64)

    @model_validator(mode="after")
    def _fits(self) -> CCFConfig:
        if self.r_min >= self.r_max:
            raise ValueError(f"r_min: must be below r_max ({self.r_max}), got {self.r_min}")
        if 2 * self.order >= self.n_phi:
            raise ValueError(f"order: {self.order} needs n_phi > {2 * self.order} sectors (Nyquist), "
                             f"got n_phi={self.n_phi}")
        for n in self.orders:
            if n < 1 or 2 * n >= self.n_phi:
                raise ValueError(f"orders: {n} must be ≥ 1 and below n_phi / 2 = {self.n_phi / 2:g} (Nyquist)")
        if len(set(self.orders)) != len(self.orders):
            raise ValueError(f"orders: repeated entries in {self.orders}")
        return self

    @property
    def channels(self) -> int:
        """Map channels: the seed's map plus one per entry of ``orders``."""
        return 1 + len(self.orders)


class ClassifierAugmentConfig(StrictModel):
    """Label-preserving augmentation per training image.

    Flips and rotations about the beam map a droplet's pattern onto that of
    the mirrored or turned droplet, whose labels are the same (every rule in
    :func:`~hifft.diffraction.droplets.derive_labels` reads orientation-free
    measures: semi-axes, projected aspect, tilt out of the detector plane,
    inversion defect, projected bend, separations along and across the beam).
    ``rot90`` is off by default: a 90° turn also turns the polarization
    (``detector.polarization: x`` becomes y), which the data never show.
    ``noise``: the seed's uniform-noise test as a training augmentation.
    """

    flips: bool = True
    rot90: bool = False
    noise: float = Field(0.0, ge=0, description="half the images get U(0, b) on the active pixels, b uniform "
                         "in [0, noise × the median per-image mean of the training images] (1 = the seed's "
                         "'mean' test level; CCF input: added to the images, maps computed per batch); 0: off")


def _label_weights(v: Any, field: str) -> Any:
    if isinstance(v, dict):
        from .labels import check_names

        check_names(v, field)
        for name, w in v.items():
            if isinstance(w, bool) or not isinstance(w, int | float) or not (math.isfinite(w) and w > 0):
                raise ValueError(f"{field}.{name}: expected a positive weight, got {w!r}")
    return v


class ClassifierTrainConfig(StrictModel):
    """Training (:func:`hifft.diffraction.classify.train`).

    ``minutes``: wall-clock budget of the epochs (warm-up + cosine learning
    rate in max(step/total, elapsed/budget), :func:`hifft.ml.train.lr_factor`),
    ``max_epochs`` caps it. AdamW (``lr``, ``weight_decay``), BCE with
    logits; ``pos_weight``: ``none``, ``sqrt`` (√(negatives/positives) per
    label from the training split, capped at ``max_pos_weight``) or a
    weight per label name (unnamed labels 1). ``threads``: torch threads.
    ``keep_best``: model selection on the validation split (its loss).
    """

    dataset: Path
    out: Path
    seed: int = Field(0, ge=0)
    minutes: float = Field(20.0, gt=0)
    max_epochs: int = Field(100, ge=1)
    batch_size: int = Field(64, ge=2)
    lr: float = Field(2e-3, gt=0)
    weight_decay: float = Field(1e-4, ge=0)
    warmup: float = Field(0.03, ge=0, lt=1)
    pos_weight: Literal["none", "sqrt"] | dict[str, float] = "sqrt"
    max_pos_weight: float = Field(10.0, ge=1)
    threads: int = Field(2, ge=1)
    max_train_samples: int | None = Field(None, ge=2)
    max_val_samples: int | None = Field(None, ge=1)
    augment: ClassifierAugmentConfig = ClassifierAugmentConfig()
    keep_best: bool = Field(False, description="keep the weights of the epoch of lowest validation loss "
                            "(the thresholds are then chosen for them), not the last epoch's")

    @field_validator("pos_weight", mode="before")
    @classmethod
    def _pos_weight(cls, v: Any) -> Any:
        return _label_weights(v, "pos_weight")


class ClassifierEvaluateConfig(StrictModel):
    """Evaluation on the test split (:func:`hifft.diffraction.evaluate.evaluate`).

    ``noise_levels``: the seed's U(0, b) test, b = median over the test
    images of the per-image mean, mean + std, or max (over the detector's
    active pixels); the same ``noise_seed`` for every model.
    ``throughput_images``: images timed (after one warm-up batch) with
    ``threads`` torch threads in batches of ``batch_size``.
    ``clear_margin``: the scores are also given on the test images whose
    geometry is at least this relative distance (|ln(measure/threshold)|)
    from every labelling threshold it was read at
    (:func:`~hifft.diffraction.droplets.rule_margins`).
    """

    noise_levels: list[NoiseLevel] = Field(default_factory=lambda: list(NOISE_LEVELS))
    noise_seed: int = Field(0, ge=0)
    batch_size: int = Field(128, ge=1)
    threads: int = Field(2, ge=1)
    throughput_images: int = Field(512, ge=1)
    max_test_samples: int | None = Field(None, ge=1)
    clear_margin: float = Field(0.05, ge=0)


class ClassifierConfig(StrictModel):
    """One classifier job file: ``model``, ``ccf``, ``train``, ``evaluate`` sections."""

    model: ClassifierModelConfig = ClassifierModelConfig()
    ccf: CCFConfig = CCFConfig()
    train: ClassifierTrainConfig | None = None
    evaluate: ClassifierEvaluateConfig = ClassifierEvaluateConfig()


def load_classifier(path: str | os.PathLike[str]) -> ClassifierConfig:
    """Read and validate a classifier job file (errors name the file and field).

    Relative paths in ``train`` resolve against the working directory.
    """
    return load_config(path, ClassifierConfig)


__all__ = ["FAMILIES", "NOISE_LEVELS", "BeamConfig", "CCFConfig", "ClassifierAugmentConfig", "ClassifierConfig",
           "ClassifierEvaluateConfig", "ClassifierModelConfig", "ClassifierTrainConfig", "DatasetConfig",
           "DetectorConfig", "DiffractionConfig", "DropletsConfig", "EnergyRange", "GridConfig", "LengthRange",
           "NoiseConfig", "Range", "RulesConfig", "load", "load_classifier"]
