"""CuPy backend: cuFFT on one GPU per process (dask-cuda pins one per worker).

Host arrays are copied to the device, transformed and copied back per call.
This path has never run on a GPU in this project's CI (no GPU there); its
conformance tests skip without one.
"""

from __future__ import annotations

import numpy as np

from .base import FFTBackend, check_complex, check_real


class CupyBackend(FFTBackend):
    name = "cupy"
    gpu = True

    @classmethod
    def available(cls) -> bool:
        try:
            import cupy
        except ImportError:
            return False
        try:
            return cupy.cuda.runtime.getDeviceCount() > 0
        except Exception:  # no driver, no device
            return False

    def __init__(self, threads: int | None = None) -> None:
        super().__init__(threads)
        import cupy
        import cupyx.scipy.fft as cfft

        self._cp = cupy
        self._f = cfft

    def _run(self, fn, x: np.ndarray, **kw) -> np.ndarray:
        d = self._cp.asarray(x)
        out = fn(d, **kw)
        host = self._cp.asnumpy(out)
        del d, out
        return host

    def rfft2(self, x: np.ndarray) -> np.ndarray:
        check_real(x)
        return self._run(self._f.rfft2, x, axes=(-2, -1))

    def irfft2(self, x: np.ndarray, s: tuple[int, int]) -> np.ndarray:
        check_complex(x)
        return self._run(self._f.irfft2, x, s=s, axes=(-2, -1))

    def fft2(self, x: np.ndarray) -> np.ndarray:
        check_complex(x)
        return self._run(self._f.fft2, x, axes=(-2, -1))

    def ifft2(self, x: np.ndarray) -> np.ndarray:
        check_complex(x)
        return self._run(self._f.ifft2, x, axes=(-2, -1))

    def fft(self, x: np.ndarray, axis: int = -1, overwrite: bool = False) -> np.ndarray:
        check_complex(x)
        return self._run(self._f.fft, x, axis=axis)

    def ifft(self, x: np.ndarray, axis: int = -1, overwrite: bool = False) -> np.ndarray:
        check_complex(x)
        return self._run(self._f.ifft, x, axis=axis)
