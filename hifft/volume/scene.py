"""Scenes: particle ensembles in a periodic box, planned once, rasterized per slab.

A :class:`Scene` holds components (a shape plus how many, how polydisperse,
how oriented, where). :meth:`Scene.plan` makes every random draw, in this
process, once: sizes, orientations, positions, into a :class:`Particles`
table. Slab tasks then only rasterize the particles that reach their slab,
so a seeded scene gives bit-identical volumes for any slab depth and any
number of workers.

Random streams: component ``i`` draws from ``SeedSequence(seed, spawn_key=(i,))``,
split into independent streams for sizes (one per size parameter),
orientations, positions and a mean-volume estimate. Adding a component does
not change the particles of the ones before it.

Voxel values are the contrast Δρ = ρ − ``sld_solvent`` in 1e-6/Å² (an empty
voxel is 0). Overlaps follow ``overlap``: "sum" (default: contributions add,
as for independent scatterers) or "clip" (total coverage of a voxel ≤ 1,
first particle in plan order first); see :mod:`hifft.volume._raster`.
"""

from __future__ import annotations

import math
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .. import units
from ..grid import Grid
from .distributions import Dispersion, parse_polydispersity
from .orientation import Orientation, sasmodels_angles
from .placement import (
    HardPacker,
    Placement,
    PlacementError,
    centre_bounds,
    lattice_cells,
    lattice_sites,
    nearest_neighbour_distance,
    place_random,
)
from .shapes import Shape, shape_from_dict

VOXELIZATIONS = ("antialias", "binary")
OVERLAPS = ("sum", "clip")
#: Refuse plans above this many particles (memory of the table, time to draw).
MAX_PARTICLES = 50_000_000
#: Automatic supersampling: s = ceil(SUPERSAMPLE_SCALE / r_voxels), clipped to [2, 8];
#: keeps the voxelized volume of a sphere within ~1e-4 of the true one for r ≥ 5 voxels.
SUPERSAMPLE_SCALE = 20.0
SUPERSAMPLE_RANGE = (2, 8)


@dataclass(frozen=True)
class Component:
    """One particle population of a scene."""

    shape: Shape
    count: int | None = None
    volume_fraction: float | None = None
    polydispersity: Mapping[str, Dispersion] = field(default_factory=dict)
    orientation: Orientation = field(default_factory=Orientation)
    placement: Placement = field(default_factory=Placement)
    #: Explicit centres, (z, y, x) in Å, box centred on 0 (placement "given").
    positions: tuple[tuple[float, float, float], ...] | None = None

    def to_dict(self) -> dict[str, Any]:
        extra = {} if self.positions is None else {"positions": [list(p) for p in self.positions]}
        return {
            "shape": self.shape.name,
            "parameters": self.shape.parameters(),
            "count": self.count,
            "volume_fraction": self.volume_fraction,
            "polydispersity": {k: v.to_dict() for k, v in sorted(self.polydispersity.items())},
            "orientation": self.orientation.to_dict(),
            "placement": self.placement.to_dict(),
            **extra,
        }


@dataclass
class Particles:
    """The planned particle table (one row per particle, plan order).

    Vectors here are lab (x, y, z) in Å, box centred on 0 (the kernel's order;
    :attr:`positions` gives centres in hifft's (z, y, x) order);
    ``rot[i]`` maps particle frame → lab. ``dims_*``/``w_*`` are the
    rasterizer's bodies (see :mod:`hifft.volume.shapes`); ``ext`` the
    half-widths of each particle's bounding box; ``ss`` its supersampling.
    """

    kind: np.ndarray
    center: np.ndarray
    rot: np.ndarray
    dims_o: np.ndarray
    w_o: np.ndarray
    dims_i: np.ndarray
    w_i: np.ndarray
    ext: np.ndarray
    rb: np.ndarray
    ss: np.ndarray
    component: np.ndarray
    volume: np.ndarray
    parameters: list[dict[str, np.ndarray]]
    summary: list[dict[str, Any]]

    def __len__(self) -> int:
        return len(self.kind)

    @property
    def positions(self) -> np.ndarray:
        """Particle centres (n, 3) as (z, y, x) in Å, box centred on 0 (Grid axis order)."""
        return self.center[:, ::-1].copy()

    def centroids(self, shapes: list[Shape]) -> np.ndarray:
        """Centre of mass of each particle's density (n, 3), lab (x, y, z) Å (unwrapped)."""
        out = self.center.copy()
        for c, shape in enumerate(shapes):
            sel = self.component == c
            off = type(shape).centroid_offset(self.parameters[c])
            out[sel] += np.einsum("nij,nj->ni", self.rot[sel], off)
        return out

    @property
    def nbytes(self) -> int:
        return sum(
            a.nbytes
            for a in (
                self.kind,
                self.center,
                self.rot,
                self.dims_o,
                self.w_o,
                self.dims_i,
                self.w_i,
                self.ext,
                self.rb,
                self.ss,
                self.component,
                self.volume,
            )
        )


class Scene:
    """Particles in the periodic box of ``grid``.

    Parameters
    ----------
    grid : Grid
    sld_solvent : float or str
        Solvent SLD in 1e-6/Å²; voxels hold ρ − sld_solvent.
    seed : int, optional
        Seed of every random draw; None draws one (recorded in ``to_dict``).
    voxelization : "antialias" (voxel = fraction inside) or "binary" (by voxel centre)
    overlap : "sum" or "clip" (see module docs)
    supersample : int, optional
        Sub-cells per voxel edge for boundary voxels; None picks it per
        particle from its smallest radius (2–8).
    """

    def __init__(
        self,
        grid: Grid,
        sld_solvent: float | str = 0.0,
        seed: int | None = None,
        *,
        voxelization: str = "antialias",
        overlap: str = "sum",
        supersample: int | None = None,
    ) -> None:
        if not isinstance(grid, Grid):
            raise TypeError(f"Scene: grid must be a hifft.Grid, got {type(grid).__name__}")
        self.grid = grid
        self.sld_solvent = units.sld(sld_solvent, "sld_solvent")
        if not math.isfinite(self.sld_solvent):
            raise ValueError(f"sld_solvent: must be finite, got {sld_solvent!r}")
        if seed is None:
            seed = secrets.randbits(63)
        if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
            raise ValueError(f"seed: must be a non-negative int, got {seed!r}")
        self.seed = int(seed)
        if voxelization not in VOXELIZATIONS:
            raise ValueError(f"voxelization: must be one of {VOXELIZATIONS}, got {voxelization!r}")
        if overlap not in OVERLAPS:
            raise ValueError(f"overlap: must be one of {OVERLAPS}, got {overlap!r}")
        if supersample is not None and (
            isinstance(supersample, bool) or not 1 <= int(supersample) <= 32
        ):
            raise ValueError(f"supersample: must be an int in 1..32 or None, got {supersample!r}")
        self.voxelization = voxelization
        self.overlap = overlap
        self.supersample = None if supersample is None else int(supersample)
        self.components: list[Component] = []
        self._plan: Particles | None = None

    # ---- building -------------------------------------------------------
    def add(
        self,
        shape: Shape,
        *,
        count: int | None = None,
        volume_fraction: float | None = None,
        polydispersity: float | dict[str, Any] | None = None,
        distribution: str | dict[str, str] = "gaussian",
        orientation: str | dict[str, Any] | Orientation = "uniform",
        placement: str | dict[str, Any] | Placement = "random",
        boundary: str | None = None,
        positions: Any = None,
    ) -> Scene:
        """Add a population of ``shape``; give ``count`` or ``volume_fraction``.

        ``polydispersity``: relative width for the shape's first size parameter
        (sasmodels order) or a dict by parameter; ``distribution``: "gaussian",
        "lognormal" or "schulz" (or a dict by parameter). ``orientation``:
        "uniform", "fixed" or a dict of sasmodels angles (degrees) with optional
        ``*_pd`` spreads. ``placement``: "random", "hard", "sc", "bcc", "fcc",
        "hcp"; ``boundary``: "wrap" (default) or "inside". ``positions``:
        explicit centres (n, 3) as (z, y, x) in Å with the box centred on 0
        (then ``count`` may be omitted). Returns the scene.
        """
        where = f"component {len(self.components)} ({getattr(shape, 'name', '?')})"
        if not isinstance(shape, Shape):
            raise TypeError(
                f"{where}: shape must be one of hifft.shapes, got {type(shape).__name__}"
            )
        pos_t: tuple[tuple[float, float, float], ...] | None = None
        if positions is not None:
            arr = np.asarray(positions, dtype=np.float64)
            if arr.ndim != 2 or arr.shape[1] != 3 or len(arr) == 0 or not np.isfinite(arr).all():
                raise ValueError(
                    f"{where}: positions must be finite (n, 3) (z, y, x) Å, got shape {arr.shape}"
                )
            if volume_fraction is not None or (count is not None and count != len(arr)):
                raise ValueError(
                    f"{where}: with positions=, give no volume_fraction (count = len(positions))"
                )
            count = len(arr)
            pk = (
                placement.kind
                if isinstance(placement, Placement)
                else placement.get("kind")
                if isinstance(placement, dict)
                else placement
            )
            if pk not in ("random", "given"):
                raise ValueError(
                    f"{where}: positions= fixes the placement; got placement={placement!r}"
                )
            if isinstance(placement, Placement):
                placement = placement.to_dict()
            placement = {**placement, "kind": "given"} if isinstance(placement, dict) else "given"
            pos_t = tuple((float(z), float(y), float(x)) for z, y, x in arr)
        elif placement == "given" or (
            isinstance(placement, dict) and placement.get("kind") == "given"
        ):
            raise ValueError(f"{where}: placement 'given' needs positions=")
        if (count is None) == (volume_fraction is None):
            raise ValueError(f"{where}: give exactly one of count= or volume_fraction=")
        if count is not None:
            if isinstance(count, bool) or not isinstance(count, int | np.integer) or count < 1:
                raise ValueError(f"{where}: count must be a positive int, got {count!r}")
            if count > MAX_PARTICLES:
                raise ValueError(f"{where}: count {count} is above the limit {MAX_PARTICLES}")
            count = int(count)
        if volume_fraction is not None:
            if (
                isinstance(volume_fraction, bool)
                or not isinstance(volume_fraction, int | float)
                or not (0 < volume_fraction < 1)
            ):
                raise ValueError(
                    f"{where}: volume_fraction must be in (0, 1), got {volume_fraction!r}"
                )
            volume_fraction = float(volume_fraction)
        try:
            pd = parse_polydispersity(
                polydispersity, distribution, shape.size_parameters, shape.primary_size
            )
            comp = Component(
                shape=shape,
                count=count,
                volume_fraction=volume_fraction,
                polydispersity=pd,
                orientation=Orientation.parse(orientation),
                placement=Placement.parse(placement, boundary),
                positions=pos_t,
            )
        except ValueError as exc:
            raise ValueError(f"{where}: {exc}") from None
        self.components.append(comp)
        self._plan = None
        return self

    # ---- planning -------------------------------------------------------
    @property
    def particles(self) -> Particles:
        """The planned particle table (plans on first use)."""
        return self.plan()

    @property
    def shapes(self) -> list[Shape]:
        return [c.shape for c in self.components]

    def plan(self) -> Particles:
        """Draw every particle (cached). Raises PlacementError when placement is impossible."""
        if self._plan is None:
            self._plan = _plan(self)
        return self._plan

    # ---- description ----------------------------------------------------
    def to_dict(self, planned: bool = True) -> dict[str, Any]:
        """JSON-able description; with ``planned``, each component also records what
        was achieved (count, volume fraction) and the matching sasmodels parameters."""
        comps = []
        for i, c in enumerate(self.components):
            d = c.to_dict()
            d["seed"] = {"entropy": self.seed, "spawn_key": [i]}
            comps.append(d)
        if planned and self.components:
            plan = self.plan()
            for i, d in enumerate(comps):
                d["achieved"] = plan.summary[i]
                d["sasmodels"] = _sasmodels_mapping(
                    self.components[i], plan.summary[i], self.sld_solvent
                )
        return {
            "grid": self.grid.to_dict(),
            "sld_solvent": self.sld_solvent,
            "seed": self.seed,
            "voxelization": self.voxelization,
            "overlap": self.overlap,
            "supersample": self.supersample,
            "components": comps,
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Scene:
        """Inverse of :meth:`to_dict` (achieved values and sasmodels mappings are ignored)."""
        known = {
            "grid",
            "sld_solvent",
            "seed",
            "voxelization",
            "overlap",
            "supersample",
            "components",
        }
        unknown = set(d) - known
        if unknown:
            raise ValueError(f"Scene.from_dict: unknown key(s) {sorted(unknown)}")
        scene = cls(
            Grid.from_dict(d["grid"]),
            sld_solvent=d.get("sld_solvent", 0.0),
            seed=d.get("seed"),
            voxelization=d.get("voxelization", "antialias"),
            overlap=d.get("overlap", "sum"),
            supersample=d.get("supersample"),
        )
        ckeys = {
            "shape",
            "parameters",
            "count",
            "volume_fraction",
            "polydispersity",
            "orientation",
            "placement",
            "positions",
            "seed",
            "achieved",
            "sasmodels",
        }
        for i, c in enumerate(d.get("components", [])):
            unknown = set(c) - ckeys
            if unknown:
                raise ValueError(
                    f"Scene.from_dict: component {i}: unknown key(s) {sorted(unknown)}"
                )
            positions = c.get("positions")
            place = c.get("placement", "random")
            scene.add(
                shape_from_dict(c),
                count=c.get("count"),
                volume_fraction=c.get("volume_fraction"),
                polydispersity=c.get("polydispersity") or None,
                orientation=c.get("orientation", "uniform"),
                placement=place,
                positions=positions,
            )
        return scene

    def to_volume(self, dtype: str | np.dtype = "float32") -> Any:
        """A lazy :class:`~hifft.volume.Volume` rasterizing slabs on demand (nothing on disk)."""
        from .readers import SceneReader
        from .volume import Volume

        reader = SceneReader.from_scene(self, dtype)
        attrs = {"kind": "density", "source": {"kind": "scene"}, "scene": self.to_dict()}
        return Volume(reader, self.grid, attrs=attrs)

    def __repr__(self) -> str:
        parts = ", ".join(
            f"{c.shape.name}×{c.count if c.count is not None else f'φ={c.volume_fraction:g}'}"
            for c in self.components
        )
        return (
            f"Scene({self.grid!r}, sld_solvent={self.sld_solvent:g}, seed={self.seed}, [{parts}])"
        )


# ---- planning internals --------------------------------------------------------
def _fraction(comp: Component, where: str) -> float:
    """The component's volume fraction (set whenever ``count`` is not; ``Scene.add`` checks it)."""
    if comp.volume_fraction is None:
        raise ValueError(f"{where}: give exactly one of count= or volume_fraction=")
    return comp.volume_fraction


def _streams(seed: int, index: int, comp: Component) -> dict[str, np.random.Generator]:
    root = np.random.SeedSequence(entropy=seed, spawn_key=(index,))
    sizes, orient, pos, est = root.spawn(4)
    names = comp.shape.size_parameters
    out = {
        f"size:{n}": np.random.default_rng(s)
        for n, s in zip(names, sizes.spawn(len(names)), strict=True)
    }
    out.update(
        orient=np.random.default_rng(orient),
        pos=np.random.default_rng(pos),
        est=np.random.default_rng(est),
    )
    return out


def _draw_sizes(
    comp: Component, n: int, rngs: dict[str, np.random.Generator], prefix: str = "size:"
) -> dict:
    params = comp.shape.arrays(n)
    for name, disp in sorted(comp.polydispersity.items()):
        rng = rngs[f"{prefix}{name}"] if prefix else rngs["est"]
        params[name] = disp.sample(getattr(comp.shape, name), n, rng)
    return params


def _draw_to_volume(
    comp: Component, target: float, rngs: dict[str, np.random.Generator], where: str
) -> dict:
    """Draw particles until their summed volume is closest to ``target`` (Å³)."""
    shape = type(comp.shape)
    v0 = comp.shape.volume
    if not comp.polydispersity:
        n = round(target / v0)
        if n < 1:
            raise ValueError(
                f"{where}: volume fraction too small for one particle in this box "
                f"(needs ≥ {0.5 * v0:.4g} Å³ of particles, box holds {target:.4g})"
            )
        if n > MAX_PARTICLES:
            raise ValueError(f"{where}: {n} particles needed, above the limit {MAX_PARTICLES}")
        return comp.shape.arrays(n)
    blocks: list[dict[str, np.ndarray]] = []
    total, drawn = 0.0, 0
    block = max(64, int(1.1 * target / v0) + 16)
    while total < target:
        if drawn > MAX_PARTICLES:
            raise ValueError(f"{where}: more than {MAX_PARTICLES} particles needed")
        b = _draw_sizes(comp, block, rngs)
        blocks.append(b)
        total += float(shape.volume_of(b).sum())
        drawn += block
        block = max(64, block // 4)
    params = {k: np.concatenate([b[k] for b in blocks]) for k in blocks[0]}
    cum = np.cumsum(shape.volume_of(params))
    n = int(np.searchsorted(cum, target)) + 1  # first count reaching the target
    if n > 1 and abs(cum[n - 2] - target) <= abs(cum[n - 1] - target):
        n -= 1
    return {k: v[:n].copy() for k, v in params.items()}


def _supersampling(scene: Scene, shape: type[Shape], params: dict) -> np.ndarray:
    n = len(next(iter(params.values())))
    if scene.voxelization == "binary":
        return np.ones(n, dtype=np.int64)
    if scene.supersample is not None:
        return np.full(n, scene.supersample, dtype=np.int64)
    r_vox = shape.feature_radius(params) / min(scene.grid.spacing)
    s = np.ceil(SUPERSAMPLE_SCALE / np.maximum(r_vox, 1e-9))
    return np.clip(s, *SUPERSAMPLE_RANGE).astype(np.int64)


def _plan(scene: Scene) -> Particles:
    grid = scene.grid
    box = np.array(grid.box[::-1], dtype=np.float64)  # (x, y, z)
    vbox = grid.volume
    rows: list[dict[str, Any]] = []
    hard: list[tuple[int, Any, Any, np.random.Generator, int, str]] = []
    summaries: list[dict[str, Any]] = []
    for ci, comp in enumerate(scene.components):
        where = f"component {ci} ({comp.shape.name})"
        shape = type(comp.shape)
        rngs = _streams(scene.seed, ci, comp)
        info: dict[str, Any] = {}
        place = comp.placement
        if place.lattice:
            if comp.count is not None:
                density = comp.count / vbox
            else:
                est = (
                    _draw_sizes(comp, 20000, rngs, prefix="")
                    if comp.polydispersity
                    else comp.shape.arrays(1)
                )
                density = _fraction(comp, where) / float(shape.volume_of(est).mean())
            cells = lattice_cells(place.kind, box, density)
            sites = lattice_sites(place.kind, box, cells)
            if len(sites) > MAX_PARTICLES:
                raise ValueError(
                    f"{where}: lattice of {len(sites)} sites is above the limit {MAX_PARTICLES}"
                )
            params = _draw_sizes(comp, len(sites), rngs)
            info["lattice"] = {
                "kind": place.kind,
                "cells": [int(c) for c in cells],
                "cell_edges": [float(e) for e in box / cells],
            }
        elif comp.count is not None:
            params = _draw_sizes(comp, comp.count, rngs)
        else:
            params = _draw_to_volume(comp, _fraction(comp, where) * vbox, rngs, where)
        n = len(next(iter(params.values())))
        rot = comp.orientation.sample(n, rngs["orient"])
        ext = shape.half_extents(params, rot)
        if place.lattice:
            pos = sites
            rb = shape.bounding_radius(params)
            nn = nearest_neighbour_distance(pos, box)
            if 2 * rb.max() > nn * (1 + 1e-12):
                raise PlacementError(
                    f"{where}: particles up to {2 * rb.max():.4g} Å across overlap on this "
                    f"{place.kind} lattice (nearest neighbours {nn:.4g} Å apart); lower the "
                    f"volume fraction"
                )
            if np.any(2.0 * ext > box[None, :]):
                raise PlacementError(f"{where}: a particle is larger than the box")
        else:
            lo, span = centre_bounds(box, ext, place.boundary, where)
            if place.kind == "given":
                pos = np.asarray(comp.positions, dtype=np.float64)[:, ::-1].copy()  # zyx → xyz
                outside = (pos < lo) | (pos > lo + span)
                if place.boundary == "inside" and outside.any():
                    raise PlacementError(
                        f"{where}: particle {int(np.argwhere(outside)[0, 0])} is not inside the box"
                    )
                if place.boundary == "wrap":
                    pos = np.mod(pos + 0.5 * box, box) - 0.5 * box
            elif place.kind == "random":
                pos = place_random(rngs["pos"], lo, span)
            else:
                pos = np.full((n, 3), np.nan)
                hard.append((ci, lo, span, rngs["pos"], place.max_tries_per_particle * n, where))
        dims_o, dims_i = shape.bodies(params)
        w_o, w_i = shape.contrasts(params, scene.sld_solvent)
        vol = shape.volume_of(params)
        rows.append(
            dict(
                kind=np.full(n, shape.kind, dtype=np.int64),
                center=pos,
                rot=rot,
                dims_o=dims_o,
                w_o=w_o,
                dims_i=dims_i if dims_i is not None else np.zeros((n, 3)),
                w_i=w_i,
                ext=ext,
                rb=shape.bounding_radius(params),
                ss=_supersampling(scene, shape, params),
                component=np.full(n, ci, dtype=np.int64),
                volume=vol,
            )
        )
        info.update(
            count=int(n),
            volume_fraction=float(vol.sum() / vbox),
            mean_volume=float(vol.mean()) if n else 0.0,
        )
        for name in comp.polydispersity:
            info[f"mean_{name}"] = float(params[name].mean())
            info[f"std_{name}"] = float(params[name].std())
        summaries.append(info)
        rows[-1]["params"] = params

    if hard:
        _place_hard(scene, rows, hard, box, summaries)

    def cat(key: str) -> np.ndarray:
        return np.ascontiguousarray(np.concatenate([r[key] for r in rows]))

    return Particles(
        kind=cat("kind"),
        center=cat("center"),
        rot=cat("rot"),
        dims_o=cat("dims_o"),
        w_o=cat("w_o"),
        dims_i=cat("dims_i"),
        w_i=cat("w_i"),
        ext=cat("ext"),
        rb=cat("rb"),
        ss=cat("ss"),
        component=cat("component"),
        volume=cat("volume"),
        parameters=[r["params"] for r in rows],
        summary=summaries,
    )


def _place_hard(
    scene: Scene, rows: list[dict], hard: list, box: np.ndarray, summaries: list
) -> None:
    """Joint random sequential addition of every hard component, in component order."""
    radii = []
    for ci, *_ in hard:
        shape = type(scene.components[ci].shape)
        radii.append(shape.bounding_radius(rows[ci]["params"]))
    packer = HardPacker(box, np.concatenate(radii))
    start = 0
    for (ci, lo, span, rng, max_tries, where), r in zip(hard, radii, strict=True):
        idx = np.arange(start, start + len(r))
        before = packer.tries
        packer.place(idx, lo, span, rng, max_tries, where)
        rows[ci]["center"] = packer.pos[idx].copy()
        summaries[ci]["hard"] = {
            "tries": int(packer.tries - before),
            "bounding_radius_max": float(r.max()),
        }
        start += len(r)


def _sasmodels_mapping(
    comp: Component, achieved: Mapping[str, Any], sld_solvent: float
) -> dict[str, Any] | None:
    """sasmodels model name and parameters describing this component (dilute limit);
    None for a shape sasmodels has no model of (the hemisphere)."""
    try:
        model = comp.shape.sasmodels_model()
    except ValueError:
        return None
    pars: dict[str, Any] = comp.shape.sasmodels_params(sld_solvent)
    pars.update(scale=achieved["volume_fraction"], background=0.0)
    for name, disp in sorted(comp.polydispersity.items()):
        pars[f"{name}_pd"] = disp.width
        pars[f"{name}_pd_type"] = disp.distribution
        pars[f"{name}_pd_nsigma"] = disp.nsigmas
    pars.update(sasmodels_angles(comp.orientation))
    out: dict[str, Any] = {
        "model": model,
        "parameters": pars,
        "orientation_average": comp.orientation.kind == "uniform",
    }
    if comp.placement.kind == "hard" and model == "sphere":
        out["structure_factor"] = {
            "model": "hardsphere",
            "radius_effective": achieved.get("mean_radius", comp.shape.parameters()["radius"]),
            "volfraction": achieved["volume_fraction"],
            "note": "placement is random sequential addition, not the Percus–Yevick fluid",
        }
    return out
