"""Labelled droplet diffraction images as a resumable batch job writing Zarr (:mod:`hifft.sampleset`).

Layout of ``OUT.zarr`` (a directory), as the other dataset stores:

- ``data/``: a Zarr v3 group (:func:`open_dataset`). Dimensions ``sample``,
  ``row``, ``col``, ``label``. Variables: ``image`` (float32 detector units,
  not log-scaled; the hole and the corners beyond 2θ_max are 0), ``clean``
  (expected photons without nuisances; only with ``dataset.store_clean``),
  ``labels`` (bool, (sample, label) in :data:`~hifft.diffraction.labels.LABELS`
  order), ``family`` (int8 index into ``attrs["families"]``), ``split`` (int8:
  0 train, 1 val, 2 test), and one float64 variable per geometry, rule or
  nuisance parameter in :data:`PARAMS` (NaN where it does not apply).
  Coordinates ``two_theta`` and ``phi`` (row, col; degrees); the label names
  are ``attrs["labels"]`` (:func:`open_dataset` attaches them as coordinate ``label``).
- ``hifft/``: the :class:`hifft.store.Manifest` (fingerprint, one marker per chunk, ``complete``).

Chunk ``k`` holds samples ``[k·chunk_size, (k+1)·chunk_size)`` made from
``default_rng([seed, k])`` alone, so a rerun rewrites the same bytes and a
killed job resumes at its unfinished chunks.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

import numpy as np

from .._version import __version__
from ..runner import Outcome
from ..sampleset import SPLITS, ChunkTask, open_dataset_store, run_dataset_job, write_region, write_template_store
from ..sampleset import chunk_bounds as _bounds
from ..store import Manifest
from .config import FAMILIES, DiffractionConfig
from .droplets import derive_labels, draw, shape_features
from .labels import DISPLAY, LABELS
from .patterns import (
    Nuisance,
    active_pixels,
    detector_counts,
    expected_signal,
    make_detector,
    render,
    two_theta,
    wavelength_of,
)

FORMAT = "hifft.diffraction.images/1"
#: Per-image parameters stored (float64; NaN where they do not apply), with units.
PARAMS: dict[str, str] = {
    "energy": "eV", "wavelength": "angstrom",
    # geometry priors (droplets.draw)
    "radius": "angstrom", "radius_2": "angstrom", "aspect": "1", "triaxial": "1", "bend_angle": "degree",
    "core_fraction": "1", "core_contrast": "1", "lobe_ratio": "1", "lobe_distance": "1",
    "sep_axial": "angstrom", "sep_transverse": "angstrom", "pair_inline": "1",
    "orientation_theta": "degree", "orientation_phi": "degree", "orientation_psi": "degree",
    # measures the labelling rules read (droplets.shape_features, derive_labels)
    "semi_axis_1": "angstrom", "semi_axis_2": "angstrom", "semi_axis_3": "angstrom", "elongation": "1",
    "projected_aspect": "1", "tilt": "degree", "inversion_defect": "1", "streak_bend": "1", "body_bend": "1",
    "layer_contrast": "1", "layer_thickness": "1", "newton_fringes": "1", "transverse_fringes": "1",
    # voxel grid
    "grid_nz": "1", "grid_ny": "1", "grid_nx": "1", "spacing_xy": "angstrom", "spacing_z": "angstrom",
    # detector nuisances (patterns.Nuisance) and the clip level used
    "flux": "photons", "gain": "1", "hole_radius": "degree", "straylight": "1", "straylight_width": "degree",
    "uniform": "1", "saturation": "1", "saturation_level": "1",
}


def job_spec(cfg: DiffractionConfig) -> dict[str, Any]:
    return {"format": FORMAT, "config": cfg.model_dump(mode="json")}


def chunk_bounds(cfg: DiffractionConfig, k: int) -> tuple[int, int]:
    """Samples ``[i0, i1)`` of chunk ``k``."""
    return _bounds(cfg.dataset.n_samples, cfg.dataset.chunk_size, k)


def simulate_one(cfg: DiffractionConfig, family: str, rng: np.random.Generator) -> dict[str, Any]:
    """One image: ``image``, ``clean``, ``labels`` (bool (11,)) and ``params`` (dict of floats)."""
    det = make_detector(cfg.detector)
    energy = cfg.beam.energy.sample(rng)
    lam = wavelength_of(energy)
    drop = draw(cfg.droplets, family, rng)
    nz = Nuisance.draw(cfg.noise, rng)
    inten, grid, rho = render(drop, lam, det, cfg.detector, cfg.grid)
    feats = None
    params: dict[str, float] = {"energy": energy, "wavelength": lam, **drop.params, **nz.to_dict()}
    if grid is not None and rho is not None:
        params.update(grid_nz=grid.shape[0], grid_ny=grid.shape[1], grid_nx=grid.shape[2],
                      spacing_xy=grid.spacing[2], spacing_z=grid.spacing[0])
        if family != "pair":
            feats = shape_features(rho, grid)
            s = feats["semi_axes"]
            params.update(semi_axis_1=s[0], semi_axis_2=s[1], semi_axis_3=s[2],
                          **{k: feats[k] for k in ("elongation", "projected_aspect", "tilt", "inversion_defect")})
    labels, meas = derive_labels(drop, feats, lam, cfg.rules, cfg.detector.two_theta_max)
    params.update(meas)
    active = active_pixels(det, nz.hole_radius, cfg.detector.two_theta_max)
    signal = expected_signal(inten, det, cfg.detector, nz.flux, active)
    image, levels = detector_counts(signal, det, cfg.detector, nz, cfg.noise.adc_max, rng)
    params.update(levels)
    return {"image": image, "clean": signal.astype(np.float32), "labels": labels,
            "params": {k: float(v) for k, v in params.items()}}


def generate_arrays(cfg: DiffractionConfig, k: int) -> dict[str, np.ndarray]:
    """All variables of chunk ``k`` as numpy arrays (deterministic in (seed, k))."""
    d = cfg.dataset
    i0, i1 = chunk_bounds(cfg, k)
    n = i1 - i0
    rng = np.random.default_rng([d.seed, k])
    names, prob = cfg.droplets.weights()
    fam = rng.choice(len(names), size=n, p=prob)
    split = d.split.codes(rng.uniform(size=n))
    rows = cols = cfg.detector.shape
    out: dict[str, np.ndarray] = {
        "image": np.empty((n, rows, cols), np.float32),
        "labels": np.zeros((n, len(LABELS)), bool),
        "family": np.array([FAMILIES.index(names[f]) for f in fam], dtype=np.int8),
        "split": split,
        **{p: np.full(n, np.nan) for p in PARAMS},
    }
    if d.store_clean:
        out["clean"] = np.empty((n, rows, cols), np.float32)
    for j in range(n):
        one = simulate_one(cfg, names[fam[j]], rng)
        out["image"][j] = one["image"]
        out["labels"][j] = one["labels"]
        if d.store_clean:
            out["clean"][j] = one["clean"]
        for name, v in one["params"].items():
            if name in PARAMS:
                out[name][j] = v
    out["sample"] = np.arange(i0, i1, dtype=np.int64)
    return out


def to_xarray(arrays: dict[str, Any], cfg: DiffractionConfig, attrs: dict[str, Any] | None = None) -> Any:
    """An xarray Dataset of images from :func:`generate_arrays` (or lazy templates)."""
    import xarray as xr

    det = make_detector(cfg.detector)
    y, x = det.positions()
    dims3 = ("sample", "row", "col")
    data_vars: dict[str, Any] = {}
    for name, v in arrays.items():
        if name == "sample":
            continue
        if name in ("image", "clean"):
            data_vars[name] = (dims3, v)
        elif name == "labels":
            data_vars[name] = (("sample", "label"), v)
        else:
            data_vars[name] = (("sample",), v)
    ds = xr.Dataset(data_vars, coords={
        "sample": arrays["sample"],
        "two_theta": (("row", "col"), two_theta(det), {"units": "degree"}),
        "phi": (("row", "col"), np.degrees(np.arctan2(y, x)), {"units": "degree"}),
    })
    ds["image"].attrs.update(units="detector units (gain × photons)", log_scaled=0)
    if "clean" in ds:
        ds["clean"].attrs["units"] = "photons (expected, before nuisances)"
    for p, u in PARAMS.items():
        if p in ds:
            ds[p].attrs["units"] = u
    ds["family"].attrs["description"] = "index into attrs['families']"
    ds["split"].attrs["description"] = "0 train, 1 val, 2 test"
    ds.attrs.update(attrs or {})
    return ds


def _attrs(cfg: DiffractionConfig) -> dict[str, Any]:
    return {"format": FORMAT, "config": json.dumps(cfg.model_dump(mode="json")), "hifft_version": __version__,
            "labels": json.dumps(list(LABELS)), "label_names": json.dumps([DISPLAY[n] for n in LABELS]),
            "families": json.dumps(list(FAMILIES)), "splits": json.dumps(list(SPLITS)),
            "two_theta_max": cfg.detector.two_theta_max, "distance": cfg.detector.distance,
            "length_units": "angstrom"}


def write_chunk(task: ChunkTask, cfg: DiffractionConfig) -> Outcome:
    """Runner task: make chunk ``task.index`` and write its region (the runner then marks it done)."""
    t0 = time.perf_counter()
    i0, i1 = chunk_bounds(cfg, task.index)
    arrays = generate_arrays(cfg, task.index)
    ds = to_xarray(arrays, cfg).drop_vars(["two_theta", "phi"])
    ds.attrs = {}
    write_region(ds, task.store, i0, i1)
    counts = arrays["labels"].sum(axis=0)
    return Outcome(info={"samples": [i0, i1], "seconds": time.perf_counter() - t0,
                         "label_counts": [int(c) for c in counts]}, value=i1 - i0)


def write_template(cfg: DiffractionConfig, path: str | os.PathLike[str]) -> None:
    """Write the group's metadata (lazy arrays that are never computed; chunks come per task)."""
    import dask.array as da

    d = cfg.dataset
    n, c = d.n_samples, d.chunk_size
    rows = cols = cfg.detector.shape
    arrays: dict[str, Any] = {p: da.zeros(n, chunks=c) for p in PARAMS}
    arrays["family"] = da.zeros(n, chunks=c, dtype=np.int8)
    arrays["split"] = da.zeros(n, chunks=c, dtype=np.int8)
    arrays["labels"] = da.zeros((n, len(LABELS)), chunks=(c, len(LABELS)), dtype=bool)
    imgs = ("image", "clean") if d.store_clean else ("image",)
    for v in imgs:
        arrays[v] = da.zeros((n, rows, cols), chunks=(1, rows, cols), dtype=np.float32)
    arrays["sample"] = np.arange(n, dtype=np.int64)
    ds = to_xarray(arrays, cfg, _attrs(cfg)).chunk({"sample": c})
    enc = {v: {"chunks": (1, rows, cols)} for v in imgs}
    write_template_store(ds, path, enc)


def estimate_bytes(cfg: DiffractionConfig) -> int:
    """Upper bound of the uncompressed size on disk."""
    d = cfg.dataset
    px = cfg.detector.shape**2 * 4 * (2 if d.store_clean else 1)
    return int(d.n_samples * (px + 8 * len(PARAMS) + len(LABELS) + 2) * 1.05) + (1 << 20)


def make_dataset(cfg: DiffractionConfig, out: str | os.PathLike[str], client: Any = None, overwrite: bool = False,
                 progress: bool | None = None, max_chunks: int | None = None) -> Path:
    """Run (or resume) the diffraction dataset job; return the store path.

    ``client`` as everywhere (None: this process; "local"; an address or a
    Client). ``max_chunks`` stops after that many new chunks (to test resuming).
    """
    def summarize(man: Manifest, names: list[str]) -> dict[str, Any]:
        counts = np.sum([man.info(t)["label_counts"] for t in names], axis=0)
        return {"n_samples": cfg.dataset.n_samples, "label_counts": dict(zip(LABELS, map(int, counts), strict=True)),
                "task_seconds": sum(man.info(t)["seconds"] for t in names)}

    return run_dataset_job(
        out, job_spec(cfg), n_chunks=cfg.dataset.n_chunks, write_template=lambda p: write_template(cfg, p),
        write_chunk=write_chunk, cfg=cfg, summarize=summarize, what="diffraction dataset",
        estimate_bytes=estimate_bytes(cfg), client=client, overwrite=overwrite, progress=progress,
        max_chunks=max_chunks,
    )


def open_dataset(path: str | os.PathLike[str], allow_incomplete: bool = False) -> Any:
    """The images of a dataset store (lazy) as an xarray Dataset; refuses an unfinished store."""
    ds = open_dataset_store(path, what="diffraction dataset", command="`hifft diffraction dataset`",
                            allow_incomplete=allow_incomplete)
    # label names live in the attrs: Zarr v3 has no stable string dtype for a coordinate
    return ds.assign_coords(label=("label", json.loads(ds.attrs["labels"])))


__all__ = ["FORMAT", "PARAMS", "chunk_bounds", "generate_arrays", "make_dataset", "open_dataset", "simulate_one",
           "to_xarray", "write_chunk", "write_template"]
