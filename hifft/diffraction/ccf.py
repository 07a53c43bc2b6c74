"""Two-point cross-correlation (CCF) maps of diffraction images (seed 003's noise-robust input).

Per image (square or not; the beam at the centre):

1. polar rebinning I(q_i, φ_k): mean of the pixels whose centre falls in
   radial bin i (``n_q`` linear bins of r from ``r_min`` to ``r_max``, in
   fractions of the image's half-width) and sector k (``n_phi``), by
   :class:`hifft.reduce.Azimuthal` (built once per geometry;
   :meth:`~hifft.reduce.Azimuthal.bin_means` does a batch in one sparse
   product). A bin without pixels takes its ring's mean (no angular signal);
2. angular Fourier coefficients I_n(q) = (1/n_phi) Σ_k I(q, φ_k) e^(−i n φ_k)
   (the seed's (1/2π) ∫ I e^(−inφ) dφ), by an FFT along φ;
3. the map (n_q × n_q): lower triangle and diagonal
   C⁰_ij = mean_φ I(q_i, φ) I(q_j, φ); strict upper triangle
   C^n_ij = |I_n*(q_i) I_n(q_j)| (``reduce="abs"``, the default; note it is
   the rank-one |I_n(q_i)|·|I_n(q_j)|) or Re(I_n*(q_i) I_n(q_j))
   (``reduce="real"``, which keeps the relative phase of the n-fold pattern
   at the two radii), n = ``order``;
4. both triangles divided by s = mean_i C⁰_ii (mean square intensity over
   the polar bins), so a map does not depend on flux or gain: C⁰ entries lie
   in [0, 1·max_i C⁰_ii/s], and |C^n_ij| ≤ ½ √(C⁰_ii C⁰_jj)/s (Parseval; the
   orders ±n share the power). An all-zero image gives a zero map;
5. with ``orders`` (not in the seed), one more map per order n as a further
   channel: lower triangle and diagonal Re(I_n*(q_i) I_n(q_j)), strict upper
   triangle |Im(I_n*(q_i) I_n(q_j))|, divided by the same s. Together they
   keep what the seed's single order-``order`` magnitude map drops: the
   relative phase of each n-fold component between radii, and the odd orders
   of one-sided (asymmetric, bent) patterns. The output is then
   (n, 1 + len(orders), n_q, n_q), the seed's map first.

Maps are invariant under rotations and mirror flips of the image (a
rotation shifts every I_n(q) by the same phase, a flip conjugates it, which
the |Im| of step 5 absorbs), so they need no flip augmentation. Units: dimensionless (float32).
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any, Literal

import numpy as np
import xarray as xr

from ..reduce import Azimuthal
from .config import CCFConfig


def polar_template(shape: tuple[int, int]) -> xr.DataArray:
    """A zero image with 2D coords ``q`` = pixel radius / half-width and ``phi`` (degrees) for Azimuthal."""
    rows, cols = shape
    y = np.arange(rows) - (rows - 1) / 2
    x = np.arange(cols) - (cols - 1) / 2
    yy, xx = np.meshgrid(y, x, indexing="ij")
    half = min(rows, cols) / 2
    dims = ("row", "col")
    return xr.DataArray(np.zeros(shape), dims=dims, coords={
        "q": (dims, np.hypot(yy, xx) / half, {"units": "1", "long_name": "radius / half-width"}),
        "phi": (dims, np.degrees(np.arctan2(yy, xx)), {"units": "degree"}),
    })


class CCF:
    """CCF maps for images of one ``shape`` (rows, cols); see the module doc and :class:`CCFConfig`."""

    def __init__(self, shape: tuple[int, int], cfg: CCFConfig | None = None) -> None:
        self.cfg = cfg or CCFConfig()
        self.shape = (int(shape[0]), int(shape[1]))
        c = self.cfg
        self.azimuthal = Azimuthal(polar_template(self.shape), bins=c.n_q, q_min=c.r_min, q_max=c.r_max,
                                   n_phi=c.n_phi)
        self.empty_bins = self.azimuthal.count.reshape(c.n_q, c.n_phi) == 0
        if self.empty_bins.all(axis=1).any():
            ring = int(np.flatnonzero(self.empty_bins.all(axis=1))[0])
            raise ValueError(f"ccf: radial bin {ring} of a {self.shape} image holds no pixel; use fewer n_q "
                             f"({c.n_q}) or a larger r_min ({c.r_min})")

    def polar(self, images: Any) -> np.ndarray:
        """I(q, φ): (n, n_q, n_phi) float64 from images (n, rows, cols); empty bins take their ring's mean."""
        p = self.azimuthal.bin_means(images)
        bad = np.isnan(p)
        if bad.any():
            cnt = (~bad).sum(axis=-1, keepdims=True)
            ring = np.where(bad, 0.0, p).sum(axis=-1, keepdims=True) / np.maximum(cnt, 1)
            p = np.where(bad, ring, p)
        return p

    @property
    def map_shape(self) -> tuple[int, ...]:
        """Shape of one image's map: (n_q, n_q), or (channels, n_q, n_q) with ``orders``."""
        c = self.cfg
        return (c.n_q, c.n_q) if not c.orders else (c.channels, c.n_q, c.n_q)

    def __call__(self, images: Any) -> np.ndarray:
        """CCF maps (n, *map_shape) float32 of images (n, rows, cols)."""
        arr = np.asarray(images)
        if arr.ndim != 3 or arr.shape[1:] != self.shape:
            raise ValueError(f"ccf: expected images (n, {self.shape[0]}, {self.shape[1]}), got {arr.shape}")
        return maps_from_polar(self.polar(arr), self.cfg.order, self.cfg.reduce, self.cfg.orders)


def maps_from_polar(polar: np.ndarray, order: int = 8, reduce: Literal["abs", "real"] = "abs",
                    orders: Sequence[int] = ()) -> np.ndarray:
    """CCF maps (n, n_q, n_q) float32 from polar intensities (n, n_q, n_phi) (module doc, steps 2–4);
    with ``orders``, (n, 1 + len(orders), n_q, n_q) (step 5)."""
    p = np.asarray(polar, dtype=np.float64)
    n_phi = p.shape[-1]
    for n in (order, *orders):
        if 2 * n >= n_phi:
            raise ValueError(f"order: {n} needs more than {2 * n} sectors, got {n_phi}")
    c0 = np.einsum("nik,njk->nij", p, p) / n_phi
    spectrum = np.fft.rfft(p, axis=-1) / n_phi  # I_n(q), (n, n_q, n_phi // 2 + 1)
    fn = spectrum[..., order]
    prod = np.conj(fn)[:, :, None] * fn[:, None, :]
    cn = np.abs(prod) if reduce == "abs" else prod.real
    iu = np.triu_indices(p.shape[1], k=1)
    out = c0.copy()
    out[:, iu[0], iu[1]] = cn[:, iu[0], iu[1]]
    scale = np.trace(c0, axis1=1, axis2=2) / p.shape[1]
    safe = np.where(scale > 0, scale, 1.0)[:, None, None]
    if not orders:
        return (out / safe).astype(np.float32)
    maps = [out]
    for n in orders:
        fn = spectrum[..., n]
        prod = np.conj(fn)[:, :, None] * fn[:, None, :]
        m = prod.real
        m[:, iu[0], iu[1]] = np.abs(prod.imag[:, iu[0], iu[1]])
        maps.append(m)
    return (np.stack(maps, axis=1) / safe[:, None]).astype(np.float32)


@functools.lru_cache(maxsize=8)
def _ccf(shape: tuple[int, int], cfg_json: str) -> CCF:
    return CCF(shape, CCFConfig.model_validate_json(cfg_json))


def ccf_maps(images: Any, n_q: int = 48, n_phi: int = 32, order: int = 8, r_min: float = 0.15,
             r_max: float = 1.0, reduce: Literal["abs", "real"] = "abs", orders: Sequence[int] = ()) -> np.ndarray:
    """CCF maps (n, n_q, n_q) float32 of images (n, rows, cols) (or one image → (n_q, n_q));
    with ``orders``, (n, 1 + len(orders), n_q, n_q) (or one: (1 + len(orders), n_q, n_q)).

    The geometry is built once per image shape and settings (cached); see the module doc.
    """
    arr = np.asarray(images)
    one = arr.ndim == 2
    if one:
        arr = arr[None]
    if arr.ndim != 3:
        raise ValueError(f"ccf: expected images (n, rows, cols) or one (rows, cols), got shape {arr.shape}")
    cfg = CCFConfig(n_q=n_q, n_phi=n_phi, order=order, r_min=r_min, r_max=r_max, reduce=reduce,
                    orders=list(orders))
    out = _ccf((int(arr.shape[1]), int(arr.shape[2])), cfg.model_dump_json())(arr)
    return out[0] if one else out


__all__ = ["CCF", "ccf_maps", "maps_from_polar", "polar_template"]
