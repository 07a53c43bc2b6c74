"""Azimuthal integration of 2D images: I(q) and caked I(q, φ) with per-bin statistics.

Pixels are assigned whole to the bin of their centre's |q| (pyFAI's
``("no", "histogram")`` method; without pixel splitting, the two agree bin
for bin). The geometry (bin of every unmasked pixel) is computed once per
:class:`Azimuthal`; each frame then costs two passes of a numba kernel. We
do not call pyFAI itself: it works from detector geometry, while hifft
images are often flat q-grids (central planes) with no distance or
wavelength, and we need the Friedel-aware independent-sample count.
"""

from __future__ import annotations

from typing import Any

import numba
import numpy as np
import xarray as xr

from .. import units
from ._common import (
    EDGE_RTOL,
    bin_centers,
    bin_statistics,
    clean_attrs,
    make_edges,
)


@numba.njit(cache=True, nogil=True)
def _frame_sums(flat: np.ndarray, pix: np.ndarray, idx: np.ndarray, W: np.ndarray, S1: np.ndarray,
                S2: np.ndarray, K: np.ndarray, seen: np.ndarray) -> None:  # pragma: no cover - compiled
    """One pass: count, Σ(v − K_b), Σ(v − K_b)² per bin, K_b = the bin's first value
    (shifted sums: exact zero spread for constant bins). NaN pixels are skipped."""
    for p in range(pix.shape[0]):
        v = np.float64(flat[pix[p]])
        if v != v:
            continue
        b = idx[p]
        if not seen[b]:
            seen[b] = True
            K[b] = v
        d = v - K[b]
        W[b] += 1.0
        S1[b] += d
        S2[b] += d * d


def _friedel_partner(coord: np.ndarray) -> np.ndarray:
    """Index of −c for every value c of a 1D coordinate, −1 where absent."""
    order = np.argsort(coord)
    srt = coord[order]
    pos = np.clip(np.searchsorted(srt, -coord), 0, srt.size - 1)
    tol = 1e-9 * max(np.abs(coord).max(), 1e-300)
    hit = np.abs(srt[pos] + coord) <= tol
    return np.where(hit, order[pos], -1)


def beamstop_mask(img: xr.DataArray, radius: Any) -> np.ndarray:
    """True (masked) where |q| < ``radius`` (1/Å or with units)."""
    return _pixel_q(img)[0] < units.q(radius, "beamstop")


def gap_mask(shape: tuple[int, int], rows: Any = (), cols: Any = ()) -> np.ndarray:
    """True on detector gaps: ``rows``/``cols`` are (start, stop) pixel ranges."""
    m = np.zeros(shape, bool)
    for a, b in rows:
        m[a:b, :] = True
    for a, b in cols:
        m[:, a:b] = True
    return m


def _pixel_q(img: xr.DataArray) -> tuple[np.ndarray, np.ndarray]:
    """|q| and φ (degrees, atan2(q_y, q_x)) per pixel from the image's coords."""
    if "q" in img.coords and img.coords["q"].ndim == 2:
        q = np.asarray(img.coords["q"].values, dtype=np.float64)
        if "phi" in img.coords:
            phi = np.asarray(img.coords["phi"].values, dtype=np.float64)
        else:
            phi = np.degrees(np.arctan2(img.coords["q_y"].values, img.coords["q_x"].values))
        return q, phi
    if img.ndim != 2:
        raise ValueError(f"azimuthal: expected a 2D image, got dims {img.dims}")
    du, dv = img.dims
    if not (str(du).startswith("q_") and str(dv).startswith("q_")):
        raise ValueError("azimuthal: the image needs 1D q coords (dims q_*) or a 2D 'q' coord")
    qu = np.asarray(img.coords[du].values, dtype=np.float64)
    qv = np.asarray(img.coords[dv].values, dtype=np.float64)
    uu, vv = np.meshgrid(qu, qv, indexing="ij")
    # φ measured from the second (horizontal) axis towards the first (vertical)
    return np.hypot(uu, vv), np.degrees(np.arctan2(uu, vv))


class Azimuthal:
    """Precomputed azimuthal integrator for images sharing one geometry and mask.

    Parameters
    ----------
    template : DataArray
        An image with q coords: 1D ``q_*`` dims (flat q-grid images) or 2D
        ``q`` (and ``phi`` or ``q_x``/``q_y``) coords (detector images).
    bins, q_min, q_max, bin_spacing
        Radial bins as in :func:`hifft.saxs`; default linear from 0 (or the
        smallest non-zero |q|, for log) to the largest |q| in the image.
    mask : bool array, optional
        True = excluded (pyFAI's convention). NaN pixels are always excluded.
    beamstop : float or str, optional
        Exclude |q| below this (1/Å or with units).
    n_phi : int, optional
        Number of azimuthal sectors for a caked I(q, φ); ``phi_range`` in
        degrees (default (−180, 180)).
    friedel : bool, optional
        The image obeys I(q) = I(−q) pixel by pixel (central planes), so a
        pixel and its mirror are one sample. Default: the image's
        ``friedel_symmetric`` attr.
    e_min : float
        sigma = max(sem, e_min·I).
    """

    def __init__(
        self, template: xr.DataArray, bins: int | Any = 100, q_min: Any = None, q_max: Any = None,
        bin_spacing: str = "linear", mask: Any = None, beamstop: Any = None, n_phi: int | None = None,
        phi_range: tuple[float, float] = (-180.0, 180.0), friedel: bool | None = None,
        e_min: float = 0.01,
    ) -> None:
        if not isinstance(template, xr.DataArray):
            raise TypeError("azimuthal: expected an xarray.DataArray with q coords")
        q, phi = _pixel_q(template)
        shape = q.shape
        self.shape = shape
        self.dims = template.dims
        valid = np.isfinite(q)
        if mask is not None:
            m = np.asarray(mask, dtype=bool)
            if m.shape != shape:
                raise ValueError(f"mask: shape {m.shape} != image shape {shape}")
            valid &= ~m
        if beamstop is not None:
            valid &= q >= units.q(beamstop, "beamstop")
        qv = q[valid]
        if str(bin_spacing).lower() == "log":
            default = (float(qv[qv > 0].min()) if np.any(qv > 0) else 1.0, float(qv.max()))
        else:
            default = (0.0, float(qv.max()) if qv.size else 1.0)
        self.edges = make_edges(bins, q_min, q_max, bin_spacing, default)
        self.bin_spacing = bin_spacing if np.ndim(bins) == 0 else "edges"
        e = self.edges
        lo, hi = e[0] * (1 - EDGE_RTOL), e[-1] * (1 + EDGE_RTOL)
        valid &= (q >= lo) & (q <= hi)
        nq = e.size - 1
        qb = np.clip(np.searchsorted(e, q, side="right") - 1, 0, nq - 1)
        self.n_phi = None if n_phi is None else int(n_phi)
        if self.n_phi is not None:
            p0, p1 = map(float, phi_range)
            if not p0 < p1 or self.n_phi < 1:
                raise ValueError(
                    f"phi_range/n_phi: need p0 < p1 and n_phi >= 1, got {phi_range}, {n_phi}")
            self.phi_edges = np.linspace(p0, p1, self.n_phi + 1)
            valid &= (phi >= p0) & (phi <= p1)
            pb = np.floor((phi - p0) / (p1 - p0) * self.n_phi).astype(np.int64)
            pb = np.clip(pb, 0, self.n_phi - 1)
            b = qb * self.n_phi + pb
            self.nbins = nq * self.n_phi
        else:
            b = qb
            self.nbins = nq
        small = valid.size < 2**31
        self.pix = np.flatnonzero(valid.ravel()).astype(np.int32 if small else np.int64)
        self.idx = np.ascontiguousarray(b.ravel()[self.pix], dtype=np.int32)
        self.e_min = float(e_min)
        self._csr: Any = None  # bins × pixels matrix of bin_means, built on first use
        if friedel is None:
            friedel = bool(template.attrs.get("friedel_symmetric", 0))
        self.friedel = friedel
        self._partner = self._partners(template) if friedel else None
        self.count = np.bincount(self.idx, minlength=self.nbins).astype(np.float64)
        self.n_indep = self._n_independent_subset(None)
        qf = q.ravel()[self.pix]
        w = np.maximum(self.count, 1)
        self.q_mean = np.bincount(self.idx, weights=qf, minlength=self.nbins) / w
        dev2 = (qf - self.q_mean[self.idx]) ** 2
        self.q_std = np.sqrt(np.bincount(self.idx, weights=dev2, minlength=self.nbins) / w)
        self.attrs = clean_attrs({k: v for k, v in template.attrs.items() if k != "units"})
        self.units = template.attrs.get("units", units.ATTR["intensity"])

    def _partners(self, img: xr.DataArray) -> np.ndarray | None:
        """Flat index of each pixel's Friedel mirror (−q), −1 where absent."""
        du, dv = img.dims
        if not (str(du).startswith("q_") and str(dv).startswith("q_")):
            return None
        pu = _friedel_partner(np.asarray(img.coords[du].values, dtype=np.float64))
        pv = _friedel_partner(np.asarray(img.coords[dv].values, dtype=np.float64))
        uu, vv = np.meshgrid(pu, pv, indexing="ij")
        nv = pv.size
        return np.where((uu >= 0) & (vv >= 0), uu * nv + vv, -1).ravel()

    def __call__(self, data: Any) -> xr.Dataset:
        """Integrate one frame (array or DataArray of the template's shape)."""
        arr = np.asarray(data.values if isinstance(data, xr.DataArray) else data)
        if arr.shape != self.shape:
            raise ValueError(f"frame shape {arr.shape} != geometry shape {self.shape}")
        flat = arr.reshape(-1)
        if flat.dtype.kind != "f":
            flat = flat.astype(np.float64)
        W, S1, S2, K = (np.zeros(self.nbins) for _ in range(4))
        seen = np.zeros(self.nbins, np.bool_)
        _frame_sums(flat, self.pix, self.idx, W, S1, S2, K, seen)
        with np.errstate(invalid="ignore", divide="ignore"):
            safe = np.maximum(W, 1)
            mean = K + S1 / safe
            M2 = np.maximum(S2 - S1 * S1 / safe, 0.0)
        if np.array_equal(W, self.count):
            n_ind = self.n_indep
        else:  # NaN pixels in this frame: recount without them
            n_ind = self._n_independent_subset(np.isfinite(flat[self.pix]))
        return self._dataset(W, mean, M2, n_ind)

    def bin_means(self, frames: Any) -> np.ndarray:
        """Mean per bin of many frames in one sparse product: (n, n_q) or caked (n, n_q, n_phi).

        ``frames``: (n, *shape) or one frame of the template's shape. Equals
        the ``I`` of :meth:`__call__` frame by frame (float64; NaN pixels
        skipped, NaN where a bin has no finite pixel), without the per-frame
        statistics and Dataset: the fast path for batches (pyFAI's CSR
        engine: a precomputed bins × pixels matrix times the pixel values).
        """
        from scipy import sparse

        arr = np.asarray(frames.values if isinstance(frames, xr.DataArray) else frames)
        one = arr.ndim == len(self.shape)
        if one:
            arr = arr[None]
        if arr.ndim != len(self.shape) + 1 or arr.shape[1:] != self.shape:
            raise ValueError(f"frames: expected shape (n, {', '.join(map(str, self.shape))}), got {arr.shape}")
        if self._csr is None:
            npix = self.pix.size
            self._csr = sparse.csr_matrix((np.ones(npix), (self.idx, np.arange(npix))), shape=(self.nbins, npix))
        vals = arr.reshape(arr.shape[0], -1)[:, self.pix].astype(np.float64).T  # (pixels, n)
        fin = np.isfinite(vals)
        if fin.all():
            counts = np.broadcast_to(self.count[:, None], (self.nbins, arr.shape[0]))
        else:
            vals = np.where(fin, vals, 0.0)
            counts = self._csr @ fin.astype(np.float64)
        with np.errstate(invalid="ignore", divide="ignore"):
            means = np.where(counts > 0, (self._csr @ vals) / counts, np.nan).T
        if self.n_phi is not None:
            means = means.reshape(arr.shape[0], self.edges.size - 1, self.n_phi)
        return means[0] if one else means

    def _n_independent_subset(self, fin: np.ndarray | None) -> np.ndarray:
        """Pixels per bin, a Friedel pair (both used) counting once; ``fin`` selects used pixels."""
        pix = self.pix if fin is None else self.pix[fin]
        idx = self.idx if fin is None else self.idx[fin]
        if self._partner is None:
            return np.bincount(idx, minlength=self.nbins).astype(np.float64)
        # a pixel counts ½ when its mirror is used and falls in the same bin (always in 1D;
        # in a caked image the mirror sits in the opposite sector, another bin)
        binmap = np.full(self.shape[0] * self.shape[1], -1, np.int64)
        binmap[pix] = idx
        part = self._partner[pix]
        paired = (part >= 0) & (part != pix)
        paired[paired] = binmap[part[paired]] == idx[paired]
        return np.bincount(idx, weights=np.where(paired, 0.5, 1.0), minlength=self.nbins)

    def _dataset(self, W: np.ndarray, mean: np.ndarray, M2: np.ndarray,
                 n_ind: np.ndarray) -> xr.Dataset:
        st = bin_statistics(W, mean, M2, n_ind, self.e_min)
        ia = {"units": self.units}
        qa = {"units": units.ATTR["q"]}
        one = {"units": "1"}
        centers = bin_centers(self.edges, self.bin_spacing)
        attrs = {**self.attrs, "reduction": "azimuthal integration", "e_min": self.e_min,
                 "friedel_pairs_counted_once": int(self.friedel), "pixel_splitting": "no"}
        if self.n_phi is None:
            empty = W <= 0
            q = np.where(empty, centers, self.q_mean)
            return xr.Dataset(
                {"I": ("q", st["I"], ia), "sigma": ("q", st["sigma"], ia),
                 "sem": ("q", st["sem"], ia), "std": ("q", st["std"], ia), "count": ("q", W, one),
                 "n_independent": ("q", n_ind, one),
                 "q_std": ("q", np.where(empty, np.nan, self.q_std), qa)},
                coords={"q": ("q", q, {**qa, "long_name": "mean |q| in the bin"}),
                        "q_center": ("q", centers, qa), "q_lo": ("q", self.edges[:-1], qa),
                        "q_hi": ("q", self.edges[1:], qa)},
                attrs=attrs)
        shp = (self.edges.size - 1, self.n_phi)
        pe = self.phi_edges
        da = {"units": "degree"}
        data = {k: (("q", "phi"), st[k].reshape(shp), ia) for k in ("I", "sigma", "sem", "std")}
        data["count"] = (("q", "phi"), W.reshape(shp), one)
        data["n_independent"] = (("q", "phi"), n_ind.reshape(shp), one)
        return xr.Dataset(
            data,
            coords={"q": ("q", centers, qa), "q_lo": ("q", self.edges[:-1], qa),
                    "q_hi": ("q", self.edges[1:], qa),
                    "phi": ("phi", 0.5 * (pe[:-1] + pe[1:]), da), "phi_lo": ("phi", pe[:-1], da),
                    "phi_hi": ("phi", pe[1:], da)},
            attrs=attrs)


def azimuthal(img: xr.DataArray, bins: int | Any = 100, **kw: Any) -> xr.Dataset:
    """Azimuthal integration of a 2D image: I(q) (or I(q, φ) with ``n_phi=``).

    Returns a Dataset with the same variables as :func:`hifft.saxs`
    (``I``, ``sigma``, ``sem``, ``std``, ``count``, ``n_independent``, and
    ``q_std`` in 1D). See :class:`Azimuthal` for the options; build one
    ``Azimuthal`` and call it per frame to integrate many frames fast.
    """
    return Azimuthal(img, bins=bins, **kw)(img)
