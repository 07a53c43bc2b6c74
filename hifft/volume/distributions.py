"""Size polydispersity drawn as sasmodels defines its distributions.

``width`` is relative (sasmodels' ``*_pd``): σ = width · x̄ for "gaussian";
for "lognormal" σ_ln = width with x̄ the median; for "schulz"
z = 1/width², i.e. a gamma distribution with mean x̄ and relative σ = width.
Draws are truncated where sasmodels truncates its weights (x̄ ± nsigmas·σ,
nsigmas = 3 for gaussian and 8 for lognormal/schulz, and x > 0), by
redrawing the rejected values, so a scene and the sasmodels model it is
compared with describe the same size distribution.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

#: sasmodels' default truncation of each distribution (weights.py, ``nsigmas``).
NSIGMAS = {"gaussian": 3.0, "lognormal": 8.0, "schulz": 8.0}


@dataclass(frozen=True)
class Dispersion:
    """Polydispersity of one size parameter."""

    width: float
    distribution: str = "gaussian"

    def __post_init__(self) -> None:
        w = self.width
        if isinstance(w, bool) or not isinstance(w, int | float) or not math.isfinite(w) or w < 0:
            raise ValueError(
                f"polydispersity: width must be a finite number >= 0 (relative), got {w!r}"
            )
        object.__setattr__(self, "width", float(w))
        if self.distribution not in NSIGMAS:
            raise ValueError(
                f"distribution: must be one of {sorted(NSIGMAS)} (sasmodels names), "
                f"got {self.distribution!r}"
            )

    @property
    def nsigmas(self) -> float:
        return NSIGMAS[self.distribution]

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "nsigmas": self.nsigmas}

    def sample(self, center: float, n: int, rng: np.random.Generator) -> np.ndarray:
        """``n`` values about ``center`` (Å)."""
        if self.width == 0.0 or n == 0 or center == 0.0:  # σ = width·x̄ = 0: nothing to spread
            return np.full(n, center, dtype=np.float64)
        sigma = self.width * center
        lo, hi = max(center - self.nsigmas * sigma, 0.0), center + self.nsigmas * sigma
        out = self._draw(center, n, rng)
        bad = (out <= lo) | (out > hi) | (out <= 0)
        tries = 0
        while bad.any():
            out[bad] = self._draw(center, int(bad.sum()), rng)
            bad = (out <= lo) | (out > hi) | (out <= 0)
            tries += 1
            if tries > 1000:  # pragma: no cover - only with absurd widths
                raise ValueError(f"polydispersity: cannot draw sizes with width {self.width}")
        return out

    def _draw(self, center: float, n: int, rng: np.random.Generator) -> np.ndarray:
        if self.distribution == "gaussian":
            return rng.normal(center, self.width * center, n)
        if self.distribution == "lognormal":
            return rng.lognormal(math.log(center), self.width, n)
        z = 1.0 / self.width**2  # schulz: shape z, mean center
        return rng.gamma(z, center / z, n)


def parse_polydispersity(
    spec: Any, distribution: str | dict[str, str], size_parameters: tuple[str, ...], primary: str
) -> dict[str, Dispersion]:
    """Per-parameter dispersions from ``polydispersity=`` and ``distribution=``.

    ``spec``: None/0 (monodisperse), a number (applies to ``primary``), or a
    dict {parameter: width} or {parameter: {"width": w, "distribution": d}}.
    ``distribution``: a name for all, or a dict {parameter: name}.
    """
    if spec is None:
        return {}
    if isinstance(spec, int | float) and not isinstance(spec, bool):
        spec = {primary: spec}
    if not isinstance(spec, dict):
        raise ValueError(f"polydispersity: expected a number or a dict by parameter, got {spec!r}")
    out: dict[str, Dispersion] = {}
    for name, value in spec.items():
        if name not in size_parameters:
            raise ValueError(
                f"polydispersity: {name!r} is not a size parameter; one of {list(size_parameters)}"
            )
        dist = (
            distribution.get(name, "gaussian") if isinstance(distribution, dict) else distribution
        )
        if isinstance(value, dict):
            unknown = set(value) - {"width", "distribution", "nsigmas"}
            if unknown:
                raise ValueError(f"polydispersity.{name}: unknown key(s) {sorted(unknown)}")
            d = Dispersion(value.get("width", 0.0), value.get("distribution", dist))
            if "nsigmas" in value and float(value["nsigmas"]) != d.nsigmas:
                raise ValueError(
                    f"polydispersity.{name}: nsigmas is fixed at sasmodels' {d.nsigmas}"
                )
        else:
            d = Dispersion(value, dist)
        if d.width > 0:
            out[name] = d
    return out
