"""Out-of-core 3D FFTs: plan (pure), passes over Zarr, Dask execution.

Public: :func:`rfftn`, :func:`fftn`, :func:`irfftn`, :func:`ifftn`,
:func:`reduce_spectrum` (pass 2 fused with reducers), :func:`plan_fft`.
"""

from __future__ import annotations

from .engine import fftn, ifftn, irfftn, reduce_spectrum, rfftn
from .plan import plan_fft
from .reducer import Reducer, SpectrumBlock, reduce_in_memory

__all__ = [
    "rfftn", "fftn", "irfftn", "ifftn", "reduce_spectrum", "plan_fft",
    "Reducer", "SpectrumBlock", "reduce_in_memory",
]
