"""Config models for the ``grid``/``scene`` (or ``source``) sections of a YAML job.

```yaml
grid: {shape: 256, spacing: "2 Å"}
scene:
  sld_solvent: 0.0
  seed: 1
  components:
    - {shape: sphere, radius: "5 nm", sld: 1.0, volume_fraction: 0.01,
       polydispersity: 0.1, distribution: gaussian, orientation: uniform, placement: random}
```

Lengths accept unit strings ("5 nm"), SLDs too ("2e10 cm^-2"); sizes must be
positive (a shell ``thickness`` may be 0); unknown keys are errors. Each
component is validated against its own shape's parameters (a pydantic
union tagged by ``shape``), so ``length`` on a sphere is named as extra.
The pipeline config embeds :class:`GridSpec` and :class:`SceneSpec`;
:func:`scene_from_spec` turns them into a :class:`~hifft.Scene`.
"""

from __future__ import annotations

import functools
import math
import operator
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal, TypeAlias

from pydantic import AfterValidator, BeforeValidator, Field, create_model, model_validator

from .. import units
from ..config import StrictModel
from ..grid import Grid
from .distributions import NSIGMAS
from .placement import KINDS
from .shapes import SHAPES, Shape


def _length(v: Any) -> float:
    return units.length(v)


def _sld(v: Any) -> float:
    return units.sld(v)


def _positive(v: float) -> float:
    if not math.isfinite(v) or v <= 0:
        raise ValueError(f"must be a positive finite length in Å, got {v!r}")
    return v


def _non_negative(v: float) -> float:
    if not math.isfinite(v) or v < 0:
        raise ValueError(f"must be a non-negative finite length in Å, got {v!r}")
    return v


def _finite(v: float) -> float:
    if not math.isfinite(v):
        raise ValueError(f"must be finite, got {v!r}")
    return v


Length = Annotated[float, BeforeValidator(_length), AfterValidator(_positive)]
Thickness = Annotated[float, BeforeValidator(_length), AfterValidator(_non_negative)]
Sld = Annotated[float, BeforeValidator(_sld), AfterValidator(_finite)]
Distribution = Literal[tuple(NSIGMAS)]  # type: ignore[valid-type]
PlacementKind = Literal[KINDS]  # type: ignore[valid-type]


class GridSpec(StrictModel):
    """``grid:`` shape (int or [nz, ny, nx]) and spacing (Å or with units; 1 or 3 values)."""

    shape: Annotated[int, Field(gt=0)] | tuple[Annotated[int, Field(gt=0)], ...]
    spacing: Length | tuple[Length, ...]

    @model_validator(mode="after")
    def _three(self) -> GridSpec:
        for name in ("shape", "spacing"):
            v = getattr(self, name)
            if isinstance(v, tuple) and len(v) != 3:
                raise ValueError(f"{name}: give 1 or 3 values (z, y, x), got {len(v)}")
        return self

    def to_grid(self) -> Grid:
        return Grid(shape=self.shape, spacing=self.spacing)


class DispersionSpec(StrictModel):
    width: Annotated[float, Field(ge=0)]
    distribution: Distribution = "gaussian"  # type: ignore[valid-type]


class OrientationSpec(StrictModel):
    """Fixed orientation or spread (sasmodels angles, degrees)."""

    kind: Literal["fixed", "spread"] | None = None
    theta: float = 0.0
    phi: float = 0.0
    psi: float = 0.0
    theta_pd: Annotated[float, Field(ge=0)] = 0.0
    phi_pd: Annotated[float, Field(ge=0)] = 0.0
    psi_pd: Annotated[float, Field(ge=0)] = 0.0


class PlacementSpec(StrictModel):
    kind: PlacementKind = "random"
    boundary: Literal["wrap", "inside"] = "wrap"
    max_tries_per_particle: Annotated[int, Field(ge=1)] = 2000


class _ComponentBase(StrictModel):
    if TYPE_CHECKING:
        #: the shape's name; each shape's model (:func:`_component_model`) declares it as its Literal tag
        shape: str

    count: Annotated[int, Field(gt=0)] | None = None
    volume_fraction: Annotated[float, Field(gt=0, lt=1)] | None = None
    polydispersity: (
        Annotated[float, Field(ge=0)]
        | dict[str, Annotated[float, Field(ge=0)] | DispersionSpec]
        | None
    ) = None
    distribution: Distribution | dict[str, Distribution] = "gaussian"  # type: ignore[valid-type]
    orientation: Literal["uniform", "fixed"] | OrientationSpec = "uniform"
    placement: PlacementKind | PlacementSpec = "random"
    boundary: Literal["wrap", "inside"] | None = None
    #: explicit centres [z, y, x] (Å or with units), box centred on 0
    positions: list[tuple[Annotated[float, BeforeValidator(_length)], ...]] | None = None

    @model_validator(mode="after")
    def _one_amount(self) -> _ComponentBase:
        if self.positions is not None:
            if self.volume_fraction is not None or any(len(p) != 3 for p in self.positions):
                raise ValueError("positions: give [z, y, x] triples and no volume_fraction")
        elif (self.count is None) == (self.volume_fraction is None):
            raise ValueError("give exactly one of count or volume_fraction (or positions)")
        return self


def _component_model(name: str, cls: type[Shape]) -> type[StrictModel]:
    fields: dict[str, Any] = {"shape": (Literal[name], ...)}
    for p in cls.size_parameters:
        fields[p] = (Thickness if p in cls._may_be_zero else Length, ...)
    for p in cls.sld_parameters:
        fields[p] = (Sld, ...)
    model_name = "".join(w.capitalize() for w in name.split("_")) + "Spec"
    return create_model(model_name, __base__=_ComponentBase, **fields)


#: One model per shape, e.g. ``SphereSpec``; a component is any of them, tagged by ``shape``.
COMPONENT_MODELS: dict[str, type[StrictModel]] = {
    n: _component_model(n, c) for n, c in SHAPES.items()
}
if TYPE_CHECKING:
    # mypy cannot read a union built at run time; every member is a _ComponentBase subclass
    ComponentSpec: TypeAlias = _ComponentBase
else:
    ComponentSpec = Annotated[functools.reduce(operator.or_, COMPONENT_MODELS.values()), Field(discriminator="shape")]


class SceneSpec(StrictModel):
    """``scene:`` solvent, seed, voxelization options and components."""

    sld_solvent: Sld = 0.0
    seed: Annotated[int, Field(ge=0)] | None = None
    voxelization: Literal["antialias", "binary"] = "antialias"
    overlap: Literal["sum", "clip"] = "sum"
    supersample: Annotated[int, Field(ge=1, le=32)] | None = None
    components: Annotated[list[ComponentSpec], Field(min_length=1)]


class SourceSpec(StrictModel):
    """``source:`` an imported density instead of a scene (optionally tiled, then up-sampled)."""

    path: Path
    format: Literal["auto", "npy", "hdf5", "tiff", "chgcar"] = "auto"
    dataset: str | None = None
    spacing: Length | tuple[Length, ...] | None = None
    sld_solvent: Sld = 0.0
    scale: float = 1.0
    quantity: Literal["xray_sld", "electron_density", "raw"] = "xray_sld"
    tile: Annotated[int, Field(ge=1)] | tuple[Annotated[int, Field(ge=1)], ...] | None = None
    upsample: Annotated[int, Field(ge=1)] | tuple[Annotated[int, Field(ge=1)], ...] | None = None


class BuildSpec(StrictModel):
    """A ``hifft build`` file: ``grid`` + ``scene``, or ``source``; ``dtype``, ``slab_depth``."""

    grid: GridSpec | None = None
    scene: SceneSpec | None = None
    source: SourceSpec | None = None
    dtype: Literal["float32", "float64"] | None = None
    slab_depth: Annotated[int, Field(ge=1)] | None = None

    @model_validator(mode="after")
    def _one_source(self) -> BuildSpec:
        if (self.scene is None) == (self.source is None):
            raise ValueError("give exactly one of 'scene' (with 'grid') or 'source'")
        if self.scene is not None and self.grid is None:
            raise ValueError("'scene' needs a 'grid' section")
        return self


def scene_from_spec(grid_spec: GridSpec, scene_spec: SceneSpec) -> Any:
    """The :class:`~hifft.Scene` a validated ``grid``/``scene`` pair describes."""
    from .scene import Scene
    from .shapes import shape_class

    scene = Scene(
        grid_spec.to_grid(),
        sld_solvent=scene_spec.sld_solvent,
        seed=scene_spec.seed,
        voxelization=scene_spec.voxelization,
        overlap=scene_spec.overlap,
        supersample=scene_spec.supersample,
    )
    for i, comp in enumerate(scene_spec.components):
        cls = shape_class(comp.shape)
        shape = cls(**{p: getattr(comp, p) for p in (*cls.size_parameters, *cls.sld_parameters)})
        pd: float | dict[str, Any] | None = (
            {k: (v.model_dump() if isinstance(v, DispersionSpec) else v) for k, v in comp.polydispersity.items()}
            if isinstance(comp.polydispersity, dict)
            else comp.polydispersity
        )
        orient: str | dict[str, Any] = (
            comp.orientation.model_dump(exclude_none=True)
            if isinstance(comp.orientation, OrientationSpec)
            else comp.orientation
        )
        place = comp.placement
        if isinstance(place, PlacementSpec):
            place = place.model_dump()
        try:
            scene.add(
                shape,
                count=comp.count,
                volume_fraction=comp.volume_fraction,
                polydispersity=pd,
                distribution=comp.distribution,
                orientation=orient,
                placement=place,
                boundary=comp.boundary,
                positions=comp.positions,
            )
        except ValueError as exc:
            raise ValueError(f"scene.components.{i}: {exc}") from None
    return scene


def source_from_spec(spec: BuildSpec) -> Any:
    """The Scene or imported Volume a validated :class:`BuildSpec` describes."""
    if spec.scene is not None:
        assert spec.grid is not None
        return scene_from_spec(spec.grid, spec.scene)
    from . import importers

    s = spec.source
    assert s is not None
    fmt = s.format
    if fmt == "auto":
        vol = importers.read_density(s.path, s.spacing, **_source_kwargs(s, _guess(s.path)))
    elif fmt == "npy":
        vol = importers.read_npy(s.path, s.spacing, sld_solvent=s.sld_solvent, scale=s.scale)
    elif fmt == "hdf5":
        if not s.dataset:
            raise ValueError("source.dataset: required for HDF5")
        vol = importers.read_hdf5(
            s.path, s.dataset, s.spacing, sld_solvent=s.sld_solvent, scale=s.scale
        )
    elif fmt == "tiff":
        vol = importers.read_tiff(s.path, s.spacing, sld_solvent=s.sld_solvent, scale=s.scale)
    else:
        vol = importers.read_chgcar(s.path, quantity=s.quantity, sld_solvent=s.sld_solvent)
    if s.tile is not None:
        vol = importers.tile(vol, _one_or_three(s.tile, "tile"))
    if s.upsample is not None:
        vol = importers.upsample(vol, _one_or_three(s.upsample, "upsample"))
    return vol


def _one_or_three(v: int | tuple[int, ...], name: str) -> int | tuple[int, int, int]:
    """``v`` as an int or a (z, y, x) triple; other lengths are an error naming ``source.<name>``."""
    if isinstance(v, int):
        return v
    if len(v) != 3:
        raise ValueError(f"source.{name}: give 1 or 3 values (z, y, x), got {len(v)}")
    return v[0], v[1], v[2]


def _guess(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix == ".npy":
        return "npy"
    if suffix in (".h5", ".hdf5", ".hdf", ".nxs"):
        return "hdf5"
    if suffix in (".tif", ".tiff"):
        return "tiff"
    return "chgcar"


def _source_kwargs(s: SourceSpec, fmt: str) -> dict[str, Any]:
    if fmt == "chgcar":
        return {"quantity": s.quantity, "sld_solvent": s.sld_solvent}
    kw: dict[str, Any] = {"sld_solvent": s.sld_solvent, "scale": s.scale}
    if fmt == "hdf5":
        if not s.dataset:
            raise ValueError("source.dataset: required for HDF5")
        kw["dataset"] = s.dataset
    return kw


__all__ = [
    "GridSpec",
    "SceneSpec",
    "ComponentSpec",
    "COMPONENT_MODELS",
    "DispersionSpec",
    "OrientationSpec",
    "PlacementSpec",
    "SourceSpec",
    "BuildSpec",
    "scene_from_spec",
    "source_from_spec",
]
