"""The physics validation suite behind ``hifft validate``.

For each case: build a scene, rasterize it, transform and reduce it to full
3D shells, compare with sasmodels on absolute scale (:func:`compare_scene`)
and run the Guinier/Porod/invariant checks (:mod:`hifft.compare.analysis`).
Writes a markdown report, JSON and plots (:mod:`hifft.compare.report`).

Dilute cases (φ ≤ 1 %) use ``placement="random"``: overlapping particles add
(an ideal gas), which is what sasmodels' ``scale = φ`` describes. Hard
spheres at φ = 0.05–0.3 use ``placement="hard"`` (random sequential
addition) against ``sphere@hardsphere`` (Percus–Yevick): both the model and
the RSA structure are approximations of an equilibrium hard-sphere fluid, so
those χ² are reported, not held to the dilute target.
"""

from __future__ import annotations

import datetime as _dt
import platform
import shutil
import tempfile
import time
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import xarray as xr

from .analysis import Analysis, analyse, combine_realizations, validation_edges
from .core import Comparison


# --------------------------------------------------------------------------- cases
@dataclass(frozen=True)
class Case:
    """One validation case: a single-component scene and how it is judged."""

    key: str
    shape: str  # hifft.shapes name ("sphere", "cylinder", ...)
    params: dict[str, float]  # sasmodels-named shape parameters (Å, 1e-6/Å²)
    volume_fraction: float | None = 0.01
    count: int | None = None
    polydispersity: Any = None
    distribution: str = "gaussian"
    orientation: Any = "uniform"
    placement: str = "random"
    sld_solvent: float = 0.0
    kind: str = "dilute"  # "dilute" (held to the target) | "structure" (reported) | "single"
    description: str = ""


def default_cases() -> dict[str, Case]:
    """The catalogue of cases, by key. Sizes keep the smallest feature ≥ 6 voxels at d = 2 Å."""
    c = [
        Case(
            "sphere",
            "sphere",
            {"radius": 20.0, "sld": 1.0},
            description="monodisperse spheres R = 20 Å, φ = 1 %",
        ),
        Case(
            "sphere_pd",
            "sphere",
            {"radius": 20.0, "sld": 1.0},
            polydispersity=0.1,
            distribution="gaussian",
            description="spheres R = 20 Å, 10 % Gaussian polydispersity, φ = 1 %",
        ),
        Case(
            "sphere_schulz",
            "sphere",
            {"radius": 20.0, "sld": 1.0},
            polydispersity=0.15,
            distribution="schulz",
            description="spheres R = 20 Å, 15 % Schulz polydispersity, φ = 1 %",
        ),
        Case(
            "core_shell_sphere",
            "core_shell_sphere",
            {"radius": 16.0, "thickness": 6.0, "sld_core": 0.5, "sld_shell": 2.0},
            sld_solvent=1.0,
            description="core R = 16 Å (Δρ = −0.5), shell 6 Å (Δρ = +1) in solvent 1.0, φ = 1 %",
        ),
        Case(
            "ellipsoid",
            "ellipsoid",
            {"radius_polar": 36.0, "radius_equatorial": 16.0, "sld": 1.0},
            description="prolate spheroids 36 × 16 Å, random orientation, φ = 1 %",
        ),
        Case(
            "cylinder",
            "cylinder",
            {"radius": 14.0, "length": 96.0, "sld": 1.0},
            description="cylinders R = 14 Å, L = 96 Å, random orientation, φ = 1 %",
        ),
        Case(
            "parallelepiped",
            "parallelepiped",
            {"length_a": 24.0, "length_b": 36.0, "length_c": 60.0, "sld": 1.0},
            description="boxes 24 × 36 × 60 Å, random orientation, φ = 1 %",
        ),
        Case(
            "sphere_single",
            "sphere",
            {"radius": 20.0, "sld": 1.0},
            volume_fraction=None,
            count=1,
            kind="single",
            description="one sphere R = 20 Å: no speckle, pins I(0) and the form factor",
        ),
        Case(
            "cylinder_single",
            "cylinder",
            {"radius": 14.0, "length": 96.0, "sld": 1.0},
            volume_fraction=None,
            count=1,
            kind="single",
            description="one cylinder: its shell average is the orientation average, no speckle",
        ),
    ]
    c.extend(
        Case(
            f"hardsphere_{phi:.2f}",
            "sphere",
            {"radius": 20.0, "sld": 1.0},
            volume_fraction=phi,
            placement="hard",
            kind="structure",
            description=f"hard spheres R = 20 Å (RSA) at φ = {phi} vs sphere@hardsphere (PY)",
        )
        for phi in (0.05, 0.1, 0.2, 0.3)
    )
    return {x.key: x for x in c}


DILUTE = ("sphere", "sphere_pd", "core_shell_sphere", "ellipsoid", "cylinder", "parallelepiped")
FULL = (
    *DILUTE,
    "sphere_schulz",
    "sphere_single",
    "cylinder_single",
    "hardsphere_0.05",
    "hardsphere_0.10",
    "hardsphere_0.20",
    "hardsphere_0.30",
)
CI = ("sphere", "sphere_pd", "cylinder", "sphere_single", "hardsphere_0.10")

#: Thresholds by grid size class. "full": the issue's targets (N ≥ 256; the
#: target is stated for N = 512). "ci": N ≤ 128, looser: fewer modes per
#: shell and coarser voxels relative to the particles.
THRESHOLDS = {
    "full": {"chi2": 2.0, "i0": 0.01},
    "ci": {"chi2": 4.0, "i0": 0.05},
}


# --------------------------------------------------------------------------- results
@dataclass
class CaseResult:
    case: Case
    n: int
    spacing: float
    model: str
    pars: dict[str, Any]
    n_particles: int
    volume_fraction: float
    dataset: xr.Dataset
    comparison: Comparison
    full: Comparison
    analysis: Analysis
    timings: dict[str, float]
    thresholds: dict[str, float]
    realizations: int = 1
    notes: list[str] = field(default_factory=list)

    @property
    def verdict(self) -> str:
        a = self.analysis
        if self.case.kind == "structure":
            return "reported (PY/RSA approximate)"
        ok_chi2 = a.chi2 <= self.thresholds["chi2"]
        err, sig = abs(a.i0_error), a.i0_error_sigma
        ok_i0 = err <= self.thresholds["i0"]
        i0_consistent = (not ok_i0) and err <= 2 * sig and sig > self.thresholds["i0"] / 2
        if ok_chi2 and ok_i0:
            return "pass"
        if ok_chi2 and i0_consistent:
            return "pass χ²; I(0) speckle-limited"
        parts = []
        if not ok_chi2:
            parts.append(f"χ² > {self.thresholds['chi2']:g}")
        if not ok_i0 and not i0_consistent:
            parts.append(f"|I(0) err| > {100 * self.thresholds['i0']:g} %")
        return "FAIL: " + ", ".join(parts)

    @property
    def passed(self) -> bool:
        return self.verdict.startswith(("pass", "reported"))

    def to_dict(self) -> dict[str, Any]:
        return {
            "case": dict(self.case.__dict__),
            "n": self.n,
            "spacing": self.spacing,
            "model": self.model,
            "pars": self.pars,
            "n_particles": self.n_particles,
            "volume_fraction": self.volume_fraction,
            "realizations": self.realizations,
            "analysis": self.analysis.to_dict(),
            "rg_corrected": self.analysis.rg_corrected,
            "sv_ratio": self.analysis.sv_ratio,
            "invariant_ratio": self.analysis.invariant_ratio,
            "timings": self.timings,
            "thresholds": self.thresholds,
            "verdict": self.verdict,
            "notes": self.notes,
            "curve": {
                "q": self.dataset["q"].values.tolist(),
                "I": self.dataset["I"].values.tolist(),
                "sigma": self.dataset["sigma"].values.tolist(),
                "I_model": self.full.model.values.tolist(),
            },
        }


# --------------------------------------------------------------------------- running
def build_scene(case: Case, n: int, spacing: float, seed: int):
    """A hifft Scene for ``case`` on an n³ grid of spacing d."""
    from ..grid import Grid
    from ..volume import Scene
    from ..volume.shapes import shape_class

    scene = Scene(Grid(n, spacing), sld_solvent=case.sld_solvent, seed=seed)
    shape = shape_class(case.shape)(**case.params)
    kw: dict[str, Any] = dict(orientation=case.orientation, placement=case.placement)
    if case.count is not None:
        kw["count"] = case.count
    else:
        kw["volume_fraction"] = case.volume_fraction
    if case.polydispersity:
        kw["polydispersity"] = case.polydispersity
        kw["distribution"] = case.distribution
    scene.add(shape, **kw)
    return scene


def case_seed(key: str, seed: int, realization: int) -> int:
    """Seed of one realization: distinct per case (so cases do not share particle positions and
    their low-q speckle is independent), reproducible from ``seed``."""
    return int(seed) * 1_000_003 + zlib.crc32(key.encode()) % 1_000_000 * 1000 + int(realization)


def run_case(
    case: Case,
    n: int,
    spacing: float = 2.0,
    *,
    seed: int = 1,
    realizations: int = 1,
    workdir: str | Path | None = None,
    via_store: bool = False,
    thresholds: dict[str, float] | None = None,
    qd_max: float = 1.0,
    log_step: float = 0.04,
    size_model: str = "realized",
    backend: str = "auto",
    client: Any = None,
    progress: bool = False,
) -> CaseResult:
    """Build, transform, reduce and compare one case at N = ``n``.

    ``via_store``: write each volume to a Zarr store under ``workdir`` with
    :func:`hifft.build_volume` (the out-of-core path) instead of reducing
    the scene's lazy in-memory volume (:meth:`Scene.to_volume`).
    ``size_model``: "realized" compares with sasmodels summed over the sizes
    drawn (the nominal-distribution χ² is reported beside it); "nominal"
    uses sasmodels' polydispersity integral only.
    """
    from ..grid import Grid
    from ..reduce import saxs
    from ..volume import build_volume
    from .scene import scene_to_sasmodels

    t_all = time.perf_counter()
    timings = {"build": 0.0, "fft_reduce": 0.0}
    edges = validation_edges(n, spacing, log_step=log_step)
    tmp = (
        Path(tempfile.mkdtemp(prefix=f"hifft-validate-{case.key}-", dir=workdir))
        if via_store
        else None
    )
    dss, scenes = [], []
    try:
        for r in range(realizations):
            t0 = time.perf_counter()
            scene = build_scene(case, n, spacing, case_seed(case.key, seed, r))
            scene.plan()
            if tmp is not None:
                vol = build_volume(
                    scene, tmp / f"rho_{r}.zarr", client=client, progress=progress
                )
            else:
                vol = scene.to_volume()
            t1 = time.perf_counter()
            ds = saxs(vol, bins=edges, client=client, backend=backend, progress=progress)
            t2 = time.perf_counter()
            timings["build"] += t1 - t0
            timings["fft_reduce"] += t2 - t1
            dss.append(ds)
            scenes.append(scene)
            del vol
            if tmp is not None:
                shutil.rmtree(tmp / f"rho_{r}.zarr", ignore_errors=True)
    finally:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)
    ds = combine_realizations(dss)
    t3 = time.perf_counter()
    model, pars, info = scene_to_sasmodels(scenes, ds, sizes=size_model)
    g = Grid(n, spacing)
    cmp, full, an = analyse(
        ds,
        model,
        pars,
        func=info.get("func"),
        scenes=scenes,
        spacing=spacing,
        box_dq=g.q_min,
        qd_max=qd_max,
    )
    timings["compare"] = time.perf_counter() - t3
    timings["total"] = time.perf_counter() - t_all
    th = thresholds or THRESHOLDS["ci" if n <= 128 else "full"]
    notes = list(an.notes) + list(info.get("notes", []))
    return CaseResult(
        case,
        n,
        spacing,
        model,
        pars,
        int(info["n_particles"]),
        float(info["volume_fraction"]),
        ds,
        cmp,
        full,
        an,
        timings,
        th,
        realizations,
        notes,
    )


def environment_meta() -> dict[str, Any]:
    import sasmodels

    from .._version import __version__

    try:
        import psutil

        mem = f"{psutil.virtual_memory().total / 2**30:.0f} GiB"
    except ImportError:  # pragma: no cover
        mem = "?"
    import os

    return {
        "created": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        "hifft": __version__,
        "sasmodels": sasmodels.__version__,
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, {mem}, {platform.system()}",
    }


def run_suite(
    keys: tuple[str, ...] | list[str],
    grid_sizes: tuple[int, ...] | list[int],
    spacing: float = 2.0,
    *,
    out: str | Path | None = None,
    tag: str = "all",
    seed: int = 1,
    realizations: int = 1,
    workdir: str | Path | None = None,
    via_store: bool = False,
    thresholds: dict[str, float] | None = None,
    qd_max: float = 1.0,
    log_step: float = 0.04,
    size_model: str = "realized",
    backend: str = "auto",
    client: Any = None,
    plots: bool = True,
    command: str = "hifft validate",
    on_result: Any = None,
    discussion: str = "",
) -> tuple[list[CaseResult], Path | None]:
    """Run the cases ``keys`` at each N in ``grid_sizes``; write the report under ``out``."""
    catalogue = default_cases()
    unknown = [k for k in keys if k not in catalogue]
    if unknown:
        raise ValueError(f"validate: unknown case(s) {unknown}; known: {sorted(catalogue)}")
    results: list[CaseResult] = []
    for n in grid_sizes:
        for k in keys:
            res = run_case(
                catalogue[k],
                n,
                spacing,
                seed=seed,
                realizations=realizations,
                workdir=workdir,
                via_store=via_store,
                thresholds=thresholds,
                qd_max=qd_max,
                log_step=log_step,
                size_model=size_model,
                backend=backend,
                client=client,
            )
            results.append(res)
            if on_result is not None:
                on_result(res)
    path = None
    if out is not None:
        from .report import write_report

        meta = environment_meta()
        meta.update(
            {
                "tag": tag,
                "title": f"N = {', '.join(map(str, grid_sizes))}",
                "command": command,
                "qd_max": qd_max,
                "log_step": log_step,
                "realizations": realizations,
                "seed": seed,
                "size_model": size_model,
                "via_store": via_store,
                "backend": results[0].dataset.attrs.get("backend", backend) if results else backend,
                "dtype": results[0].dataset.attrs.get("dtype", "") if results else "",
                "targets": _targets_text(grid_sizes, thresholds),
                "discussion": discussion,
            }
        )
        path = write_report(results, Path(out), meta, plots=plots)
    return results, path


def _targets_text(sizes: Any, thresholds: dict[str, float] | None) -> str:
    parts = []
    for n in sorted(set(sizes)):
        th = thresholds or THRESHOLDS["ci" if n <= 128 else "full"]
        parts.append(
            f"N = {n}: χ²_red ≤ {th['chi2']:g} and |I(q→0) err| ≤ {100 * th['i0']:g} % "
            'for dilute cases ("speckle-limited" where the error is within 2× its statistical '
            "uncertainty and that uncertainty exceeds half the target)"
        )
    parts.append("hard spheres: reported against Percus–Yevick, no threshold")
    return "; ".join(parts) + "."


__all__ = [
    "Case",
    "CaseResult",
    "default_cases",
    "run_case",
    "run_suite",
    "DILUTE",
    "FULL",
    "CI",
    "THRESHOLDS",
    "build_scene",
]
