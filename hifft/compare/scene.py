"""Map a hifft Scene onto sasmodels and compare: :func:`compare_scene`.

What the mapping does, per component of ``Scene.to_dict()``:

* model: the shape's sasmodels model and parameters, from the one mapping
  in :mod:`hifft.volume.shapes` (:meth:`~hifft.volume.shapes.Shape.sasmodels_model`,
  ``sasmodels_params``: ``Sphere`` → ``sphere``, ..., Å, absolute SLDs)
  with ``sld_solvent`` from the scene. A hemisphere has no sasmodels model
  and is refused, naming it. Voxels hold the contrast ρ − sld_solvent, sasmodels takes both
  SLDs and forms the same difference, so passing the scene's solvent keeps
  them consistent (sasmodels' own default solvent, 6, would not).
* scale: the volume fraction the scene *achieved* (particles actually
  placed), times contrast² if the reduction scaled the density
  (``ds.attrs["contrast"]``). Absolute; nothing is fitted.
* polydispersity: ``<par>_pd`` (relative width), ``_pd_type``,
  ``_pd_nsigma`` (the scene truncates its draws where sasmodels truncates
  its weights) and ``_pd_n`` (81 points unless given). With
  ``sizes="realized"`` the model is instead summed over the sizes the scene
  actually drew (each particle weighted by its volume): this removes the
  finite-sample scatter of a few hundred random sizes (several % in
  ⟨V²⟩/⟨V⟩), which is not an error of the FFT pipeline.
* orientation: a 1D shell average of a dilute ensemble is the orientation
  average *whatever* the orientation distribution (averaging over the
  directions of q at fixed particles equals averaging over particle
  orientations at fixed q), and sasmodels' 1D kernels are orientation
  averaged, so angles are not passed.
* placement: "random" is an ideal gas (with ``overlap="sum"``): the sum of
  form factors. Several random components become a sasmodels mixture
  ``A+B`` (``A_scale``, ``A_radius``, ...). "hard" spheres become
  ``sphere@hardsphere`` with ``scale = 1``, ``volfraction = φ`` (sasmodels
  multiplies P@S by volfraction itself) and ``radius_effective`` the
  (mean) radius; other hard shapes use their circumscribed sphere, which is
  what the random sequential addition excludes. Lattices are refused.
"""

from __future__ import annotations

import json
import string
from collections.abc import Callable
from typing import Any

import numpy as np
import xarray as xr

from ..volume.shapes import shape_class, shape_from_dict
from . import sasmodels_ as sm
from .core import Comparison, compare_model


def _scene_dicts(scene: Any, ds: xr.Dataset | None) -> list[dict[str, Any]]:
    if scene is None:
        if ds is None:
            raise ValueError("compare_scene: pass the scene (or a Dataset whose attrs record it)")
        src = ds.attrs.get("source")
        if isinstance(src, str):
            try:
                src = json.loads(src)
            except ValueError:
                src = None
        sc = src.get("scene") if isinstance(src, dict) else None
        if not sc:
            raise ValueError(
                "compare_scene: the Dataset's attrs do not record a scene; pass scene="
            )
        return [sc]
    items = scene if isinstance(scene, list | tuple) else [scene]
    out = []
    for s in items:
        if hasattr(s, "to_dict"):
            out.append(s.to_dict())
        elif isinstance(s, dict):
            out.append(s)
        else:
            raise TypeError(
                f"compare_scene: expected a hifft Scene or its to_dict(), got {type(s).__name__}"
            )
    return out


def _achieved_phi(comp: dict[str, Any]) -> float:
    ach = comp.get("achieved") or {}
    if "volume_fraction" in ach:
        return float(ach["volume_fraction"])
    if comp.get("volume_fraction") is not None:
        return float(comp["volume_fraction"])
    raise ValueError(
        "compare_scene: a component has no achieved volume fraction; "
        "use Scene.to_dict(planned=True)"
    )


def _component_pars(
    comp: dict[str, Any], sld_solvent: float, pd_n: int
) -> tuple[str, dict[str, Any]]:
    try:
        shape = shape_from_dict(comp)
        model = shape.sasmodels_model()
    except ValueError as exc:
        raise ValueError(f"compare_scene: {exc}") from None
    pars: dict[str, Any] = shape.sasmodels_params(sld_solvent)
    for name, disp in (comp.get("polydispersity") or {}).items():
        if isinstance(disp, dict):
            width, dist, nsig = (
                disp.get("width", 0.0),
                disp.get("distribution", "gaussian"),
                disp.get("nsigmas"),
            )
        else:
            width, dist, nsig = float(disp), "gaussian", None
        if width <= 0:
            continue
        pars[f"{name}_pd"] = float(width)
        pars[f"{name}_pd_type"] = dist
        pars[f"{name}_pd_n"] = float(pd_n)
        if nsig is not None:
            pars[f"{name}_pd_nsigma"] = float(nsig)
    return model, pars


def _contrast_factor(ds: xr.Dataset | None) -> float:
    if ds is None:
        return 1.0
    c = float(ds.attrs.get("contrast", 1.0))
    return c * c


def scene_to_sasmodels(
    scene: Any,
    ds: xr.Dataset | None = None,
    *,
    sizes: str = "nominal",
    pd_n: int = sm.DEFAULT_PD_N,
) -> tuple[str, dict[str, Any], dict[str, Any]]:
    """sasmodels model name, parameters and notes describing ``scene`` on absolute scale.

    ``scene`` is a Scene, its ``to_dict()``, or a list of either (independent
    realizations whose reduced curves were averaged: the scale is their mean
    φ). Returns ``(model, pars, info)``; ``info`` holds ``n_particles``,
    ``volume_fraction``, ``notes``, and ``func`` (``q -> I``) when
    ``sizes="realized"`` (which needs Scene objects, not dicts).
    """
    if sizes not in ("nominal", "realized"):
        raise ValueError(f"sizes: 'nominal' or 'realized', got {sizes!r}")
    dicts = _scene_dicts(scene, ds)
    first = dicts[0]
    comps = first.get("components") or []
    if not comps:
        raise ValueError("compare_scene: the scene has no components")
    for d in dicts[1:]:
        if [(c["shape"], c["parameters"]) for c in d["components"]] != [
            (c["shape"], c["parameters"]) for c in comps
        ]:
            raise ValueError("compare_scene: realizations must share their components")
    k2 = _contrast_factor(ds)
    notes: list[str] = []
    solvent = float(first.get("sld_solvent", 0.0))
    phis = np.array([[_achieved_phi(c) for c in d["components"]] for d in dicts]).mean(axis=0)
    n_particles = int(
        np.mean(
            [
                sum(int((c.get("achieved") or {}).get("count", 0)) for c in d["components"])
                for d in dicts
            ]
        )
    )
    kinds = [((c.get("placement") or {}).get("kind", "random")) for c in comps]
    if first.get("voxelization") == "binary":
        notes.append(
            "binary voxels: volume and low-q errors of order the voxel staircase (use 'antialias')"
        )
    if any(k not in ("random", "hard") for k in kinds):
        raise ValueError(
            f"compare_scene: lattice placement {kinds} has no sasmodels counterpart here"
        )
    if "random" in kinds and first.get("overlap") == "clip":
        notes.append(
            "overlap='clip': overlapping random particles merge; the ideal-gas model is off by O(φ)"
        )
    if any((c.get("orientation") or {}).get("kind", "uniform") != "uniform" for c in comps):
        notes.append(
            "non-uniform orientation: the 1D shell average is the orientation average anyway"
        )

    if "hard" in kinds:
        if len(comps) != 1:
            raise ValueError("compare_scene: hard placement is mapped for a single component only")
        c = comps[0]
        model, pars = _component_pars(c, solvent, pd_n)
        ach = c.get("achieved") or {}
        if c["shape"] == "sphere":
            r_eff = float(
                np.mean(
                    [
                        (d["components"][0].get("achieved") or {}).get(
                            "mean_radius", c["parameters"]["radius"]
                        )
                        for d in dicts
                    ]
                )
            )
        else:
            r_eff = float(ach.get("hard", {}).get("bounding_radius_max", np.nan))
            if not np.isfinite(r_eff):
                raise ValueError(
                    "compare_scene: no bounding radius recorded for a hard non-sphere component"
                )
            notes.append(
                f"hard {c['shape']}: hard-sphere S(q) with the circumscribed radius {r_eff:.4g} Å "
                "(approximate)"
            )
        model = f"{model}@hardsphere"
        pars.update(
            scale=k2,
            volfraction=float(phis[0]),
            radius_effective=r_eff,
            radius_effective_mode=0,
            structure_factor_mode=0,
        )
        notes.append(
            "sphere@hardsphere is Percus–Yevick (approximate); hard placement is random "
            "sequential addition, not an equilibrium fluid"
        )
        info: dict[str, Any] = {"n_particles": n_particles, "volume_fraction": float(phis[0]), "notes": notes}
        if sizes == "realized":
            notes.append("sizes='realized' is not used for P@S models; nominal distribution used")
        return model, pars, info

    if len(comps) == 1:
        model, pars = _component_pars(comps[0], solvent, pd_n)
        pars["scale"] = float(phis[0]) * k2
    else:
        parts, pars = [], {}
        for i, c in enumerate(comps):
            m, p = _component_pars(c, solvent, pd_n)
            parts.append(m)
            letter = string.ascii_uppercase[i]
            pars.update({f"{letter}_{k}": v for k, v in p.items()})
            pars[f"{letter}_scale"] = float(phis[i]) * k2
        model = "+".join(parts)
        pars["scale"] = 1.0
    info = {
        "n_particles": n_particles,
        "volume_fraction": float(phis.sum()),
        "notes": notes,
    }
    if sizes == "realized":
        info["func"] = _realized_func(scene, comps, solvent, k2)
        notes.append(
            "model summed over the sizes the scene drew (each particle weighted by its volume)"
        )
    return model, pars, info


def _realized_func(scene: Any, comps: list[dict[str, Any]], solvent: float, k2: float) -> Callable:
    """I(q) = Σ_realizations Σ_particles sasmodels(size_j, scale = V_j/V_box) / n_realizations."""
    scenes = scene if isinstance(scene, list | tuple) else [scene]
    if not all(hasattr(s, "particles") for s in scenes):
        raise ValueError(
            "sizes='realized' needs Scene objects (their planned particles), not dicts"
        )
    terms: list[tuple[str, dict[str, Any]]] = []
    for s in scenes:
        parts = s.particles
        vbox = float(s.grid.volume)
        for ci, comp in enumerate(comps):
            cls = shape_class(comp["shape"])
            model = cls.sasmodels_model()
            params = parts.parameters[ci]
            vol = np.asarray(parts.volume)[np.asarray(parts.component) == ci]
            names = sorted(params)
            table = np.stack([np.asarray(params[k], dtype=float) for k in names], axis=1)
            # identical size tuples share one evaluation
            uniq, inv = np.unique(table, axis=0, return_inverse=True)
            wsum = np.bincount(inv.ravel(), vol, uniq.shape[0])
            for row, w in zip(uniq, wsum, strict=True):
                shape = cls.from_parameters(dict(zip(names, row.tolist(), strict=True)))
                p: dict[str, Any] = shape.sasmodels_params(solvent)
                p["scale"] = float(w) / vbox * k2 / len(scenes)
                terms.append((model, p))

    def func(q: np.ndarray) -> np.ndarray:
        out = np.zeros(np.shape(q))
        for model, p in terms:
            out += sm.evaluate(model, q, p)
        return out

    return func


def compare_scene(
    ds: xr.Dataset,
    scene: Any = None,
    *,
    sizes: str = "nominal",
    pd_n: int = sm.DEFAULT_PD_N,
    **kw: Any,
) -> Comparison:
    """Compare ``ds`` with the sasmodels description of ``scene`` on absolute scale.

    ``scene``: the Scene that made the volume, its ``to_dict()``, a list of
    realizations, or None to read it from ``ds.attrs["source"]``. Keyword
    arguments go to :func:`compare_sasmodels` (``fit_scale``, ``q_range``,
    ``qd_max``, ...). The result's ``attrs`` carry the mapping's notes.
    """
    model, pars, info = scene_to_sasmodels(scene, ds, sizes=sizes, pd_n=pd_n)
    if "func" in info:
        cmp = compare_model(
            ds,
            info["func"],
            label=f"{model} (realized sizes)",
            pars={"scale": 1.0, "background": 0.0},
            **kw,
        )
    else:
        from .core import compare_sasmodels

        cmp = compare_sasmodels(ds, model, **kw, **pars)
    cmp.attrs.update(
        {
            "scene_notes": info["notes"],
            "n_particles": info["n_particles"],
            "volume_fraction": info["volume_fraction"],
            "sizes": sizes,
        }
    )
    return cmp


__all__ = ["compare_scene", "scene_to_sasmodels"]
