"""Validation curves from hifft's own pipeline: Scene → volume → 3D FFT → ``hifft.saxs``.

One scene per curve: a periodic box (``grid_shape``³ voxels of ``spacing``
Å) filled with one class's particles, parameters drawn from
``fft_subset.shapes`` (narrower than the training priors: particles must be
resolved by the voxels and fit many times in the box), Gaussian size
polydispersity, uniform orientations; random placement at
``volume_fraction`` for the dilute classes, hard (non-overlapping)
placement at the drawn volume fraction for ``sphere@hardsphere``.

``hifft.saxs`` gives I(q) in 1/cm on its own log bins over the box's valid
range (2π/L … π/d). ``realizations`` independent scenes are averaged (a box
holds few particles: one realization has speckle at low q that a
macroscopic sample does not). That curve is taken as the true intensity: rescaled to
a ``scale`` drawn from the dataset's nuisance prior (I·scale/φ; the FFT's
absolute scale is φ·P·S), a flat background added, put onto the dataset q
grid (inverse-variance rebinning, log-log interpolation where the FFT bins
are sparser) and passed through the same noise model as the training
curves. The FFT curve's own error (``sigma``: shell standard error) is
added to σ in quadrature. Dataset q points outside the box's valid range are
masked (``mask`` false, I and σ NaN); the network was trained with random
q-range truncation for this.

Labels are the scene's requested parameters (the nominal sizes and
polydispersities, the requested hard-sphere volume fraction). Resumable:
one Manifest task per scene, each scene seeded from (seed, index).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .._version import __version__
from ..grid import Grid
from ..reduce import saxs
from ..runner import Outcome, Runner, client_context, resumable
from ..volume import Scene
from ..volume import shapes as volume_shapes
from . import shapes as S
from .config import DatasetConfig, FFTSubsetConfig
from .dataset import GROUP, TEMPLATE, to_xarray, write_template
from .inference import regrid
from .noise import add_noise

FORMAT = "hifft.ml.curves/1"


def _derived_config(fcfg: FFTSubsetConfig, dcfg: DatasetConfig) -> DatasetConfig:
    n = fcfg.n_per_class * len(dcfg.classes)
    return dcfg.model_copy(
        update={
            "n_samples": n,
            "chunk_size": 1,
            "seed": fcfg.seed,
            "shapes": fcfg.shapes,
            "split": dcfg.split.model_copy(update={"train": 0.0, "val": 0.0, "test": 1.0}),
        }
    )


def scene_for(model: str, label: dict[str, float], fcfg: FFTSubsetConfig, seed: int) -> Any:
    """The hifft Scene of one labelled sample.

    The sample's sasmodels parameters (:func:`hifft.ml.shapes.sasmodels_pars`)
    mapped back onto a hifft shape by the one mapping,
    :func:`hifft.volume.shapes.shape_from_model`; each ``*_pd > 0`` becomes
    that size's polydispersity.
    """
    if model not in S.PARAMS:
        raise ValueError(f"unknown class {model!r}")
    pars = S.sasmodels_pars(model, label, fcfg.shapes, scale=1.0, background=0.0)
    shape = volume_shapes.shape_from_model(model, pars)
    pd = {k[: -len("_pd")]: float(v) for k, v in pars.items() if k.endswith("_pd") and v > 0}
    grid = Grid(shape=fcfg.grid_shape, spacing=fcfg.spacing)
    scene = Scene(grid, sld_solvent=pars["sld_solvent"], seed=seed)
    if model == "sphere@hardsphere":
        scene.add(
            shape,
            volume_fraction=float(label["volfraction"]),
            polydispersity=pd or None,
            placement="hard",
        )
    else:
        scene.add(
            shape,
            volume_fraction=fcfg.volume_fraction,
            polydispersity=pd or None,
            orientation="uniform",
            placement="random",
        )
    return scene


def fft_curve(scene: Any, fcfg: FFTSubsetConfig, client: Any = None) -> Any:
    """``saxs`` of the scene's lazy volume (rasterized slab by slab, nothing on disk)."""
    return saxs(scene.to_volume(), bins=fcfg.bins, client=client, progress=False)


def on_grid(fft: Any, q: np.ndarray, factor: float = 1.0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """An FFT curve (``hifft.saxs`` output) times ``factor`` on the grid ``q``: (I, σ, mask)."""
    qf = fft["q"].values
    i_f = fft["I"].values * factor
    s_f = fft["sigma"].values * factor
    ok = np.isfinite(i_f) & np.isfinite(s_f) & (s_f > 0) & (i_f > 0)
    return regrid(qf[ok], i_f[ok], s_f[ok], q)


def average_realizations(
    curves: list[tuple[np.ndarray, np.ndarray, np.ndarray]],
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mean of curves on one grid; σ of the mean; a point is kept where every curve has it."""
    i = np.array([c[0] for c in curves])
    s = np.array([c[1] for c in curves])
    m = np.all([c[2] for c in curves], axis=0)
    n = len(curves)
    return np.where(m, i.mean(0), np.nan), np.where(m, np.sqrt((s**2).sum(0)) / n, np.nan), m


def curve_arrays(
    model: str,
    label: dict[str, float],
    fft: tuple[np.ndarray, np.ndarray, np.ndarray],
    phi: float,
    dcfg: DatasetConfig,
    rng: np.random.Generator,
) -> dict[str, Any]:
    """One sample's arrays (same variables as the sasmodels dataset) from an FFT curve
    already on the dataset grid (absolute scale: φ·P·S)."""
    q = dcfg.q.values()
    scale = float(dcfg.nuisance.scale.sample(rng, 1)[0])
    bg = float(dcfg.nuisance.background.sample(rng, 1)[0])
    expo = float(dcfg.noise.exposure.sample(rng, 1)[0])
    f = scale / phi
    i_g, s_g, m = fft[0] * f, fft[1] * f, fft[2]
    i_true = np.where(m, i_g + bg, np.nan)
    i_obs = np.full(q.size, np.nan)
    sig = np.full(q.size, np.nan)
    if m.any():
        i_obs[m], sig[m] = add_noise(np.maximum(i_true[m], 0.0), q[m], dcfg.noise, expo, rng)
        sig[m] = np.hypot(sig[m], s_g[m])
    row = dict.fromkeys(S.ALL_PARAMS, np.nan)
    row.update(label)
    return {
        "label": row,
        "scale": scale,
        "background": bg,
        "exposure": expo,
        "I": i_obs,
        "sigma": sig,
        "I_true": i_true,
        "mask": m,
    }


def _labels(fcfg: FFTSubsetConfig, dcfg: DatasetConfig) -> list[tuple[str, dict[str, float]]]:
    rng = np.random.default_rng([fcfg.seed, 0])
    out = []
    for c in dcfg.classes:
        draws = S.sample_params(c, fcfg.shapes, rng, fcfg.n_per_class)
        out += [(c, {p: float(draws[p][j]) for p in S.PARAMS[c]}) for j in range(fcfg.n_per_class)]
    return out


@dataclass(frozen=True)
class SceneTask:
    """One sample of the FFT subset: row ``index`` of the store, its class and requested parameters."""

    index: int
    model: str
    label: tuple[tuple[str, float], ...]

    @property
    def name(self) -> str:
        return f"scene-{self.index:05d}"

    @property
    def params(self) -> dict[str, float]:
        return dict(self.label)


@dataclass(frozen=True)
class SceneJob:
    """What every scene task shares: the two configs, the store, the client the FFTs run on, a log."""

    fcfg: FFTSubsetConfig
    dcfg: DatasetConfig
    store: str
    n_tasks: int
    client: Any = None
    log: Callable[[str], None] = print


def write_scene(task: SceneTask, job: SceneJob) -> Outcome:
    """Runner task: ``realizations`` scenes → FFT curves → one noisy sample written to its row."""
    fcfg, dcfg = job.fcfg, job.dcfg
    model, label, k = task.model, task.params, task.index
    q = dcfg.q.values()
    t0 = time.perf_counter()
    curves, phis = [], []
    for r in range(fcfg.realizations):
        seed = int(np.random.default_rng([fcfg.seed, 1, k, r]).integers(2**62))
        scene = scene_for(model, label, fcfg, seed)
        fft = fft_curve(scene, fcfg, client=job.client)
        phi = float(scene.particles.summary[0]["volume_fraction"])  # achieved, not requested
        # every realization normalized to φ = 1 before averaging
        curves.append(on_grid(fft, q, 1.0 / phi))
        phis.append(phi)
        q_valid = [float(fft["q"].min()), float(fft["q"].max())]
    arr = curve_arrays(model, label, average_realizations(curves), 1.0, dcfg, np.random.default_rng([fcfg.seed, 2, k]))
    row = {p: np.array([arr["label"][p]]) for p in S.ALL_PARAMS}
    row.update(
        shape=np.array([S.class_index(model)], dtype=np.int8),
        split=np.array([2], dtype=np.int8),
        scale=np.array([arr["scale"]]),
        background=np.array([arr["background"]]),
        exposure=np.array([arr["exposure"]]),
        I=arr["I"][None].astype(np.float32),
        sigma=arr["sigma"][None].astype(np.float32),
        I_true=arr["I_true"][None].astype(np.float32),
        mask=arr["mask"][None],
        sample=np.array([k], dtype=np.int64),
    )
    ds = to_xarray(row, q).drop_vars("q")
    ds.to_zarr(job.store, group=GROUP, region={"sample": slice(k, k + 1)}, consolidated=False)
    dt = time.perf_counter() - t0
    job.log(f"scene {k + 1}/{job.n_tasks} {model} {label} φ={np.mean(phis):.3g}: {dt:.1f} s")
    return Outcome(info={"class": model, "label": label, "phi": phis, "seconds": dt, "q_valid": q_valid})


def make_fft_subset(
    fcfg: FFTSubsetConfig,
    dcfg: DatasetConfig,
    out: str | os.PathLike[str],
    client: Any = None,
    overwrite: bool = False,
    progress: bool | None = None,
    log: Callable[[str], None] = print,
    max_tasks: int | None = None,
) -> Path:
    """Make (or resume) the FFT-pipeline validation store at ``out``.

    The scenes run one after another in this process; each one's FFT runs on
    ``client`` (None: in this process; ``"local"``: a LocalCluster; an address
    or a ``distributed.Client``). ``progress`` shows the bar (None: when
    stderr is a terminal); ``log`` gets one line per scene. ``max_tasks``
    stops after that many new scenes (to test resuming).
    """
    path = Path(out)
    cfg = _derived_config(fcfg, dcfg)
    spec = {
        "format": FORMAT,
        "source": "hifft-fft",
        "fft_subset": fcfg.model_dump(mode="json", by_alias=True),
        "dataset": cfg.model_dump(mode="json", by_alias=True),
        "hifft": __version__,
    }
    tasks = [SceneTask(k, c, tuple(lab.items())) for k, (c, lab) in enumerate(_labels(fcfg, dcfg))]
    names = [t.name for t in tasks]
    with resumable(path, spec, overwrite=overwrite) as (man, resumed):
        if resumed and man.complete:
            return path
        if not man.is_done(TEMPLATE):
            write_template(cfg, path, "hifft-fft", {"fft_subset": fcfg.model_dump_json(by_alias=True)})
            man.mark_done(TEMPLATE)
        if max_tasks is not None:
            done = man.done()
            tasks = [t for t in tasks if t.name in done] + [t for t in tasks if t.name not in done][:max_tasks]
        with client_context(client) as c:
            job = SceneJob(fcfg, dcfg, str(path), len(names), c, log)
            # scenes in this process: each task's FFT already spreads over the client
            Runner(None, progress=progress).map(
                write_scene, tasks, desc="FFT scenes", manifest=man, shared=job, unit="scenes"
            )
        if not man.pending([*names, TEMPLATE]):
            man.mark_complete([*names, TEMPLATE], {"n_samples": len(names), "source": "hifft-fft"})
    return path
