"""Analytic form factors of islands standing on the substrate, complex q_z allowed.

Convention (hifft's): F(q) = ∫_V exp(−i q·r) d³r in Å³, the particle's base on z = 0,
centred laterally on the origin. q in 1/Å, lengths in Å. ``amplitude(q_x, q_y, q_z)``
broadcasts; ``q_z`` may carry extra leading axes (the four DWBA terms), in which case
the lateral part is computed once and reused.

Truncated spheres (and hemispheres) have no closed form: F is a 1D integral over
height of disc form factors, done here by Gauss–Legendre quadrature in θ with
z = z_c + R sin θ (this makes the integrand smooth at the sphere's poles). The node
count grows with (|q_z| + q_∥)·R so that the oscillation e^{−i q_z z} is resolved;
tests check it against scipy's adaptive quadrature to 1e-8.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
from scipy.special import j1

from ..units import convert


class FormFactorError(ValueError):
    """A shape parameter is invalid; the message names the field."""


def sinc(x: np.ndarray) -> np.ndarray:
    """sin(x)/x for real or complex x (1 at 0)."""
    x = np.asarray(x)
    small = np.abs(x) < 1e-8
    safe = np.where(small, 1.0, x)
    return np.where(small, 1.0 - x * x / 6.0, np.sin(safe) / safe)


def airy(x: np.ndarray) -> np.ndarray:
    """2 J1(x)/x for real x ≥ 0 (1 at 0): the disc's normalized form factor."""
    x = np.asarray(x, dtype=float)
    small = x < 1e-8
    safe = np.where(small, 1.0, x)
    return np.where(small, 1.0 - x * x / 8.0, 2.0 * j1(safe) / safe)


def on_unique(fn: Any, x: np.ndarray) -> np.ndarray:
    """``fn(x)`` evaluated once per distinct value of ``x`` (detectors repeat q_z and α_f along rows)."""
    if x.ndim >= 2 and x.shape[-1] > 1 and np.array_equal(x, np.broadcast_to(x[..., :1], x.shape)):
        return np.broadcast_to(fn(x[..., :1]), x.shape)  # constant along rows: an angular detector
    u, inv = np.unique(x, return_inverse=True)
    return fn(u)[inv].reshape(x.shape)


def _slab_z(qz: np.ndarray, h: float) -> np.ndarray:
    """∫_0^h exp(−i q_z z) dz / h = sinc(q_z h/2) exp(−i q_z h/2), once per distinct q_z."""
    return on_unique(lambda q: sinc(q * h / 2) * np.exp(-0.5j * q * h), qz)


def _positive(value: Any, name: str) -> float:
    v = convert(value, "length", name)
    if not v > 0:
        raise FormFactorError(f"{name}: must be positive, got {value!r}")
    return v


def _lateral(q_x: Any, q_y: Any, q_z: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """q_x, q_y broadcast to their common lateral shape; q_z as complex (may have extra leading axes)."""
    qx, qy = np.broadcast_arrays(np.asarray(q_x, dtype=float), np.asarray(q_y, dtype=float))
    qz = np.asarray(q_z)
    qz = qz if np.iscomplexobj(qz) else qz.astype(complex)
    n = qx.ndim
    if qz.ndim < n or qz.shape[qz.ndim - n:] != qx.shape:
        qx, qy, qz = np.broadcast_arrays(qx, qy, qz)
    return qx, qy, qz


@dataclass(frozen=True)
class Shape:
    """Base of the analytic island shapes (all lengths in Å)."""

    kind = "shape"
    #: real density with ρ(−x, −y, z) = ρ(x, y, z): F(q_∥, −q_z) = F(q_∥, q_z)* for real q
    centrosymmetric = True

    def amplitude(self, q_x: Any, q_y: Any, q_z: Any) -> np.ndarray:
        raise NotImplementedError

    @property
    def volume(self) -> float:
        raise NotImplementedError

    @property
    def height(self) -> float:
        raise NotImplementedError

    @property
    def size(self) -> float:
        """The length a size distribution scales (the radius, or the box side)."""
        raise NotImplementedError

    def scaled(self, s: float) -> Shape:
        """The same shape with every length multiplied by ``s``."""
        raise NotImplementedError

    def inside(self, x: np.ndarray, y: np.ndarray, z: np.ndarray) -> np.ndarray:
        """True where (x, y, z) (Å, relative to the base centre) lies in the shape."""
        raise NotImplementedError

    @property
    def half_width(self) -> float:
        """Half the lateral extent of the bounding box (Å)."""
        return self.size

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, **dict(self.__dict__)}


@dataclass(frozen=True)
class Cylinder(Shape):
    """Upright cylinder: ``radius``, ``length`` (its height)."""

    radius: float
    length: float
    kind = "cylinder"

    def __post_init__(self) -> None:
        object.__setattr__(self, "radius", _positive(self.radius, "radius"))
        object.__setattr__(self, "length", _positive(self.length, "length"))

    def amplitude(self, q_x: Any, q_y: Any, q_z: Any) -> np.ndarray:
        qx, qy, qz = _lateral(q_x, q_y, q_z)
        lat = math.pi * self.radius**2 * airy(np.hypot(qx, qy) * self.radius)
        return lat * self.length * _slab_z(qz, self.length)

    @property
    def volume(self) -> float:
        return math.pi * self.radius**2 * self.length

    @property
    def height(self) -> float:
        return self.length

    @property
    def size(self) -> float:
        return self.radius

    def scaled(self, s: float) -> Cylinder:
        return replace(self, radius=self.radius * s, length=self.length * s)

    def inside(self, x: np.ndarray, y: np.ndarray, z: np.ndarray) -> np.ndarray:
        return (x * x + y * y <= self.radius**2) & (z >= 0) & (z <= self.length)


@dataclass(frozen=True)
class Box(Shape):
    """Rectangular box ``length_a`` (x) × ``length_b`` (y) × ``length_c`` (height)."""

    length_a: float
    length_b: float
    length_c: float
    kind = "box"

    def __post_init__(self) -> None:
        for f in ("length_a", "length_b", "length_c"):
            object.__setattr__(self, f, _positive(getattr(self, f), f))

    def amplitude(self, q_x: Any, q_y: Any, q_z: Any) -> np.ndarray:
        qx, qy, qz = _lateral(q_x, q_y, q_z)
        a, b, c = self.length_a, self.length_b, self.length_c
        return a * b * c * sinc(qx * a / 2) * sinc(qy * b / 2) * _slab_z(qz, c)

    @property
    def volume(self) -> float:
        return self.length_a * self.length_b * self.length_c

    @property
    def height(self) -> float:
        return self.length_c

    @property
    def size(self) -> float:
        return self.length_a

    def scaled(self, s: float) -> Box:
        return replace(self, length_a=self.length_a * s, length_b=self.length_b * s, length_c=self.length_c * s)

    def inside(self, x: np.ndarray, y: np.ndarray, z: np.ndarray) -> np.ndarray:
        return ((np.abs(x) <= self.length_a / 2) & (np.abs(y) <= self.length_b / 2) & (z >= 0)
                & (z <= self.length_c))

    @property
    def half_width(self) -> float:
        return 0.5 * math.hypot(self.length_a, self.length_b)


@dataclass(frozen=True)
class TruncatedSphere(Shape):
    """A sphere of ``radius`` cut by the substrate, ``height`` of it standing above (0 < height ≤ 2·radius).

    ``height = radius`` is a hemisphere, ``2·radius`` a whole sphere resting on the surface.
    BornAgain: ``SphericalSegment(radius, 0, 2·radius − height)``.
    """

    radius: float
    height_: float
    kind = "truncated_sphere"

    def __init__(self, radius: Any, height: Any) -> None:
        r = _positive(radius, "radius")
        h = _positive(height, "height")
        if h > 2 * r * (1 + 1e-12):
            raise FormFactorError(f"height: {h} Å exceeds the sphere's diameter {2 * r} Å")
        object.__setattr__(self, "radius", r)
        object.__setattr__(self, "height_", min(h, 2 * r))

    @property
    def height(self) -> float:
        return self.height_

    @property
    def volume(self) -> float:
        r, h = self.radius, self.height_
        return math.pi * h * h * (3 * r - h) / 3.0

    @property
    def size(self) -> float:
        return self.radius

    def scaled(self, s: float) -> TruncatedSphere:
        return TruncatedSphere(self.radius * s, self.height_ * s)

    def inside(self, x: np.ndarray, y: np.ndarray, z: np.ndarray) -> np.ndarray:
        zc = self.height_ - self.radius
        return (x * x + y * y + (z - zc) ** 2 <= self.radius**2) & (z >= 0) & (z <= self.height_)

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "radius": self.radius, "height": self.height_}

    def nodes(self, qmax: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Heights z_j, radii r_j and weights w_j (dz) of the quadrature for |q| up to ``qmax``."""
        r, h = self.radius, self.height_
        zc = h - r
        t0, t1 = math.asin(max(-1.0, -zc / r)), math.asin(min(1.0, (h - zc) / r))
        n = int(min(400, 24 + math.ceil(qmax * r * (t1 - t0) / 2 * 1.3)))
        x, w = np.polynomial.legendre.leggauss(n)
        th = 0.5 * (t1 - t0) * x + 0.5 * (t1 + t0)
        return zc + r * np.sin(th), r * np.cos(th), 0.5 * (t1 - t0) * w * r * np.cos(th)

    def amplitude(self, q_x: Any, q_y: Any, q_z: Any, block: int = 8192) -> np.ndarray:
        qx, qy, qz = _lateral(q_x, q_y, q_z)
        qp = np.hypot(qx, qy).ravel()
        lead = qz.shape[: qz.ndim - qx.ndim]
        qzf = qz.reshape((-1, qp.size))
        qmax = float(np.max(np.abs(qzf), initial=0.0) + np.max(qp, initial=0.0))
        z, rad, w = self.nodes(qmax)
        # detectors repeat q_z along rows: the phases exp(−i q_z z_j) are computed once per distinct q_z
        uq, inv = np.unique(qzf, return_inverse=True)
        phase = np.exp(-1j * np.multiply.outer(uq, z))  # (U, n)
        inv = inv.reshape(qzf.shape)
        out = np.empty(qzf.shape, dtype=complex)
        area = w * math.pi * rad**2
        for s in range(0, qp.size, block):
            e = slice(s, s + block)
            kern = area[None, :] * airy(qp[e, None] * rad[None, :])  # (P, n)
            for t in range(qzf.shape[0]):
                out[t, e] = np.einsum("pn,pn->p", kern, phase[inv[t, e]])
        return out.reshape(lead + qx.shape)


def Hemisphere(radius: Any) -> TruncatedSphere:
    """A hemisphere of ``radius`` on its flat face (the IsGISAXS/seed-000 island)."""
    return TruncatedSphere(radius, radius)


@dataclass(frozen=True)
class SphereOnSurface(Shape):
    """A whole sphere resting on the substrate (closed form; its centre at z = radius)."""

    radius: float
    kind = "sphere"

    def __post_init__(self) -> None:
        object.__setattr__(self, "radius", _positive(self.radius, "radius"))

    def amplitude(self, q_x: Any, q_y: Any, q_z: Any) -> np.ndarray:
        qx, qy, qz = _lateral(q_x, q_y, q_z)
        r = self.radius
        q = np.sqrt(qx**2 + qy**2 + qz**2 + 0j)
        x = q * r
        small = np.abs(x) < 1e-4
        xs = np.where(small, 1.0, x)
        f = np.where(small, 1.0 - x * x / 10.0, 3.0 * (np.sin(xs) - xs * np.cos(xs)) / xs**3)
        return self.volume * f * np.exp(-1j * qz * r)

    @property
    def volume(self) -> float:
        return 4.0 / 3.0 * math.pi * self.radius**3

    @property
    def height(self) -> float:
        return 2 * self.radius

    @property
    def size(self) -> float:
        return self.radius

    def scaled(self, s: float) -> SphereOnSurface:
        return replace(self, radius=self.radius * s)

    def inside(self, x: np.ndarray, y: np.ndarray, z: np.ndarray) -> np.ndarray:
        return x * x + y * y + (z - self.radius) ** 2 <= self.radius**2


SHAPES: dict[str, Callable[..., Shape]] = {
    "cylinder": Cylinder, "box": Box, "truncated_sphere": TruncatedSphere, "hemisphere": Hemisphere,
    "sphere": SphereOnSurface}


def make_shape(kind: str, **params: Any) -> Shape:
    """A shape by name (``cylinder``, ``box``, ``truncated_sphere``, ``hemisphere``, ``sphere``)."""
    if kind not in SHAPES:
        raise FormFactorError(f"shape: unknown kind {kind!r}; one of {sorted(SHAPES)}")
    try:
        return SHAPES[kind](**params)
    except TypeError as exc:
        raise FormFactorError(f"shape {kind!r}: {exc}") from exc


__all__ = ["Box", "Cylinder", "FormFactorError", "Hemisphere", "SHAPES", "Shape", "SphereOnSurface",
           "TruncatedSphere", "airy", "make_shape", "sinc"]
