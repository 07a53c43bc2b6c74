"""Thin adapter over sasmodels' public API (load_model, make_kernel, call_kernel).

Units are those of sasmodels and of hifft alike (q 1/Å, lengths Å, SLD
1e-6/Å², I 1/cm): nothing is converted here.

Two traps this module closes:

* sasmodels' defaults for SLDs differ per model (``sld_solvent`` is 6 for
  ``sphere``, 1 for ``cylinder``; ``sld`` is 4 for ``ellipsoid``), so every
  SLD-type parameter must be passed explicitly (:func:`check_pars`).
* ``call_kernel`` ignores ``radius_pd`` unless ``radius_pd_n`` is also given
  (its default is 0 points): :func:`check_pars` fills in ``DEFAULT_PD_N``.
* sasmodels' default ``background`` is 0.001 1/cm; :func:`evaluate` uses 0
  unless one is given.
* In a product model ``P@S`` the intensity is ``scale·volfraction·P·S``
  (sasmodels/product.py), so its absolute scale is ``scale = 1`` with
  ``volfraction = φ``, not ``scale = φ`` as for a bare form factor
  (:func:`absolute_scale_pars`).
"""

from __future__ import annotations

import threading
from functools import lru_cache
from typing import Any

import numpy as np

#: Suffixes sasmodels accepts on a polydisperse parameter.
PD_SUFFIXES = ("_pd", "_pd_n", "_pd_nsigma", "_pd_type")
PD_TYPES = ("gaussian", "rectangle", "uniform", "lognormal", "schulz", "boltzmann")
#: Points of a size distribution when ``*_pd_n`` is not given. sasmodels'
#: call_kernel treats a missing ``*_pd_n`` as 0, i.e. *monodisperse*, without
#: a word; SasView's GUI default is 35, too coarse for a wide Schulz
#: distribution (±8σ) at q·R ≈ 10, hence 81.
DEFAULT_PD_N = 81
_LOCK = threading.Lock()


@lru_cache(maxsize=64)
def load(name: str):
    """The sasmodels model ``name`` in float64, loaded once per process."""
    from sasmodels.core import load_model

    try:
        return load_model(name, dtype="double")
    except Exception as exc:  # sasmodels raises ImportError/ValueError/KeyError variously
        raise ValueError(f"sasmodels has no model {name!r}: {exc}") from exc


def parameter_table(name: str) -> dict[str, Any]:
    """``{name: Parameter}`` for the call parameters of ``name`` (scale, background included)."""
    info = load(name).info
    out = {p.name: p for p in info.parameters.common_parameters}
    out.update({p.name: p for p in info.parameters.call_parameters})
    return out


def is_product(name: str) -> bool:
    """True for a ``P@S`` product model."""
    return "@" in name


def known_keys(name: str) -> set[str]:
    """Every key sasmodels accepts for ``name``: parameters and their pd suffixes."""
    table = parameter_table(name)
    keys = set(table)
    for p in table.values():
        if getattr(p, "polydisperse", False):
            keys.update(p.name + s for s in PD_SUFFIXES)
    return keys


def sld_names(name: str) -> list[str]:
    """Non-magnetic SLD parameters of ``name`` (those with per-model defaults)."""
    return [p.name for p in parameter_table(name).values() if p.type == "sld"]


def check_pars(name: str, pars: dict[str, Any]) -> dict[str, Any]:
    """Validate ``pars`` for model ``name``; return a float/str-typed copy.

    Unknown keys are an error naming them (a misspelt ``radius_pd`` would
    otherwise be silently ignored). SLD parameters must be given because
    sasmodels' defaults for them vary between models.
    """
    keys = known_keys(name)
    unknown = sorted(set(pars) - keys)
    if unknown:
        close = sorted(
            k for k in keys if not any(k.startswith(m) for m in ("up_", "sld_M", "sld_m"))
        )
        raise ValueError(f"model {name!r}: unknown parameter(s) {unknown}; accepted: {close}")
    missing = [s for s in sld_names(name) if s not in pars]
    if missing:
        raise ValueError(
            f"model {name!r}: pass {missing} explicitly (sasmodels' defaults differ per model; "
            "sld_solvent defaults to 6 for sphere)"
        )
    out: dict[str, Any] = {}
    for k, v in pars.items():
        if k.endswith("_pd_type"):
            if v not in PD_TYPES:
                raise ValueError(f"{k}: distribution {v!r} is not one of {PD_TYPES}")
            out[k] = str(v)
        else:
            try:
                out[k] = float(v)
            except (TypeError, ValueError) as exc:
                raise ValueError(f"{k}: expected a number, got {v!r}") from exc
            if not np.isfinite(out[k]):
                raise ValueError(f"{k}: must be finite, got {v!r}")
    for k in list(out):
        if k.endswith("_pd") and out[k] > 0 and k + "_n" not in out:
            out[k + "_n"] = float(DEFAULT_PD_N)
    return out


def defaults(name: str) -> dict[str, Any]:
    """sasmodels' default value of every (non-magnetic) parameter of ``name``."""
    return {
        p.name: p.default
        for p in parameter_table(name).values()
        if p.type != "magnetic" and not p.name.startswith("up_")
    }


def evaluate(name: str, q: np.ndarray, pars: dict[str, Any]) -> np.ndarray:
    """I(q) in 1/cm of model ``name`` at the points ``q`` (1/Å), float64.

    ``pars`` uses sasmodels' names, including polydispersity (``radius_pd``,
    ``radius_pd_n``, ``radius_pd_nsigma``, ``radius_pd_type``). 1D models
    are orientation-averaged by sasmodels itself; orientation parameters are
    ignored by 1D kernels. ``background`` defaults to 0 here (sasmodels'
    own default is 0.001 1/cm, another silent offset).
    """
    from sasmodels.direct_model import call_kernel

    q = np.asarray(q, dtype=np.float64)
    flat = q.ravel()
    if flat.size == 0:
        return np.zeros(q.shape)
    if not np.all(np.isfinite(flat)) or np.any(flat <= 0):
        raise ValueError("evaluate: q must be finite and > 0")
    model = load(name)
    pars = {"background": 0.0, **pars}
    for k in list(pars):
        if k.endswith("_pd") and float(pars[k]) > 0 and k + "_n" not in pars:
            pars[k + "_n"] = DEFAULT_PD_N
    with _LOCK:  # kernels are not documented thread-safe; evaluation is cheap
        kernel = model.make_kernel([flat])
        try:
            out = np.asarray(call_kernel(kernel, pars), dtype=np.float64)
        finally:
            kernel.release()
    return out.reshape(q.shape)


def absolute_scale_pars(name: str, volume_fraction: float) -> dict[str, float]:
    """Parameters giving absolute scale for a dilute/structured ensemble at ``volume_fraction``.

    Bare form factor: ``scale = φ``. Product ``P@S``: ``scale = 1`` and
    ``volfraction = φ`` (sasmodels multiplies by volfraction itself).
    """
    phi = float(volume_fraction)
    if is_product(name):
        return {"scale": 1.0, "volfraction": phi}
    return {"scale": phi}


def forward_intensity(name: str, pars: dict[str, Any], q0: float = 1e-7) -> float:
    """I(q→0) of the model (evaluated at a tiny q; exact to O((q0·R)²))."""
    return float(evaluate(name, np.array([q0]), pars)[0])
