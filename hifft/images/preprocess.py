"""Preprocessing of scattering images for the image models, written down and invertible.

Forward (:meth:`LogScale.forward`), for intensities I ≥ 0 (1/sr per unit area in
GISAXS datasets; any non-negative unit elsewhere):

1. crop: a ``size`` = (rows, cols) window at ``crop`` = (row, col) of the detector
   image (an image already of ``size`` is taken as cropped); any other size is
   refused with both sizes named;
2. x = (log10(I + ε) − lo) / (hi − lo): ε (same unit as I) sets the floor of the
   log scale, lo = log10 ε maps the floor to 0 and hi the brightest training
   pixel (rounded up) to 1. ε, lo and hi are fixed (fitted once on the training
   images by :meth:`LogScale.fit`) and stored with the model.

Inverse (:meth:`LogScale.inverse`): I = max(10^(lo + x·(hi − lo)) − ε, 0), so a
decoded image is an intensity again.

The mask channel (1 measured, 0 missing: gaps, dead pixels, beam stops) comes from
detector counts with the dataset conventions (−1 gap, −2 dead pixel; see
:mod:`hifft.gisaxs.detector`) and/or a static mask; missing pixels are set to 0 in
the normalised image (:func:`masked_input`).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

#: Detector conventions of the datasets: gap −1, dead pixel −2 (:mod:`hifft.gisaxs.detector`).
GAP = -1.0
DEAD = -2.0


class ImageError(ValueError):
    """An image (named by its index) cannot be used: wrong size, negative, non-finite or all zero."""


def as_stack(images: Any, what: str = "images", dtype: Any = np.float32) -> np.ndarray:
    """``images`` as an (N, H, W) array of ``dtype`` (a single (H, W) image becomes N = 1)."""
    a = np.asarray(images, dtype=dtype)
    if a.ndim == 2:
        a = a[None]
    if a.ndim != 3:
        raise ImageError(f"{what}: expected an image (H, W) or a stack (N, H, W), got shape {a.shape}")
    return a


def check_intensities(images: np.ndarray, what: str = "images") -> None:
    """Refuse non-finite, negative or all-zero intensity images, naming the first bad index."""
    a = as_stack(images, what)
    flat = a.reshape(len(a), -1)
    for test, why in ((~np.isfinite(flat).all(axis=1), "holds NaN or infinite values"),
                      ((flat < 0).any(axis=1), "holds negative intensities"),
                      (~(flat > 0).any(axis=1), "is all zero")):
        bad = np.flatnonzero(test)
        if bad.size:
            raise ImageError(f"{what}: image {int(bad[0])} {why}"
                             + (f" (and {bad.size - 1} more)" if bad.size > 1 else ""))


def split_counts(counts: Any, what: str = "counts") -> tuple[np.ndarray, np.ndarray]:
    """Detector counts with conventions → (values with missing pixels at 0, mask: True where measured).

    Refuses non-finite values, negative values other than −1 (gap) and −2 (dead), and
    images without a single positive count, naming the index.
    """
    a = as_stack(counts, what)
    mask = a >= 0
    flat = a.reshape(len(a), -1)
    odd = ~np.isfinite(flat) | ((flat < 0) & (flat != GAP) & (flat != DEAD))
    bad = np.flatnonzero(odd.any(axis=1))
    if bad.size:
        i = int(bad[0])
        v = flat[i][odd[i]][0]
        raise ImageError(f"{what}: image {i} holds {v} (counts are ≥ 0, −1 for gaps, −2 for dead pixels)")
    empty = np.flatnonzero(~(flat > 0).any(axis=1))
    if empty.size:
        raise ImageError(f"{what}: image {int(empty[0])} has no positive count")
    return np.where(mask, a, 0).astype(np.float32), mask


@dataclass(frozen=True)
class LogScale:
    """The fixed log normalisation of one model (see the module docstring); lengths in pixels."""

    epsilon: float
    lo: float
    hi: float
    size: tuple[int, int] = (256, 256)
    crop: tuple[int, int] = (0, 0)

    def __post_init__(self) -> None:
        if not (self.epsilon > 0 and math.isfinite(self.epsilon)):
            raise ValueError(f"preprocess.epsilon: must be positive and finite, got {self.epsilon}")
        if not (math.isfinite(self.lo) and math.isfinite(self.hi) and self.hi > self.lo):
            raise ValueError(f"preprocess: need finite lo < hi, got lo={self.lo}, hi={self.hi}")
        if min(self.size) < 1 or min(self.crop) < 0:
            raise ValueError(f"preprocess: bad size {self.size} or crop origin {self.crop}")
        object.__setattr__(self, "size", tuple(int(v) for v in self.size))
        object.__setattr__(self, "crop", tuple(int(v) for v in self.crop))

    @classmethod
    def fit(cls, images: Any, *, decades: float = 6.0, epsilon: float | None = None,
            size: tuple[int, int] = (256, 256), crop: tuple[int, int] = (0, 0)) -> LogScale:
        """Fit ε, lo and hi on (already cropped) training intensities.

        ε = 10^−decades × the 99.9th percentile (unless given); lo = log10 ε;
        hi = log10(max + ε) rounded up to a tenth of a decade.
        """
        a = as_stack(images, "training images")
        check_intensities(a, "training images")
        if epsilon is None:
            epsilon = float(np.percentile(a, 99.9)) * 10.0 ** (-decades)
        lo = math.log10(epsilon)
        hi = math.ceil(10 * math.log10(float(a.max()) + epsilon)) / 10
        if hi <= lo:
            hi = lo + 1.0
        return cls(epsilon=float(epsilon), lo=lo, hi=float(hi), size=size, crop=crop)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["size"], d["crop"] = list(self.size), list(self.crop)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> LogScale:
        return cls(epsilon=float(d["epsilon"]), lo=float(d["lo"]), hi=float(d["hi"]),
                   size=(int(d["size"][0]), int(d["size"][1])), crop=(int(d["crop"][0]), int(d["crop"][1])))

    def crop_images(self, images: Any, what: str = "images") -> np.ndarray:
        """(N, H, W) of ``size``: images of ``size`` as they are, larger detector images cropped.

        Refuses an image too small for the crop window, naming both sizes.
        """
        a = as_stack(images, what)
        h, w = a.shape[1:]
        rows, cols = self.size
        if (h, w) == (rows, cols):
            return a
        r0, c0 = self.crop
        if h < r0 + rows or w < c0 + cols:
            raise ImageError(
                f"{what}: images are {h}×{w} pixels; this model takes {rows}×{cols} images, or larger detector "
                f"images cropped at (row {r0}, col {c0}) to {rows}×{cols}, which need at least "
                f"{r0 + rows}×{c0 + cols}")
        return np.ascontiguousarray(a[:, r0:r0 + rows, c0:c0 + cols])

    def forward(self, intensity: Any, what: str = "images") -> np.ndarray:
        """Normalised log images (N, H, W) float32 from intensities (cropped; bad images refused)."""
        a = self.crop_images(intensity, what)
        check_intensities(a, what)
        return self.normalise(a)

    def normalise(self, intensity: np.ndarray) -> np.ndarray:
        """x = (log10(I + ε) − lo)/(hi − lo), no checks (for noisy intensities ≥ 0 inside training)."""
        x = (np.log10(intensity.astype(np.float64) + self.epsilon) - self.lo) / (self.hi - self.lo)
        return x.astype(np.float32)

    def inverse(self, x: Any) -> np.ndarray:
        """Intensities (float32, ≥ 0) from normalised log images."""
        v = np.asarray(x, dtype=np.float64) * (self.hi - self.lo) + self.lo
        return np.maximum(10.0**v - self.epsilon, 0.0).astype(np.float32)

    def log10_intensity(self, x: Any) -> np.ndarray:
        """log10(I + ε) from normalised images (the scale on which max errors are stated)."""
        return (np.asarray(x, dtype=np.float64) * (self.hi - self.lo) + self.lo).astype(np.float32)


def masked_input(x: np.ndarray, mask: np.ndarray | None, mask_channel: bool) -> np.ndarray:
    """Model input (N, C, H, W): the image with missing pixels at 0, plus the mask channel if asked.

    ``mask`` is True (1) where measured; None means all measured.
    """
    x = np.asarray(x, dtype=np.float32)
    if mask is None:
        mask = np.ones(x.shape, dtype=bool)
    m = np.broadcast_to(np.asarray(mask, dtype=bool), x.shape)
    img = np.where(m, x, 0.0).astype(np.float32)
    if not mask_channel:
        if not m.all():
            raise ImageError("images have missing pixels (gaps, dead pixels) but this model has no mask channel")
        return img[:, None]
    return np.stack([img, m.astype(np.float32)], axis=1)


__all__ = ["DEAD", "GAP", "ImageError", "LogScale", "as_stack", "check_intensities", "masked_input", "split_counts"]
