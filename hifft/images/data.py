"""Images of a GISAXS dataset store (``hifft gisaxs dataset``) for the image models, and noisy inputs.

The store (:func:`hifft.gisaxs.dataset.open_dataset`) holds per sample the clean
intensity ``I`` (1/sr per unit area), Poisson ``counts`` at the sample's ``flux`` with
gaps −1 / dead pixels −2, the labels R (``radius``), σ/R (``sigma_r``), D
(``distance``), ω/D (``omega_d``) and a ``split`` code (0 train, 1 val, 2 test).
Its detector is 499 × 500 pixels in ``pipelines/gisaxs_seed000.yaml``, so the image
models crop a window (256 × 256 at (0, 0) by default: α_f, 2θ_f from 0°, holding the
specular beam, the Yoneda band and one horizontal and one vertical module gap).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from typing import Any

import numpy as np

from .preprocess import ImageError

SPLIT_CODES = {"train": 0, "val": 1, "test": 2}
PHYSICS_LABELS = ("radius", "sigma_r", "distance", "omega_d")


@dataclass
class ImageSet:
    """Cropped images of one split: clean ``intensity`` (N, H, W) float32 (1/sr), the dataset's ``counts``
    (N, H, W; −1 gap, −2 dead), ``mask`` (N, H, W) True where the detector measured, ``flux`` (N,) photons,
    ``per_photon`` (H, W) mean counts per unit intensity and photon, ``labels`` R, σ/R, D (Å), ω/D,
    ``sample`` indices in the store."""

    intensity: np.ndarray
    counts: np.ndarray
    mask: np.ndarray
    flux: np.ndarray
    per_photon: np.ndarray
    labels: dict[str, np.ndarray]
    sample: np.ndarray

    def __len__(self) -> int:
        return len(self.intensity)

    def noisy_intensity(self) -> np.ndarray:
        """The dataset's own noisy images as intensities: counts / (per_photon · flux), 0 where missing."""
        k = self.per_photon[None] * self.flux[:, None, None]
        return np.where(self.mask, self.counts / k, 0.0).astype(np.float32)


def per_photon_map(ds: Any) -> np.ndarray:
    """Mean counts per pixel per unit intensity (1/sr) and incident photon, from the store's job config."""
    from ..gisaxs.config import GisaxsConfig
    from ..gisaxs.detector import expected_counts

    cfg = GisaxsConfig.model_validate(json.loads(ds.attrs["config"]))
    geo = cfg.geometry(1)
    return expected_counts(np.ones(geo.detector.shape), geo, 1.0).astype(np.float64)


def load_images(path: str | os.PathLike[str], split: str | None, size: tuple[int, int], crop: tuple[int, int],
                max_n: int | None = None) -> ImageSet:
    """Images of ``split`` ("train", "val", "test"; None: all) cropped to ``size`` at ``crop``."""
    from ..gisaxs.dataset import open_dataset

    ds = open_dataset(path)
    rows, cols = ds.sizes["alpha_f"], ds.sizes["two_theta_f"]
    r0, c0 = crop
    if rows < r0 + size[0] or cols < c0 + size[1]:
        raise ImageError(f"{path}: images are {rows}×{cols} pixels, too small for a {size[0]}×{size[1]} crop at "
                         f"(row {r0}, col {c0})")
    if split is None:
        sel = np.arange(ds.sizes["sample"])
    else:
        if split not in SPLIT_CODES:
            raise ValueError(f"split: one of {', '.join(SPLIT_CODES)}, got {split!r}")
        sel = np.flatnonzero(ds["split"].values == SPLIT_CODES[split])
    if max_n is not None:
        sel = sel[:max_n]
    if sel.size == 0:
        raise ImageError(f"{path}: no images in split {split!r}")
    win = {"alpha_f": slice(r0, r0 + size[0]), "two_theta_f": slice(c0, c0 + size[1])}
    sub = ds.isel(sample=sel, **win)
    counts = sub["counts"].values
    return ImageSet(
        intensity=np.ascontiguousarray(sub["I"].values, dtype=np.float32),
        counts=np.asarray(counts, dtype=np.float32),
        mask=counts >= 0,
        flux=sub["flux"].values.astype(np.float64),
        per_photon=per_photon_map(ds)[win["alpha_f"], win["two_theta_f"]],
        labels={k: sub[k].values.astype(np.float64) for k in PHYSICS_LABELS},
        sample=sub["sample"].values.astype(np.int64),
    )


def poisson_intensity(intensity: np.ndarray, per_photon: np.ndarray, flux: np.ndarray,
                      rng: np.random.Generator) -> np.ndarray:
    """Noisy intensities: Poisson counts of mean I·per_photon·flux, divided back by per_photon·flux."""
    k = per_photon[None] * np.asarray(flux, dtype=np.float64)[:, None, None]
    return (rng.poisson(np.clip(intensity, 0, None) * k) / k).astype(np.float32)


def random_gaps(shape: tuple[int, int], n: int, module: tuple[int, int], gap: tuple[int, int],
                rng: np.random.Generator, dead_fraction: float = 0.0) -> np.ndarray:
    """(n, H, W) masks, True where measured: module gaps at random offsets, plus dead pixels."""
    from ..gisaxs.detector import dead_pixels, module_gaps

    out = np.empty((n, *shape), dtype=bool)
    for i in range(n):
        off = (int(rng.integers(0, module[0] + gap[0])), int(rng.integers(0, module[1] + gap[1])))
        missing = module_gaps(shape, module, gap, off)
        if dead_fraction > 0:
            missing |= dead_pixels(shape, dead_fraction, rng)
        out[i] = ~missing
    return out


__all__ = ["PHYSICS_LABELS", "SPLIT_CODES", "ImageSet", "load_images", "per_photon_map", "poisson_intensity",
           "random_gaps"]
