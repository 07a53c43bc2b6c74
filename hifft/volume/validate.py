"""Checks on density data where it enters: rank, size, dtype, finite values.

Errors name the file (or array) and the slab, and for non-finite values the
first offending voxel, so a bad input is found without a debugger.
"""

from __future__ import annotations

from typing import Any

import numpy as np


class VolumeError(ValueError):
    """Density data or a volume store is unusable; the message says where."""


def volume_dtype(dtype: Any, where: str, requested: Any = None) -> np.dtype:
    """The float dtype a volume of input ``dtype`` is kept in (float32 or float64).

    Real inputs only: booleans and ≤16-bit ints become float32, wider ints and
    float64 stay exact as float64; ``requested`` (float32/float64) overrides.
    """
    dt = np.dtype(dtype)
    if dt.kind == "c":
        raise VolumeError(
            f"{where}: complex dtype {dt} is not a density; pass the real part (or abs²)"
        )
    if dt.kind not in "biuf":
        raise VolumeError(f"{where}: dtype {dt} is not numeric; expected float32/float64 (or ints)")
    if requested is not None:
        out = np.dtype(requested)
        if out not in (np.float32, np.float64):
            raise VolumeError(f"{where}: dtype must be float32 or float64, got {out}")
        return out
    if dt == np.float64 or (dt.kind in "iu" and dt.itemsize > 2):
        return np.dtype(np.float64)
    return np.dtype(np.float32)


def check_shape(shape: tuple[int, ...], where: str) -> tuple[int, int, int]:
    if len(shape) != 3:
        raise VolumeError(
            f"{where}: expected a 3D array (z, y, x), got {len(shape)}D with shape {tuple(shape)}"
        )
    if any(int(s) == 0 for s in shape):
        raise VolumeError(f"{where}: zero-size array of shape {tuple(shape)}")
    return tuple(int(s) for s in shape)  # type: ignore[return-value]


def check_finite(data: np.ndarray, where: str, z0: int = 0) -> None:
    """Raise naming the slab and the first non-finite voxel (global z index)."""
    if data.dtype.kind != "f":
        return
    ok = np.isfinite(data)
    if ok.all():
        return
    bad = np.argwhere(~ok)
    z, y, x = (int(v) for v in bad[0])
    raise VolumeError(
        f"{where}: {len(bad)} non-finite value(s) in slab z={z0}:{z0 + data.shape[0]}; "
        f"first at voxel (z, y, x) = ({z0 + z}, {y}, {x}) = {float(data[z, y, x])}"
    )
