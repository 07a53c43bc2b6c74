"""Refractive indices from composition and density (xraydb), SLDs and Fresnel coefficients.

n = 1 − δ + iβ at the beam's energy, from ``xraydb.xray_delta_beta`` (Chantler
tables via xraydb: a maintained library, so nothing is tabulated here). The
scattering length density that multiplies a form factor follows from
n² = 1 − λ² ρ/π:  ρ = π (1 − n²)/λ²  (reported in 1e-6/Å², complex: the
imaginary part is absorption).

Fresnel reflection at the ambient/substrate interface for a wave at grazing angle α:
    k_z,j = k √(n_j² − cos²α)  (Im ≥ 0, α measured in vacuum),   r = (k_z,0 − k_z,1)/(k_z,0 + k_z,1)
with an optional Névot–Croce roughness factor exp(−2 k_z,0 k_z,1 σ²).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..units import convert

#: names always understood without a database look-up
VACUUM_NAMES = ("vacuum", "air", "none")


class MaterialError(ValueError):
    """A material cannot be made; the message names the field."""


@dataclass(frozen=True)
class Material:
    """A homogeneous medium at one wavelength: n = 1 − δ + iβ."""

    name: str
    delta: float
    beta: float
    formula: str = ""
    density: float = 0.0  # g/cm³

    @property
    def n(self) -> complex:
        return complex(1.0 - self.delta, self.beta)

    def sld(self, wavelength: float) -> complex:
        """Scattering length density π(1 − n²)/λ² in 1e-6/Å² (``wavelength`` in Å)."""
        return complex(math.pi * (1.0 - self.n**2) / wavelength**2 * 1e6)

    def critical_angle(self, ambient: Material | None = None) -> float:
        """Critical angle (rad) of total external reflection against ``ambient`` (vacuum by default)."""
        ratio = (1.0 - self.delta) / (1.0 - (ambient.delta if ambient is not None else 0.0))
        return math.acos(ratio) if ratio < 1 else 0.0  # cos α_c = n_1/n_0 (≈ √(2δ))

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "delta": self.delta, "beta": self.beta, "formula": self.formula,
                "density_g_cm3": self.density}


VACUUM = Material("vacuum", 0.0, 0.0)


def material(spec: Any, wavelength: float, field_name: str = "material") -> Material:
    """A :class:`Material` at ``wavelength`` (Å) from a user's description.

    ``spec`` is a name xraydb knows ("Si", "silicon", "gold", "water"), "vacuum",
    a mapping ``{formula, density}`` (g/cm³ or "19.3 g/cm^3"; ``name`` optional),
    a mapping ``{delta, beta}``, or a Material (returned as is).
    Unknown names are refused, naming ``field_name``.
    """
    if isinstance(spec, Material):
        return spec
    if isinstance(spec, str) and spec.strip().lower() in VACUUM_NAMES:
        return VACUUM
    if isinstance(spec, dict):
        keys = set(spec)
        if {"delta", "beta"} <= keys and not keys - {"delta", "beta", "name"}:
            return Material(str(spec.get("name", "custom")), float(spec["delta"]), float(spec["beta"]))
        if "formula" in keys and "density" in keys and not keys - {"formula", "density", "name"}:
            return _from_formula(str(spec["formula"]), _density(spec["density"], field_name),
                                 wavelength, str(spec.get("name", spec["formula"])), field_name)
        raise MaterialError(f"{field_name}: expected {{formula, density}} or {{delta, beta}}, got keys {sorted(keys)}")
    if not isinstance(spec, str):
        raise MaterialError(f"{field_name}: expected a name or a mapping, got {type(spec).__name__}")
    import xraydb

    found = xraydb.find_material(spec.strip())
    if found is None:
        raise MaterialError(f"{field_name}: unknown material {spec!r}; give a name xraydb knows "
                            "(e.g. 'Si', 'gold') or {formula: ..., density: ...}")
    return _from_formula(found.formula, float(found.density), wavelength, spec.strip(), field_name)


def _density(value: Any, field_name: str) -> float:
    if isinstance(value, str):
        from ..units import registry

        try:
            d = float(registry().Quantity(value).to("g/cm**3").magnitude)
        except Exception as exc:  # pint raises several unrelated types
            raise MaterialError(f"{field_name}.density: cannot read {value!r} as g/cm³: {exc}") from exc
    else:
        d = float(value)
    if not d > 0:
        raise MaterialError(f"{field_name}.density: must be positive, got {value!r}")
    return d


def _from_formula(formula: str, density: float, wavelength: float, name: str, field_name: str) -> Material:
    import xraydb

    energy_ev = 12398.419843320026 / wavelength
    try:
        delta, beta, _ = xraydb.xray_delta_beta(formula, density, energy_ev)
    except Exception as exc:  # xraydb raises ValueError/KeyError for bad formulas
        raise MaterialError(f"{field_name}: cannot compute n for formula {formula!r}: {exc}") from exc
    return Material(name, float(delta), float(beta), formula, density)


def kz(alpha: np.ndarray | float, k: float, n: complex) -> np.ndarray:
    """Vertical wavevector k √(n² − cos²α) in a medium of index ``n`` (1/Å, Im ≥ 0).

    ``alpha`` is the grazing angle in vacuum (rad): k_∥ = k cos α is conserved.
    """
    c = np.cos(np.asarray(alpha, dtype=float))
    out = k * np.sqrt(np.asarray(n**2 - c**2, dtype=complex))
    return np.where(np.imag(out) < 0, -out, out)


def fresnel_r(alpha: np.ndarray | float, k: float, substrate: Material, ambient: Material = VACUUM,
              roughness: Any = 0.0) -> np.ndarray:
    """Fresnel reflection coefficient of the ambient/substrate interface at grazing angle ``alpha`` (rad).

    ``roughness`` σ (Å or "0.5 nm") applies the Névot–Croce factor exp(−2 k_z,0 k_z,1 σ²).
    The result depends on |α| only (the shadow below the horizon is applied by the DWBA terms).
    """
    sigma = convert(roughness, "length", "roughness")
    if sigma < 0:
        raise MaterialError(f"roughness: must be >= 0, got {roughness!r}")
    a = np.asarray(alpha, dtype=float)
    k0 = kz(a, k, ambient.n)
    k1 = kz(a, k, substrate.n)
    with np.errstate(invalid="ignore", divide="ignore"):
        r = (k0 - k1) / (k0 + k1)
    if sigma > 0:
        r = r * np.exp(-2.0 * k0 * k1 * sigma**2)
    return r


def fresnel_t(alpha: np.ndarray | float, k: float, substrate: Material, ambient: Material = VACUUM) -> np.ndarray:
    """Fresnel transmission coefficient 1 + r (no roughness) at grazing angle ``alpha`` (rad)."""
    return 1.0 + fresnel_r(alpha, k, substrate, ambient)


__all__ = ["Material", "MaterialError", "VACUUM", "fresnel_r", "fresnel_t", "kz", "material"]
