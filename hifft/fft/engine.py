"""INTERIM in-core engine (lead is replacing this with the out-of-core engine).

Same signatures as the final engine.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ..grid import Grid
from .reducer import Reducer, reduce_in_memory


def _as_numpy(x: Any, spacing: Any) -> tuple[np.ndarray, Grid]:
    if hasattr(x, "grid") and hasattr(x, "to_dask"):
        return np.asarray(x.to_dask().compute()), x.grid
    arr = np.asarray(x)
    return arr, Grid(arr.shape, spacing if spacing is not None else 1.0)


def reduce_spectrum(x: Any, reducers: Sequence[Reducer], *, spacing: Any = None, client: Any = None,
                    backend: str = "auto", memory_budget: Any = None, dtype: Any = None,
                    q_max: float | None = None, workdir: Any = None, progress: bool = True) -> dict[str, Any]:
    arr, grid = _as_numpy(x, spacing)
    F = np.fft.rfftn(arr.astype(np.float32 if dtype in (None, "float32") else np.float64))
    out = reduce_in_memory(F, grid, reducers, half=True)
    out["meta"] = {"backend": "numpy", "dtype": str(F.dtype), "grid": grid.to_dict(), "q_max": q_max}
    return out


def rfftn(x: Any, store: Any = None, **kw: Any):
    raise NotImplementedError("in progress")


fftn = irfftn = ifftn = rfftn
