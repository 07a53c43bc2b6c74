"""Labelled GISAXS images as a resumable batch job (:mod:`hifft.runner`) writing Zarr.

Layout of ``OUT.zarr`` (a directory), in the style of the 1D dataset (:mod:`hifft.ml.dataset`):

- ``data/``: a Zarr v3 group (``xr.open_zarr(OUT, group="data", consolidated=False)``
  or :func:`open_dataset`). Dimensions ``sample``, ``alpha_f``, ``two_theta_f``
  (degrees); variables ``I`` (clean intensity per unit area, 1/sr, float32),
  ``counts`` (Poisson photon counts at ``flux`` with detector conventions: gaps −1,
  dead pixels −2, beam stops and horizon 0; float32), labels ``radius`` and
  ``distance`` (Å), ``sigma_r`` and ``omega_d`` (relative), ``density`` (1/Å²),
  ``coverage`` (π R² n_s), ``flux``, ``route`` (int8: 0 analytic, 1 voxel),
  ``split`` (int8: 0 train, 1 val, 2 test); coordinates ``q_y``/``q_z`` (1/Å) on
  the pixel grid.
- ``hifft/``: the :class:`hifft.store.Manifest` (job fingerprint, one marker per
  finished chunk, ``complete``).

Chunk ``k`` holds samples ``[k·chunk_size, (k+1)·chunk_size)`` made from
``default_rng([seed, k])`` alone, so a rerun rewrites the same bytes and a killed
job resumes at its unfinished chunks. Most images use the analytic fast path
(form factors + radial paracrystal, the same DWBA terms); a ``voxel.fraction``
of them places the islands explicitly on a 2D paracrystal, voxelizes them and
uses the voxel route, to check image models for domain shift.
"""

from __future__ import annotations

import json
import math
import os
import time
from pathlib import Path
from typing import Any

import numpy as np

from .._version import __version__
from ..runner import Outcome
from ..sampleset import (
    GROUP,
    TEMPLATE,
    ChunkTask,
    open_dataset_store,
    run_dataset_job,
    write_region,
    write_template_store,
)
from ..sampleset import chunk_bounds as _bounds
from ..store import Manifest
from .config import GisaxsConfig
from .detector import apply_conventions, beam_stops, bin_down, dead_pixels, horizon, module_gaps, poisson_counts
from .detector import expected_counts as _counts
from .dwba import Sample, contrast
from .layer import voxelize
from .simulate import Islands, islands_image, layer_image
from .structure import place

FORMAT = "hifft.gisaxs.images/1"
LABELS = ("radius", "sigma_r", "distance", "omega_d", "density", "coverage", "flux")


def job_spec(cfg: GisaxsConfig) -> dict[str, Any]:
    return {"format": FORMAT, "config": cfg.model_dump(mode="json")}


def chunk_bounds(cfg: GisaxsConfig, k: int) -> tuple[int, int]:
    """Samples ``[i0, i1)`` of chunk ``k``."""
    return _bounds(cfg.dataset.n_samples, cfg.dataset.chunk_size, k)


def draw_labels(cfg: GisaxsConfig, rng: np.random.Generator, n: int) -> dict[str, np.ndarray]:
    """Island parameters of ``n`` images (redrawing those with 2R ≥ D when ``require_gap``)."""
    isl = cfg.islands
    out = {k: np.empty(n) for k in ("radius", "sigma_r", "distance", "omega_d")}
    for i in range(n):
        for _ in range(1000):
            r, d = isl.radius.sample(rng, 1)[0], isl.distance.sample(rng, 1)[0]
            if not isl.require_gap or 2 * r < d:
                break
        else:
            raise ValueError("islands: no draw satisfies 2·radius < distance; widen the ranges or set "
                             "require_gap: false")
        out["radius"][i], out["distance"][i] = r, d
        out["sigma_r"][i] = isl.sigma_r.sample(rng, 1)[0]
        out["omega_d"][i] = isl.omega_d.sample(rng, 1)[0]
    fl = cfg.dataset.noise.flux
    out["flux"] = np.exp(rng.uniform(math.log(fl.low), math.log(fl.high), size=n))
    return out


def islands_from_labels(cfg: GisaxsConfig, lab: dict[str, np.ndarray], i: int) -> Islands:
    """The islands of sample ``i`` from its labels (R, σ/R, D in Å, ω/D) and the job's island shape."""
    isl = cfg.islands
    return Islands(radius=float(lab["radius"][i]), sigma_r=float(lab["sigma_r"][i]),
                   distance=float(lab["distance"][i]), omega_d=float(lab["omega_d"][i]), shape=isl.shape,
                   aspect=isl.aspect)


def _voxel_image(cfg: GisaxsConfig, isl: Islands, geometry: Any, sample: Sample, rho_c: complex,
                 rng: np.random.Generator) -> np.ndarray:
    """One image by the voxel route: islands on a 2D paracrystal with Gaussian radii, voxelized."""
    vc = cfg.dataset.voxel
    pos = place("paracrystal_2d", vc.box, rng, distance=isl.distance, omega=isl.omega_d * isl.distance)
    pos = pos % vc.box
    base = isl.make_shape()
    scale = np.clip(1 + isl.sigma_r * rng.standard_normal(len(pos)), 0.05, None)
    shapes = [base.scaled(float(s)) for s in scale]
    nz = max(2, math.ceil(max(s.height for s in shapes) / vc.spacing) + 1)
    n = max(8, round(vc.box / vc.spacing))
    # the voxel contrast is |Δρ| (the phase of a uniform complex contrast drops out of |A|²)
    rho = voxelize(shapes, pos, (nz, n, n), vc.spacing, contrast=abs(rho_c))
    return layer_image(rho, geometry, sample, spacing=vc.spacing, pad=vc.pad,
                       approximation=cfg.dataset.approximation, threads=1)


def sample_and_contrast(cfg: GisaxsConfig) -> tuple[Sample, complex]:
    """The job's substrate/ambient media and the islands' SLD contrast at its wavelength."""
    wl = cfg.geometry(1).beam.wavelength
    sample = Sample.create(wl, cfg.sample.substrate, cfg.sample.ambient, cfg.sample.roughness)
    return sample, contrast(cfg.sample.particle, sample, wl)


def generate_arrays(cfg: GisaxsConfig, k: int) -> dict[str, np.ndarray]:
    """All variables of chunk ``k`` as numpy arrays (deterministic in (seed, k))."""
    d = cfg.dataset
    i0, i1 = chunk_bounds(cfg, k)
    n = i1 - i0
    rng = np.random.default_rng([d.seed, k])
    lab = draw_labels(cfg, rng, n)
    u = rng.uniform(size=n)
    split = d.split.codes(u)
    route = (rng.uniform(size=n) < d.voxel.fraction).astype(np.int8)
    ss = cfg.detector.supersample
    geo_fine = cfg.geometry(ss)
    geo = cfg.geometry(1)
    sample, rho_c = sample_and_contrast(cfg)
    shape = geo.detector.shape
    img = np.empty((n, *shape), dtype=np.float32)
    cnt = np.empty((n, *shape), dtype=np.float32)
    gaps = module_gaps(shape, cfg.dataset.noise.module, cfg.dataset.noise.gap, cfg.dataset.noise.gap_offset)
    stops = beam_stops(geo, cfg.dataset.noise.beam_stop_radius)
    shadow = horizon(geo)
    dens = np.empty(n)
    for j in range(n):
        isl = islands_from_labels(cfg, lab, j)
        dens[j] = isl.areal_density()
        if route[j]:
            fine = _voxel_image(cfg, isl, geo_fine, sample, rho_c, rng)
        else:
            fine = islands_image(isl, geo_fine, sample, rho_c, approximation=d.approximation,
                                 ensemble=cfg.islands.ensemble, nodes=cfg.islands.nodes)
        im = bin_down(fine, ss) if ss > 1 else fine
        img[j] = im
        mean = _counts(im, geo, float(lab["flux"][j]))
        dead = dead_pixels(shape, d.noise.dead_fraction, rng)
        cnt[j] = apply_conventions(poisson_counts(mean, rng), gaps=gaps, dead=dead, stops=stops, shadow=shadow)
    lab["density"] = dens
    lab["coverage"] = math.pi * lab["radius"] ** 2 * dens
    return {**lab, "split": split, "route": route, "I": img, "counts": cnt,
            "sample": np.arange(i0, i1, dtype=np.int64)}


def to_xarray(arrays: dict[str, Any], cfg: GisaxsConfig, attrs: dict[str, Any] | None = None):
    """An xarray Dataset of images from the arrays of :func:`generate_arrays` (or lazy templates)."""
    import xarray as xr

    from ..units import ATTR

    geo = cfg.geometry(1)
    det = geo.detector
    if det.alpha_axis is None or det.two_theta_axis is None:
        raise ValueError("gisaxs dataset: the detector must be an angular grid (alpha_f × 2θ_f axes)")
    dims = ("sample", "alpha_f", "two_theta_f")
    data_vars = {name: (dims if np.ndim(v) == 3 else ("sample",), v) for name, v in arrays.items()
                 if name != "sample"}
    ds = xr.Dataset(data_vars, coords={
        "sample": arrays["sample"],
        "alpha_f": ("alpha_f", np.degrees(det.alpha_axis)),
        "two_theta_f": ("two_theta_f", np.degrees(det.two_theta_axis)),
        "q_y": (("alpha_f", "two_theta_f"), geo.q_y),
        "q_z": (("alpha_f", "two_theta_f"), geo.q_z),
    })
    ds["alpha_f"].attrs["units"] = ds["two_theta_f"].attrs["units"] = "degree"
    ds["q_y"].attrs["units"] = ds["q_z"].attrs["units"] = ATTR["q"]
    ds["I"].attrs["units"] = "1/sr"
    ds["counts"].attrs["description"] = "Poisson counts; -1 gap, -2 dead pixel, 0 beam stop/horizon"
    for v in ("radius", "distance"):
        ds[v].attrs["units"] = ATTR["length"]
    ds["density"].attrs["units"] = "1/angstrom**2"
    ds["route"].attrs["description"] = "0 analytic fast path, 1 voxel route"
    ds["split"].attrs["description"] = "0 train, 1 val, 2 test"
    ds.attrs.update(attrs or {})
    return ds


def _attrs(cfg: GisaxsConfig) -> dict[str, Any]:
    return {"format": FORMAT, "config": json.dumps(cfg.model_dump(mode="json")), "hifft_version": __version__,
            "geometry": json.dumps(cfg.geometry(1).to_dict())}


def write_chunk(task: ChunkTask, cfg: GisaxsConfig) -> Outcome:
    """Runner task: make chunk ``task.index`` and write its region (the runner then marks it done)."""
    t0 = time.perf_counter()
    i0, i1 = chunk_bounds(cfg, task.index)
    arrays = generate_arrays(cfg, task.index)
    ds = to_xarray(arrays, cfg).drop_vars(["alpha_f", "two_theta_f", "q_y", "q_z"])
    ds.attrs = {}
    write_region(ds, task.store, i0, i1)
    return Outcome(info={"samples": [i0, i1], "seconds": time.perf_counter() - t0,
                         "voxel": int(arrays["route"].sum())}, value=i1 - i0)


def write_template(cfg: GisaxsConfig, path: str | os.PathLike[str]) -> None:
    """Write the group's metadata (lazy arrays that are never computed; chunks come per task)."""
    import dask.array as da

    d = cfg.dataset
    n, c = d.n_samples, d.chunk_size
    rows, cols = cfg.detector.shape
    arrays: dict[str, Any] = {k: da.zeros(n, chunks=c) for k in LABELS}
    arrays["split"] = da.zeros(n, chunks=c, dtype=np.int8)
    arrays["route"] = da.zeros(n, chunks=c, dtype=np.int8)
    for v in ("I", "counts"):
        arrays[v] = da.zeros((n, rows, cols), chunks=(1, rows, cols), dtype=np.float32)
    arrays["sample"] = np.arange(n, dtype=np.int64)
    ds = to_xarray(arrays, cfg, _attrs(cfg)).chunk({"sample": c})
    enc = {v: {"chunks": (1, rows, cols)} for v in ("I", "counts")}
    write_template_store(ds, path, enc)


def estimate_bytes(cfg: GisaxsConfig) -> int:
    """Upper bound of the uncompressed size on disk."""
    rows, cols = cfg.detector.shape
    return int(cfg.dataset.n_samples * (2 * 4 * rows * cols + 8 * (len(LABELS) + 2)) * 1.05) + (1 << 20)


def make_dataset(cfg: GisaxsConfig, out: str | os.PathLike[str], client: Any = None, overwrite: bool = False,
                 progress: bool | None = None, max_chunks: int | None = None) -> Path:
    """Run (or resume) the GISAXS dataset job; return the store path.

    ``client`` as everywhere (None: this process; "local"; an address or a Client).
    ``max_chunks`` stops after that many new chunks (to test resuming).
    """
    def summarize(man: Manifest, names: list[str]) -> dict[str, Any]:
        return {"n_samples": cfg.dataset.n_samples, "voxel_images": sum(man.info(t)["voxel"] for t in names),
                "task_seconds": sum(man.info(t)["seconds"] for t in names)}

    return run_dataset_job(
        out, job_spec(cfg), n_chunks=cfg.dataset.n_chunks, write_template=lambda p: write_template(cfg, p),
        write_chunk=write_chunk, cfg=cfg, summarize=summarize, what="GISAXS dataset",
        estimate_bytes=estimate_bytes(cfg), client=client, overwrite=overwrite, progress=progress,
        max_chunks=max_chunks,
    )


def open_dataset(path: str | os.PathLike[str], allow_incomplete: bool = False):
    """The images of a dataset store (lazy) as an xarray Dataset; refuses an unfinished store."""
    return open_dataset_store(path, what="GISAXS dataset", command="`hifft gisaxs dataset`",
                              allow_incomplete=allow_incomplete)


__all__ = ["GROUP", "TEMPLATE", "ChunkTask", "LABELS", "chunk_bounds", "draw_labels", "generate_arrays",
           "islands_from_labels", "make_dataset", "sample_and_contrast",
           "open_dataset", "to_xarray", "write_chunk", "write_template"]
