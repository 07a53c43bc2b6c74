"""Classical baselines on the same images: JPEG 2000, JPEG XL, SZ3, ZFP, lossless, biharmonic inpainting.

- JPEG 2000 and JPEG XL (imagecodecs) code the normalised log image quantised to
  16 bits (x ∈ [0, 1] → round(65535·x), values outside clipped); a target bpp is met
  by bisection on the quality parameter (JPEG 2000 ``level``, a PSNR target in dB;
  JPEG XL ``distance``), keeping the best result at or below the target.
- SZ3 (``pysz``) and ZFP (``zfpy``, fixed-accuracy mode) code log10(I + ε) (float32)
  at a maximum absolute error, as facilities do with detector data.
- Lossless: the float32 intensities with Blosc (zstd, bit-shuffle) and plain zstd (numcodecs).
- Gap filling: biharmonic inpainting (scikit-image) of the missing pixels of the
  normalised log image.

Every rate here is counted from the bytes each coder returns.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

#: the image codecs coded at a target bpp
IMAGE_CODECS = ("jpeg2000", "jpegxl")
#: the error-bounded coders of log10 intensity
ERROR_BOUNDED = ("sz3", "zfp")


@dataclass
class Coded:
    """One coded image: ``codec``, its quality/error parameter, bytes, and the decoded image."""

    codec: str
    param: float
    n_bytes: int
    decoded: np.ndarray

    def bpp(self) -> float:
        return 8.0 * self.n_bytes / self.decoded.size


def available() -> dict[str, bool]:
    """Which optional coders import here."""
    out = {}
    for name, mod in (("jpeg2000", "imagecodecs"), ("jpegxl", "imagecodecs"), ("sz3", "pysz"), ("zfp", "zfpy")):
        try:
            m = __import__(mod)
        except ImportError:
            out[name] = False
            continue
        if name == "jpeg2000":
            out[name] = bool(m.JPEG2K.available)
        elif name == "jpegxl":
            out[name] = bool(m.JPEGXL.available)
        else:
            out[name] = True
    return out


def to_uint16(x: np.ndarray) -> np.ndarray:
    """Normalised image → 16-bit integers (clipped to [0, 1])."""
    return np.round(np.clip(np.asarray(x, dtype=np.float64), 0, 1) * 65535).astype(np.uint16)


def from_uint16(q: np.ndarray) -> np.ndarray:
    return (np.asarray(q, dtype=np.float64) / 65535).astype(np.float32)


def _check2d(x: np.ndarray, what: str) -> np.ndarray:
    a = np.asarray(x)
    if a.ndim != 2:
        raise ValueError(f"{what}: codes one 2D image at a time, got shape {a.shape}")
    return a


def jpeg2000(x: np.ndarray, level: float | None) -> Coded:
    """JPEG 2000 of a normalised image at PSNR target ``level`` (dB; None: lossless)."""
    import imagecodecs

    q = to_uint16(_check2d(x, "jpeg2000"))
    # the stubs say int; openjpeg takes the PSNR target as a float (40.3 dB codes between 40 and 41)
    kw: dict[str, Any] = {"level": level, "reversible": level is None}
    blob = imagecodecs.jpeg2k_encode(q, **kw)
    return Coded("jpeg2000", math.inf if level is None else float(level), len(blob),
                 from_uint16(imagecodecs.jpeg2k_decode(blob)))


def jpegxl(x: np.ndarray, distance: float | None) -> Coded:
    """JPEG XL of a normalised image at Butteraugli ``distance`` (None: lossless)."""
    import imagecodecs

    q = to_uint16(_check2d(x, "jpegxl"))
    if distance is None:
        blob = imagecodecs.jpegxl_encode(q, lossless=True)
    else:
        blob = imagecodecs.jpegxl_encode(q, distance=distance)
    return Coded("jpegxl", 0.0 if distance is None else float(distance), len(blob),
                 from_uint16(imagecodecs.jpegxl_decode(blob)))


#: (coder, parameter range, True if the rate rises with the parameter)
_QUALITY: dict[str, tuple[Callable[[np.ndarray, float], Coded], tuple[float, float], bool]] = {
    "jpeg2000": (jpeg2000, (1.0, 120.0), True),
    "jpegxl": (jpegxl, (0.01, 25.0), False),
}


def at_bpp(codec: str, x: np.ndarray, target_bpp: float, iterations: int = 14) -> tuple[Coded, bool]:
    """The best ``codec`` result at ≤ ``target_bpp`` found by bisection on its quality parameter.

    Returns (result, reached); when even the lowest quality is above the target, that
    lowest-rate result with ``reached`` False.
    """
    if codec not in _QUALITY:
        raise ValueError(f"codec: one of {', '.join(_QUALITY)}, got {codec!r}")
    fn, (lo, hi), rising = _QUALITY[codec]
    best: Coded | None = None
    lowest: Coded | None = None
    for _ in range(iterations):
        mid = math.sqrt(lo * hi) if codec == "jpegxl" else 0.5 * (lo + hi)
        c = fn(x, mid)
        if lowest is None or c.n_bytes < lowest.n_bytes:
            lowest = c
        if c.bpp() <= target_bpp:
            if best is None or c.n_bytes > best.n_bytes:
                best = c
            lo, hi = (mid, hi) if rising else (lo, mid)
        else:
            lo, hi = (lo, mid) if rising else (mid, hi)
    if best is None:
        assert lowest is not None
        return lowest, False
    return best, True


def sz3(v: np.ndarray, abs_error: float) -> Coded:
    """SZ3 of a float image ``v`` (log10 intensity) with max |error| ≤ ``abs_error``."""
    from pysz import sz, szConfig, szErrorBoundMode

    a = np.ascontiguousarray(_check2d(v, "sz3"), dtype=np.float32)
    cfg = szConfig()
    cfg.errorBoundMode = szErrorBoundMode.ABS
    cfg.absErrorBound = float(abs_error)
    blob, _ = sz.compress(a, cfg)
    dec, _ = sz.decompress(blob, np.float32, a.shape)
    return Coded("sz3", float(abs_error), int(blob.nbytes), np.asarray(dec, dtype=np.float32))


def zfp(v: np.ndarray, abs_error: float) -> Coded:
    """ZFP (fixed-accuracy mode) of a float image ``v`` with max |error| ≤ ``abs_error``."""
    import zfpy

    a = np.ascontiguousarray(_check2d(v, "zfp"), dtype=np.float32)
    blob = zfpy.compress_numpy(a, tolerance=float(abs_error))
    return Coded("zfp", float(abs_error), len(blob), np.asarray(zfpy.decompress_numpy(blob), dtype=np.float32))


def error_bounded(codec: str, v: np.ndarray, abs_error: float) -> Coded:
    """:func:`sz3` or :func:`zfp` by name."""
    if codec == "sz3":
        return sz3(v, abs_error)
    if codec == "zfp":
        return zfp(v, abs_error)
    raise ValueError(f"codec: one of {', '.join(ERROR_BOUNDED)}, got {codec!r}")


def lossless_bytes(intensity: np.ndarray) -> dict[str, int]:
    """Bytes of the float32 intensities under lossless coders: Blosc-zstd with bit-shuffle, and zstd."""
    from numcodecs import Blosc, Zstd

    a = np.ascontiguousarray(intensity, dtype=np.float32)
    return {"raw": a.nbytes,
            "blosc_zstd_bitshuffle": len(Blosc(cname="zstd", clevel=9, shuffle=Blosc.BITSHUFFLE).encode(a)),
            "zstd": len(Zstd(level=19).encode(a))}


def inpaint(x: np.ndarray, missing: np.ndarray) -> np.ndarray:
    """Biharmonic inpainting (scikit-image) of the ``missing`` pixels of a 2D image."""
    from skimage.restoration import inpaint_biharmonic

    a = np.asarray(_check2d(x, "inpaint"), dtype=np.float64)
    m = np.asarray(missing, dtype=bool)
    if m.shape != a.shape:
        raise ValueError(f"inpaint: mask {m.shape} does not match the image {a.shape}")
    if not m.any():
        return a.astype(np.float32)
    return np.asarray(inpaint_biharmonic(np.where(m, 0.0, a), m), dtype=np.float32)


def summary(coded: Coded, **extra: Any) -> dict[str, Any]:
    """A JSON-able record of one coded image (without the decoded pixels)."""
    return {"codec": coded.codec, "param": coded.param, "bytes": coded.n_bytes, "bpp": coded.bpp(), **extra}


__all__ = ["ERROR_BOUNDED", "IMAGE_CODECS", "Coded", "at_bpp", "available", "error_bounded", "from_uint16",
           "inpaint", "jpeg2000", "jpegxl", "lossless_bytes", "sz3", "summary", "to_uint16", "zfp"]
