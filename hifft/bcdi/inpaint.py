"""Detector-gap inpainting of BCDI patterns: preprocessing, patch-wise model inference, baselines, metrics.

Only gap voxels change: every method returns ``where(mask, fill, data)``.

- **Preprocessing** (one fixed transform, stored with the model): counts I → x = log1p(g·I)/log1p(P),
  with P the model's reference peak (1e5 counts by default) and gain g = P / max(I over measured voxels)
  (``rescale=True``, as the seed's ``1e5·I/max``; ``rescale=False``: g = 1). No per-patch
  normalisation. Network input channels: (x with gap voxels set to 0, mask), and for a residual
  model :func:`line_fill` of x, which the network corrects.
- **Model inference**: :func:`hifft.bcdi.patches.plan_patches` picks the patches whose interiors
  cover the gap (pure planning); :func:`run_patches` pushes them through the network in batches
  under ``torch.no_grad`` and averages overlapping predictions with the plan's weights. Cost
  scales with the gap's area, not the array's volume. A 2D model on a 3D pattern runs frame by
  frame (axis 0).
- **Baselines**: zero fill; biharmonic interpolation (scikit-image ``inpaint_biharmonic``) on
  log1p(I), a 3D pattern slice by slice along ``axis`` (default 0, the rocking axis: detector
  gaps are planes that contain it, so each frame holds the whole gap's cross-section); and
  :func:`line_fill` of log1p(I) along the detector axes (the residual models' starting estimate).
- **Metrics** over gap voxels: Pearson correlation of intensities and of log1p intensities, MAE of
  both, and the seed's accuracy 1 − Σ|truth − pred| / Σ truth. The seeds do not say on which
  scale their gap PCC was computed; their network works in log space, so hifft checks the
  targets on ``pcc_log`` and reports ``pcc`` (linear, dominated by the few brightest voxels) too.

numpy/scipy/scikit-image only at import; torch is imported when a model runs.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..progress import progress_bar
from .gaps import as_mask
from .patches import PatchPlan, plan_patches

METHODS = ("model", "biharmonic", "line", "zero")
#: The shipped 3D patch model (``make bcdi-model`` retrains it; its record is ``inpaint_3d.json`` beside it).
DEFAULT_MODEL = Path(__file__).parent / "models" / "inpaint_3d.pt"
#: Reference peak (counts) of the log scale when no model gives one.
DEFAULT_PEAK = 1e5


class InpaintError(ValueError):
    """Input that cannot be inpainted (non-finite or negative counts, wrong shapes); names the field."""


# ---------------------------------------------------------------------------
# input checks and preprocessing
# ---------------------------------------------------------------------------


def check_pattern(data: Any, name: str = "pattern") -> np.ndarray:
    """``data`` as a 2D or 3D float array of counts: finite and ≥ 0, else :class:`InpaintError`
    naming ``name`` and the first bad voxel."""
    a = np.asarray(data)
    if a.dtype.kind not in "biuf":
        raise InpaintError(f"{name}: expected counts (numbers), got dtype {a.dtype}")
    if a.ndim not in (2, 3):
        raise InpaintError(f"{name}: expected a 2D frame or a 3D pattern, got shape {a.shape}")
    if a.dtype.kind == "f":
        bad = ~np.isfinite(a)
        if bad.any():
            idx = tuple(int(i) for i in np.argwhere(bad)[0])
            raise InpaintError(f"{name}: non-finite value {a[idx]} at index {idx} ({int(bad.sum())} in all)")
    neg = a < 0
    if neg.any():
        idx = tuple(int(i) for i in np.argwhere(neg)[0])
        raise InpaintError(f"{name}: negative count {a[idx]} at index {idx} ({int(neg.sum())} in all)")
    return a


def gain_for(data: np.ndarray, mask: np.ndarray, peak: float) -> float:
    """Gain g = ``peak`` / max(data over measured voxels) (1 when they are all 0)."""
    valid = np.asarray(data)[~mask]
    top = float(valid.max()) if valid.size else 0.0
    return peak / top if top > 0 else 1.0


def to_log(counts: Any, peak: float = DEFAULT_PEAK, gain: float = 1.0) -> np.ndarray:
    """Network units: log1p(gain·counts) / log1p(peak), float32."""
    return (np.log1p(np.asarray(counts, dtype=np.float64) * gain) / math.log1p(peak)).astype(np.float32)


def from_log(x: Any, peak: float = DEFAULT_PEAK, gain: float = 1.0) -> np.ndarray:
    """Inverse of :func:`to_log` (float64 counts); negative x is clamped to 0 counts."""
    v = np.maximum(np.asarray(x, dtype=np.float64), 0.0)
    return np.expm1(v * math.log1p(peak)) / gain


def _line_pass(x: np.ndarray, known: np.ndarray, axes: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
    """One pass of :func:`line_fill`: per axis, linear interpolation between the nearest known voxels
    on either side (the one side's value where only one exists); the mean over the axes that
    reached a voxel. Returns (estimate, reached)."""
    total = np.zeros(x.shape, dtype=np.float32)
    count = np.zeros(x.shape, dtype=np.int8)
    for ax in axes:
        ax %= x.ndim
        n = x.shape[ax]
        itype = np.int16 if n < 2**15 - 1 else np.int32
        pos = np.arange(n, dtype=itype).reshape([-1 if d == ax else 1 for d in range(x.ndim)])
        prev = np.maximum.accumulate(np.where(known, pos, itype(-1)), axis=ax)
        nxt = np.flip(np.minimum.accumulate(np.flip(np.where(known, pos, itype(n)), ax), axis=ax), ax)
        has_p, has_n = prev >= 0, nxt < n
        vp = np.take_along_axis(x, np.clip(prev, 0, n - 1), axis=ax)
        vn = np.take_along_axis(x, np.clip(nxt, 0, n - 1), axis=ax)
        span = np.maximum(nxt - prev, 1).astype(np.float32)
        t = np.where(has_p & has_n, (pos - prev).astype(np.float32) / span, has_n.astype(np.float32))
        reached = has_p | has_n
        total += np.where(reached, vp + t * (vn - vp), np.float32(0))
        count += reached
    return total / np.maximum(count, 1), count > 0


def line_fill(x: Any, mask: Any, axes: Sequence[int] = (-2, -1)) -> np.ndarray:
    """``x`` with its gap voxels linearly interpolated along the detector ``axes`` (float32).

    Each gap voxel gets the mean, over ``axes``, of the linear interpolation between the nearest
    measured voxels before and after it on that axis (one side's value at an edge). Voxels no
    axis reaches (the square where the two bands of a cross meet) take a second pass over the
    first pass's values; any left after that are 0. Cheap and local (a band's fill depends on
    its two edges only), so it is the same on a patch as on the whole array: the residual
    models' third input channel. Written here because scipy/scikit-image offer no masked
    per-axis linear interpolation (``inpaint_biharmonic`` is smooth but global over each slice).
    """
    v = np.asarray(x, dtype=np.float32)
    m = np.asarray(mask, dtype=bool)
    known = ~m
    out = np.where(known, v, np.float32(0))
    for _ in range(2):
        if known.all():
            break
        est, reached = _line_pass(out, known, axes)
        new = reached & ~known
        out = np.where(new, est, out)
        known = known | new
    return out.astype(np.float32)


def channels(x: np.ndarray, mask: np.ndarray, fill: bool = False) -> np.ndarray:
    """Network input float32: (x with gap voxels zeroed, mask as 0/1), and with ``fill`` a third
    channel, :func:`line_fill` of x (the residual models' starting estimate)."""
    m = np.asarray(mask, dtype=bool)
    parts = [np.where(m, np.float32(0), x).astype(np.float32), m.astype(np.float32)]
    if fill:
        parts.append(line_fill(x, m))
    return np.stack(parts)


def _prepare(data: Any, mask: Any, name: str, mask_name: str) -> tuple[np.ndarray, np.ndarray]:
    a = check_pattern(data, name)
    m = as_mask(mask, a.shape, mask_name)
    return a, m


def _result(data: np.ndarray, mask: np.ndarray, fill: np.ndarray) -> np.ndarray:
    dtype = np.result_type(data.dtype, np.float32)
    return np.where(mask, fill.astype(dtype), data.astype(dtype))


# ---------------------------------------------------------------------------
# baselines
# ---------------------------------------------------------------------------


def zero_fill(data: Any, mask: Any, *, name: str = "pattern", mask_name: str = "mask") -> np.ndarray:
    """Gap voxels set to 0 (float result; measured voxels unchanged)."""
    a, m = _prepare(data, mask, name, mask_name)
    return _result(a, m, np.zeros(a.shape))


def biharmonic_field(field: np.ndarray, mask: np.ndarray, axis: int | None = 0) -> np.ndarray:
    """scikit-image ``inpaint_biharmonic`` of any real ``field`` at ``mask``; a 3D field slice by
    slice along ``axis`` (``None``: in 3D at once, slow beyond ~64³). Slices without gap voxels
    are copied; a slice entirely in the gap is an error."""
    from skimage.restoration import inpaint_biharmonic

    f = np.asarray(field, dtype=np.float64)
    m = np.asarray(mask, dtype=bool)
    if f.ndim == 2 or axis is None:
        if m.all():
            raise InpaintError("mask: every voxel is in the gap; nothing to interpolate from")
        return np.asarray(inpaint_biharmonic(f, m))
    ax = axis % f.ndim
    out = f.copy()
    for k in range(f.shape[ax]):
        mk = np.take(m, k, axis=ax)
        if not mk.any():
            continue
        if mk.all():
            raise InpaintError(f"mask: slice {k} along axis {ax} is entirely in the gap; biharmonic needs "
                               "measured voxels in every slice (try another axis)")
        idx: list[Any] = [slice(None)] * f.ndim
        idx[ax] = k
        out[tuple(idx)] = inpaint_biharmonic(np.take(f, k, axis=ax), mk)
    return out


def biharmonic(data: Any, mask: Any, *, axis: int | None = 0, name: str = "pattern",
               mask_name: str = "mask") -> np.ndarray:
    """Biharmonic interpolation of log1p(counts) across the gap (see :func:`biharmonic_field`)."""
    a, m = _prepare(data, mask, name, mask_name)
    fill = np.expm1(np.maximum(biharmonic_field(np.log1p(a.astype(np.float64)), m, axis), 0.0))
    return _result(a, m, fill)


# ---------------------------------------------------------------------------
# model inference
# ---------------------------------------------------------------------------


Net = Callable[[Any], Any]


def run_patches(net: Net, x: np.ndarray, mask: np.ndarray, plan: PatchPlan, *, batch_size: int = 16,
                threads: int | None = None, device: str = "cpu", precision: str = "float32",
                progress: bool | None = None) -> np.ndarray:
    """Overlap-averaged network prediction (network units, float32) over the plan's patches.

    ``net`` maps a (B, C, *patch) float32 tensor to (B, 1, *patch): C = 2, or 3 for a residual net
    (its ``residual`` attribute true; the third channel is :func:`line_fill` of the whole array). Voxels outside every
    patch's interior are NaN. ``threads`` sets torch's intra-op threads for the call;
    ``precision`` "bfloat16" runs the network under autocast (:func:`hifft.bcdi.unet.autocast`).
    """
    import torch

    from .unet import autocast

    if batch_size < 1:
        raise InpaintError(f"batch_size: must be ≥ 1, got {batch_size}")
    inp = channels(x, mask, fill=bool(getattr(net, "residual", False)))
    num = np.zeros(x.shape, dtype=np.float32)
    den = np.zeros(x.shape, dtype=np.float32)
    weights: dict[bytes, np.ndarray] = {}
    if isinstance(net, torch.nn.Module):
        net.to(device)
    before = torch.get_num_threads()
    if threads:
        torch.set_num_threads(int(threads))
    try:
        with torch.no_grad(), autocast(precision, device), progress_bar(
                "inpainting patches", len(plan), enabled=progress, unit="patches") as bar:
            for start in range(0, len(plan), batch_size):
                ks = range(start, min(start + batch_size, len(plan)))
                batch = np.stack([inp[(slice(None), *plan.slices(k))] for k in ks])
                pred = net(torch.from_numpy(batch).to(device))
                pred_np = pred.detach().to("cpu", torch.float32).numpy()[:, 0]
                for j, k in enumerate(ks):
                    key = plan.interiors[k].tobytes()
                    w = weights.get(key)
                    if w is None:
                        w = weights[key] = plan.weight(k)
                    sl = plan.slices(k)
                    num[sl] += w * pred_np[j]
                    den[sl] += w
                bar.advance(len(ks))
    finally:
        torch.set_num_threads(before)
    out = np.full(x.shape, np.nan, dtype=np.float32)
    np.divide(num, den, out=out, where=den > 0)
    return out


def model_fill(model: Any, data: np.ndarray, mask: np.ndarray, *, rescale: bool = True, batch_size: int = 16,
               threads: int | None = None, device: str = "cpu", progress: bool | None = None,
               name: str = "mask") -> tuple[np.ndarray, int]:
    """Model prediction in counts on the gap voxels (0 elsewhere) and the number of patches run.

    ``model``: a :class:`hifft.bcdi.unet.InpaintModel` (``net``, ``dims``, ``patch``, ``margin``,
    ``stride``, ``peak``, ``precision``). A 2D model on a 3D pattern runs on each frame (axis 0) holding gap voxels.
    """
    if model.dims == 2 and data.ndim == 3:
        fill = np.zeros(data.shape, dtype=np.float64)
        n = 0
        for k in range(data.shape[0]):
            if mask[k].any():
                fill[k], nk = model_fill(model, data[k], mask[k], rescale=rescale, batch_size=batch_size,
                                         threads=threads, device=device, progress=False, name=f"{name}[{k}]")
                n += nk
        return fill, n
    if model.dims != data.ndim:
        raise InpaintError(f"model: a {model.dims}D model cannot inpaint a {data.ndim}D pattern")
    plan = plan_patches(mask, model.patch, model.stride, model.margin, name=name)
    gain = gain_for(data, mask, model.peak) if rescale else 1.0
    x = to_log(data, model.peak, gain)
    pred = run_patches(model.net, x, mask, plan, batch_size=batch_size, threads=threads, device=device,
                       precision=getattr(model, "precision", "float32"), progress=progress)
    hole = mask & ~np.isfinite(pred)
    if hole.any():  # the plan covers every gap voxel by construction; this guards the construction
        raise RuntimeError(f"patch plan left {int(hole.sum())} gap voxels uncovered")
    return np.where(mask, from_log(np.nan_to_num(pred), model.peak, gain), 0.0), len(plan)


def inpaint(data: Any, mask: Any, method: str = "model", model: Any = None, *, axis: int | None = 0,
            rescale: bool = True, batch_size: int = 16, threads: int | None = None, device: str = "cpu",
            progress: bool | None = None, name: str = "pattern", mask_name: str = "mask") -> np.ndarray:
    """``data`` (counts, 2D or 3D) with its gap voxels (``mask`` True, or a 2D frame mask of a 3D
    pattern) filled by ``method``: "model" (needs ``model``), "biharmonic", "line" or "zero".

    Returns float counts; measured voxels are bit-identical to ``data`` (cast to float).
    Errors name ``name``/``mask_name`` (file names in the CLI).
    """
    if method not in METHODS:
        raise InpaintError(f"method: expected one of {METHODS}, got {method!r}")
    a, m = _prepare(data, mask, name, mask_name)
    if method == "zero":
        return _result(a, m, np.zeros(a.shape))
    if method == "biharmonic":
        return biharmonic(a, m, axis=axis, name=name, mask_name=mask_name)
    if method == "line":
        return _result(a, m, np.expm1(np.maximum(line_fill(np.log1p(a.astype(np.float64)), m), 0.0)))
    if model is None:
        raise InpaintError("model: method 'model' needs a trained model (--model FILE)")
    fill, _ = model_fill(model, a, m, rescale=rescale, batch_size=batch_size, threads=threads, device=device,
                         progress=progress, name=mask_name)
    return _result(a, m, fill)


# ---------------------------------------------------------------------------
# metrics
# ---------------------------------------------------------------------------


def pearson(a: np.ndarray, b: np.ndarray) -> float | None:
    """Pearson correlation of two 1D samples; None when either is constant (undefined)."""
    a = np.asarray(a, dtype=np.float64).ravel()
    b = np.asarray(b, dtype=np.float64).ravel()
    if a.size < 2:
        return None
    da, db = a - a.mean(), b - b.mean()
    na, nb = float(np.sqrt((da * da).sum())), float(np.sqrt((db * db).sum()))
    if na == 0 or nb == 0:
        return None
    return float((da * db).sum() / (na * nb))


def gap_metrics(pred: Any, truth: Any, mask: Any) -> dict[str, float | None]:
    """Metrics over the gap voxels of ``pred`` against ``truth`` (counts).

    ``pcc``/``pcc_log``: Pearson correlation of I / log1p(I) (None for a constant prediction,
    e.g. zero fill); ``mae``/``mae_log``: mean absolute errors; ``accuracy``: 1 − Σ|t − p| / Σ t.
    """
    m = np.asarray(mask, dtype=bool)
    p = np.asarray(pred, dtype=np.float64)[m]
    t = np.asarray(truth, dtype=np.float64)[m]
    lp, lt = np.log1p(np.maximum(p, 0)), np.log1p(np.maximum(t, 0))
    tot = float(t.sum())
    return {
        "n": int(m.sum()),
        "pcc": pearson(p, t),
        "pcc_log": pearson(lp, lt),
        "mae": float(np.abs(p - t).mean()) if p.size else None,
        "mae_log": float(np.abs(lp - lt).mean()) if p.size else None,
        "accuracy": 1.0 - float(np.abs(p - t).sum()) / tot if tot > 0 else None,
    }


def binned_metrics(pred: Any, truth: Any, mask: Any, reference: Any, edges: Sequence[float]) -> list[dict[str, Any]]:
    """:func:`gap_metrics` per bin of local intensity: gap voxels grouped by ``reference``
    (e.g. the expected counts) in the bins [edges[i], edges[i+1]) (first from 0, last to ∞)."""
    m = np.asarray(mask, dtype=bool)
    ref = np.asarray(reference, dtype=np.float64)
    bounds = [0.0, *map(float, edges), math.inf]
    out = []
    for lo, hi in itertools.pairwise(bounds):
        sel = m & (ref >= lo) & (ref < hi)
        row: dict[str, Any] = {"low": lo, "high": None if math.isinf(hi) else hi}
        row.update(gap_metrics(pred, truth, sel))
        out.append(row)
    return out


__all__ = [
    "DEFAULT_MODEL",
    "METHODS", "DEFAULT_PEAK", "InpaintError", "check_pattern", "gain_for", "to_log", "from_log", "channels",
    "line_fill", "zero_fill", "biharmonic_field", "biharmonic", "run_patches", "model_fill", "inpaint", "pearson",
    "gap_metrics", "binned_metrics",
]
