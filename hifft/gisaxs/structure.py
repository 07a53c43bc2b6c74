"""Interference between islands: explicit placements and analytic structure factors.

Two routes:

- **explicit**: lateral positions (random, hard-disc, lattice, 1D/2D paracrystal)
  are drawn here and the DWBA amplitudes of every island are summed coherently,
  A(q) = Σ_j F_j,DWBA(q) exp(−i q_∥·r_j); the intensity per unit area |A|²/area is
  averaged over realisations (:func:`coherent_intensity`).
- **analytic**: a size distribution and an interference function S(q_∥):
  the decoupling approximation I = n_s [⟨|F|²⟩ + |⟨F⟩|² (S − 1)] or the local
  monodisperse approximation I = n_s ⟨|F|²⟩ S (:func:`ensemble_intensity`), with
  S from :func:`radial_paracrystal` (Gaussian nearest-neighbour distances, the
  interference model behind seed 000's images), :func:`paracrystal_2d` or
  :func:`lattice_2d`.

Lengths in Å, q in 1/Å, intensities per unit area in 1/sr (see :mod:`.dwba`).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from .dwba import SLD2, Terms, amplitude
from .formfactors import Shape

APPROXIMATIONS = ("da", "lma")


class StructureError(ValueError):
    """An interference or placement parameter is invalid; the message names the field."""


# ---------------------------------------------------------------------------
# size distributions
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class SizeDistribution:
    """Gaussian distribution of an island's size (all lengths scaled together), relative width ``sigma``.

    Integrated with ``n`` Gauss–Hermite nodes; nodes at sizes ≤ 0 are dropped and
    the weights renormalized (a truncated Gaussian, as IsGISAXS does).
    """

    sigma: float
    n: int = 15

    def __post_init__(self) -> None:
        if not 0 <= self.sigma < 1:
            raise StructureError(f"sigma: relative size spread must be in [0, 1), got {self.sigma}")
        if self.n < 1:
            raise StructureError(f"n: need at least one node, got {self.n}")

    def nodes(self) -> tuple[np.ndarray, np.ndarray]:
        """Scale factors s_k (mean 1) and weights p_k (sum 1)."""
        if self.sigma == 0 or self.n == 1:
            return np.ones(1), np.ones(1)
        x, w = np.polynomial.hermite_e.hermegauss(self.n)
        s = 1.0 + self.sigma * x
        keep = s > 0
        return s[keep], w[keep] / w[keep].sum()


def _dwba_amplitudes(shape: Shape, dist: SizeDistribution, terms: Terms) -> tuple[np.ndarray, np.ndarray]:
    """F_DWBA per size node: (K, *S) complex, and the node weights (K,)."""
    s, p = dist.nodes()
    return np.stack([amplitude(shape.scaled(float(sk)).amplitude, terms) for sk in s]), p


def ensemble_intensity(shape: Shape, terms: Terms, contrast: complex, density: float, *,
                       size: SizeDistribution | None = None,
                       interference: Callable[[np.ndarray, np.ndarray], np.ndarray] | None = None,
                       approximation: str = "da") -> np.ndarray:
    """Intensity per unit area (1/sr) of islands of ``shape`` at ``density`` per Å².

    ``size``: their size distribution (None: monodisperse). ``interference``:
    S(q_x, q_y) (None: dilute, S = 1). ``approximation``: "da" (decoupling) or "lma"
    (local monodisperse; S is the same for every size here, so LMA = n_s ⟨|F|²⟩ S).
    """
    if approximation not in APPROXIMATIONS:
        raise StructureError(f"approximation: {approximation!r} is not one of {APPROXIMATIONS}")
    if not density > 0:
        raise StructureError(f"density: must be positive, got {density}")
    f, p = _dwba_amplitudes(shape, size or SizeDistribution(0.0), terms)
    p = p.reshape((-1,) + (1,) * (f.ndim - 1))
    f2 = np.sum(p * np.abs(f) ** 2, axis=0)
    if interference is None:
        total = f2
    else:
        s = interference(terms.q_x, terms.q_y)
        if approximation == "da":
            total = f2 + np.abs(np.sum(p * f, axis=0)) ** 2 * (s - 1.0)
        else:
            total = f2 * s
    return SLD2 * abs(contrast) ** 2 * density * total


# ---------------------------------------------------------------------------
# analytic interference functions
# ---------------------------------------------------------------------------


def _hosemann(p: np.ndarray) -> np.ndarray:
    """Re[(1 + P)/(1 − P)] (a paracrystal's interference from the neighbour-distance transform P)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        s = np.real((1.0 + p) / (1.0 - p))
    return np.where(np.isfinite(s), s, 1.0)


def radial_paracrystal(distance: float, omega: float, damping: float = 0.0
                       ) -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
    """S(q_∥) of a radial (isotropic 1D) paracrystal: Gaussian nearest-neighbour distances (mean, rms) in Å.

    P(q) = exp(−q² ω²/2 + i q D) · exp(−D/damping) (damping length in Å, 0 = none);
    BornAgain's ``RadialParacrystal(D, damping)`` with ``Profile1DGauss(ω)``.
    """
    if not distance > 0:
        raise StructureError(f"distance: must be positive, got {distance}")
    if omega < 0:
        raise StructureError(f"omega: must be >= 0, got {omega}")
    att = math.exp(-distance / damping) if damping > 0 else 1.0

    def s(qx: np.ndarray, qy: np.ndarray) -> np.ndarray:
        q = np.hypot(qx, qy)
        return _hosemann(att * np.exp(-0.5 * (q * omega) ** 2 + 1j * q * distance))

    return s


def _lattice_vectors(a: float, b: float, angle: float, xi: float) -> tuple[np.ndarray, np.ndarray]:
    a1 = a * np.array([math.cos(xi), math.sin(xi)])
    a2 = b * np.array([math.cos(xi + angle), math.sin(xi + angle)])
    return a1, a2


def paracrystal_2d(a: float, b: float, angle: float, omega_a: float, omega_b: float, xi: float = 0.0
                   ) -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
    """S(q_∥) of an ideal 2D paracrystal (product of two Hosemann factors, isotropic Gaussian
    displacement of rms ``omega_*`` Å per lattice step). Angles in rad; ``xi`` turns the lattice."""
    a1, a2 = _lattice_vectors(a, b, angle, xi)

    def s(qx: np.ndarray, qy: np.ndarray) -> np.ndarray:
        out = np.ones(np.broadcast(qx, qy).shape)
        for vec, om in ((a1, omega_a), (a2, omega_b)):
            qa = qx * vec[0] + qy * vec[1]
            q2 = qx * qx + qy * qy
            out = out * _hosemann(np.exp(-0.5 * q2 * om**2 + 1j * qa))
        return out

    return s


def lattice_2d(a: float, b: float, angle: float, domain: float, xi: float = 0.0
               ) -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
    """S(q_∥) of a 2D lattice with domains of size ``domain`` (Å): Gaussian peaks of rms width
    1/domain at every reciprocal-lattice vector G, normalized so that each peak's integral is
    (2π)²/A_cell (the lattice's Fourier series)."""
    a1, a2 = _lattice_vectors(a, b, angle, xi)
    area = abs(a1[0] * a2[1] - a1[1] * a2[0])
    rot = np.array([[0.0, -1.0], [1.0, 0.0]])
    b1 = 2 * math.pi * (rot @ a2) / (a1 @ (rot @ a2))
    b2 = 2 * math.pi * (rot @ a1) / (a2 @ (rot @ a1))
    w = 1.0 / domain

    def s(qx: np.ndarray, qy: np.ndarray) -> np.ndarray:
        qmax = float(np.max(np.hypot(qx, qy), initial=0.0)) + 5 * w
        nmax = int(qmax * max(np.linalg.norm(a1), np.linalg.norm(a2)) / (2 * math.pi)) + 2
        out = np.zeros(np.broadcast(qx, qy).shape)
        for i in range(-nmax, nmax + 1):
            for j in range(-nmax, nmax + 1):
                g = i * b1 + j * b2
                if np.hypot(*g) > qmax:
                    continue
                out += np.exp(-0.5 * ((qx - g[0]) ** 2 + (qy - g[1]) ** 2) / w**2)
        return (2 * math.pi) ** 2 / area * out / (2 * math.pi * w**2)

    return s


# ---------------------------------------------------------------------------
# explicit placements
# ---------------------------------------------------------------------------


PLACEMENTS = ("random", "hard", "square", "hexagonal", "paracrystal_1d", "paracrystal_2d")


def place(kind: str, box: float, rng: np.random.Generator, *, number: int | None = None,
          distance: float | None = None, omega: float = 0.0, diameter: float = 0.0, xi: float = 0.0,
          max_tries: int = 200_000) -> np.ndarray:
    """Lateral positions (N, 2) in Å inside a square box of side ``box`` (periodic).

    ``random``/``hard`` need ``number`` (hard discs of ``diameter`` by random sequential
    addition); ``square``/``hexagonal`` need the lattice ``distance`` (turned by ``xi`` rad,
    jittered by rms ``omega``); ``paracrystal_1d`` (rows of cumulative Gaussian steps
    ``distance`` ± ``omega`` along x, row spacing ``distance``) and ``paracrystal_2d``
    (cumulative steps along both axes) need ``distance``.
    """
    if kind not in PLACEMENTS:
        raise StructureError(f"placement: {kind!r} is not one of {PLACEMENTS}")
    if not box > 0:
        raise StructureError(f"box: must be positive, got {box}")
    if kind in ("random", "hard"):
        if not number or number < 1:
            raise StructureError(f"number: {kind} placement needs number >= 1, got {number}")
        if kind == "random":
            return rng.uniform(0, box, size=(number, 2))
        return _hard_discs(number, box, diameter, rng, max_tries)
    if not distance or distance <= 0:
        raise StructureError(f"distance: {kind} placement needs a positive distance, got {distance}")
    n = max(1, round(box / distance))
    if kind in ("square", "hexagonal"):
        if kind == "square":
            i, j = np.meshgrid(np.arange(n), np.arange(n), indexing="ij")
            pts = np.stack([i.ravel(), j.ravel()], axis=1) * distance
        else:
            rows = max(1, round(box / (distance * math.sqrt(3) / 2)))
            i, j = np.meshgrid(np.arange(n), np.arange(rows), indexing="ij")
            pts = np.stack([(i + 0.5 * (j % 2)).ravel() * distance, j.ravel() * distance * math.sqrt(3) / 2], 1)
        c, s = math.cos(xi), math.sin(xi)
        pts = pts @ np.array([[c, s], [-s, c]])
        return pts + rng.normal(0, omega, size=pts.shape) if omega > 0 else pts
    steps_x = distance + omega * rng.standard_normal((n, n))
    x = np.cumsum(steps_x, axis=1) - steps_x[:, :1]
    if kind == "paracrystal_1d":
        y = np.repeat((np.arange(n) * distance)[:, None], n, axis=1)
    else:
        steps_y = distance + omega * rng.standard_normal((n, n))
        y = np.cumsum(steps_y, axis=0) - steps_y[:1, :]
    return np.stack([x.ravel(), y.ravel()], axis=1)


def _hard_discs(number: int, box: float, diameter: float, rng: np.random.Generator, max_tries: int) -> np.ndarray:
    """Random sequential addition of discs in a periodic square (minimum-image distances)."""
    if diameter <= 0:
        return rng.uniform(0, box, size=(number, 2))
    pts = np.empty((0, 2))
    tries = 0
    while len(pts) < number:
        if tries > max_tries:
            raise StructureError(f"number: could place only {len(pts)} of {number} hard discs of diameter "
                                 f"{diameter} Å in a {box} Å box (coverage too high for random addition)")
        cand = rng.uniform(0, box, size=(min(4096, 4 * (number - len(pts)) + 16), 2))
        tries += len(cand)
        for c in cand:
            if len(pts):
                d = pts - c
                d -= box * np.round(d / box)
                if np.min(np.einsum("ij,ij->i", d, d)) < diameter**2:
                    continue
            pts = np.vstack([pts, c])
            if len(pts) == number:
                break
    return pts


def coherent_intensity(shapes: list[Shape], positions: np.ndarray, terms: Terms, contrast: complex,
                       area: float, block: int = 512) -> np.ndarray:
    """|Σ_j F_j,DWBA(q) exp(−i q_∥·r_j)|² · |Δρ|² / area (1/sr) for islands at ``positions`` (N, 2), Å.

    Islands of equal shape share one form-factor evaluation; their phases are summed
    in blocks of ``block`` positions.
    """
    pos = np.asarray(positions, dtype=float).reshape(-1, 2)
    if len(shapes) != len(pos):
        raise StructureError(f"positions: {len(pos)} positions for {len(shapes)} shapes")
    groups: dict[Shape, list[int]] = {}
    for j, s in enumerate(shapes):
        groups.setdefault(s, []).append(j)
    qx, qy = terms.q_x.ravel(), terms.q_y.ravel()
    total = np.zeros(qx.shape, dtype=complex)
    for shp, idx in groups.items():
        phase = np.zeros(qx.shape, dtype=complex)
        pts = pos[idx]
        for k in range(0, len(pts), block):
            p = pts[k:k + block]
            phase += np.exp(-1j * (np.outer(qx, p[:, 0]) + np.outer(qy, p[:, 1]))).sum(axis=1)
        total += amplitude(shp.amplitude, terms).ravel() * phase
    return (SLD2 * abs(contrast) ** 2 / area * np.abs(total) ** 2).reshape(terms.q_x.shape)


def realisation_average(make: Callable[[np.random.Generator], np.ndarray], n: int, seed: int = 0) -> np.ndarray:
    """Mean of ``make(rng)`` over ``n`` realisations drawn from ``default_rng([seed, i])``."""
    if n < 1:
        raise StructureError(f"realisations: need at least one, got {n}")
    acc = make(np.random.default_rng([seed, 0]))
    for i in range(1, n):
        acc = acc + make(np.random.default_rng([seed, i]))
    return acc / n


def coverage_density(coverage: float, shape: Shape) -> float:
    """Islands per Å² that cover fraction ``coverage`` of the surface with ``shape``'s footprint (π size²)."""
    if not 0 < coverage <= 1:
        raise StructureError(f"coverage: must be in (0, 1], got {coverage}")
    return coverage / (math.pi * shape.size**2)


__all__ = ["APPROXIMATIONS", "PLACEMENTS", "SizeDistribution", "StructureError", "coherent_intensity",
           "coverage_density", "ensemble_intensity", "lattice_2d", "paracrystal_2d", "place",
           "radial_paracrystal", "realisation_average"]
