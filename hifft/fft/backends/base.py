"""The small interface every FFT backend implements.

Arrays in and out are host numpy arrays; a GPU backend copies to the device
and back inside each call, so pass code never sees device memory. All
transforms are unnormalized forward / 1/n-normalized inverse (numpy's
``norm="backward"``), with numpy's index order and no shift.
"""

from __future__ import annotations

import os
from abc import ABC, abstractmethod

import numpy as np

REAL = (np.float32, np.float64)
COMPLEX_OF = {np.dtype(np.float32): np.dtype(np.complex64), np.dtype(np.float64): np.dtype(np.complex128)}
REAL_OF = {v: k for k, v in COMPLEX_OF.items()}


def default_threads() -> int:
    """Threads a backend uses when not told: ``HIFFT_THREADS`` or the CPU count.

    Dask's nanny sets OMP/MKL threads to 1 in workers, so backends never rely
    on those variables; the engine passes its thread count explicitly.
    """
    env = os.environ.get("HIFFT_THREADS")
    if env:
        return max(1, int(env))
    return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1)


def check_real(x: np.ndarray) -> None:
    if x.dtype not in REAL:
        raise TypeError(f"expected float32 or float64 input, got {x.dtype}")


def check_complex(x: np.ndarray) -> None:
    if x.dtype not in (np.complex64, np.complex128):
        raise TypeError(f"expected complex64 or complex128 input, got {x.dtype}")


class FFTBackend(ABC):
    """One FFT library. Subclasses live one per file and import lazily."""

    #: registry name
    name: str = ""
    #: True when transforms run on a GPU
    gpu: bool = False
    #: the module this backend needs; the default :meth:`available` checks it imports
    requires: str = ""

    def __init__(self, threads: int | None = None) -> None:
        self.threads = int(threads) if threads else default_threads()

    @classmethod
    def available(cls) -> bool:
        """Whether the library imports (GPU backends also check for a device)."""
        from importlib import import_module

        try:
            import_module(cls.requires)
        except ImportError:
            return False
        return True

    @abstractmethod
    def rfft2(self, x: np.ndarray) -> np.ndarray:
        """Real-to-complex 2D FFT over the last two axes; output (..., ny, nx//2+1)."""

    @abstractmethod
    def irfft2(self, x: np.ndarray, s: tuple[int, int]) -> np.ndarray:
        """Inverse of ``rfft2``; ``s`` is the real (ny, nx)."""

    @abstractmethod
    def fft2(self, x: np.ndarray) -> np.ndarray:
        """Complex 2D FFT over the last two axes."""

    @abstractmethod
    def ifft2(self, x: np.ndarray) -> np.ndarray:
        """Inverse complex 2D FFT over the last two axes."""

    @abstractmethod
    def fft(self, x: np.ndarray, axis: int = -1, overwrite: bool = False) -> np.ndarray:
        """Complex 1D FFT along ``axis``; ``overwrite`` lets it reuse ``x`` (in place where the library can)."""

    @abstractmethod
    def ifft(self, x: np.ndarray, axis: int = -1, overwrite: bool = False) -> np.ndarray:
        """Inverse complex 1D FFT along ``axis``; ``overwrite`` as in :meth:`fft`."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}(threads={self.threads})"
