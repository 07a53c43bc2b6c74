"""Particle orientations, with sasmodels' angle names and conventions.

A particle's frame (a, b, c) is rotated into the lab (x, y, z; beam along z)
by ``Rz(phi) · Ry(theta) · Rz(psi)`` (sasmodels ``jitter.orient_relative_to_beam``):
the c axis points at polar angle ``theta`` from the beam and azimuth ``phi``;
``psi`` turns the particle about c. A spread adds sasmodels' jitter in the
particle frame, ``Rx(dphi) · Ry(dtheta) · Rz(dpsi)`` (the "xyz" convention),
with dθ, dφ, dψ drawn from a Gaussian of width ``theta_pd``, ``phi_pd``,
``psi_pd`` degrees truncated at 3σ, like sasmodels' gaussian dispersion.
(sasmodels additionally weights dθ by |cos dθ| in its default projection; a
scene draws the plain Gaussian, which differs by < 1 % for spreads ≤ 10°.)

Forms accepted by ``Scene.add(orientation=...)``:

- ``"uniform"``: uniformly random rotations (Haar measure on SO(3));
- ``"fixed"``: theta = phi = psi = 0 (c along the beam);
- a dict ``{"theta": 90, "phi": 0, "psi": 0, "theta_pd": 5, "phi_pd": 5,
  "psi_pd": 0}`` (degrees; missing keys are 0): fixed when every *_pd is 0,
  else a spread about that orientation.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

_ANGLES = ("theta", "phi", "psi", "theta_pd", "phi_pd", "psi_pd")
#: Gaussian jitter is truncated at this many σ (sasmodels' default nsigmas).
JITTER_NSIGMAS = 3.0


@dataclass(frozen=True)
class Orientation:
    """How particle orientations are drawn (angles in degrees)."""

    kind: str = "uniform"  # "uniform" | "fixed" | "spread"
    theta: float = 0.0
    phi: float = 0.0
    psi: float = 0.0
    theta_pd: float = 0.0
    phi_pd: float = 0.0
    psi_pd: float = 0.0

    def __post_init__(self) -> None:
        if self.kind not in ("uniform", "fixed", "spread"):
            raise ValueError(
                f"orientation: kind must be 'uniform', 'fixed' or 'spread', got {self.kind!r}"
            )
        for name in _ANGLES:
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v):
                raise ValueError(
                    f"orientation.{name}: must be a finite number of degrees, got {v!r}"
                )
            object.__setattr__(self, name, float(v))
            if name.endswith("_pd") and v < 0:
                raise ValueError(f"orientation.{name}: spread must be >= 0 degrees, got {v!r}")

    @classmethod
    def parse(cls, spec: Any) -> Orientation:
        """From "uniform", "fixed", a dict of angles, or an Orientation."""
        if isinstance(spec, Orientation):
            return spec
        if spec is None or spec == "uniform":
            return cls("uniform")
        if spec == "fixed":
            return cls("fixed")
        if isinstance(spec, dict):
            d = dict(spec)
            kind = d.pop("kind", None)
            unknown = set(d) - set(_ANGLES)
            if unknown:
                raise ValueError(
                    f"orientation: unknown key(s) {sorted(unknown)}; expected {list(_ANGLES)}"
                )
            if kind == "uniform":
                if any(d.get(k, 0) for k in _ANGLES):
                    raise ValueError("orientation: 'uniform' takes no angles")
                return cls("uniform")
            spread = any(float(d.get(k, 0.0)) != 0.0 for k in ("theta_pd", "phi_pd", "psi_pd"))
            if kind not in (None, "fixed", "spread"):
                raise ValueError(
                    f"orientation: kind must be 'uniform', 'fixed' or 'spread', got {kind!r}"
                )
            if kind == "fixed" and spread:
                raise ValueError("orientation: 'fixed' cannot have *_pd spreads; use kind 'spread'")
            return cls("spread" if spread else "fixed", **d)
        raise ValueError(
            f"orientation: expected 'uniform', 'fixed' or a dict of angles, got {spec!r}"
        )

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """``n`` rotation matrices (n, 3, 3), particle → lab, in (x, y, z)."""
        if self.kind == "uniform":
            from scipy.spatial.transform import Rotation

            return Rotation.random(n, rng=rng).as_matrix().reshape(n, 3, 3)
        view = _rz(np.full(1, self.phi)) @ _ry(np.full(1, self.theta)) @ _rz(np.full(1, self.psi))
        if self.kind == "fixed":
            return np.repeat(view, n, axis=0)
        jitter = (
            _rx(_jitter(rng, n, self.phi_pd))
            @ _ry(_jitter(rng, n, self.theta_pd))
            @ _rz(_jitter(rng, n, self.psi_pd))
        )
        return view @ jitter


def _jitter(rng: np.random.Generator, n: int, width: float) -> np.ndarray:
    """Gaussian angles (degrees) of σ = ``width``, truncated at ±3σ by redrawing."""
    if width == 0.0:
        return np.zeros(n)
    out = rng.normal(0.0, width, n)
    bad = np.abs(out) > JITTER_NSIGMAS * width
    while bad.any():
        out[bad] = rng.normal(0.0, width, int(bad.sum()))
        bad = np.abs(out) > JITTER_NSIGMAS * width
    return out


def _rx(deg: np.ndarray) -> np.ndarray:
    a = np.radians(deg)
    c, s = np.cos(a), np.sin(a)
    m = np.zeros((len(a), 3, 3))
    m[:, 0, 0] = 1
    m[:, 1, 1], m[:, 1, 2], m[:, 2, 1], m[:, 2, 2] = c, -s, s, c
    return m


def _ry(deg: np.ndarray) -> np.ndarray:
    a = np.radians(deg)
    c, s = np.cos(a), np.sin(a)
    m = np.zeros((len(a), 3, 3))
    m[:, 1, 1] = 1
    m[:, 0, 0], m[:, 0, 2], m[:, 2, 0], m[:, 2, 2] = c, s, -s, c
    return m


def _rz(deg: np.ndarray) -> np.ndarray:
    a = np.radians(deg)
    c, s = np.cos(a), np.sin(a)
    m = np.zeros((len(a), 3, 3))
    m[:, 2, 2] = 1
    m[:, 0, 0], m[:, 0, 1], m[:, 1, 0], m[:, 1, 1] = c, -s, s, c
    return m


def sasmodels_angles(orientation: Orientation) -> dict[str, Any]:
    """The matching sasmodels orientation parameters (empty for 'uniform': average instead)."""
    if orientation.kind == "uniform":
        return {}
    out: dict[str, Any] = {
        "theta": orientation.theta,
        "phi": orientation.phi,
        "psi": orientation.psi,
    }
    for k in ("theta_pd", "phi_pd", "psi_pd"):
        v = getattr(orientation, k)
        if v:
            out[k] = v
            out[f"{k}_type"] = "gaussian"
            out[f"{k}_nsigma"] = JITTER_NSIGMAS
    return out
