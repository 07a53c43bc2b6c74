"""The exact scattering of a *realized* configuration of spherical particles.

For particles with isotropic amplitudes (spheres, core–shell spheres) the
intensity at every Fourier mode k of the periodic box is known in closed form
from the particle table, speckle included:

    A(k) = Σ_j a_j(|k|) · e^{−i k·r_j},        I(k) = 1e-4·|A(k)|² / V_box,
    a_j(q) = Δρ_o·V_o·f(q·R_o) + Δρ_i·V_i·f(q·R_i),  f(x) = 3(sin x − x cos x)/x³

(outer body and core; the rasterizer's contrasts). Averaged over the same
shells as the reduction, this is an oracle without the statistical scatter
of random placement: it separates the pipeline's own error at low q (where
one box has few modes) from the speckle of the configuration, which is
physics. It needs the overlaps to *add* (``overlap="sum"``) or not to occur
(hard placement); it costs (modes × particles), so it is evaluated only up to
a small ``q_max``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import xarray as xr

PREFACTOR = 1e-4
_ELLIPSOID = 0


def _f(x: np.ndarray) -> np.ndarray:
    out = np.ones_like(x)
    nz = x > 1e-6
    xs = x[nz]
    out[nz] = 3.0 * (np.sin(xs) - xs * np.cos(xs)) / xs**3
    return out


def isotropic(scene: Any) -> bool:
    """True when every particle of ``scene`` is a sphere or concentric core–shell sphere and
    overlaps add or do not happen."""
    if getattr(scene, "voxelization", "antialias") != "antialias":
        return False
    parts = scene.particles
    if len(parts) == 0 or np.any(parts.kind != _ELLIPSOID):
        return False
    for dims, w in ((parts.dims_o, parts.w_o), (parts.dims_i, parts.w_i)):
        used = w != 0
        if np.any(np.ptp(dims[used], axis=1) > 1e-12 * np.maximum(dims[used, 0], 1.0)):
            return False
    if scene.overlap != "sum":
        kinds = {c.placement.kind for c in scene.components}
        if kinds != {"hard"}:
            return False
    return True


def shell_intensity(
    scene: Any, q_lo: np.ndarray, q_hi: np.ndarray, q_max: float, chunk_elems: int = 4_000_000
) -> tuple[np.ndarray, np.ndarray]:
    """Exact mean I over the modes of each shell [q_lo, q_hi) with q_hi ≤ ``q_max`` (1/cm).

    Returns (I per shell, NaN for shells not computed; mode count per shell).
    The grid must be cubic-isotropic in k (equal box edges).
    """
    g = scene.grid
    box = np.array(g.box[::-1])  # (x, y, z) Å
    if np.ptp(box) > 1e-9 * box.max():
        raise ValueError("exact.shell_intensity: needs equal box edges")
    L = float(box[0])
    dq = 2 * np.pi / L
    parts = scene.particles
    pos = np.asarray(parts.center, dtype=np.float64)
    r_o, w_o = parts.dims_o[:, 0], parts.w_o
    r_i, w_i = parts.dims_i[:, 0], parts.w_i
    v_o = 4.0 / 3.0 * np.pi * r_o**3
    v_i = 4.0 / 3.0 * np.pi * r_i**3
    nb = len(q_lo)
    todo = np.flatnonzero(q_hi <= q_max * (1 + 1e-12))
    out = np.full(nb, np.nan)
    count = np.zeros(nb)
    if todo.size == 0:
        return out, count
    m = int(np.ceil(q_hi[todo].max() / dq))
    ax = np.arange(-m, m + 1)
    K = np.stack(np.meshgrid(ax, ax, ax, indexing="ij"), -1).reshape(-1, 3) * dq
    k = np.sqrt((K**2).sum(axis=1))
    edges_lo, edges_hi = q_lo[todo], q_hi[todo]
    ib = np.searchsorted(edges_hi, k, side="right")
    keep = (ib < todo.size) & (k > 0)
    keep[keep] &= k[keep] >= edges_lo[ib[keep]] * (1 - 1e-12)
    K, k, ib = K[keep], k[keep], ib[keep]
    n_p = len(pos)
    step = max(1, chunk_elems // max(n_p, 1))
    inten = np.empty(k.size)
    for s in range(0, k.size, step):
        kk, KK = k[s : s + step], K[s : s + step]
        amp = w_o[None, :] * v_o[None, :] * _f(kk[:, None] * r_o[None, :])
        if np.any(w_i != 0):
            amp += w_i[None, :] * v_i[None, :] * _f(kk[:, None] * r_i[None, :])
        phase = KK @ pos.T
        re = (amp * np.cos(phase)).sum(axis=1)
        im = (amp * np.sin(phase)).sum(axis=1)
        inten[s : s + step] = re * re + im * im
    inten *= PREFACTOR / g.volume
    sums = np.bincount(ib, inten, todo.size)
    cnt = np.bincount(ib, minlength=todo.size).astype(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        out[todo] = np.where(cnt > 0, sums / cnt, np.nan)
    count[todo] = cnt
    return out, count


def realized_check(
    scenes: list[Any], ds: xr.Dataset, q_max: float, window: tuple[float, float]
) -> dict[str, Any] | None:
    """Data against the exact shells of the realized configurations (averaged over ``scenes``).

    Returns None when a scene is not made of isotropic particles. Otherwise a
    dict with the per-bin ratio (bins up to ``q_max``), the mode-weighted mean
    ratio − 1 over ``window`` (``i0_error``) and the largest |ratio − 1| there.
    """
    if not scenes or not all(isotropic(s) for s in scenes):
        return None
    q_lo, q_hi = ds["q_lo"].values, ds["q_hi"].values
    acc = np.zeros(len(q_lo))
    for s in scenes:
        I, _ = shell_intensity(s, q_lo, q_hi, q_max)
        acc += I
    exact = acc / len(scenes)
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio = ds["I"].values / exact
    q = ds["q"].values
    sel = np.isfinite(ratio) & (q >= window[0]) & (q <= window[1])
    if not sel.any():
        return None
    w = np.asarray(ds["n_independent"].values if "n_independent" in ds else ds["count"].values)[sel]
    return {
        "ratio": ratio,
        "q_max": float(q_max),
        "i0_error": float(np.sum(w * ratio[sel]) / np.sum(w) - 1.0),
        "max_abs": float(np.max(np.abs(ratio[sel] - 1.0))),
        "n_bins": int(sel.sum()),
    }
