"""Reference backend: scipy.fft (pocketfft), always present."""

from __future__ import annotations

import numpy as np
import scipy.fft as sfft

from .base import FFTBackend, check_complex, check_real


class NumpyBackend(FFTBackend):
    name = "numpy"
    requires = "scipy.fft"


    def rfft2(self, x: np.ndarray) -> np.ndarray:
        check_real(x)
        return sfft.rfft2(x, axes=(-2, -1), workers=self.threads)

    def irfft2(self, x: np.ndarray, s: tuple[int, int]) -> np.ndarray:
        check_complex(x)
        return sfft.irfft2(x, s=s, axes=(-2, -1), workers=self.threads)

    def fft2(self, x: np.ndarray) -> np.ndarray:
        check_complex(x)
        return sfft.fft2(x, axes=(-2, -1), workers=self.threads)

    def ifft2(self, x: np.ndarray) -> np.ndarray:
        check_complex(x)
        return sfft.ifft2(x, axes=(-2, -1), workers=self.threads)

    def fft(self, x: np.ndarray, axis: int = -1, overwrite: bool = False) -> np.ndarray:
        check_complex(x)
        return sfft.fft(x, axis=axis, workers=self.threads, overwrite_x=overwrite)

    def ifft(self, x: np.ndarray, axis: int = -1, overwrite: bool = False) -> np.ndarray:
        check_complex(x)
        return sfft.ifft(x, axis=axis, workers=self.threads, overwrite_x=overwrite)
