"""Machine learning on reduced 1D curves: the inverse problem (shape and parameters from I(q)).

- :mod:`~hifft.ml.config`: priors, q grid, noise, dataset/training sections of a YAML job.
- :mod:`~hifft.ml.dataset`: labelled sasmodels curves as a resumable batch job (xarray/Zarr).
- :mod:`~hifft.ml.fft_subset`: validation curves from hifft's own FFT pipeline.
- :mod:`~hifft.ml.train`, :mod:`~hifft.ml.model`: deep ensemble of residual 1D CNNs (torch).
- :mod:`~hifft.ml.inference`: predictions as xarray.
- :mod:`~hifft.ml.readers`: picks the :mod:`hifft.io` reader for a curve file by its extension.
- :mod:`~hifft.ml.baseline`: least-squares fits with sasmodels + scipy.
- :mod:`~hifft.ml.evaluate`: metrics, targets, report.

Names are loaded lazily; torch is imported only by training and inference.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

_LAZY = {
    "DatasetConfig": "hifft.ml.config",
    "MLConfig": "hifft.ml.config",
    "TrainConfig": "hifft.ml.config",
    "load_config": ("hifft.ml.config", "load"),
    "make_dataset": "hifft.ml.dataset",
    "open_dataset": "hifft.ml.dataset",
    "make_fft_subset": "hifft.ml.fft_subset",
    "train": "hifft.ml.train",
    "load_model": ("hifft.ml.inference", "load"),
    "read_curve": "hifft.ml.readers",
    "fit_curve": "hifft.ml.baseline",
    "evaluate": "hifft.ml.evaluate",
}

__all__ = list(_LAZY)


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        target = _LAZY[name]
        mod, attr = target if isinstance(target, tuple) else (target, name)
        value = getattr(import_module(mod), attr)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'hifft.ml' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
