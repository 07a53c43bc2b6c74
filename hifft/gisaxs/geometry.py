"""Grazing-incidence geometry: the beam, the detector, and the exact q of every pixel.

Frame: the sample surface is the (x, y) plane, z points up out of the substrate
(the layer's axis 0 is the height above the substrate), the beam travels along +x
and hits the surface at the incidence angle α_i. An exit direction is given by the
exit angle α_f (above the surface) and the in-plane angle 2θ_f (from the x axis):

    k_i = k (cos α_i, 0, −sin α_i),   k_f = k (cos α_f cos 2θ_f, cos α_f sin 2θ_f, sin α_f)
    q   = k_f − k_i,                  k = 2π/λ   (lengths in Å, q in 1/Å)

so q_x = k (cos α_f cos 2θ_f − cos α_i) is kept, not set to zero.

Units: lengths in Å (plain numbers) or strings with units ("0.096 nm"); energies as
strings ("12.9 keV") or numbers in keV; angles as numbers in degrees or strings
("7 mrad"). Everything is converted through :mod:`hifft.units`' pint registry and
stored in Å and radians.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np

from ..units import HC_EV_ANGSTROM, UnitError, convert, photon_energy, registry, wavelength_from_energy

#: hc in keV·Å (from the unit module), λ[Å] = HC_KEV_A / E[keV]
HC_KEV_A = HC_EV_ANGSTROM / 1000.0
#: wavelengths accepted, Å (124 keV … 0.4 keV X-rays, and cold neutrons up to 30 Å)
WAVELENGTH_RANGE = (0.1, 30.0)


class GeometryError(ValueError):
    """A beam or detector parameter is invalid; the message names the field."""


def _quantity(value: Any, unit: str, field_name: str) -> float:
    """``value`` in ``unit`` (numbers are taken to be in ``unit`` already)."""
    if isinstance(value, bool) or value is None:
        raise GeometryError(f"{field_name}: expected a number or a string with units, got {value!r}")
    if isinstance(value, int | float | np.floating | np.integer):
        out = float(value)
    else:
        ureg = registry()
        try:
            q = value if hasattr(value, "to") else ureg.Quantity(str(value).strip())
            out = float(q.to(unit).magnitude) if hasattr(q, "to") else float(q)
        except Exception as exc:  # pint raises several unrelated types
            raise GeometryError(f"{field_name}: {value!r} cannot be read as {unit}: {exc}") from exc
    if not math.isfinite(out):
        raise GeometryError(f"{field_name}: {value!r} is not finite")
    return out


def angle(value: Any, field_name: str = "angle") -> float:
    """An angle in radians from degrees (numbers) or a string with units ("0.4 deg", "7 mrad")."""
    return math.radians(_quantity(value, "degree", field_name))


def wavelength_of(wavelength: Any = None, energy: Any = None) -> float:
    """Wavelength in Å from exactly one of ``wavelength`` (Å or "0.096 nm") or ``energy`` (keV or "12.9 keV")."""
    if (wavelength is None) == (energy is None):
        raise GeometryError("wavelength/energy: give exactly one of them")
    if energy is not None:
        try:
            lam = wavelength_from_energy(photon_energy(energy, "energy", number_unit="keV"))
        except UnitError as exc:
            raise GeometryError(str(exc)) from exc
        name = "energy"
    else:
        try:
            lam = convert(wavelength, "length", "wavelength")
        except UnitError as exc:
            raise GeometryError(f"wavelength: {exc} (give a length such as '0.096 nm', or energy=)") from exc
        name = "wavelength"
    lo, hi = WAVELENGTH_RANGE
    if not lo <= lam <= hi:
        hint = " (a plain number is in Å: did you mean nm? write '0.096 nm')" if 0 < lam < lo else ""
        raise GeometryError(f"{name}: {lam:.4g} Å is outside {lo}–{hi} Å{hint}")
    return lam


@dataclass(frozen=True)
class Beam:
    """Monochromatic beam: wavelength (Å) and incidence angle α_i (rad)."""

    wavelength: float
    alpha_i: float

    def __post_init__(self) -> None:
        lo, hi = WAVELENGTH_RANGE
        if not lo <= self.wavelength <= hi:
            raise GeometryError(f"wavelength: {self.wavelength:.4g} Å is outside {lo}–{hi} Å")
        if not 0.0 < self.alpha_i < math.pi / 2:
            raise GeometryError(f"alpha_i: must be above 0 and below 90°, got {math.degrees(self.alpha_i):.4g}°")

    @classmethod
    def create(cls, alpha_i: Any, wavelength: Any = None, energy: Any = None) -> Beam:
        """From user input: ``alpha_i`` in degrees or with units, one of wavelength/energy."""
        return cls(wavelength_of(wavelength, energy), angle(alpha_i, "alpha_i"))

    @property
    def k(self) -> float:
        """Wavenumber 2π/λ in 1/Å."""
        return 2 * math.pi / self.wavelength

    @property
    def energy_kev(self) -> float:
        return HC_KEV_A / self.wavelength

    def to_dict(self) -> dict[str, float]:
        return {"wavelength_angstrom": self.wavelength, "alpha_i_deg": math.degrees(self.alpha_i)}


@dataclass(frozen=True, eq=False)
class Detector:
    """Exit angles of every pixel: ``alpha_f`` and ``two_theta_f`` (rad), arrays of shape (rows, cols).

    Rows run along α_f (increasing), columns along 2θ_f. ``solid_angle`` (sr) is
    each pixel's solid angle; ``alpha_axis``/``two_theta_axis`` are 1D centres when
    the grid is separable (angular detectors), else None.
    """

    alpha_f: np.ndarray
    two_theta_f: np.ndarray
    solid_angle: np.ndarray
    alpha_axis: np.ndarray | None = None
    two_theta_axis: np.ndarray | None = None
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def shape(self) -> tuple[int, int]:
        return tuple(self.alpha_f.shape)

    @classmethod
    def angular(cls, alpha_f: tuple[Any, Any] = (0.0, 4.0), two_theta_f: tuple[Any, Any] = (0.0, 4.0),
                shape: tuple[int, int] = (499, 500)) -> Detector:
        """A grid uniform in angles: ``shape`` = (n_alpha, n_two_theta) bins between the given edges.

        Bin centres lie half a bin inside the edges (as BornAgain's ``SphericalDetector``).
        Angles in degrees or with units.
        """
        na, nt = _shape2(shape)
        a0, a1 = (angle(v, f"alpha_f[{i}]") for i, v in enumerate(alpha_f))
        t0, t1 = (angle(v, f"two_theta_f[{i}]") for i, v in enumerate(two_theta_f))
        if not a1 > a0:
            raise GeometryError("alpha_f: the upper edge must be above the lower one")
        if not t1 > t0:
            raise GeometryError("two_theta_f: the upper edge must be above the lower one")
        if not (-math.pi / 2 < a0 and a1 < math.pi / 2):
            raise GeometryError("alpha_f: exit angles must lie within ±90°")
        if not (-math.pi / 2 < t0 and t1 < math.pi / 2):
            raise GeometryError("two_theta_f: in-plane angles must lie within ±90°")
        ae = np.linspace(a0, a1, na + 1)
        te = np.linspace(t0, t1, nt + 1)
        ac, tc = 0.5 * (ae[1:] + ae[:-1]), 0.5 * (te[1:] + te[:-1])
        af, tf = np.meshgrid(ac, tc, indexing="ij")
        # exact solid angle of a bin on the sphere: Δ2θ · (sin α_hi − sin α_lo)
        om = np.outer(np.diff(np.sin(ae)), np.diff(te))
        return cls(af, tf, om, ac, tc, {"kind": "angular", "shape": [na, nt]})

    @classmethod
    def flat(cls, shape: tuple[int, int], distance: Any, pixel_size: Any, beam_center: tuple[float, float],
             beam: Beam) -> Detector:
        """A flat detector perpendicular to the incident beam.

        ``distance`` sample–detector and ``pixel_size`` are lengths (Å or "2 m",
        "172 um"); ``beam_center`` = (row, col) where the direct beam hits, in
        pixels (fractions allowed). Row 0 is the lowest row (α_f grows with row).
        """
        nr, nc = _shape2(shape)
        dist = convert(distance, "length", "distance")
        px = convert(pixel_size, "length", "pixel_size")
        if dist <= 0:
            raise GeometryError(f"distance: must be positive, got {distance!r}")
        if px <= 0:
            raise GeometryError(f"pixel_size: must be positive, got {pixel_size!r}")
        r0, c0 = (float(v) for v in beam_center)
        rows = (np.arange(nr) - r0) * px  # up
        cols = (np.arange(nc) - c0) * px  # sideways
        v, h = np.meshgrid(rows, cols, indexing="ij")
        norm = np.sqrt(dist**2 + v**2 + h**2)
        # direction in the beam frame, then tilt by α_i about y into the sample frame
        dx, dy, dz = dist / norm, h / norm, v / norm
        ca, sa = math.cos(beam.alpha_i), math.sin(beam.alpha_i)
        sx, sz = dx * ca + dz * sa, -dx * sa + dz * ca
        af = np.arcsin(np.clip(sz, -1, 1))
        tf = np.arctan2(dy, sx)
        om = px**2 * dist / norm**3  # solid angle of a small flat pixel
        return cls(af, tf, om, None, None, {"kind": "flat", "shape": [nr, nc], "distance_angstrom": dist,
                                            "pixel_size_angstrom": px, "beam_center": [r0, c0]})

    def to_dict(self) -> dict[str, Any]:
        out = dict(self.info)
        out["alpha_f_deg"] = [float(np.degrees(self.alpha_f.min())), float(np.degrees(self.alpha_f.max()))]
        out["two_theta_f_deg"] = [float(np.degrees(self.two_theta_f.min())),
                                  float(np.degrees(self.two_theta_f.max()))]
        return out


def _shape2(shape: Any) -> tuple[int, int]:
    try:
        a, b = (int(s) for s in shape)
    except (TypeError, ValueError) as exc:
        raise GeometryError(f"shape: expected (rows, cols), got {shape!r}") from exc
    if a < 1 or b < 1:
        raise GeometryError(f"shape: must be positive, got {shape!r}")
    return a, b


@dataclass(frozen=True, eq=False)
class Geometry:
    """A beam and a detector: the exact wavevectors and q of every pixel (1/Å).

    ``k_zi`` = −k sin α_i and ``k_zf`` = k sin α_f are the vertical wavevector
    components in the ambient medium (vacuum); the DWBA terms use them.
    """

    beam: Beam
    detector: Detector

    @property
    def k(self) -> float:
        return self.beam.k

    @cached_property
    def q_x(self) -> np.ndarray:
        d = self.detector
        return self.k * (np.cos(d.alpha_f) * np.cos(d.two_theta_f) - math.cos(self.beam.alpha_i))

    @cached_property
    def q_y(self) -> np.ndarray:
        d = self.detector
        return self.k * np.cos(d.alpha_f) * np.sin(d.two_theta_f)

    @cached_property
    def q_z(self) -> np.ndarray:
        """Born q_z = k (sin α_f + sin α_i)."""
        return self.k * (np.sin(self.detector.alpha_f) + math.sin(self.beam.alpha_i))

    @cached_property
    def q_parallel(self) -> np.ndarray:
        return np.hypot(self.q_x, self.q_y)

    def to_dict(self) -> dict[str, Any]:
        return {"beam": self.beam.to_dict(), "detector": self.detector.to_dict()}


__all__ = ["Beam", "Detector", "Geometry", "GeometryError", "HC_KEV_A", "angle", "wavelength_of"]
