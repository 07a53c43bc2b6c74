"""Conformance: every backend against scipy.fft (the reference) and numpy.fft."""

from __future__ import annotations

import numpy as np
import pytest

from hifft.fft import backends
from tests.conftest import gpu_present

TOL = {np.float32: 2e-6, np.float64: 1e-13}
SHAPES = [(3, 8, 8), (2, 9, 15), (1, 17, 13), (2, 16, 31), (4, 12, 10)]  # even, odd, prime


def rel(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.linalg.norm(a - b) / max(np.linalg.norm(b), 1e-300))


def _param(name: str):
    cls = backends.backend_class(name)
    marks = []
    if name == "cupy":
        marks.append(pytest.mark.gpu)
        marks.append(pytest.mark.skipif(not gpu_present() or not cls.available(),
                                        reason="cupy backend needs a CUDA GPU and cupy; none here"))
    elif not cls.available():
        marks.append(pytest.mark.skip(reason=f"optional backend {name!r}: its library is not installed"))
    return pytest.param(name, marks=marks, id=name)


@pytest.fixture(params=[_param(n) for n in backends.NAMES])
def backend(request):
    return backends.get_backend(request.param, threads=1)


class TestBackendConformance:
    @pytest.mark.parametrize("dtype", [np.float32, np.float64])
    @pytest.mark.parametrize("shape", SHAPES)
    def test_rfft2_irfft2(self, backend, shape, dtype, rng):
        x = rng.standard_normal(shape).astype(dtype)
        ref = np.fft.rfft2(x.astype(np.float64))
        got = backend.rfft2(x)
        assert got.dtype == backends.base.COMPLEX_OF[np.dtype(dtype)]
        assert got.shape == ref.shape
        assert rel(got, ref) < TOL[dtype]
        back = backend.irfft2(got, s=shape[-2:])
        assert back.dtype == np.dtype(dtype)
        assert rel(back, x) < 4 * TOL[dtype]

    @pytest.mark.parametrize("dtype", [np.complex64, np.complex128])
    @pytest.mark.parametrize("shape", SHAPES)
    def test_fft2_ifft2(self, backend, shape, dtype, rng):
        x = (rng.standard_normal(shape) + 1j * rng.standard_normal(shape)).astype(dtype)
        ref = np.fft.fft2(x.astype(np.complex128))
        got = backend.fft2(x)
        assert got.dtype == np.dtype(dtype)
        tol = TOL[np.float32 if dtype == np.complex64 else np.float64]
        assert rel(got, ref) < tol
        assert rel(backend.ifft2(got), x) < 4 * tol

    @pytest.mark.parametrize("axis", [0, 1, -1])
    @pytest.mark.parametrize("dtype", [np.complex64, np.complex128])
    def test_fft_axis(self, backend, axis, dtype, rng):
        shape = (13, 6, 10)
        x = (rng.standard_normal(shape) + 1j * rng.standard_normal(shape)).astype(dtype)
        ref = np.fft.fft(x.astype(np.complex128), axis=axis)
        got = backend.fft(x, axis=axis)
        tol = TOL[np.float32 if dtype == np.complex64 else np.float64]
        assert got.dtype == np.dtype(dtype)
        assert rel(got, ref) < tol
        assert rel(backend.ifft(got, axis=axis), x) < 4 * tol

    def test_rejects_wrong_dtype(self, backend):
        with pytest.raises(TypeError, match="float32 or float64"):
            backend.rfft2(np.zeros((4, 4), dtype=np.int32))
        with pytest.raises(TypeError, match="complex64 or complex128"):
            backend.fft(np.zeros((4, 4), dtype=np.float32))


def test_auto_picks_an_available_backend():
    name = backends.auto_name()
    assert name in backends.available()
    assert backends.resolve("auto") == name
    assert backends.resolve("scipy") == "numpy"


def test_unknown_backend_named_in_error():
    with pytest.raises(ValueError, match="unknown FFT backend 'nope'"):
        backends.get_backend("nope")


def test_threads_explicit():
    b = backends.get_backend("numpy", threads=3)
    assert b.threads == 3
