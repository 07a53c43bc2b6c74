"""The five shape classes of the inverse problem and their sasmodels forward model.

Each class has labelled parameters (what a model must predict), drawn from
the priors in :class:`hifft.ml.config.ShapesConfig`, and a way to turn a
label row into sasmodels parameters. Curves come from hifft's one sasmodels
adapter, :func:`hifft.compare.sasmodels_.evaluate` (compiled C kernels,
single or double precision, cached per model and q grid, every parameter
name checked). The polydispersity integrals use each class's own
``pd_n``/``pd_nsigma`` (35 or 11 points by default, cheaper than the
comparison's 81: a dataset holds many curves), passed explicitly as
``*_pd_n``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..compare import sasmodels_ as sm
from .config import CLASSES, ShapesConfig

#: Label columns of each class, in order. Shared names mean the same
#: physical quantity (``radius`` of a core-shell sphere is its core radius).
PARAMS: dict[str, tuple[str, ...]] = {
    "sphere": ("radius", "radius_pd"),
    "sphere@hardsphere": ("radius", "radius_pd", "volfraction"),
    "cylinder": ("radius", "length", "radius_pd", "length_pd"),
    "core_shell_sphere": ("radius", "thickness", "radius_pd"),
    "ellipsoid": ("radius_polar", "radius_equatorial", "radius_pd"),
}

#: Every label column, in a fixed order (the dataset's variables).
ALL_PARAMS: tuple[str, ...] = (
    "radius",
    "length",
    "thickness",
    "radius_polar",
    "radius_equatorial",
    "radius_pd",
    "length_pd",
    "volfraction",
)

#: Parameters that are lengths (Å): models regress their logarithm.
LENGTHS = frozenset({"radius", "length", "thickness", "radius_polar", "radius_equatorial"})

#: Nuisance columns every sample has.
NUISANCE: tuple[str, ...] = ("scale", "background")


def class_index(name: str) -> int:
    return CLASSES.index(name)


def slots() -> list[tuple[str, str]]:
    """(class, parameter) pairs: one regression output each, in a fixed order."""
    return [(c, p) for c in CLASSES for p in PARAMS[c]]


# ---------------------------------------------------------------------------
# sampling labels
# ---------------------------------------------------------------------------


def sample_params(model: str, shapes: ShapesConfig, rng: np.random.Generator, n: int) -> dict[str, np.ndarray]:
    """``n`` label rows of class ``model`` from its priors (constraints by redraw)."""
    spec = shapes.spec(model)
    out = {p: getattr(spec, p).sample(rng, n) for p in PARAMS[model]}
    for _ in range(1000):
        bad = violations(model, spec, out)
        if not bad.any():
            break
        k = int(bad.sum())
        for p in PARAMS[model]:
            out[p][bad] = getattr(spec, p).sample(rng, k)
    else:  # pragma: no cover - only with absurd priors
        raise ValueError(f"{model}: priors rarely satisfy the shape's constraints; widen them")
    return out


def violations(model: str, spec: Any, v: dict[str, np.ndarray]) -> np.ndarray:
    bad = np.zeros(len(next(iter(v.values()))), dtype=bool)
    for p in PARAMS[model]:
        x = v[p]
        if p in LENGTHS:
            bad |= ~(x > 0)
        elif p.endswith("_pd"):
            bad |= ~((x >= 0) & (x < 1))
        elif p == "volfraction":
            bad |= ~((x >= 0) & (x <= 0.5))
    if model == "cylinder":
        bad |= v["length"] < spec.min_length_over_diameter * 2 * v["radius"]
    if model == "ellipsoid":
        ratio = np.maximum(v["radius_polar"], v["radius_equatorial"]) / np.minimum(
            v["radius_polar"], v["radius_equatorial"]
        )
        bad |= ratio < spec.min_axis_ratio
    return bad


# ---------------------------------------------------------------------------
# sasmodels
# ---------------------------------------------------------------------------


def sasmodels_pars(
    model: str, label: dict[str, float], shapes: ShapesConfig, scale: float, background: float
) -> dict[str, Any]:
    """sasmodels parameter dict for one label row of class ``model``.

    ``scale`` multiplies P(q)·S(q) for every class (a dilute system's volume
    fraction times any calibration factor); ``background`` is flat, in 1/cm.
    """
    spec = shapes.spec(model)
    pd = {"pd_n": spec.pd_n, "pd_nsigma": spec.pd_nsigma, "pd_type": "gaussian"}

    def poly(name: str, width: float) -> dict[str, Any]:
        d: dict[str, Any] = {f"{name}_pd": float(width)}
        d.update({f"{name}_{k}": v for k, v in pd.items()})
        return d

    p: dict[str, Any] = {"scale": float(scale), "background": float(background)}
    # each branch reads its class's own spec (the same object as ``spec``), typed with its sld fields
    if model in ("sphere", "sphere@hardsphere"):
        sph = shapes.hardsphere if model == "sphere@hardsphere" else shapes.sphere
        p.update(
            radius=label["radius"],
            sld=sph.sld,
            sld_solvent=sph.sld_solvent,
            **poly("radius", label["radius_pd"]),
        )
        if model == "sphere@hardsphere":
            # effective hard-sphere radius = the sphere's radius (mode 1),
            # local monodisperse approximation (mode 0). sasmodels computes
            # scale·volfraction·P·S; our ``scale`` is the prefactor of P·S for
            # every class, so divide it out again.
            phi = max(float(label["volfraction"]), 1e-12)
            p.update(
                volfraction=phi,
                radius_effective_mode=1,
                structure_factor_mode=0,
                scale=float(scale) / phi,
            )
    elif model == "cylinder":
        p.update(
            radius=label["radius"],
            length=label["length"],
            sld=shapes.cylinder.sld,
            sld_solvent=shapes.cylinder.sld_solvent,
            **poly("radius", label["radius_pd"]),
            **poly("length", label["length_pd"]),
        )
    elif model == "core_shell_sphere":
        p.update(
            radius=label["radius"],
            thickness=label["thickness"],
            sld_core=shapes.core_shell_sphere.sld_core,
            sld_shell=shapes.core_shell_sphere.sld_shell,
            sld_solvent=shapes.core_shell_sphere.sld_solvent,
            **poly("radius", label["radius_pd"]),
        )
    elif model == "ellipsoid":
        p.update(
            radius_polar=label["radius_polar"],
            radius_equatorial=label["radius_equatorial"],
            sld=shapes.ellipsoid.sld,
            sld_solvent=shapes.ellipsoid.sld_solvent,
            **poly("radius_polar", label["radius_pd"]),
            **poly("radius_equatorial", label["radius_pd"]),
        )
    else:
        raise ValueError(f"unknown shape class {model!r}; known: {list(CLASSES)}")
    return {k: (float(v) if isinstance(v, np.floating) else v) for k, v in p.items()}


#: Kernel precisions (sasmodels' float32 or float64 C kernels).
PRECISIONS = sm.PRECISIONS


def compile_models(names: tuple[str, ...] | list[str] = CLASSES, precision: str = "double") -> None:
    """Compile (or load from sasmodels' disk cache) the kernels once, in this process.

    Call it before starting workers so that they do not race to compile.
    """
    for n in names:
        sm.load(n, precision)


def sasmodels_iq(
    model: str, q: np.ndarray, pars: dict[str, Any], precision: str = "double", dq: np.ndarray | None = None
) -> np.ndarray:
    """I(q) in 1/cm from sasmodels for ``pars`` (every name checked).

    ``precision="single"`` runs sasmodels' float32 kernel (1.5-2× faster for
    the orientation-averaged shapes; relative difference ~1e-6). ``dq``: 1-σ
    pinhole resolution (1/Å) per q point, or None for none.
    """
    return sm.evaluate(model, q, pars, precision=precision, dq=dq)


def forward(
    model: str,
    q: np.ndarray,
    label: dict[str, float],
    shapes: ShapesConfig,
    scale: float,
    background: float,
    precision: str = "double",
    dq: np.ndarray | None = None,
) -> np.ndarray:
    """Noise-free I(q) (1/cm, background included) of one labelled sample; ``dq``: see :func:`sasmodels_iq`."""
    return sasmodels_iq(model, q, sasmodels_pars(model, label, shapes, scale, background), precision, dq)
