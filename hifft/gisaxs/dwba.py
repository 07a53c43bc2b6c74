"""Born and DWBA amplitudes for islands on a substrate, for any amplitude function F(q_x, q_y, q_z).

The distorted-wave Born approximation for a particle on top of a substrate sums
four scattering paths (direct, reflected before, reflected after, reflected both),
with F(q) = ∫ρ exp(−i q·r) d³r and the vertical wavevectors in the ambient
k_z,i = −k_z(α_i), k_z,f = +k_z(α_f):

    F_DWBA = F(q_∥, k_z,f − k_z,i) + r(α_i) F(q_∥, k_z,f + k_z,i)
           + r(α_f) F(q_∥, −k_z,f − k_z,i) + r(α_i) r(α_f) F(q_∥, −k_z,f + k_z,i)

(r: Fresnel coefficients of the substrate, :func:`~hifft.gisaxs.materials.fresnel_r`).
The Born approximation keeps the first term only. Lateral q_∥ = (q_x, q_y) is
the same for all four; with an absorbing ambient the q_z are complex, which
every amplitude in :mod:`~hifft.gisaxs.formfactors` and :mod:`~hifft.gisaxs.layer` accepts.

Intensity: the differential cross-section of one particle is
dσ/dΩ = |Δρ F_DWBA|² (Å²/sr with Δρ in 1e-6/Å², hence the 1e-12), and a layer of
n_s particles per Å² scatters n_s dσ/dΩ per unit area (1/sr). Below the sample
horizon (α_f ≤ 0) a substrate casts a shadow: the DWBA image is zero there.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..units import convert
from .geometry import Geometry
from .materials import VACUUM, Material, fresnel_r, kz, material

APPROXIMATIONS = ("dwba", "born")
#: (1e-6/Å²)² · Å⁶ → Å²
SLD2 = 1e-12

Amplitude = Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray]


@dataclass(frozen=True)
class Sample:
    """Substrate and ambient media (at the beam's wavelength) and the substrate's rms roughness (Å)."""

    substrate: Material
    ambient: Material = VACUUM
    roughness: float = 0.0

    @classmethod
    def create(cls, wavelength: float, substrate: Any = "Si", ambient: Any = "vacuum", roughness: Any = 0.0) -> Sample:
        """From names or {formula, density} at ``wavelength`` (Å); roughness in Å or with units."""
        sigma = convert(roughness, "length", "roughness")
        if sigma < 0:
            raise ValueError(f"roughness: must be >= 0, got {roughness!r}")
        return cls(material(substrate, wavelength, "substrate"), material(ambient, wavelength, "ambient"), sigma)

    def to_dict(self) -> dict[str, Any]:
        return {"substrate": self.substrate.to_dict(), "ambient": self.ambient.to_dict(),
                "roughness_angstrom": self.roughness}


@dataclass(frozen=True, eq=False)
class Terms:
    """The q and weights of the scattering paths of every pixel.

    ``q_x``, ``q_y`` have the detector's shape S; ``q_z`` and ``weight`` have
    shape (T, *S) with T = 4 (DWBA) or 1 (Born); ``visible`` is False below the horizon.
    """

    q_x: np.ndarray
    q_y: np.ndarray
    q_z: np.ndarray
    weight: np.ndarray
    visible: np.ndarray
    approximation: str


def dwba_terms(geometry: Geometry, sample: Sample, approximation: str = "dwba") -> Terms:
    """The scattering paths of ``approximation`` ("dwba" or "born") for every pixel of ``geometry``."""
    if approximation not in APPROXIMATIONS:
        raise ValueError(f"approximation: {approximation!r} is not one of {APPROXIMATIONS}")
    k = geometry.k
    af = geometry.detector.alpha_f
    ai = geometry.beam.alpha_i
    n0 = sample.ambient.n
    # everything vertical depends on α_f alone: computed once per distinct exit angle
    det = geometry.detector
    if det.alpha_axis is not None:  # angular detector: one exit angle per row
        ua, inv = det.alpha_axis, np.broadcast_to(np.arange(af.shape[0])[:, None], af.shape)
    else:
        ua, inv = np.unique(af, return_inverse=True)
        inv = inv.reshape(af.shape)
    kzi = -kz(ai, k, n0)  # downward, in the ambient
    kzf = np.where(ua >= 0, 1.0, -1.0) * kz(ua, k, n0)  # below the horizon the exit wave points down
    has_substrate = sample.substrate != sample.ambient
    vis = ua > 0 if has_substrate else np.ones(ua.shape, dtype=bool)
    if approximation == "born":
        qz_u = (kzf - kzi)[None]
        w_u = np.ones(qz_u.shape, dtype=complex)
    else:
        ri = complex(fresnel_r(ai, k, sample.substrate, sample.ambient, sample.roughness))
        rf = fresnel_r(ua, k, sample.substrate, sample.ambient, sample.roughness)
        qz_u = np.stack([kzf - kzi, kzf + kzi, -kzf - kzi, -kzf + kzi])
        w_u = np.stack([np.ones_like(rf), np.full(rf.shape, ri), rf, ri * rf])
    w_u = np.where(vis[None], w_u, 0.0)
    if not np.any(qz_u.imag):  # vacuum or a transparent ambient: real q_z (cheaper, and F(−q_z) = F(q_z)*)
        qz_u = qz_u.real
    qz, w = qz_u[:, inv], w_u[:, inv]
    visible = vis[inv]
    qx, qy = geometry.q_x, geometry.q_y
    return Terms(qx, qy, qz, w, visible, approximation)


def amplitude(fn: Amplitude, terms: Terms) -> np.ndarray:
    """Σ_t w_t F(q_∥, q_z,t): the Born or DWBA amplitude (Å³) of amplitude function ``fn``.

    ``fn(q_x, q_y, q_z)`` receives q_z with a leading axis of the T terms and must
    return shape (T, *S) (every shape in :mod:`~hifft.gisaxs.formfactors` does). Bound
    methods of objects with ``centrosymmetric = True`` (the analytic shapes) are evaluated
    for two terms only when q_z is real.
    """
    qz = terms.q_z
    symmetric = getattr(getattr(fn, "__self__", None), "centrosymmetric", False)
    if symmetric and qz.shape[0] == 4 and not np.iscomplexobj(qz):
        # real density, laterally centrosymmetric: F(q_∥, −q_z) = F(q_∥, q_z)*, and the DWBA's
        # q_z,3 = −q_z,2, q_z,4 = −q_z,1, so two evaluations give all four terms
        f1, f2 = fn(terms.q_x, terms.q_y, qz[:2])
        w = terms.weight
        return w[0] * f1 + w[1] * f2 + w[2] * np.conj(f2) + w[3] * np.conj(f1)
    return np.sum(terms.weight * fn(terms.q_x, terms.q_y, qz), axis=0)


def particle_cross_section(fn: Amplitude, terms: Terms, contrast: complex) -> np.ndarray:
    """dσ/dΩ (Å²/sr) of one particle of SLD contrast ``contrast`` (1e-6/Å², complex allowed)."""
    a = amplitude(fn, terms)
    return SLD2 * abs(contrast) ** 2 * np.abs(a) ** 2


def contrast(particle: Any, sample: Sample, wavelength: float) -> complex:
    """SLD contrast ρ_particle − ρ_ambient (1e-6/Å²) of a material spec (name, mapping or Material)."""
    return material(particle, wavelength, "particle").sld(wavelength) - sample.ambient.sld(wavelength)


def yoneda_angle(sample: Sample) -> float:
    """The exit angle (rad) of the Yoneda maximum: the substrate's critical angle."""
    return sample.substrate.critical_angle(sample.ambient)


def footprint_factor(geometry: Geometry) -> float:
    """Illuminated area per beam cross-section, 1/sin α_i."""
    return 1.0 / math.sin(geometry.beam.alpha_i)


__all__ = ["APPROXIMATIONS", "Sample", "Terms", "amplitude", "contrast", "dwba_terms", "footprint_factor",
           "particle_cross_section", "yoneda_angle"]
