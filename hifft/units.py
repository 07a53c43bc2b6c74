"""Units in one place.

Internally hifft uses the units of sasmodels: lengths in Å, q in 1/Å, SLD in
1e-6/Å², intensity in 1/cm. Anything a user types may carry units ("50 nm",
"0.1 1/nm", "2e10 cm^-2"); it is converted here, with pint, on input. Plain
numbers are taken to be in internal units already.

xarray attrs carry ``units`` spelled so that pint parses them (``ATTR``;
the SLD spelling carries a 1e-6 factor, so parse it with
``registry().parse_expression``, not as a bare Unit);
only the canSAS writers translate to canSAS spellings (``CANSAS``: "1/A"),
and :func:`file_factor` reads the spellings found in data files back.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

import numpy as np
import pint

#: Internal unit of each kind, spelled for pint: the ``units`` attr of xarray results.
ATTR = {
    "length": "angstrom",
    "q": "1/angstrom",
    "sld": "1e-6/angstrom**2",
    "intensity": "1/cm",
    "volume": "angstrom**3",
}

#: canSAS spellings of the internal q and intensity units, for files written for SasView.
#: pint reads "1/A" as 1/ampere, so these appear only in canSAS files.
CANSAS = {"q": "1/A", "intensity": "1/cm"}

# A standalone "A"/"Å"/"Ang" (any case) in a data file's unit is the ångström (canSAS, SasView);
# pint would read "A" as ampere and "a" as a year.
_FILE_ANGSTROM = re.compile(r"(?<![A-Za-z])(?:A|a|Å|å|Ang|ang)(?![A-Za-z])")
# "nm-1", "A-1": a bare negative exponent, as some SAS files write it.
_FILE_EXPONENT = re.compile(r"^([^\W\d_]+)-(\d+)$")


class UnitError(ValueError):
    """A value carries units that cannot be converted to the expected kind."""


@lru_cache(maxsize=1)
def registry() -> pint.UnitRegistry:
    """The shared pint registry (Å spelled ``angstrom``, ``Ang`` or ``Å``)."""
    ureg: pint.UnitRegistry = pint.UnitRegistry()
    ureg.define("Ang = angstrom")
    ureg.define("Å = angstrom")
    return ureg


def _to_internal(q: pint.Quantity, kind: str) -> float:
    """Magnitude of ``q`` in the internal unit of ``kind`` (which may carry a
    scale factor such as 1e-6, so divide by it as an expression)."""
    ureg = registry()
    return float((q / ureg.parse_expression(ATTR[kind])).to("dimensionless").magnitude)


def convert(value: Any, kind: str, field: str = "value") -> float:
    """Return ``value`` as a float in hifft's internal unit for ``kind``.

    ``value`` is a number (already internal), a string with units
    ("50 nm", "0.1 1/nm", "1e10 cm^-2") or a pint Quantity. ``field`` names
    the input in error messages.
    """
    _check_kind(kind)
    ureg = registry()
    if isinstance(value, bool):
        raise UnitError(f"{field}: expected a {kind}, got a boolean")
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, pint.Quantity):
        q = value
    elif isinstance(value, str):
        text = value.strip()
        if not text:
            raise UnitError(f"{field}: empty string is not a {kind}")
        try:
            q = ureg.Quantity(text)
        except Exception as exc:  # pint raises several unrelated types
            raise UnitError(f"{field}: cannot parse {value!r} as a {kind}: {exc}") from exc
        if isinstance(q, int | float):
            return float(q)
    else:
        raise UnitError(f"{field}: expected a number or a string with units, got {type(value).__name__}")
    if q.dimensionless:
        return float(q.magnitude)
    try:
        return _to_internal(q, kind)
    except pint.errors.DimensionalityError as exc:
        raise UnitError(f"{field}: {value!r} is not a {kind} (expected units like {ATTR[kind]!r})") from exc


def length(value: Any, field: str = "length") -> float:
    """Length in Å."""
    return convert(value, "length", field)


def q(value: Any, field: str = "q") -> float:
    """Momentum transfer in 1/Å."""
    return convert(value, "q", field)


def sld(value: Any, field: str = "sld") -> float:
    """Scattering length density in 1e-6/Å²."""
    return convert(value, "sld", field)


def intensity(value: Any, field: str = "intensity") -> float:
    """Differential cross-section per volume in 1/cm."""
    return convert(value, "intensity", field)


def _check_kind(kind: str) -> None:
    if kind not in ATTR:
        raise KeyError(f"unknown unit kind {kind!r}; one of {sorted(ATTR)}")


def factor(src: str, kind: str) -> float:
    """Multiplier taking a value in unit ``src`` (a pint spelling) to the internal unit of ``kind``.

    Rounded to 15 significant digits: pint's chained float arithmetic gives
    0.09999999999999999 for 1/nm → 1/Å, and the factors between SI prefixes
    and the ångström are exact decimals.
    """
    _check_kind(kind)
    try:
        return float(f"{_to_internal(registry().parse_expression(src), kind):.15g}")
    except (pint.errors.DimensionalityError, pint.errors.UndefinedUnitError) as exc:
        raise UnitError(f"cannot convert {src!r} to {kind} ({ATTR[kind]}): {exc}") from exc


def file_factor(unit: str | bytes | None, kind: str, field: str = "units") -> float:
    """Multiplier from a unit as spelled in a data file to the internal unit of ``kind``.

    Takes pint spellings and those of canSAS/SasView files, where a standalone
    ``A`` or ``Å`` is the ångström: "1/A", "A^-1", "A^{-1}", "a-1", "1/nm",
    "nm-1", "cm^-1", "1/m". None or "" means the value is already internal
    (factor 1). ``field`` names the input in the :class:`UnitError`.
    """
    if unit is None:
        return 1.0
    text = unit.decode() if isinstance(unit, bytes) else str(unit)
    text = re.sub(r"\s+", "", text).replace("{", "").replace("}", "")
    if not text:
        return 1.0
    text = _FILE_EXPONENT.sub(r"\1^-\2", _FILE_ANGSTROM.sub("angstrom", text))
    try:
        return factor(text, kind)
    except UnitError:
        pass
    try:  # files spell units in any case ("1/NM", "CM^-1"); pint's names are lower case
        return factor(text.lower(), kind)
    except UnitError as exc:
        raise UnitError(f"{field}: cannot convert {unit!r} to {kind} ({ATTR[kind]})") from exc


def values_in(da: Any, kind: str) -> np.ndarray:
    """Values of a DataArray ``da`` in the internal unit of ``kind``, float64.

    Reads the pint-spelled ``units`` attr; without one the values are taken to
    be internal already.
    """
    v = np.asarray(da.values, dtype=np.float64)
    u = da.attrs.get("units")
    return v if not u else v * factor(str(u), kind)


#: hc in eV·Å (CODATA 2018, exact since the 2019 SI): λ[Å] = HC_EV_ANGSTROM / E[eV].
HC_EV_ANGSTROM = 12398.419843320026


def photon_energy(value: Any, field: str = "energy", number_unit: str = "eV") -> float:
    """Photon energy in eV from a number (in ``number_unit``) or a string with units ("12.9 keV", "19 eV").

    Subsystems differ in the unit a bare number means (keV for hard X-rays,
    eV for XUV), so the caller says; the result is always eV, positive and finite.
    """
    if isinstance(value, bool) or value is None:
        raise UnitError(f"{field}: expected an energy, got {value!r}")
    ureg = registry()
    try:
        if isinstance(value, int | float | np.integer | np.floating):
            e = float(ureg.Quantity(float(value), number_unit).to("eV").magnitude)
        else:
            q = value if isinstance(value, pint.Quantity) else ureg.Quantity(str(value).strip())
            e = float(q.to("eV").magnitude) if isinstance(q, pint.Quantity) else \
                float(ureg.Quantity(float(q), number_unit).to("eV").magnitude)
    except Exception as exc:  # pint raises several unrelated types
        raise UnitError(f"{field}: cannot read {value!r} as a photon energy (e.g. '19 eV', '12.9 keV')") from exc
    if not (np.isfinite(e) and e > 0):
        raise UnitError(f"{field}: must be a positive, finite energy, got {value!r}")
    return e


def wavelength_from_energy(energy_ev: float) -> float:
    """Photon wavelength in Å for an energy in eV."""
    return HC_EV_ANGSTROM / float(energy_ev)


#: Absolute-scale prefactor: I[1/cm] = INTENSITY_PREFACTOR · |A|²/V_box with
#: A in (1e-6/Å²)·Å³ and V_box in Å³ (1e-12 Å⁻⁴·Å³ = 1e-12 /Å = 1e-4 /cm).
INTENSITY_PREFACTOR = 1e-4
