"""Image models for 2D scattering images: learned codecs with real bitstreams, and their baselines.

- :mod:`.preprocess`: log10(I + ε) normalised with fixed constants stored with the
  model, crop, mask channel, and the inverse (decoded images are intensities);
- :mod:`.codecs`: factorized prior, scale hyperprior and mean–scale hyperprior (torch);
- :mod:`.entropy`: range-coded bitstreams (``constriction``) with a versioned header;
- :mod:`.bundle`: a trained codec as one file (weights, preprocessing, CDF tables, version);
- :mod:`.train`: rate–distortion training under a wall-clock budget, resumable, with the
  denoising / gap-filling route;
- :mod:`.baselines`: JPEG 2000, JPEG XL, SZ3, ZFP, lossless coders, biharmonic inpainting;
- :mod:`.metrics`: PSNR in log space, MS-SSIM, max abs error, bpp from bytes;
- :mod:`.data`: images of a GISAXS dataset store (``hifft gisaxs dataset``);
- ``hifft images compress | decompress | train`` (:mod:`.cli`).

torch (the ``ml`` extra) is needed by the codecs only; this package imports nothing heavy.
"""

from __future__ import annotations

from .preprocess import DEAD, GAP, ImageError, LogScale, check_intensities, masked_input, split_counts

__all__ = ["DEAD", "GAP", "ImageError", "LogScale", "check_intensities", "masked_input", "split_counts"]
