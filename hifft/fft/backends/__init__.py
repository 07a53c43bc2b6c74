"""FFT backends, one file each, imported only when asked for.

``get_backend("auto")`` picks a GPU backend when a CUDA device is present
(cupy, then torch on CUDA), else ``numpy`` (scipy.fft/pocketfft). On this
project's 2-core machine, quiet, 2 threads, scipy was the fastest CPU library
for both of the engine's transforms: rfft2 of a 16×1024² float32 slab 39 ms
(pyFFTW ESTIMATE 49 ms, torch 52 ms) and the FFT along z of a (1024, 16, 513)
complex64 block 34 ms (pyFFTW 35 ms, torch 51 ms, 104 ms with a contiguous
result). Resolving ``auto`` imports nothing it will not use: without a GPU
device node neither torch nor cupy is imported (their import alone took
~4 s of a 1024³ job).
"""

from __future__ import annotations

from importlib import import_module

from .base import FFTBackend, default_threads

_REGISTRY: dict[str, tuple[str, str]] = {
    "numpy": ("hifft.fft.backends.numpy_", "NumpyBackend"),
    "pyfftw": ("hifft.fft.backends.pyfftw_", "PyFFTWBackend"),
    "torch": ("hifft.fft.backends.torch_", "TorchBackend"),
    "cupy": ("hifft.fft.backends.cupy_", "CupyBackend"),
}
ALIASES = {"scipy": "numpy", "fftw": "pyfftw", "cuda": "cupy"}
NAMES = tuple(_REGISTRY)


def backend_class(name: str) -> type[FFTBackend]:
    name = ALIASES.get(name, name)
    if name not in _REGISTRY:
        raise ValueError(f"unknown FFT backend {name!r}; choose one of {(*NAMES, 'auto')}")
    module, cls = _REGISTRY[name]
    return getattr(import_module(module), cls)


def available() -> list[str]:
    """Backends whose library imports here (GPU ones only with a device)."""
    return [n for n in NAMES if backend_class(n).available()]


def _cuda_device_present() -> bool:
    """A CUDA device node exists (checked without importing any GPU library)."""
    import glob

    return bool(glob.glob("/dev/nvidia[0-9]*"))


def _importable(module: str) -> bool:
    from importlib.util import find_spec

    return find_spec(module) is not None


def auto_name() -> str:
    """The backend ``"auto"`` resolves to on this machine."""
    if _cuda_device_present():
        if _importable("cupy") and backend_class("cupy").available():
            return "cupy"
        if _importable("torch"):
            import torch

            if torch.cuda.is_available():
                return "torch"
    return "numpy"


def resolve(name: str | None) -> str:
    """Canonical backend name for ``name`` (None and "auto" pick :func:`auto_name`)."""
    if name in (None, "auto"):
        return auto_name()
    name = ALIASES.get(name, name)
    cls = backend_class(name)
    if not cls.available():
        raise RuntimeError(f"FFT backend {name!r} is not available here (its library or device is missing)")
    return name


def get_backend(name: str | None = "auto", threads: int | None = None) -> FFTBackend:
    """An instance of backend ``name`` using ``threads`` threads."""
    return backend_class(resolve(name))(threads=threads)


__all__ = ["FFTBackend", "get_backend", "available", "auto_name", "resolve", "default_threads", "NAMES"]
