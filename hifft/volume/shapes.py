"""Particle shapes, with the parameter names of the matching sasmodels model.

Lengths are in Å and SLDs in 1e-6/Å²; strings with units ("5 nm",
"2e10 cm^-2") are converted on construction. Each shape lives in its own
particle frame (a, b, c) = local (x, y, z); the polar / long axis is c, as in
sasmodels, and :mod:`hifft.volume.orientation` rotates that frame into the lab.

Every shape is one or two convex *bodies* for the rasterizer
(:mod:`hifft.volume._raster`): an outer body with contrast Δρ_outer and, for
core-shell shapes, a core body that adds (Δρ_core − Δρ_shell). The geometry
methods are vectorized over per-particle parameter arrays, because
polydispersity gives every particle its own sizes.

==================  ======================================================
shape               body (local frame)
==================  ======================================================
Sphere              ball of ``radius`` about the position
CoreShellSphere     core ball ``radius``, outer ball ``radius + thickness``
Ellipsoid           spheroid: semi-axes (R_eq, R_eq, R_polar)
TriaxialEllipsoid   semi-axes (R_equat_minor, R_equat_major, R_polar)
Cylinder            radius R about c, ``length`` along c, centred
CoreShellCylinder   core (R, L); outer (R + t, L + 2t), as sasmodels
Parallelepiped      box length_a × length_b × length_c, centred
Hemisphere          ball ``radius`` cut at its equator: flat face through
                    the position, dome towards +c (a supported island)
==================  ======================================================

The mapping to sasmodels lives here, once: :meth:`Shape.sasmodels_model`
and :meth:`Shape.sasmodels_params` give a shape's model and parameters,
:func:`shape_from_model` goes back. Each shape's sasmodels model is its
``model`` class attribute; the parameter names are sasmodels' own. The
hemisphere has none: sasmodels has no hemisphere form factor (nor any
non-centro-symmetric solid of revolution to stand in for it), so asking for
one is an error naming the shape.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from typing import Any, ClassVar

import numpy as np

from .. import units

# Body kinds understood by the rasterizer (keep in sync with _raster.py).
ELLIPSOID, CYLINDER, BOX, HEMISPHERE = 0, 1, 2, 3

Params = Mapping[str, np.ndarray]


def _positive_length(value: Any, field: str, allow_zero: bool = False) -> float:
    v = units.length(value, field)
    if not math.isfinite(v) or v < 0 or (v == 0 and not allow_zero):
        need = "non-negative" if allow_zero else "positive"
        raise ValueError(f"{field}: must be a {need} finite length in Å, got {value!r}")
    return v


def _finite_sld(value: Any, field: str) -> float:
    v = units.sld(value, field)
    if not math.isfinite(v):
        raise ValueError(f"{field}: must be a finite SLD in 1e-6/Å², got {value!r}")
    return v


@dataclass(frozen=True)
class Shape:
    """Base class. Subclasses are frozen dataclasses of sasmodels-named parameters."""

    #: sasmodels model name ("" where sasmodels has no such model).
    model: ClassVar[str] = ""
    #: Why there is no sasmodels model (where ``model`` is "").
    no_model_reason: ClassVar[str] = ""
    #: Name used in scene dicts and YAML.
    name: ClassVar[str] = ""
    kind: ClassVar[int] = ELLIPSOID
    size_parameters: ClassVar[tuple[str, ...]] = ()
    sld_parameters: ClassVar[tuple[str, ...]] = ()
    #: Size parameters that may be zero (a shell thickness).
    _may_be_zero: ClassVar[tuple[str, ...]] = ()

    def __post_init__(self) -> None:
        cls = type(self).__name__
        for name in self.size_parameters:
            value = _positive_length(
                getattr(self, name), f"{cls}.{name}", name in self._may_be_zero
            )
            object.__setattr__(self, name, value)
        for name in self.sld_parameters:
            object.__setattr__(self, name, _finite_sld(getattr(self, name), f"{cls}.{name}"))

    # ---- description ----------------------------------------------------
    def parameters(self) -> dict[str, float]:
        """Parameters by sasmodels name (Å, 1e-6/Å²)."""
        return {k: float(v) for k, v in asdict(self).items()}

    @classmethod
    def sasmodels_model(cls) -> str:
        """The sasmodels model of this shape; ValueError naming the shape where there is none."""
        if not cls.model:
            why = f": {cls.no_model_reason}" if cls.no_model_reason else ""
            raise ValueError(f"shape {cls.name!r} has no sasmodels model{why}")
        return cls.model

    def sasmodels_params(self, sld_solvent: float = 0.0) -> dict[str, float]:
        """sasmodels parameters of this shape (Å, 1e-6/Å²), ``sld_solvent`` included.

        Only the particle: scale, background, polydispersity and orientation
        belong to the ensemble. ValueError where sasmodels has no model.
        """
        self.sasmodels_model()
        return {**self.parameters(), "sld_solvent": float(sld_solvent)}

    @property
    def primary_size(self) -> str:
        """The size parameter a bare ``polydispersity=0.1`` applies to (sasmodels' first)."""
        return self.size_parameters[0]

    def arrays(self, n: int) -> dict[str, np.ndarray]:
        """The nominal parameters broadcast to ``n`` particles (float64 arrays)."""
        return {k: np.full(n, v, dtype=np.float64) for k, v in self.parameters().items()}

    @property
    def volume(self) -> float:
        """Volume of one particle with the nominal parameters in Å³ (shell included)."""
        return float(self.volume_of(self.arrays(1))[0])

    # ---- vectorized geometry (per-particle parameter arrays) ------------
    @classmethod
    def volume_of(cls, p: Params) -> np.ndarray:
        """Particle volume in Å³ (outer body, core included)."""
        raise NotImplementedError

    @classmethod
    def bodies(cls, p: Params) -> tuple[np.ndarray, np.ndarray | None]:
        """Body dimensions (n, 3) of the outer body and of the core (or None).

        Ellipsoid: semi-axes; cylinder: (R, R, half-length); box: half-lengths;
        hemisphere: (R, R, R).
        """
        raise NotImplementedError

    @classmethod
    def contrasts(cls, p: Params, sld_solvent: float) -> tuple[np.ndarray, np.ndarray]:
        """(Δρ of the outer body, extra Δρ of the core) in 1e-6/Å²."""
        n = len(next(iter(p.values())))
        return np.asarray(p["sld"], dtype=np.float64) - sld_solvent, np.zeros(n)

    @classmethod
    def half_extents(cls, p: Params, rot: np.ndarray) -> np.ndarray:
        """Half-widths (n, 3) in Å along lab (x, y, z) of the rotated particle's bounding box."""
        dims, _ = cls.bodies(p)
        return _half_extents(cls.kind, dims, rot)

    @classmethod
    def bounding_radius(cls, p: Params) -> np.ndarray:
        """Radius of the smallest ball about the position holding the particle (Å)."""
        dims, _ = cls.bodies(p)
        if cls.kind == BOX:
            return np.sqrt((dims**2).sum(axis=1))
        if cls.kind == CYLINDER:
            return np.hypot(dims[:, 0], dims[:, 2])
        return dims.max(axis=1)

    @classmethod
    def feature_radius(cls, p: Params) -> np.ndarray:
        """Smallest radius of curvature or half-thickness (Å); sets the supersampling."""
        dims, _ = cls.bodies(p)
        if cls.kind == ELLIPSOID:
            return dims.min(axis=1) ** 2 / dims.max(axis=1)
        if cls.kind == CYLINDER:
            return np.minimum(dims[:, 0], dims[:, 2])
        return dims.min(axis=1)

    @classmethod
    def centroid_offset(cls, p: Params) -> np.ndarray:
        """Centroid of the density relative to the position, particle frame (n, 3), Å.

        Zero for every centro-symmetric shape; 3R/8 along c for the hemisphere.
        """
        n = len(next(iter(p.values())))
        return np.zeros((n, 3))

    @classmethod
    def from_parameters(cls, params: Mapping[str, Any]) -> Shape:
        names = {f.name for f in fields(cls)}
        unknown = set(params) - names
        if unknown:
            raise ValueError(
                f"{cls.name}: unknown parameter(s) {sorted(unknown)}; expected {sorted(names)}"
            )
        missing = names - set(params)
        if missing:
            raise ValueError(f"{cls.name}: missing parameter(s) {sorted(missing)}")
        return cls(**params)


def _half_extents(kind: int, dims: np.ndarray, rot: np.ndarray) -> np.ndarray:
    """Axis-aligned half-widths of rotated bodies. ``rot[i]`` maps particle → lab (x, y, z)."""
    if kind == BOX:
        return np.einsum("nij,nj->ni", np.abs(rot), dims)
    if kind == CYLINDER:
        u = rot[:, :, 2]  # the cylinder axis in the lab
        radial = dims[:, 0:1] * np.sqrt(np.clip(1.0 - u**2, 0.0, 1.0))
        return np.abs(u) * dims[:, 2:3] + radial
    if kind == HEMISPHERE:
        return np.repeat(dims[:, :1], 3, axis=1)  # the whole ball: simple, conservative
    return np.sqrt(np.einsum("nij,nj->ni", rot**2, dims**2))


def _stack(*cols: np.ndarray) -> np.ndarray:
    return np.stack([np.asarray(c, dtype=np.float64) for c in cols], axis=1)


@dataclass(frozen=True)
class Sphere(Shape):
    """Uniform sphere (sasmodels ``sphere``)."""

    radius: float
    sld: float

    model: ClassVar[str] = "sphere"
    name: ClassVar[str] = "sphere"
    kind: ClassVar[int] = ELLIPSOID
    size_parameters: ClassVar[tuple[str, ...]] = ("radius",)
    sld_parameters: ClassVar[tuple[str, ...]] = ("sld",)

    @classmethod
    def volume_of(cls, p: Params) -> np.ndarray:
        return 4.0 / 3.0 * np.pi * np.asarray(p["radius"]) ** 3

    @classmethod
    def bodies(cls, p: Params) -> tuple[np.ndarray, None]:
        r = p["radius"]
        return _stack(r, r, r), None


@dataclass(frozen=True)
class CoreShellSphere(Shape):
    """Sphere with a shell (sasmodels ``core_shell_sphere``); ``radius`` is the core's."""

    radius: float
    thickness: float
    sld_core: float
    sld_shell: float

    model: ClassVar[str] = "core_shell_sphere"
    name: ClassVar[str] = "core_shell_sphere"
    kind: ClassVar[int] = ELLIPSOID
    size_parameters: ClassVar[tuple[str, ...]] = ("radius", "thickness")
    sld_parameters: ClassVar[tuple[str, ...]] = ("sld_core", "sld_shell")
    _may_be_zero: ClassVar[tuple[str, ...]] = ("thickness",)

    @classmethod
    def volume_of(cls, p: Params) -> np.ndarray:
        return 4.0 / 3.0 * np.pi * (np.asarray(p["radius"]) + p["thickness"]) ** 3

    @classmethod
    def bodies(cls, p: Params) -> tuple[np.ndarray, np.ndarray]:
        r, ro = p["radius"], np.asarray(p["radius"]) + p["thickness"]
        return _stack(ro, ro, ro), _stack(r, r, r)

    @classmethod
    def contrasts(cls, p: Params, sld_solvent: float) -> tuple[np.ndarray, np.ndarray]:
        shell = np.asarray(p["sld_shell"], dtype=np.float64) - sld_solvent
        return shell, np.asarray(p["sld_core"], dtype=np.float64) - p["sld_shell"]

    @classmethod
    def feature_radius(cls, p: Params) -> np.ndarray:
        return np.asarray(p["radius"], dtype=np.float64).copy()


@dataclass(frozen=True)
class Ellipsoid(Shape):
    """Spheroid (sasmodels ``ellipsoid``): polar semi-axis along c."""

    radius_polar: float
    radius_equatorial: float
    sld: float

    model: ClassVar[str] = "ellipsoid"
    name: ClassVar[str] = "ellipsoid"
    kind: ClassVar[int] = ELLIPSOID
    size_parameters: ClassVar[tuple[str, ...]] = ("radius_polar", "radius_equatorial")
    sld_parameters: ClassVar[tuple[str, ...]] = ("sld",)

    @classmethod
    def volume_of(cls, p: Params) -> np.ndarray:
        return (
            4.0
            / 3.0
            * np.pi
            * np.asarray(p["radius_polar"])
            * np.asarray(p["radius_equatorial"]) ** 2
        )

    @classmethod
    def bodies(cls, p: Params) -> tuple[np.ndarray, None]:
        e = p["radius_equatorial"]
        return _stack(e, e, p["radius_polar"]), None


@dataclass(frozen=True)
class TriaxialEllipsoid(Shape):
    """Triaxial ellipsoid (sasmodels ``triaxial_ellipsoid``): semi-axes a, b, c."""

    radius_equat_minor: float
    radius_equat_major: float
    radius_polar: float
    sld: float

    model: ClassVar[str] = "triaxial_ellipsoid"
    name: ClassVar[str] = "triaxial_ellipsoid"
    kind: ClassVar[int] = ELLIPSOID
    size_parameters: ClassVar[tuple[str, ...]] = (
        "radius_equat_minor",
        "radius_equat_major",
        "radius_polar",
    )
    sld_parameters: ClassVar[tuple[str, ...]] = ("sld",)

    @classmethod
    def volume_of(cls, p: Params) -> np.ndarray:
        return (
            4.0
            / 3.0
            * np.pi
            * np.asarray(p["radius_equat_minor"])
            * np.asarray(p["radius_equat_major"])
            * np.asarray(p["radius_polar"])
        )

    @classmethod
    def bodies(cls, p: Params) -> tuple[np.ndarray, None]:
        return _stack(p["radius_equat_minor"], p["radius_equat_major"], p["radius_polar"]), None


@dataclass(frozen=True)
class Cylinder(Shape):
    """Right circular cylinder (sasmodels ``cylinder``), axis along c."""

    radius: float
    length: float
    sld: float

    model: ClassVar[str] = "cylinder"
    name: ClassVar[str] = "cylinder"
    kind: ClassVar[int] = CYLINDER
    size_parameters: ClassVar[tuple[str, ...]] = ("radius", "length")
    sld_parameters: ClassVar[tuple[str, ...]] = ("sld",)

    @classmethod
    def volume_of(cls, p: Params) -> np.ndarray:
        return np.pi * np.asarray(p["radius"]) ** 2 * np.asarray(p["length"])

    @classmethod
    def bodies(cls, p: Params) -> tuple[np.ndarray, None]:
        r = p["radius"]
        return _stack(r, r, 0.5 * np.asarray(p["length"])), None


@dataclass(frozen=True)
class CoreShellCylinder(Shape):
    """Cylinder with a shell on the wall and both ends (sasmodels ``core_shell_cylinder``).

    Core: radius R, length L. Outer: radius R + t, length L + 2t.
    """

    radius: float
    thickness: float
    length: float
    sld_core: float
    sld_shell: float

    model: ClassVar[str] = "core_shell_cylinder"
    name: ClassVar[str] = "core_shell_cylinder"
    kind: ClassVar[int] = CYLINDER
    size_parameters: ClassVar[tuple[str, ...]] = ("radius", "thickness", "length")
    sld_parameters: ClassVar[tuple[str, ...]] = ("sld_core", "sld_shell")
    _may_be_zero: ClassVar[tuple[str, ...]] = ("thickness",)

    @classmethod
    def volume_of(cls, p: Params) -> np.ndarray:
        r, t, length = (np.asarray(p[k]) for k in ("radius", "thickness", "length"))
        return np.pi * (r + t) ** 2 * (length + 2 * t)

    @classmethod
    def bodies(cls, p: Params) -> tuple[np.ndarray, np.ndarray]:
        r, t, length = (np.asarray(p[k]) for k in ("radius", "thickness", "length"))
        return _stack(r + t, r + t, 0.5 * length + t), _stack(r, r, 0.5 * length)

    @classmethod
    def contrasts(cls, p: Params, sld_solvent: float) -> tuple[np.ndarray, np.ndarray]:
        shell = np.asarray(p["sld_shell"], dtype=np.float64) - sld_solvent
        return shell, np.asarray(p["sld_core"], dtype=np.float64) - p["sld_shell"]

    @classmethod
    def feature_radius(cls, p: Params) -> np.ndarray:
        return np.minimum(np.asarray(p["radius"], dtype=np.float64), 0.5 * np.asarray(p["length"]))


@dataclass(frozen=True)
class Parallelepiped(Shape):
    """Rectangular box (sasmodels ``parallelepiped``): edges a, b, c along local x, y, z."""

    length_a: float
    length_b: float
    length_c: float
    sld: float

    model: ClassVar[str] = "parallelepiped"
    name: ClassVar[str] = "parallelepiped"
    kind: ClassVar[int] = BOX
    size_parameters: ClassVar[tuple[str, ...]] = ("length_a", "length_b", "length_c")
    sld_parameters: ClassVar[tuple[str, ...]] = ("sld",)

    @classmethod
    def volume_of(cls, p: Params) -> np.ndarray:
        return np.asarray(p["length_a"]) * np.asarray(p["length_b"]) * np.asarray(p["length_c"])

    @classmethod
    def bodies(cls, p: Params) -> tuple[np.ndarray, None]:
        return 0.5 * _stack(p["length_a"], p["length_b"], p["length_c"]), None


@dataclass(frozen=True)
class Hemisphere(Shape):
    """Half ball (no sasmodels model): flat face through the position, dome along +c."""

    radius: float
    sld: float

    model: ClassVar[str] = ""
    no_model_reason: ClassVar[str] = (
        "sasmodels has no hemisphere form factor; compare it with hifft.compare.compare_model "
        "and an I(q) of your own"
    )
    name: ClassVar[str] = "hemisphere"
    kind: ClassVar[int] = HEMISPHERE
    size_parameters: ClassVar[tuple[str, ...]] = ("radius",)
    sld_parameters: ClassVar[tuple[str, ...]] = ("sld",)

    @classmethod
    def volume_of(cls, p: Params) -> np.ndarray:
        return 2.0 / 3.0 * np.pi * np.asarray(p["radius"]) ** 3

    @classmethod
    def bodies(cls, p: Params) -> tuple[np.ndarray, None]:
        r = p["radius"]
        return _stack(r, r, r), None

    @classmethod
    def centroid_offset(cls, p: Params) -> np.ndarray:
        r = np.asarray(p["radius"], dtype=np.float64)
        return _stack(np.zeros_like(r), np.zeros_like(r), 3.0 / 8.0 * r)


#: Shape classes by scene/YAML name.
SHAPES: dict[str, type[Shape]] = {
    cls.name: cls
    for cls in (
        Sphere,
        CoreShellSphere,
        Ellipsoid,
        TriaxialEllipsoid,
        Cylinder,
        CoreShellCylinder,
        Parallelepiped,
        Hemisphere,
    )
}


#: Shape classes by sasmodels model name (shapes without a model left out).
MODEL_SHAPES: dict[str, type[Shape]] = {cls.model: cls for cls in SHAPES.values() if cls.model}


def shape_class(name: str) -> type[Shape]:
    """The shape class called ``name`` (e.g. "core_shell_sphere")."""
    try:
        return SHAPES[name]
    except KeyError:
        raise ValueError(f"unknown shape {name!r}; one of {sorted(SHAPES)}") from None


def shape_from_dict(d: Mapping[str, Any]) -> Shape:
    """Inverse of ``{"shape": name, "parameters": {...}}``."""
    return shape_class(d["shape"]).from_parameters(d["parameters"])


def shape_from_model(model: str, params: Mapping[str, Any]) -> Shape:
    """The shape that sasmodels ``model`` with parameters ``params`` describes.

    ``model`` may carry a structure factor ("sphere@hardsphere": the shape of
    its form factor). Only the shape's own parameters are read from
    ``params`` (sasmodels names; Å and 1e-6/Å², or strings with units); the
    rest of a sasmodels parameter set (scale, background, sld_solvent,
    polydispersity, angles, structure-factor parameters) describes the
    ensemble, not the shape, and is ignored. A missing parameter is an error
    naming it; so is a model no shape matches (mixtures "A+B" included).
    """
    form = model.split("@", 1)[0].strip()
    cls = MODEL_SHAPES.get(form)
    if cls is None:
        raise ValueError(
            f"sasmodels model {model!r} has no hifft shape; models with one: {sorted(MODEL_SHAPES)}"
        )
    names = [f.name for f in fields(cls)]
    missing = [n for n in names if n not in params]
    if missing:
        raise ValueError(f"{model}: missing parameter(s) {missing} for hifft shape {cls.name!r}")
    return cls(**{n: params[n] for n in names})


__all__ = [
    "Shape",
    "Sphere",
    "CoreShellSphere",
    "Ellipsoid",
    "TriaxialEllipsoid",
    "Cylinder",
    "CoreShellCylinder",
    "Parallelepiped",
    "Hemisphere",
    "SHAPES",
    "MODEL_SHAPES",
    "shape_class",
    "shape_from_dict",
    "shape_from_model",
]
