"""Array backends for iterative phasing: where the arrays live and how they are transformed.

Phasing keeps its arrays on one device for hundreds of iterations, so it cannot use the
engine's backends (:mod:`hifft.fft.backends` copy host arrays in and out of each call).
The algorithms use only arithmetic operators, ``abs``, ``.sum()``, ``.max()``, ``.real``
and comparisons, which numpy, CuPy and torch arrays share, plus the five methods below.

- ``numpy``: scipy.fft with ``workers=-1`` (all CPUs); the default.
- ``torch``: ``torch.fft`` on ``device`` ("cpu" by default, "cuda" works unchanged).
- ``cupy``: ``cupyx.scipy.fft`` on the current GPU (never run on this project's machines).
"""

from __future__ import annotations

from typing import Any

import numpy as np


class ArrayOps:
    """numpy-like arrays (numpy itself, or CuPy with ``xp=cupy``) and a scipy-like fft module."""

    name = "numpy"

    def __init__(self, dtype: Any = np.complex64) -> None:
        import scipy.fft

        self.cdtype = np.dtype(dtype)
        if self.cdtype.kind != "c":
            raise ValueError(f"dtype: expected complex64 or complex128, got {self.cdtype}")
        self.rdtype = np.dtype(np.float32 if self.cdtype == np.complex64 else np.float64)
        self.xp: Any = np
        self._fft: Any = scipy.fft
        self._kw: dict[str, Any] = {"workers": -1}

    def asarray(self, a: np.ndarray, real: bool = False) -> Any:
        """A host array on this backend, as the backend's complex (or real) dtype."""
        return self.xp.asarray(np.asarray(a, dtype=self.rdtype if real else self.cdtype))

    def to_numpy(self, a: Any) -> np.ndarray:
        return np.asarray(a)

    def fftn(self, a: Any) -> Any:
        return self._fft.fftn(a, **self._kw)

    def ifftn(self, a: Any) -> Any:
        return self._fft.ifftn(a, **self._kw)

    def real_mask(self, b: Any) -> Any:
        """Booleans as 0/1 of the real dtype (multiplying by it keeps the complex dtype)."""
        return b.astype(self.rdtype)


class CupyOps(ArrayOps):
    name = "cupy"

    def __init__(self, dtype: Any = np.complex64) -> None:
        super().__init__(dtype)
        import cupy
        import cupyx.scipy.fft

        self.xp, self._fft, self._kw = cupy, cupyx.scipy.fft, {}

    def to_numpy(self, a: Any) -> np.ndarray:
        return np.asarray(a.get())


class TorchOps(ArrayOps):
    name = "torch"

    def __init__(self, dtype: Any = np.complex64, device: Any = None) -> None:
        super().__init__(dtype)
        import torch

        self.torch = torch
        self.device = torch.device(device or "cpu")
        self._ct = torch.complex64 if self.cdtype == np.complex64 else torch.complex128
        self._rt = torch.float32 if self.cdtype == np.complex64 else torch.float64

    def asarray(self, a: np.ndarray, real: bool = False) -> Any:
        t = self.torch.as_tensor(np.ascontiguousarray(a))
        return t.to(device=self.device, dtype=self._rt if real else self._ct)

    def to_numpy(self, a: Any) -> np.ndarray:
        return np.asarray(a.detach().cpu().numpy())

    def fftn(self, a: Any) -> Any:
        return self.torch.fft.fftn(a)

    def ifftn(self, a: Any) -> Any:
        return self.torch.fft.ifftn(a)

    def real_mask(self, b: Any) -> Any:
        return b.to(self._rt)


def get_ops(backend: str = "numpy", dtype: Any = np.complex64, device: Any = None) -> ArrayOps:
    """The backend ``"numpy"`` (alias "scipy"), ``"torch"`` (``device``: "cpu", "cuda"...) or ``"cupy"``."""
    if backend in ("numpy", "scipy"):
        return ArrayOps(dtype)
    if backend == "torch":
        return TorchOps(dtype, device)
    if backend == "cupy":
        return CupyOps(dtype)
    raise ValueError(f"backend: expected 'numpy', 'torch' or 'cupy', got {backend!r}")


__all__ = ["ArrayOps", "TorchOps", "CupyOps", "get_ops"]
