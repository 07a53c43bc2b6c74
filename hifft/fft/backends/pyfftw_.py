"""FFTW through pyFFTW's scipy.fft-compatible interface.

Plans use FFTW_ESTIMATE: FFTW_MEASURE took 73 s to plan a 512³ transform on
the reference machine (reference/fft_anchors.md), which no per-slab saving
repays. pyFFTW's plan cache is enabled so repeated slab shapes reuse plans.
"""

from __future__ import annotations

import numpy as np

from .base import FFTBackend, check_complex, check_real


class PyFFTWBackend(FFTBackend):
    name = "pyfftw"
    requires = "pyfftw"


    def __init__(self, threads: int | None = None) -> None:
        super().__init__(threads)
        import pyfftw
        import pyfftw.interfaces.scipy_fft as fftw

        pyfftw.interfaces.cache.enable()
        pyfftw.interfaces.cache.set_keepalive_time(30.0)
        self._f = fftw
        self._kw = {"workers": self.threads, "planner_effort": "FFTW_ESTIMATE"}

    def rfft2(self, x: np.ndarray) -> np.ndarray:
        check_real(x)
        return self._f.rfft2(x, axes=(-2, -1), **self._kw)

    def irfft2(self, x: np.ndarray, s: tuple[int, int]) -> np.ndarray:
        check_complex(x)
        return self._f.irfft2(x, s=s, axes=(-2, -1), **self._kw)

    def fft2(self, x: np.ndarray) -> np.ndarray:
        check_complex(x)
        return self._f.fft2(x, axes=(-2, -1), **self._kw)

    def ifft2(self, x: np.ndarray) -> np.ndarray:
        check_complex(x)
        return self._f.ifft2(x, axes=(-2, -1), **self._kw)

    def fft(self, x: np.ndarray, axis: int = -1, overwrite: bool = False) -> np.ndarray:
        check_complex(x)
        return self._f.fft(x, axis=axis, overwrite_x=overwrite, **self._kw)

    def ifft(self, x: np.ndarray, axis: int = -1, overwrite: bool = False) -> np.ndarray:
        check_complex(x)
        return self._f.ifft(x, axis=axis, overwrite_x=overwrite, **self._kw)
