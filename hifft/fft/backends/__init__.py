"""FFT backends, one file each, imported only when asked for.

``get_backend("auto")`` picks the fastest present, in the order
``AUTO_ORDER``: GPU backends first (cupy, then torch on CUDA), then torch on
CPU (torch rfft2 0.16 s vs scipy 0.24 s for a 32×1024² slab on the reference
machine, issue 3), then pyfftw (ESTIMATE plans), then numpy/scipy.
``benchmarks/bench_fft.py`` re-measures this order.
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
        raise ValueError(f"unknown FFT backend {name!r}; choose one of {NAMES + ('auto',)}")
    module, cls = _REGISTRY[name]
    return getattr(import_module(module), cls)


def available() -> list[str]:
    """Backends whose library imports here (GPU ones only with a device)."""
    return [n for n in NAMES if backend_class(n).available()]


def _torch_cuda() -> bool:
    try:
        import torch
    except ImportError:
        return False
    return bool(torch.cuda.is_available())


def auto_name() -> str:
    """The backend ``"auto"`` resolves to on this machine."""
    present = set(available())
    if "cupy" in present:
        return "cupy"
    if "torch" in present and _torch_cuda():
        return "torch"
    for name in ("torch", "pyfftw", "numpy"):
        if name in present:
            return name
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
