"""Droplet geometries for every label class, drawn from stated priors, and the rules that label them.

A :class:`Droplets` is a few convex bodies of :mod:`hifft.volume.shapes`
(lab frame: x, y across the beam, z along it; Å), unioned by the scene's
``clip`` overlap into one uniform density. Families (priors in
:class:`~hifft.diffraction.config.DropletsConfig`; sizes are
volume-equivalent radii R; every non-spherical body is turned by a uniform
random rotation):

==========  ==================================================================
empty       no droplet (straylight and noise only)
spheroid    a sphere, or an oblate spheroid (polar/equatorial ``oblate_aspect``)
prolate     an ellipsoid, semi-axes a ≤ b = ``triaxial``·a ≤ c = ``prolate_aspect``·a
capsule     a pill: a cylinder with hemispherical caps, length/diameter ``capsule_aspect``
bent        the same pill bent along a circular arc through ``bend_angle``
            (cylinder segments joined by balls)
pair        two separate spheres (radii ``pair_radius``), centres ``pair_axial``
            apart along the beam and ``pair_transverse`` across it
core_shell  a sphere whose core (radius ``core_fraction``·R) is ``core_contrast``
            times denser than the shell
lobed       two overlapping balls of different size (``lobe_ratio``), centres
            ``lobe_distance``·(R₁ + R₂) apart: a bump, or an unequal two-lobed drop
==========  ==================================================================

Labels come from the geometry by the rules of :func:`derive_labels`, with
the thresholds of :class:`~hifft.diffraction.config.RulesConfig`; the
shape measures (moments, inversion defect) are taken on the voxel density
the pattern is made from (:func:`shape_features`).
"""

from __future__ import annotations

import itertools
import math
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy import ndimage
from scipy.spatial.transform import Rotation

from ..grid import Grid
from ..volume import Scene, shapes
from .config import DropletsConfig, RulesConfig
from .labels import INDEX, LABELS, enforce_hierarchy

#: SLD (1e-6/Å², against vacuum) of a uniform droplet; only ratios matter for the images.
SLD = 1.0
#: Cylinder segments per 15° of bend of a bent capsule.
DEG_PER_SEGMENT = 15.0


class GeometryError(ValueError):
    """A geometry that cannot be built (bad parameters)."""


@dataclass(frozen=True)
class Body:
    """One convex body: ``shape`` at ``center`` (lab x, y, z; Å), turned by ``rotation`` (particle → lab)."""

    shape: shapes.Shape
    center: np.ndarray
    rotation: np.ndarray

    def half_extents(self) -> np.ndarray:
        """Half-widths (3,) along lab x, y, z of the body's bounding box, Å."""
        cls = type(self.shape)
        return cls.half_extents(self.shape.arrays(1), self.rotation[None])[0]


@dataclass(frozen=True)
class Droplets:
    """The bodies of one image and what drew them.

    ``params``: generation parameters (Å, degrees, ratios) by name;
    ``rotation``: the droplet's frame → lab (identity for spheres and pairs);
    ``chord``/``sagitta``: lab vectors of a bent capsule's axis (chord end to
    end; arc midpoint minus chord midpoint), zero otherwise.
    """

    family: str
    bodies: tuple[Body, ...]
    params: dict[str, float] = field(default_factory=dict)
    rotation: np.ndarray = field(default_factory=lambda: np.eye(3))
    chord: np.ndarray = field(default_factory=lambda: np.zeros(3))
    sagitta: np.ndarray = field(default_factory=lambda: np.zeros(3))

    @property
    def empty(self) -> bool:
        return not self.bodies

    def extent(self) -> np.ndarray:
        """Full widths (3,) along lab x, y, z of the bounding box of all bodies, Å (zeros when empty)."""
        if self.empty:
            return np.zeros(3)
        lo = np.min([b.center - b.half_extents() for b in self.bodies], axis=0)
        hi = np.max([b.center + b.half_extents() for b in self.bodies], axis=0)
        return hi - lo

    def middle(self) -> np.ndarray:
        """Centre (3,) of the bounding box, lab x, y, z, Å."""
        if self.empty:
            return np.zeros(3)
        lo = np.min([b.center - b.half_extents() for b in self.bodies], axis=0)
        hi = np.max([b.center + b.half_extents() for b in self.bodies], axis=0)
        return 0.5 * (lo + hi)

    def scene(self, grid: Grid) -> Scene:
        """A scene of the bodies centred in ``grid``'s box, unioned by ``overlap="clip"``."""
        if self.empty:
            raise GeometryError("an empty frame has no scene")
        sc = Scene(grid, sld_solvent=0.0, seed=0, overlap="clip")
        mid = self.middle()
        for b in self.bodies:
            x, y, z = b.center - mid
            sc.add(b.shape, positions=[[z, y, x]], orientation=orientation_angles(b.rotation))
        return sc

    def density(self, grid: Grid) -> np.ndarray:
        """The contrast Δρ per voxel (nz, ny, nx), float32, from the scene's rasterizer."""
        if self.empty:
            return np.zeros(grid.shape, dtype=np.float32)
        return np.asarray(self.scene(grid).to_volume().to_numpy(), dtype=np.float32)


def orientation_angles(rot: np.ndarray) -> dict[str, float]:
    """sasmodels angles (degrees) of a particle → lab rotation: R = Rz(φ)·Ry(θ)·Rz(ψ)."""
    with warnings.catch_warnings():  # gimbal lock (θ = 0 or 180°) is harmless: φ + ψ is what counts
        warnings.simplefilter("ignore", UserWarning)
        phi, theta, psi = Rotation.from_matrix(rot).as_euler("ZYZ", degrees=True)
    return {"theta": float(theta), "phi": float(phi), "psi": float(psi)}


def _ry(angle: float) -> np.ndarray:
    return Rotation.from_euler("y", angle).as_matrix()


# ---- families ---------------------------------------------------------------
def _capsule_radius(r_v: float, aspect: float) -> float:
    """Radius r of a pill of volume 4/3 π R_v³ whose length/diameter is ``aspect`` (L_cyl = 2r(A − 1))."""
    return (4.0 / 3.0 * r_v**3 / (2.0 * (aspect - 1.0) + 4.0 / 3.0)) ** (1.0 / 3.0)


def _tube(points: np.ndarray, r: float) -> list[Body]:
    """Balls of radius ``r`` at ``points`` (n, 3) joined by cylinders: a tube along a polyline."""
    eye = np.eye(3)
    out = [Body(shapes.Sphere(radius=r, sld=SLD), p, eye) for p in points]
    for p0, p1 in itertools.pairwise(points):
        seg = p1 - p0
        length = float(np.linalg.norm(seg))
        if length <= 0:
            continue
        # the cylinder axis c (particle z) turned onto the segment, which lies in the x–z plane
        rot = _ry(math.atan2(seg[0], seg[2]))
        out.append(Body(shapes.Cylinder(radius=r, length=length, sld=SLD), 0.5 * (p0 + p1), rot))
    return out


def _arc(r_v: float, aspect: float, bend_deg: float) -> tuple[list[Body], np.ndarray, np.ndarray, float]:
    """A pill bent through ``bend_deg`` in the particle x–z plane; returns bodies, chord, sagitta, radius."""
    r = _capsule_radius(r_v, aspect)
    length = 2.0 * r * (aspect - 1.0)  # axis length between the cap centres
    alpha = math.radians(bend_deg)
    n_seg = max(2, math.ceil(bend_deg / DEG_PER_SEGMENT))
    if alpha < 1e-9 or length <= 0:
        pts = np.array([[0.0, 0.0, -0.5 * length], [0.0, 0.0, 0.5 * length]])
    else:
        rc = length / alpha  # radius of curvature of the axis
        t = np.linspace(-alpha / 2, alpha / 2, n_seg + 1)
        pts = np.stack([rc * (np.cos(t) - 1.0), np.zeros_like(t), rc * np.sin(t)], axis=1)
    chord = pts[-1] - pts[0]
    mid_arc = pts[len(pts) // 2] if len(pts) % 2 else 0.5 * (pts[len(pts) // 2 - 1] + pts[len(pts) // 2])
    sag = mid_arc - 0.5 * (pts[0] + pts[-1])
    return _tube(pts, r), chord, sag, r


def draw(cfg: DropletsConfig, family: str, rng: np.random.Generator) -> Droplets:
    """One geometry of ``family`` drawn from the priors ``cfg``."""
    eye = np.eye(3)
    p: dict[str, float] = {}
    if family == "empty":
        return Droplets("empty", ())
    if family == "pair":
        r1, r2 = cfg.pair_radius.sample(rng), cfg.pair_radius.sample(rng)
        inline = rng.uniform() < cfg.pair_inline
        for _ in range(1000):
            ax = cfg.pair_axial.sample(rng)
            tr = rng.uniform(0, 0.15 * ax) if inline else cfg.pair_transverse.sample(rng)
            if math.hypot(ax, tr) >= 1.05 * (r1 + r2):
                break
        else:
            raise GeometryError("droplets.pair_axial/pair_transverse: no draw separates the pair; "
                                "widen the separation ranges")
        az = rng.uniform(0, 2 * math.pi)
        sep = np.array([tr * math.cos(az), tr * math.sin(az), ax])
        p.update(radius=r1, radius_2=r2, sep_axial=ax, sep_transverse=tr, pair_inline=float(inline))
        pair = (Body(shapes.Sphere(radius=r1, sld=SLD), -0.5 * sep, eye),
                  Body(shapes.Sphere(radius=r2, sld=SLD), 0.5 * sep, eye))
        return Droplets("pair", pair, p)
    r_v = cfg.radius.sample(rng)
    p["radius"] = r_v
    chord = sag = np.zeros(3)
    local: list[Body]
    if family == "spheroid":
        if rng.uniform() < cfg.sphere_fraction:
            p["aspect"] = 1.0
            return Droplets("spheroid", (Body(shapes.Sphere(radius=r_v, sld=SLD), np.zeros(3), eye),), p)
        asp = cfg.oblate_aspect.sample(rng)
        a = r_v / asp ** (1.0 / 3.0)
        p["aspect"] = asp
        local = [Body(shapes.Ellipsoid(radius_polar=asp * a, radius_equatorial=a, sld=SLD), np.zeros(3), eye)]
    elif family == "prolate":
        asp = cfg.prolate_aspect.sample(rng)
        tri = min(cfg.triaxial.sample(rng), asp)
        a = r_v / (asp * tri) ** (1.0 / 3.0)
        p.update(aspect=asp, triaxial=tri)
        local = [Body(shapes.TriaxialEllipsoid(radius_equat_minor=a, radius_equat_major=tri * a,
                                               radius_polar=asp * a, sld=SLD), np.zeros(3), eye)]
    elif family in ("capsule", "bent"):
        asp = cfg.capsule_aspect.sample(rng)
        bend = cfg.bend_angle.sample(rng) if family == "bent" else 0.0
        local, chord, sag, r = _arc(r_v, asp, bend)
        p.update(aspect=asp, bend_angle=bend, radius_2=r)
    elif family == "core_shell":
        frac, con = cfg.core_fraction.sample(rng), cfg.core_contrast.sample(rng)
        p.update(core_fraction=frac, core_contrast=con)
        shp = shapes.CoreShellSphere(radius=frac * r_v, thickness=(1 - frac) * r_v, sld_core=con * SLD,
                                     sld_shell=SLD)
        return Droplets("core_shell", (Body(shp, np.zeros(3), eye),), p)
    elif family == "lobed":
        ratio, dist = cfg.lobe_ratio.sample(rng), cfg.lobe_distance.sample(rng)
        r2 = ratio * r_v
        s = dist * (r_v + r2)
        p.update(radius_2=r2, lobe_ratio=ratio, lobe_distance=dist)
        local = [Body(shapes.Sphere(radius=r_v, sld=SLD), np.zeros(3), eye),
                 Body(shapes.Sphere(radius=r2, sld=SLD), np.array([0.0, 0.0, s]), eye)]
    else:
        raise GeometryError(f"droplets.families: unknown family {family!r}")
    rot = Rotation.random(rng=rng).as_matrix()
    bodies = tuple(Body(b.shape, rot @ b.center, rot @ b.rotation) for b in local)
    p.update({f"orientation_{k}": v for k, v in orientation_angles(rot).items()})
    return Droplets(family, bodies, p, rotation=rot, chord=rot @ chord, sagitta=rot @ sag)


def max_extent(cfg: DropletsConfig, family: str) -> tuple[float, float]:
    """Largest width (Å) a ``family`` draw can reach across the beam and along it."""
    r = cfg.radius.high
    if family == "empty":
        return 0.0, 0.0
    if family == "pair":
        d = 2 * cfg.pair_radius.high
        return max(cfg.pair_transverse.high, 0.15 * cfg.pair_axial.high) + d, cfg.pair_axial.high + d
    if family in ("spheroid", "core_shell"):
        lo = cfg.oblate_aspect.low if family == "spheroid" else 1.0
        w = 2 * r / lo ** (1.0 / 3.0)
    elif family == "prolate":
        a, t = cfg.prolate_aspect.high, cfg.triaxial.low
        w = 2 * a * r / (a * t) ** (1.0 / 3.0)
    elif family in ("capsule", "bent"):
        asp = cfg.capsule_aspect.high
        w = 2 * asp * _capsule_radius(r, asp)
    elif family == "lobed":
        w = 2 * r + 2 * cfg.lobe_ratio.high * r
    else:
        raise GeometryError(f"droplets.families: unknown family {family!r}")
    return w, w


# ---- shape measures -----------------------------------------------------------
def shape_features(rho: np.ndarray, grid: Grid) -> dict[str, Any]:
    """Moments and symmetry of a voxel density (weights |Δρ|), lab frame.

    Returns ``semi_axes`` (3,) Å, largest first (√(5 λ_i) of the second-moment
    tensor: the semi-axes of the uniform ellipsoid with the same moments),
    ``axis`` (3,) the lab (x, y, z) direction of the largest, ``elongation``
    s₁/s₂, ``projected_aspect`` √(λ_max/λ_min) of the moments of the density
    projected along the beam, ``tilt`` the angle (degrees) between the long
    axis and the detector plane, and ``inversion_defect``
    Σ|ρ(c + r) − ρ(c − r)| / (2 Σ|ρ|) about the centroid c (0: centrosymmetric,
    1: no overlap with its inverse).
    """
    w = np.abs(np.asarray(rho, dtype=np.float64))
    total = w.sum()
    if not total > 0:
        raise GeometryError("shape_features: the density is empty")
    nzs = np.nonzero(w)
    lo = [max(0, int(i.min()) - 2) for i in nzs]
    hi = [min(n, int(i.max()) + 3) for i, n in zip(nzs, w.shape, strict=True)]
    crop = w[lo[0]:hi[0], lo[1]:hi[1], lo[2]:hi[2]]
    z, y, x = (grid.coords(a)[lo[a]:hi[a]] for a in range(3))
    mz, my, mx = crop.sum(axis=(1, 2)), crop.sum(axis=(0, 2)), crop.sum(axis=(0, 1))
    c = np.array([mx @ x, my @ y, mz @ z]) / total
    # second moments from the 1D and 2D marginals (no (n, 3) coordinate array)
    xc, yc, zc = x - c[0], y - c[1], z - c[2]
    wyx, wzx, wzy = crop.sum(axis=0), crop.sum(axis=1), crop.sum(axis=2)
    m = np.empty((3, 3))
    m[0, 0], m[1, 1], m[2, 2] = mx @ xc**2, my @ yc**2, mz @ zc**2
    m[0, 1] = m[1, 0] = yc @ wyx @ xc
    m[0, 2] = m[2, 0] = zc @ wzx @ xc
    m[1, 2] = m[2, 1] = zc @ wzy @ yc
    m /= total
    ev, vec = np.linalg.eigh(m)
    ev = np.clip(ev[::-1], 0, None)
    vec = vec[:, ::-1]
    semi = np.sqrt(5.0 * ev)
    ev2 = np.clip(np.linalg.eigvalsh(m[:2, :2]), 1e-300, None)
    axis = vec[:, 0]
    # inversion about the centroid, in voxel-index space (exact for anisotropic voxels too)
    ci = np.array([(mz @ np.arange(crop.shape[0])), (my @ np.arange(crop.shape[1])),
                   (mx @ np.arange(crop.shape[2]))]) / total
    flipped = ndimage.shift(crop[::-1, ::-1, ::-1], 2 * ci - (np.array(crop.shape) - 1), order=1, mode="constant")
    defect = float(np.abs(crop - flipped).sum() / (2 * total))
    return {
        "centroid": c, "semi_axes": semi, "axis": axis,
        "elongation": float(semi[0] / max(semi[1], 1e-300)),
        "projected_aspect": float(math.sqrt(ev2[1] / ev2[0])),
        "tilt": float(math.degrees(math.asin(min(1.0, abs(axis[2]))))),
        "inversion_defect": defect,
    }


# ---- labelling rules ----------------------------------------------------------
def derive_labels(drop: Droplets, features: dict[str, Any] | None, wavelength: float, rules: RulesConfig,
                  two_theta_max: float) -> tuple[np.ndarray, dict[str, float]]:
    """The 11 labels of a geometry and the measures the rules read (bool (11,), dict).

    Rules (thresholds in ``rules``; 2θ_m = ``two_theta_max``, λ = ``wavelength``):

    - **empty**: no droplet.
    - **pair** (two separate droplets, spheres): spherical_oblate and round;
      **double_rings** when the radii differ by ≥ ``double_rings.min_radius_ratio``
      (two ring systems of different spacing); **newton_rings** when the
      separation Δz along the beam writes n_z = |Δz|(1 − cos 2θ_m)/λ ≥
      ``newton_rings.min_fringes`` fringes of q_z = k(cos 2θ − 1) (rings
      whose radii grow like √n) and n_z ≥ n_⊥ = |Δ⊥| sin 2θ_m / λ, the
      straight fringes of the separation across the beam.
    - one droplet, from :func:`shape_features` of its density: with s₁ ≥ s₂
      the two largest moment semi-axes and ρ the aspect ratio of the density
      projected along the beam,
      **prolate** when s₁/s₂ ≥ ``prolate.min_elongation`` (a distinct long
      axis) and ρ ≥ ``prolate.min_projected_aspect`` (it shows on the
      detector), else **spherical_oblate**, then **round** when
      ρ < ``round.max_aspect``, else **elliptical**;
      **streak** (prolate only) when ρ ≥ ``streak.min_aspect``;
      **bent** (prolate only) when there is a streak (above) and it bends
      on the Ewald sphere by tan β (1 − cos 2θ_m)/sin 2θ_m ≥
      ``bent.min_streak_bend`` detector half-widths (β: tilt of the long axis
      out of the detector plane), or a bent body's projected sagitta/chord
      ≥ ``bent.min_body_bend``. The tilt route needs the streak because
      "bent" is a bent streak (seed 003, Fig. 1): a tilted body of low
      projected aspect gives a broad blob whose curvature does not show;
      labelling those "bent" (the rule before 2026-12-03) put 73 % of the
      bent positives of the validation split on images with no streak;
      **asymmetric** when the inversion defect ≥ ``asymmetric.min_defect``
      (no centre of symmetry, so no orientation makes its wide-angle pattern
      point-symmetric through one);
      **layered** when the density has an inner layer (core–shell) whose
      contrast step |ρ_core − ρ_shell|/max(ρ_core, ρ_shell) ≥
      ``layered.min_contrast`` and whose thinner part is ≥
      ``layered.min_thickness`` of the outer radius.

    The result goes through :func:`~hifft.diffraction.labels.enforce_hierarchy`.
    """
    v = np.zeros(len(LABELS), dtype=bool)
    tt = math.radians(two_theta_max)
    meas: dict[str, float] = {}
    if drop.empty:
        v[INDEX["empty"]] = True
        return enforce_hierarchy(v), meas
    if drop.family == "pair":
        r1, r2 = drop.params["radius"], drop.params["radius_2"]
        sep = drop.bodies[1].center - drop.bodies[0].center
        n_z = abs(sep[2]) * (1 - math.cos(tt)) / wavelength
        n_perp = math.hypot(sep[0], sep[1]) * math.sin(tt) / wavelength
        meas.update(newton_fringes=n_z, transverse_fringes=n_perp)
        v[INDEX["spherical_oblate"]] = v[INDEX["round"]] = True
        v[INDEX["double_rings"]] = max(r1, r2) / min(r1, r2) >= rules.double_rings.min_radius_ratio
        v[INDEX["newton_rings"]] = n_z >= rules.newton_rings.min_fringes and n_z >= n_perp
        return enforce_hierarchy(v), meas
    if features is None:
        raise GeometryError("derive_labels: a droplet needs its shape features")
    rho_p = features["projected_aspect"]
    semi = features["semi_axes"]
    beta = math.radians(features["tilt"])
    streak_bend = math.tan(min(beta, math.radians(89.0))) * (1 - math.cos(tt)) / math.sin(tt)
    body_bend = 0.0
    chord_p = float(np.linalg.norm(drop.chord[:2]))
    if chord_p > 0:
        body_bend = float(np.linalg.norm(drop.sagitta[:2])) / chord_p
    meas.update(streak_bend=streak_bend, body_bend=body_bend)
    prolate = (semi[0] / semi[1] >= rules.prolate.min_elongation
               and rho_p >= rules.prolate.min_projected_aspect)
    if prolate:
        v[INDEX["prolate"]] = True
        v[INDEX["streak"]] = rho_p >= rules.streak.min_aspect
        v[INDEX["bent"]] = ((v[INDEX["streak"]] and streak_bend >= rules.bent.min_streak_bend)
                            or body_bend >= rules.bent.min_body_bend)
    else:
        v[INDEX["spherical_oblate"]] = True
        v[INDEX["round" if rho_p < rules.round.max_aspect else "elliptical"]] = True
    v[INDEX["asymmetric"]] = features["inversion_defect"] >= rules.asymmetric.min_defect
    for b in drop.bodies:
        if isinstance(b.shape, shapes.CoreShellSphere):
            core, shell = b.shape.sld_core, b.shape.sld_shell
            step = abs(core - shell) / max(abs(core), abs(shell), 1e-300)
            outer = b.shape.radius + b.shape.thickness
            thin = min(b.shape.radius, b.shape.thickness) / outer
            meas.update(layer_contrast=step, layer_thickness=thin)
            if step >= rules.layered.min_contrast and thin >= rules.layered.min_thickness:
                v[INDEX["layered"]] = True
    return enforce_hierarchy(v), meas


def rule_margins(measures: dict[str, np.ndarray], labels: np.ndarray, rules: RulesConfig) -> np.ndarray:
    """How far each image sits from the nearest threshold its labels were read at: min |ln(m / t)| (n,).

    ``measures``: the store's per-image measures (``family`` name or code excluded; NaN where
    a measure does not apply), ``labels`` bool (n, 11). The thresholds that count per image are
    those :func:`derive_labels` reads for it: for one droplet, ``round.max_aspect``,
    ``prolate.min_projected_aspect`` and ``streak.min_aspect`` on the projected aspect,
    ``prolate.min_elongation``, ``asymmetric.min_defect``, ``bent.min_body_bend`` (bent bodies)
    and ``bent.min_streak_bend`` (images with a streak), the layer thresholds (core–shell); for a
    pair, ``newton_rings.min_fringes``, n_z against n_⊥ and ``double_rings.min_radius_ratio``.
    Empty frames get +inf. An image with a small margin is one whose label a small change of its
    geometry flips: a diagnostic of how much of a score is boundary, not a label correction.
    """
    y = np.asarray(labels, dtype=bool)
    n = y.shape[0]

    def get(name: str) -> np.ndarray:
        v = measures.get(name)
        return np.full(n, np.nan) if v is None else np.asarray(v, dtype=np.float64)

    def dist(value: np.ndarray, threshold: float, where: np.ndarray | None = None) -> np.ndarray:
        with np.errstate(divide="ignore", invalid="ignore"):
            d = np.abs(np.log(value / threshold))
        d = np.where(np.isfinite(value) & (value > 0), d, np.inf)
        return d if where is None else np.where(where, d, np.inf)

    rho, r1, r2 = get("projected_aspect"), get("radius"), get("radius_2")
    nz, nperp = get("newton_fringes"), get("transverse_fringes")
    pair = np.isfinite(nz)
    streak = y[:, INDEX["streak"]]
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.maximum(r1, r2) / np.minimum(r1, r2)
    parts = [
        dist(rho, rules.round.max_aspect), dist(rho, rules.prolate.min_projected_aspect),
        dist(rho, rules.streak.min_aspect), dist(get("elongation"), rules.prolate.min_elongation),
        dist(get("inversion_defect"), rules.asymmetric.min_defect),
        dist(get("body_bend"), rules.bent.min_body_bend),
        dist(get("streak_bend"), rules.bent.min_streak_bend, streak),
        dist(get("layer_contrast"), rules.layered.min_contrast),
        dist(get("layer_thickness"), rules.layered.min_thickness),
        dist(nz, rules.newton_rings.min_fringes, pair), dist(nz / np.maximum(nperp, 1e-300), 1.0, pair),
        dist(ratio, rules.double_rings.min_radius_ratio, pair),
    ]
    return np.min(np.stack(parts), axis=0)


__all__ = ["Body", "Droplets", "GeometryError", "derive_labels", "draw", "max_extent", "orientation_angles",
           "rule_margins", "shape_features"]
