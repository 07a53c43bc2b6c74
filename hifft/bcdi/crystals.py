"""Faceted crystals as supports on a voxel grid: cube, octahedron, truncated octahedron,
Wulff-like polyhedra (half-spaces of the {100}, {111} and {110} families) and spheres.

A polyhedron is the intersection of half-spaces ``n·r ≤ d`` (unit normals ``n`` in the
crystal frame, distances ``d`` in Å from the centre). Vectors are in array axis order
(z, y, x) everywhere in :mod:`hifft.bcdi`. A rotation (``scipy.spatial.transform.Rotation``)
turns the crystal frame into the array frame. :func:`support` samples the crystal on a
:class:`~hifft.grid.Grid` (voxel centres as :meth:`Grid.coords` gives them); with
``supersample > 1`` each voxel holds the fraction of its sub-points inside (an
anti-aliased float support).
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
from scipy.spatial import ConvexHull, HalfspaceIntersection
from scipy.spatial.transform import Rotation

from ..grid import Grid


class CrystalError(ValueError):
    """A crystal's parameters are invalid; the message names the parameter."""


def family(hkl: tuple[int, int, int]) -> np.ndarray:
    """Unit normals of the crystallographic family {hkl} (cubic symmetry), shape (m, 3)."""
    out: set[tuple[int, ...]] = set()
    for perm in itertools.permutations(hkl):
        for signs in itertools.product((1, -1), repeat=3):
            out.add(tuple(int(s * p) for s, p in zip(signs, perm, strict=True)))
    out.discard((0, 0, 0))
    n = np.array(sorted(out), dtype=float)
    return n / np.linalg.norm(n, axis=1, keepdims=True)


@dataclass(frozen=True)
class Crystal:
    """A convex crystal: half-spaces ``normals @ r ≤ distances`` (Å), or a sphere of ``radius`` (Å).

    ``rotation`` (a scipy Rotation, crystal → array frame, acting on (z, y, x) vectors) is
    applied when sampling. Build one with :func:`cube`, :func:`octahedron`,
    :func:`truncated_octahedron`, :func:`wulff` or :func:`sphere`.
    """

    name: str
    normals: np.ndarray | None = None
    distances: np.ndarray | None = None
    radius: float | None = None
    rotation: Rotation | None = None

    def rotated(self, rotation: Rotation | None) -> Crystal:
        """The same crystal turned by ``rotation`` (composed after any rotation it has)."""
        if rotation is None:
            return self
        rot = rotation if self.rotation is None else rotation * self.rotation
        return replace(self, rotation=rot)

    def scaled(self, factor: float) -> Crystal:
        """The crystal with every length multiplied by ``factor``."""
        if not factor > 0:
            raise CrystalError(f"scale factor: must be > 0, got {factor}")
        if self.radius is not None:
            return replace(self, radius=self.radius * factor)
        assert self.distances is not None
        return replace(self, distances=self.distances * factor)

    def lab_normals(self) -> np.ndarray:
        """Facet normals in the array frame, shape (m, 3)."""
        assert self.normals is not None
        return self.normals if self.rotation is None else self.rotation.apply(self.normals)

    def vertices(self) -> np.ndarray:
        """Polyhedron vertices in the array frame (Å), shape (k, 3); scipy's half-space intersection."""
        if self.radius is not None:
            raise CrystalError(f"{self.name}: a sphere has no vertices")
        assert self.distances is not None
        halfspaces = np.hstack([self.lab_normals(), -self.distances[:, None]])
        return np.asarray(HalfspaceIntersection(halfspaces, np.zeros(3)).intersections)

    def volume(self) -> float:
        """Analytic volume in Å³ (sphere formula, or the convex hull of the vertices)."""
        if self.radius is not None:
            return 4.0 / 3.0 * math.pi * self.radius**3
        return float(ConvexHull(self.vertices()).volume)

    def extent(self) -> np.ndarray:
        """Size (Å) of the bounding box along (z, y, x) in the array frame."""
        if self.radius is not None:
            return np.full(3, 2.0 * self.radius)
        v = self.vertices()
        return np.asarray(v.max(axis=0) - v.min(axis=0))

    def inside(self, z: np.ndarray, y: np.ndarray, x: np.ndarray) -> np.ndarray:
        """Boolean mask of points (broadcastable coordinates in Å, crystal centred on 0)."""
        if self.radius is not None:
            return np.asarray(z * z + y * y + x * x <= self.radius**2)
        assert self.distances is not None
        ok = np.ones(np.broadcast_shapes(z.shape, y.shape, x.shape), dtype=bool)
        for (nz, ny, nx), d in zip(self.lab_normals(), self.distances, strict=True):
            ok &= nz * z + ny * y + nx * x <= d
        return ok

    def to_dict(self) -> dict[str, Any]:
        """JSON-able description (for attrs)."""
        out: dict[str, Any] = {"name": self.name}
        if self.radius is not None:
            out["radius"] = self.radius
        else:
            assert self.normals is not None and self.distances is not None
            out["normals"] = np.round(self.normals, 12).tolist()
            out["distances"] = self.distances.tolist()
        if self.rotation is not None:
            out["rotation_quat_xyzw"] = self.rotation.as_quat().tolist()
        return out


def _positive(value: float, field: str) -> float:
    v = float(value)
    if not (math.isfinite(v) and v > 0):
        raise CrystalError(f"{field}: must be a positive length (Å), got {value!r}")
    return v


def polyhedron(name: str, facets: dict[tuple[int, int, int], float]) -> Crystal:
    """Intersection of the families ``{hkl: distance (Å)}``; each family must bound the shape with the others."""
    normals, distances = [], []
    for hkl, d in facets.items():
        if len(hkl) != 3 or not any(hkl):
            raise CrystalError(f"{name}: facet family {hkl!r} is not a Miller index (h, k, l) ≠ 0")
        n = family(hkl)
        normals.append(n)
        distances.append(np.full(len(n), _positive(d, f"{name}: distance of {{{''.join(map(str, hkl))}}}")))
    crystal = Crystal(name, np.vstack(normals), np.concatenate(distances))
    try:
        crystal.vertices()
    except Exception as exc:  # scipy raises QhullError for an unbounded/degenerate set
        raise CrystalError(f"{name}: the facets {sorted(facets)} do not bound a polyhedron ({exc})") from exc
    return crystal


def cube(edge: float) -> Crystal:
    """Cube of ``edge`` (Å), {100} facets; volume edge³."""
    return polyhedron("cube", {(1, 0, 0): _positive(edge, "edge") / 2})


def octahedron(size: float) -> Crystal:
    """Regular octahedron, vertex-to-vertex ``size`` (Å), {111} facets; volume size³/6."""
    r = _positive(size, "size") / 2  # centre-to-vertex
    return polyhedron("octahedron", {(1, 1, 1): r / math.sqrt(3)})


def truncated_octahedron(edge: float) -> Crystal:
    """Regular truncated octahedron (Archimedean) of ``edge`` (Å): {100} at a·√2, {111} at a·√6/2;
    volume 8√2·a³."""
    a = _positive(edge, "edge")
    return polyhedron("truncated_octahedron", {(1, 0, 0): a * math.sqrt(2), (1, 1, 1): a * math.sqrt(6) / 2})


def wulff(d100: float | None = None, d111: float | None = None, d110: float | None = None) -> Crystal:
    """Wulff-like polyhedron: the {100}, {111} and {110} facets at the given centre distances (Å).

    Distances play the role of surface energies in a Wulff construction (d ∝ γ); a family
    whose planes lie outside the others simply does not appear.
    """
    facets = {hkl: d for hkl, d in (((1, 0, 0), d100), ((1, 1, 1), d111), ((1, 1, 0), d110)) if d is not None}
    if not facets:
        raise CrystalError("wulff: give at least one of d100, d111, d110")
    return polyhedron("wulff", facets)


def sphere(radius: float) -> Crystal:
    """Sphere of ``radius`` (Å)."""
    return Crystal("sphere", radius=_positive(radius, "radius"))


def random_rotation(rng: np.random.Generator | int | None = None) -> Rotation:
    """A uniformly random rotation (scipy), seeded by ``rng``."""
    return Rotation.random(random_state=np.random.default_rng(rng))


def fit_oversampling(crystal: Crystal, grid: Grid, oversampling: float) -> Crystal:
    """``crystal`` scaled so its bounding box spans exactly n/oversampling voxels on its tightest axis.

    Oversampling σ = array size / object size per axis (2–5 for BCDI); the object then
    fits in n_i/σ voxels along every axis i.
    """
    if not oversampling > 1:
        raise CrystalError(f"oversampling: must be > 1, got {oversampling}")
    room = np.array(grid.shape) * np.array(grid.spacing) / oversampling
    factor = float(np.min(room / crystal.extent()))
    return crystal.scaled(factor * (1 - 1e-9))


def support(crystal: Crystal, grid: Grid, *, centre: Any = (0.0, 0.0, 0.0), supersample: int = 1,
            dtype: Any = np.float32) -> np.ndarray:
    """The crystal sampled on ``grid``: fraction of each voxel inside (0..1), shape grid.shape.

    ``centre`` (Å, z, y, x) is relative to the box centre. ``supersample`` s tests s³ points per
    voxel (s = 1: voxel centres only, a 0/1 support). Memory: one grid-sized array plus one
    boolean, whatever s is (sub-points are accumulated one offset at a time).
    """
    s = int(supersample)
    if s < 1:
        raise CrystalError(f"supersample: must be ≥ 1, got {supersample}")
    c = np.asarray(centre, dtype=float)
    if c.shape != (3,):
        raise CrystalError(f"centre: expected 3 coordinates (z, y, x) in Å, got {centre!r}")
    axes = [grid.coords(a) - c[a] for a in range(3)]
    offsets = [((np.arange(s) + 0.5) / s - 0.5) * grid.spacing[a] for a in range(3)]
    out = np.zeros(grid.shape, dtype=dtype)
    for oz, oy, ox in itertools.product(*offsets):
        out += crystal.inside((axes[0] + oz)[:, None, None], (axes[1] + oy)[None, :, None],
                              (axes[2] + ox)[None, None, :])
    if s > 1:
        out /= s**3
    return out


__all__ = [
    "Crystal", "CrystalError", "family", "polyhedron", "cube", "octahedron", "truncated_octahedron", "wulff",
    "sphere", "random_rotation", "fit_oversampling", "support",
]
