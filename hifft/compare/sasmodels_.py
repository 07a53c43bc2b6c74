"""The one adapter over sasmodels' public API (load_model_info, build_model, call_kernel).

Every sasmodels curve in hifft comes from :func:`evaluate`: the comparison
(:mod:`hifft.compare`) and the ML datasets (:mod:`hifft.ml.shapes`) alike.
Units are those of sasmodels and of hifft alike (q 1/Å, lengths Å, SLD
1e-6/Å², I 1/cm): nothing is converted here.

Kernels run as sasmodels' compiled C on the CPU (platform ``"dll"``), in
double precision unless ``precision="single"`` is asked for: the same
numbers on every machine, with or without OpenCL. Models are built once per
(name, precision) and process; kernels once per (model, precision, q grid),
in a bounded least-recently-used cache (:data:`KERNEL_CACHE_SIZE`) behind a
lock, and each cached kernel is called under its own lock (a kernel keeps
its result buffer between calls, so it must not run twice at once).

The traps this module closes:

* sasmodels' defaults for SLDs differ per model (``sld_solvent`` is 6 for
  ``sphere``, 1 for ``cylinder``; ``sld`` is 4 for ``ellipsoid``), so every
  SLD-type parameter must be passed explicitly (:func:`check_pars`).
* ``call_kernel`` silently ignores parameter names it does not know (a
  misspelt ``radius_pd``): :func:`evaluate` refuses them, naming them.
* ``call_kernel`` ignores ``radius_pd`` unless ``radius_pd_n`` is also given
  (its default is 0 points): :func:`evaluate` and :func:`check_pars` fill in
  ``pd_n`` points (default :data:`DEFAULT_PD_N`).
* sasmodels' default ``background`` is 0.001 1/cm; :func:`evaluate` uses 0
  unless one is given.
* In a product model ``P@S`` the intensity is ``scale·volfraction·P·S``
  (sasmodels/product.py), so its absolute scale is ``scale = 1`` with
  ``volfraction = φ``, not ``scale = φ`` as for a bare form factor
  (:func:`absolute_scale_pars`).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np

#: Suffixes sasmodels accepts on a polydisperse parameter.
PD_SUFFIXES = ("_pd", "_pd_n", "_pd_nsigma", "_pd_type")
PD_TYPES = ("gaussian", "rectangle", "uniform", "lognormal", "schulz", "boltzmann")
#: Points of a size distribution when ``*_pd_n`` is not given. sasmodels'
#: call_kernel treats a missing ``*_pd_n`` as 0, i.e. *monodisperse*, without
#: a word; SasView's GUI default is 35, too coarse for a wide Schulz
#: distribution (±8σ) at q·R ≈ 10, hence 81. Bulk callers that trade accuracy
#: for speed (the ML datasets) pass their own ``pd_n`` or ``*_pd_n``.
DEFAULT_PD_N = 81
#: Kernel precisions: sasmodels' float32 ("single") or float64 ("double") C kernels.
PRECISIONS = ("single", "double")
#: sasmodels platform: compiled C on the CPU (no OpenCL/CUDA, whatever is installed).
PLATFORM = "dll"
#: Kernels kept per process (one per model, precision and q grid), least recently used dropped.
KERNEL_CACHE_SIZE = 64
#: q grids longer than this get a kernel of their own, released after the call (a kernel holds
#: buffers the size of its grid; caching them for 2D images would hold memory for nothing).
KERNEL_CACHE_MAX_POINTS = 65_536
# Reentrant: building a kernel loads its model under the same lock.
_LOCK = threading.RLock()


def _check_precision(precision: str) -> None:
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {PRECISIONS}, got {precision!r}")


@lru_cache(maxsize=128)
def model_info(name: str) -> Any:
    """sasmodels' ``ModelInfo`` of ``name`` (parameter table, no compilation)."""
    from sasmodels.core import load_model_info

    try:
        return load_model_info(name)
    except Exception as exc:  # sasmodels raises ImportError/ValueError/KeyError variously
        raise ValueError(f"sasmodels has no model {name!r}: {exc}") from exc


@lru_cache(maxsize=64)
def _build(name: str, precision: str) -> Any:
    from sasmodels.core import build_model

    return build_model(model_info(name), dtype=precision, platform=PLATFORM)


def load(name: str, precision: str = "double") -> Any:
    """The sasmodels model ``name`` at ``precision``, built (compiled) once per process."""
    _check_precision(precision)
    with _LOCK:  # one thread compiles; the others wait for it
        return _build(name, precision)


@dataclass(frozen=True)
class _Kernel:
    kernel: Any
    lock: threading.Lock


@lru_cache(maxsize=KERNEL_CACHE_SIZE)
def _cached_kernel(name: str, precision: str, q: bytes) -> _Kernel:
    # called under _LOCK only. Evicted kernels are not release()d: a DLL kernel holds numpy
    # buffers only (sasmodels' DllKernel.release does nothing), freed with the object.
    grid = np.frombuffer(q, dtype=np.float64).copy()
    return _Kernel(load(name, precision).make_kernel([grid]), threading.Lock())


def kernel_cache_info() -> Any:
    """Hits, misses, size and bound of the kernel cache (``functools`` ``CacheInfo``)."""
    return _cached_kernel.cache_info()


def _call(name: str, q: np.ndarray, pars: dict[str, Any], precision: str) -> np.ndarray:
    """call_kernel on a cached kernel for the grid ``q`` (flat float64), under that kernel's lock."""
    from sasmodels.direct_model import call_kernel

    if q.size <= KERNEL_CACHE_MAX_POINTS:
        with _LOCK:
            k = _cached_kernel(name, precision, q.tobytes())
        with k.lock:
            return np.asarray(call_kernel(k.kernel, pars), dtype=np.float64)
    with _LOCK:
        kernel = load(name, precision).make_kernel([q])
    try:
        return np.asarray(call_kernel(kernel, pars), dtype=np.float64)
    finally:
        kernel.release()


def parameter_table(name: str) -> dict[str, Any]:
    """``{name: Parameter}`` for the call parameters of ``name`` (scale, background included)."""
    info = model_info(name)
    out = {p.name: p for p in info.parameters.common_parameters}
    out.update({p.name: p for p in info.parameters.call_parameters})
    return out


def is_product(name: str) -> bool:
    """True for a ``P@S`` product model."""
    return "@" in name


@lru_cache(maxsize=128)
def known_keys(name: str) -> frozenset[str]:
    """Every key sasmodels accepts for ``name``: parameters and their pd suffixes."""
    table = parameter_table(name)
    keys = set(table)
    for p in table.values():
        if getattr(p, "polydisperse", False):
            keys.update(p.name + s for s in PD_SUFFIXES)
    return frozenset(keys)


def _check_names(name: str, pars: dict[str, Any]) -> None:
    keys = known_keys(name)
    unknown = sorted(set(pars) - keys)
    if unknown:
        close = sorted(k for k in keys if not any(k.startswith(m) for m in ("up_", "sld_M", "sld_m")))
        raise ValueError(f"model {name!r}: unknown parameter(s) {unknown}; accepted: {close}")


def _fill_pd_n(pars: dict[str, Any], pd_n: int) -> None:
    """Give every polydisperse ``*_pd > 0`` without ``*_pd_n`` ``pd_n`` points (in place)."""
    for k in list(pars):
        if k.endswith("_pd") and float(pars[k]) > 0 and k + "_n" not in pars:
            pars[k + "_n"] = float(pd_n)


def sld_names(name: str) -> list[str]:
    """Non-magnetic SLD parameters of ``name`` (those with per-model defaults)."""
    return [p.name for p in parameter_table(name).values() if p.type == "sld"]


def check_pars(name: str, pars: dict[str, Any], pd_n: int = DEFAULT_PD_N) -> dict[str, Any]:
    """Validate ``pars`` for model ``name``; return a float/str-typed copy.

    Unknown keys are an error naming them (a misspelt ``radius_pd`` would
    otherwise be silently ignored). SLD parameters must be given because
    sasmodels' defaults for them vary between models. A polydisperse
    parameter without ``*_pd_n`` gets ``pd_n`` points.
    """
    _check_names(name, pars)
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
    _fill_pd_n(out, pd_n)
    return out


def defaults(name: str) -> dict[str, Any]:
    """sasmodels' default value of every (non-magnetic) parameter of ``name``."""
    return {
        p.name: p.default
        for p in parameter_table(name).values()
        if p.type != "magnetic" and not p.name.startswith("up_")
    }


def evaluate(
    name: str,
    q: np.ndarray,
    pars: dict[str, Any],
    *,
    pd_n: int = DEFAULT_PD_N,
    precision: str = "double",
    dq: np.ndarray | float | None = None,
) -> np.ndarray:
    """I(q) in 1/cm of model ``name`` at the points ``q`` (1/Å), float64.

    ``pars`` uses sasmodels' names, including polydispersity (``radius_pd``,
    ``radius_pd_n``, ``radius_pd_nsigma``, ``radius_pd_type``); a name
    sasmodels does not know is an error. A ``*_pd > 0`` without ``*_pd_n``
    is integrated over ``pd_n`` points. 1D models are orientation-averaged
    by sasmodels itself; orientation parameters are ignored by 1D kernels.
    ``background`` defaults to 0 here (sasmodels' own default is 0.001 1/cm,
    another silent offset). ``precision``: "double" (float64 kernel) or
    "single" (float32 kernel, 1.5-2× faster for orientation-averaged shapes;
    relative difference ~1e-6). ``dq``: the 1-σ pinhole resolution (1/Å) at
    each q (canSAS ``Qdev``): the model is computed on sasmodels' extended
    grid and smeared by :class:`sasmodels.resolution.Pinhole1D` (q sorted).
    """
    _check_precision(precision)
    q = np.asarray(q, dtype=np.float64)
    flat = np.ascontiguousarray(q.ravel())
    if flat.size == 0:
        return np.zeros(q.shape)
    if not np.all(np.isfinite(flat)) or np.any(flat <= 0):
        raise ValueError("evaluate: q must be finite and > 0")
    _check_names(name, pars)
    pars = {"background": 0.0, **pars}
    _fill_pd_n(pars, pd_n)
    if dq is not None:
        width = np.ascontiguousarray(np.broadcast_to(np.asarray(dq, dtype=np.float64), q.shape).ravel())
        if not np.all(np.isfinite(width)) or np.any(width < 0):
            raise ValueError("evaluate: dq must be finite and >= 0")
        if np.any(width > 0):
            if np.any(np.diff(flat) <= 0):
                raise ValueError("evaluate: resolution smearing needs q strictly increasing")
            from sasmodels.resolution import Pinhole1D

            res = Pinhole1D(flat, width)
            q_calc = np.ascontiguousarray(res.q_calc, dtype=np.float64)
            return np.asarray(res.apply(_call(name, q_calc, pars, precision))).reshape(q.shape)
    return _call(name, flat, pars, precision).reshape(q.shape)


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
