"""Units in one place.

Internally hifft uses the units of sasmodels: lengths in Å, q in 1/Å, SLD in
1e-6/Å², intensity in 1/cm. Anything a user types may carry units ("50 nm",
"0.1 1/nm", "2e10 cm^-2"); it is converted here, with pint, on input. Plain
numbers are taken to be in internal units already.

xarray attrs carry ``units`` spelled so that pint parses them (``ATTR``;
the SLD spelling carries a 1e-6 factor, so parse it with
``registry().parse_expression``, not as a bare Unit);
only the canSAS writers translate to canSAS spellings ("1/A").
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import pint

#: pint-parsable spellings used in xarray attrs.
ATTR = {
    "length": "angstrom",
    "q": "1/angstrom",
    "sld": "1e-6/angstrom**2",
    "intensity": "1/cm",
    "volume": "angstrom**3",
}

#: Internal unit of each kind, as pint expressions.
_INTERNAL = {
    "length": "angstrom",
    "q": "1/angstrom",
    "sld": "1e-6/angstrom**2",
    "intensity": "1/cm",
    "volume": "angstrom**3",
}


class UnitError(ValueError):
    """A value carries units that cannot be converted to the expected kind."""


@lru_cache(maxsize=1)
def registry() -> pint.UnitRegistry:
    """The shared pint registry (Å spelled ``angstrom``, ``Ang`` or ``Å``)."""
    ureg = pint.UnitRegistry()
    ureg.define("Ang = angstrom")
    ureg.define("Å = angstrom")
    return ureg


def _to_internal(q: pint.Quantity, kind: str) -> float:
    """Magnitude of ``q`` in the internal unit of ``kind`` (which may carry a
    scale factor such as 1e-6, so divide by it as an expression)."""
    ureg = registry()
    return float((q / ureg.parse_expression(_INTERNAL[kind])).to("dimensionless").magnitude)


def _factor(src: str, kind: str) -> float:
    ureg = registry()
    try:
        return _to_internal(ureg.parse_expression(src), kind)
    except (pint.errors.DimensionalityError, pint.errors.UndefinedUnitError) as exc:
        raise UnitError(f"cannot convert {src!r} to {kind} ({_INTERNAL[kind]}): {exc}") from exc


def convert(value: Any, kind: str, field: str = "value") -> float:
    """Return ``value`` as a float in hifft's internal unit for ``kind``.

    ``value`` is a number (already internal), a string with units
    ("50 nm", "0.1 1/nm", "1e10 cm^-2") or a pint Quantity. ``field`` names
    the input in error messages.
    """
    if kind not in _INTERNAL:
        raise KeyError(f"unknown unit kind {kind!r}; one of {sorted(_INTERNAL)}")
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
        raise UnitError(
            f"{field}: {value!r} is not a {kind} (expected units like {_INTERNAL[kind]!r})"
        ) from exc


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


def factor(src: str, kind: str) -> float:
    """Multiplier taking a value in unit ``src`` to the internal unit of ``kind``."""
    return _factor(src, kind)


#: Absolute-scale prefactor: I[1/cm] = INTENSITY_PREFACTOR · |A|²/V_box with
#: A in (1e-6/Å²)·Å³ and V_box in Å³ (1e-12 Å⁻⁴·Å³ = 1e-12 /Å = 1e-4 /cm).
INTENSITY_PREFACTOR = 1e-4
