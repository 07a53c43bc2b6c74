"""Image-quality and rate metrics: PSNR in log space, MS-SSIM, max abs error, bpp from bytes.

All distortions are per image on normalised log images (:mod:`hifft.images.preprocess`,
data range 1) unless stated; ``max_abs_error`` is usually taken on log10(I + ε).
MS-SSIM is pytorch-msssim's (Wang et al. 2003: 5 scales, 11-pixel Gaussian window
σ = 1.5, K = (0.01, 0.03)), which needs images larger than 160 pixels per side.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .preprocess import ImageError, as_stack

#: the smallest side MS-SSIM accepts: (window − 1) · 2⁴ + 1 pixels
MS_SSIM_MIN_SIDE = 161


def bpp(n_bytes: int | np.ndarray, pixels: int) -> Any:
    """Bits per pixel of ``n_bytes`` bytes for an image of ``pixels`` pixels."""
    v = 8.0 * np.asarray(n_bytes, dtype=np.float64) / pixels
    return float(v) if v.ndim == 0 else v


def _pair(ref: Any, test: Any) -> tuple[np.ndarray, np.ndarray]:
    a, b = as_stack(ref, "reference", np.float64), as_stack(test, "decoded", np.float64)
    if a.shape != b.shape:
        raise ImageError(f"reference {a.shape} and decoded {b.shape} images differ in shape")
    return a, b


def mse(ref: Any, test: Any) -> np.ndarray:
    """Mean squared error per image (N,)."""
    a, b = _pair(ref, test)
    return ((a - b) ** 2).reshape(len(a), -1).mean(axis=1)


def psnr(ref: Any, test: Any, data_range: float = 1.0) -> np.ndarray:
    """PSNR per image (dB) = 10 log10(range² / MSE); inf for identical images."""
    e = mse(ref, test)
    with np.errstate(divide="ignore"):
        return 10 * np.log10(data_range**2 / e)


def max_abs_error(ref: Any, test: Any, mask: Any = None) -> np.ndarray:
    """Largest |ref − test| per image (over ``mask`` pixels when given)."""
    a, b = _pair(ref, test)
    d = np.abs(a - b)
    if mask is not None:
        d = np.where(np.broadcast_to(np.asarray(mask, dtype=bool), d.shape), d, 0.0)
    return d.reshape(len(d), -1).max(axis=1)


def masked_rmse(ref: Any, test: Any, mask: Any) -> np.ndarray:
    """Root-mean-square error per image over the pixels where ``mask`` is True (nan if none)."""
    a, b = _pair(ref, test)
    m = np.broadcast_to(np.asarray(mask, dtype=bool), a.shape).reshape(len(a), -1)
    d2 = ((a - b) ** 2).reshape(len(a), -1)
    n = m.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.sqrt(np.where(m, d2, 0.0).sum(axis=1) / n)


def ms_ssim(ref: Any, test: Any, data_range: float = 1.0) -> np.ndarray:
    """MS-SSIM per image (pytorch-msssim; images > 160 pixels per side)."""
    import torch
    from pytorch_msssim import ms_ssim as _ms_ssim

    a, b = _pair(ref, test)
    if min(a.shape[1:]) < MS_SSIM_MIN_SIDE:
        raise ImageError(f"MS-SSIM needs images of at least {MS_SSIM_MIN_SIDE} pixels per side (5 scales, "
                         f"11-pixel window); got {a.shape[1]}×{a.shape[2]}")
    with torch.no_grad():
        v = _ms_ssim(torch.from_numpy(a)[:, None], torch.from_numpy(b)[:, None], data_range=data_range,
                     size_average=False)
    return v.numpy().reshape(-1)


def ssim(ref: Any, test: Any, data_range: float = 1.0) -> np.ndarray:
    """Single-scale SSIM per image (pytorch-msssim, same window as :func:`ms_ssim`)."""
    import torch
    from pytorch_msssim import ssim as _ssim

    a, b = _pair(ref, test)
    with torch.no_grad():
        v = _ssim(torch.from_numpy(a)[:, None], torch.from_numpy(b)[:, None], data_range=data_range,
                  size_average=False)
    return v.numpy().reshape(-1)


def ms_ssim_loss(x_hat: Any, target: Any, data_range: float = 1.0) -> Any:
    """1 − MS-SSIM averaged over a torch batch (B, 1, H, W), differentiable (training loss)."""
    from pytorch_msssim import ms_ssim as _ms_ssim

    if min(target.shape[-2:]) < MS_SSIM_MIN_SIDE:
        raise ImageError(f"train.distortion ms_ssim needs images of at least {MS_SSIM_MIN_SIDE} pixels per side; "
                         f"got {target.shape[-2]}×{target.shape[-1]} (use distortion: mse)")
    return 1 - _ms_ssim(x_hat, target, data_range=data_range, size_average=True)


__all__ = ["MS_SSIM_MIN_SIDE", "bpp", "masked_rmse", "max_abs_error", "ms_ssim", "ms_ssim_loss", "mse", "psnr",
           "ssim"]
