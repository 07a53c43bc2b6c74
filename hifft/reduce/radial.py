"""Radial (3D shell) average of |F(q)|² as a pass-2 :class:`~hifft.fft.reducer.Reducer`.

Two parts, so that the part fused into pass 2 stays cheap:

* **data** (per y-block, in pass 2): one numba kernel walks each x row of
  the block in order of increasing |q_x|, so |q| increases along the row
  and points fall into runs of one bin; a run's bin changes when
  q_z² + q_y² + q_x² crosses the next squared edge. No square root or bin
  search per point. Per bin it accumulates the weighted count, mean and M2
  of I (shifted sums, merged exactly with Chan's formula);
* **geometry** (once per grid, at finalize, cached): the mean and spread
  of |q|, the |q| sub-histograms and the number of independent (Friedel)
  samples depend only on which q points were kept, not on the data. Below
  ``K_EXACT``·Δq they are exact lattice sums over the distinct
  (|q_z|, |q_y|, |q_x|) with their multiplicities; above it (complete
  shells only) they follow the continuum, points uniformly dense in
  q-space, normalized to the exact count from pass 2. The Friedel count is
  (count + self-conjugate points)/2 everywhere. Partials carry the kept
  index sets, so a q-cropped pass 2 gets the matching geometry.

Both parts assign a point to bin b when e_b² ≤ (q_z² + q_y²) + q_x² < e_{b+1}²
with the same floating-point operations, so their counts agree exactly.
"""

from __future__ import annotations

import warnings
from functools import lru_cache
from typing import Any

import numba
import numpy as np
import xarray as xr

from .. import units
from ..fft.reducer import Reducer, SpectrumBlock
from ..grid import Grid
from ._common import (
    EDGE_RTOL,
    bin_centers,
    bin_lookup_table,
    bin_statistics,
    chan_merge,
    make_edges,
    provenance,
    sinc2_inverse,
    validate_binning,
)

Partial = dict[str, Any]


@lru_cache(maxsize=16)
def _edges(bins: int | tuple[float, ...], q_min: float | None, q_max: float | None, bin_spacing: str,
           grid: Grid) -> np.ndarray:
    e = make_edges(bins if isinstance(bins, int) else np.asarray(bins), q_min, q_max, bin_spacing,
                   grid.valid_q_range)
    e.setflags(write=False)
    return e


# ---- data kernel (fused into pass 2) ----------------------------------------
@numba.njit(cache=True, nogil=True)
def _first_at_least(x2s: np.ndarray, r2: float, t2: float, k0: int, k1: int) -> int:  # pragma: no cover
    """First k in [k0, k1) with r2 + x2s[k] >= t2 (x2s ascending), else k1."""
    lo, hi = k0, k1
    while lo < hi:
        mid = (lo + hi) // 2
        if r2 + x2s[mid] >= t2:
            hi = mid
        else:
            lo = mid + 1
    return lo


@numba.njit(cache=True, nogil=True)
def _first_above(x2s: np.ndarray, r2: float, t2: float, k0: int, k1: int) -> int:  # pragma: no cover
    """First k in [k0, k1) with r2 + x2s[k] > t2 (x2s ascending), else k1."""
    lo, hi = k0, k1
    while lo < hi:
        mid = (lo + hi) // 2
        if r2 + x2s[mid] > t2:
            hi = mid
        else:
            lo = mid + 1
    return lo


@numba.njit(cache=True, nogil=True)
def _bin_of(q2: float, e2: np.ndarray, table: np.ndarray, lo: float, t_inv: float) -> int:  # pragma: no cover
    """Bin b with e2[b] <= q2 < e2[b+1] (clamped to the end bins)."""
    nb = e2.shape[0] - 1
    m = table.shape[0]
    c = int((np.sqrt(q2) - lo) * t_inv)
    if c < 0:
        c = 0
    elif c >= m:
        c = m - 1
    b = table[c]
    while b + 1 < nb and q2 >= e2[b + 1]:
        b += 1
    while b > 0 and q2 < e2[b]:
        b -= 1
    return b


@numba.njit(cache=True, nogil=True, inline="always")
def _power(row: np.ndarray, cx: np.ndarray, k: int, c: float) -> float:  # pragma: no cover - compiled
    v = row[k]
    return c * cx[k] * (np.float64(v.real) ** 2 + np.float64(v.imag) ** 2)


@numba.njit(cache=True, nogil=True)
def _radial_data_kernel(values: np.ndarray, czy: np.ndarray, x2s: np.ndarray, cx: np.ndarray, wx: np.ndarray,
                        r2s: np.ndarray, lead: np.ndarray, mate: np.ndarray, e2: np.ndarray, lo2: float,
                        hi2: float, table: np.ndarray, lo: float, t_inv: float, W: np.ndarray, S1: np.ndarray,
                        S2: np.ndarray, K: np.ndarray, seen: np.ndarray) -> None:  # pragma: no cover - compiled
    """Accumulate one block; ``values`` rows are already in ascending-|q_x| order.

    Along a row |q| only grows, so the bin is found once and then advanced
    when q² crosses the next squared edge; sums stay in registers until the
    bin changes (a run): per point a compare and a few multiply-adds, no
    square root. Rows at q_z and −q_z (``lead``/``mate`` z positions; mate
    −1 when alone) have the same |q| pattern and are walked together.
    """
    nx = values.shape[2]
    nb = W.shape[0]
    inf = np.inf
    for g in range(lead.shape[0]):
        i = lead[g]
        i1 = mate[g]
        m1 = 1.0 if i1 >= 0 else 0.0
        if i1 < 0:
            i1 = i
        for j in range(values.shape[1]):
            r2 = r2s[i, j]
            if r2 > hi2:
                continue
            k0 = _first_at_least(x2s, r2, lo2, 0, nx)
            k1 = _first_above(x2s, r2, hi2, k0, nx)
            if k0 >= k1:
                continue
            row = values[i, j]
            row1 = values[i1, j]
            c = czy[i, j]
            c1 = czy[i1, j]
            b = _bin_of(r2 + x2s[k0], e2, table, lo, t_inv)
            nxt = e2[b + 1] if b + 1 < nb else inf
            if not seen[b]:
                seen[b] = True
                K[b] = _power(row, cx, k0, c)
            kb = K[b]
            sw = 0.0
            s1 = 0.0
            s2 = 0.0
            for k in range(k0, k1):
                if r2 + x2s[k] >= nxt:  # next run: flush, then find its bin
                    W[b] += sw
                    S1[b] += s1
                    S2[b] += s2
                    sw = 0.0
                    s1 = 0.0
                    s2 = 0.0
                    while b + 1 < nb and r2 + x2s[k] >= e2[b + 1]:
                        b += 1
                    nxt = e2[b + 1] if b + 1 < nb else inf
                    if not seen[b]:
                        seen[b] = True
                        K[b] = _power(row, cx, k, c)
                    kb = K[b]
                d = _power(row, cx, k, c) - kb
                e = _power(row1, cx, k, c1) - kb
                w = wx[k]
                sw += w * (1.0 + m1)
                s1 += w * (d + m1 * e)
                s2 += w * (d * d + m1 * e * e)
            W[b] += sw
            S1[b] += s1
            S2[b] += s2


def _z_pairs(iz: np.ndarray, nz: int) -> tuple[np.ndarray, np.ndarray]:
    """Block z positions grouped as (q_z, −q_z) pairs: leaders and mates (−1: alone)."""
    pos = np.full(nz, -1, np.int64)
    pos[iz] = np.arange(iz.size)
    partner = pos[(-iz) % nz]
    p = np.arange(iz.size)
    lead = (partner < 0) | (partner >= p)
    mate = np.where(partner > p, partner, -1)
    return p[lead], mate[lead]


# ---- geometry (once per grid, at finalize) -------------------------------------
#: Bins whose whole range lies above this many Δq (and inside the complete shells,
#: |q| <= min Nyquist) get their |q| distribution from the continuum (points
#: uniformly dense in q-space: weight ∝ q² dq); the exact lattice sum below costs
#: ~(K_EXACT³) and is where the lattice matters. Above it a sub-bin holds >= 10⁴
#: points and the continuum is exact to ~1e-3.
K_EXACT = 128


@numba.njit(cache=True, nogil=True, parallel=True)
def _radial_geometry_kernel(
    az2: np.ndarray, mz: np.ndarray, ay2: np.ndarray, my: np.ndarray, ax2: np.ndarray, mx: np.ndarray,
    e2: np.ndarray, edges: np.ndarray, lo2: float, hi2: float, cut2: float, resume2: float, table: np.ndarray,
    lo: float, t_inv: float, sub_inv: np.ndarray, nsub: int, nchunks: int,
) -> tuple[np.ndarray, ...]:  # pragma: no cover - compiled
    """Exact counts, Σ(q − e_b), Σ(q − e_b)² and sub-histograms over the distinct
    (|q_z|, |q_y|, |q_x|) (each ascending) weighted by their multiplicities, for
    points with lo2 <= q² <= hi2 outside [cut2, resume2) (the continuum bins)."""
    nb = e2.shape[0] - 1
    C = np.zeros((nchunks, nb))
    Q1 = np.zeros((nchunks, nb))
    Q2 = np.zeros((nchunks, nb))
    SC = np.zeros((nchunks, nb, nsub))
    SQ = np.zeros((nchunks, nb, nsub))
    top2 = hi2 if resume2 <= hi2 else min(hi2, cut2)  # nothing exact above this
    nzu = az2.shape[0]
    for t in numba.prange(nchunks):
        for i in range(t, nzu, nchunks):
            if az2[i] > top2:
                break
            for j in range(ay2.shape[0]):
                r2 = az2[i] + ay2[j]
                if r2 > top2:
                    break
                mzy = mz[i] * my[j]
                b = -1
                for k in range(ax2.shape[0]):
                    q2 = r2 + ax2[k]
                    if q2 > top2:
                        break
                    if q2 < lo2 or (q2 >= cut2 and q2 < resume2):
                        continue
                    if b < 0:
                        b = _bin_of(q2, e2, table, lo, t_inv)
                    while b + 1 < nb and q2 >= e2[b + 1]:  # |q_x| ascending: q only grows
                        b += 1
                    cnt = mzy * mx[k]
                    q = np.sqrt(q2)
                    dq = q - edges[b]
                    C[t, b] += cnt
                    Q1[t, b] += cnt * dq
                    Q2[t, b] += cnt * dq * dq
                    s = int(dq * sub_inv[b])
                    if s < 0:
                        s = 0
                    elif s >= nsub:
                        s = nsub - 1
                    SC[t, b, s] += cnt
                    SQ[t, b, s] += cnt * q
    return C.sum(0), Q1.sum(0), Q2.sum(0), SC.sum(0), SQ.sum(0)


def _abs_axis(q: np.ndarray, idx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distinct |q|² (ascending) of the kept indices and their multiplicities."""
    qi = q[idx]
    u, inv = np.unique(qi * qi, return_inverse=True)
    return u, np.bincount(inv, minlength=u.size).astype(np.float64)


def _self_conjugate_points(grid: Grid, sets: list[np.ndarray], e2: np.ndarray, lo2: float,
                           hi2: float, table: np.ndarray, lo: float, t_inv: float) -> np.ndarray:
    """Per bin, the kept points with q ≡ −q (every index 0 or n/2): at most 8."""
    out = np.zeros(e2.size - 1)
    per_axis = []
    for a, idx in enumerate(sets):
        n = grid.shape[a]
        sc = idx[(idx == 0) | ((n % 2 == 0) & (idx == n // 2))]
        per_axis.append(grid.q(a)[np.unique(sc)])
    for qz in per_axis[0]:
        for qy in per_axis[1]:
            for qx in per_axis[2]:
                q2 = (qz * qz + qy * qy) + qx * qx
                if lo2 <= q2 <= hi2:
                    out[_bin_of(q2, e2, table, lo, t_inv)] += 1
    return out


def _continuum(edges: np.ndarray, nsub: int) -> dict[str, np.ndarray]:
    """|q| statistics of a bin for points uniformly dense in q-space (weight ∝ q²)."""
    q1, q2 = edges[:-1, None], edges[1:, None]
    s = q1 + (q2 - q1) * (np.arange(nsub + 1) / nsub)[None, :]  # sub-bin edges
    m0 = np.diff(s**3, axis=1) / 3  # ∫ q² dq per sub-bin
    m1 = np.diff(s**4, axis=1) / 4
    frac = m0 / m0.sum(1, keepdims=True)
    mean = m1.sum(1) / m0.sum(1)
    # E[(q − mean)²] from the centred moments of each sub-bin (no cancellation)
    u = s - mean[:, None]
    c2 = np.diff(u**5 / 5 + mean[:, None] * u**4 / 2 + mean[:, None] ** 2 * u**3 / 3, axis=1)
    var = c2.sum(1) / m0.sum(1)
    return {"frac": frac, "mean": mean, "std": np.sqrt(np.maximum(var, 0)),
            "sub_q": m1 / m0}


@lru_cache(maxsize=8)
def _geometry(grid: Grid, key: tuple[Any, ...], iz: tuple[int, ...], iy: tuple[int, ...],
              ix: tuple[int, ...], half: bool, nsub: int, friedel: bool) -> dict[str, np.ndarray]:
    """Geometry of the kept full-spectrum points (cached: ML jobs reuse one grid).

    Returns per bin: ``count`` (exact bins; NaN for continuum bins, whose count
    comes from pass 2), ``continuum`` (bool), ``q_mean``/``q_std`` (exact bins:
    Σ-based, given as Σ(q − e_b) and Σ(q − e_b)² in ``q1``/``q2``), sub-bin
    ``sub_w``/``sub_q`` (continuum bins: fractions in ``sub_frac``), and
    ``n_sc``, the self-conjugate points (for the Friedel count).
    """
    edges = _edges(*key, grid)
    nb = edges.size - 1
    nx = grid.shape[2]
    xs = np.asarray(ix)
    if half:  # the half spectrum stands for ±q_x
        xs = np.union1d(xs, (-xs) % nx)
    sets = [np.asarray(iz), np.asarray(iy), xs]
    az, ay, ax = (_abs_axis(grid.q(a), sets[a]) for a in range(3))
    lo = edges[0] * (1 - EDGE_RTOL)
    hi = edges[-1] * (1 + EDGE_RTOL)
    table, t_inv = bin_lookup_table(edges)
    e2 = edges * edges
    # continuum bins: above K_EXACT·Δq and inside the complete shells
    # every lattice point with |q| <= q_full is kept (cube of the kept |q_a|)
    if all(a[0].size for a in (az, ay, ax)):
        q_full = min(float(np.sqrt(a[0][-1])) for a in (az, ay, ax)) * (1 + 1e-12)
    else:  # nothing kept (an empty reduction)
        q_full = -1.0
    cont = (edges[:-1] >= K_EXACT * max(grid.dq)) & (edges[1:] <= q_full)
    if cont.any():
        first, last = np.flatnonzero(cont)[[0, -1]]
        cut2, resume2 = e2[first], (e2[last + 1] if last + 1 < nb else np.inf)
    else:
        cut2 = resume2 = np.inf
    nchunks = max(1, min(numba.get_num_threads() * 4, az[0].size))
    C, Q1, Q2, SW, SQ = _radial_geometry_kernel(
        *az, *ay, *ax, e2, edges, lo * lo, hi * hi, cut2, resume2, table, lo, t_inv,
        nsub / np.diff(edges), nsub, nchunks)
    cm = _continuum(edges, nsub)
    res = {
        "count": np.where(cont, np.nan, C), "continuum": cont, "q1": Q1, "q2": Q2,
        "sub_w": SW, "sub_q": SQ, "sub_frac": cm["frac"], "sub_q_cont": cm["sub_q"],
        "q_mean_cont": cm["mean"], "q_std_cont": cm["std"],
        "n_sc": _self_conjugate_points(grid, sets, e2, lo * lo, hi * hi, table, lo, t_inv),
        "friedel": np.array(friedel),
    }
    for a in res.values():
        a.setflags(write=False)
    return res


# ---- reducer -------------------------------------------------------------------
class RadialReducer(Reducer):
    """Shell average of I(q) = 1e-4·|d³·Δρ·F|²/V_box (1/cm) over |q| bins.

    Parameters
    ----------
    bins : int or sequence of float
        Number of bins, or explicit edges in 1/Å.
    q_min, q_max : float or str, optional
        Range in 1/Å (strings with units accepted); default the grid's
        ``valid_q_range`` (2π/L .. π/d).
    bin_spacing : {"log", "linear"}
    sinc_correction : bool
        Divide by Π sinc²(q_i d_i/2) (lattice points → cubic voxels).
    e_min : float
        Relative floor of sigma: sigma = max(sem, e_min·I).
    contrast : float
        Multiplies the density (its unit is 1e-6/Å²).
    n_sub : int
        Sub-bins per bin for ``q_samples``/``q_weights`` (model averaging).
    friedel : bool
        For a *full* spectrum: the density was real, so q and −q are one
        sample. A half spectrum is always that of a real density.
    """

    def __init__(
        self,
        bins: int | Any = 200,
        q_min: Any = None,
        q_max: Any = None,
        bin_spacing: str = "log",
        sinc_correction: bool = True,
        e_min: float = 0.01,
        contrast: float = 1.0,
        n_sub: int = 16,
        friedel: bool = True,
        name: str = "radial",
    ) -> None:
        if not (e_min >= 0 and np.isfinite(e_min)):
            raise ValueError(f"e_min: expected a finite value >= 0, got {e_min!r}")
        if int(n_sub) < 1:
            raise ValueError(f"n_sub: expected >= 1, got {n_sub!r}")
        validate_binning(bins, q_min, q_max, bin_spacing)
        # plain hashable settings only (the engine fingerprints vars(reducer) to resume)
        self.bins: int | tuple[float, ...] = (
            int(bins) if np.ndim(bins) == 0 else tuple(float(b) for b in np.asarray(bins)))
        self.q_min = None if q_min is None else units.q(q_min, "q_min")
        self.q_max = None if q_max is None else units.q(q_max, "q_max")
        self.bin_spacing = str(bin_spacing)
        self.sinc_correction = bool(sinc_correction)
        self.e_min = float(e_min)
        self.contrast = float(contrast)
        self.n_sub = int(n_sub)
        self.friedel = bool(friedel)
        self.name = name

    # ---- geometry ------------------------------------------------------
    @property
    def _key(self) -> tuple[Any, ...]:
        return (self.bins, self.q_min, self.q_max, self.bin_spacing)

    def edges(self, grid: Grid) -> np.ndarray:
        """Bin edges in 1/Å for ``grid``."""
        return _edges(*self._key, grid)

    def q_max_needed(self, grid: Grid) -> float:
        """Largest |q| this reducer reads (an engine may crop each axis to it)."""
        return float(self.edges(grid)[-1] * (1 + 1e-6))

    # ---- Reducer API -----------------------------------------------------
    def block(self, blk: SpectrumBlock) -> Partial:
        g = blk.grid
        edges = self.edges(g)
        nb = edges.size - 1
        lo = edges[0] * (1 - EDGE_RTOL)
        hi = edges[-1] * (1 + EDGE_RTOL)
        table, t_inv = bin_lookup_table(edges)
        dz, dy, dx = g.spacing
        qz = np.asarray(blk.qz, dtype=np.float64)
        qy = np.asarray(blk.qy, dtype=np.float64)
        qx = np.asarray(blk.qx, dtype=np.float64)
        x2 = qx * qx
        values = blk.values
        if values.dtype not in (np.complex64, np.complex128):
            values = values.astype(np.complex128)
        order = np.argsort(x2, kind="stable")
        if not np.array_equal(order, np.arange(x2.size)):  # full spectra: walk x by |q_x|
            values = values[:, :, order]
        s = self.sinc_correction
        cx = sinc2_inverse(qx, dx, s)[order]
        czy = g.intensity_scale(self.contrast) * (
            sinc2_inverse(qz, dz, s)[:, None] * sinc2_inverse(qy, dy, s)[None, :])
        r2s = (qz * qz)[:, None] + (qy * qy)[None, :]
        W, S1, S2, K = (np.zeros(nb) for _ in range(4))
        seen = np.zeros(nb, dtype=np.bool_)
        lead, mate = _z_pairs(np.asarray(blk.iz, np.int64), g.shape[0])
        _radial_data_kernel(values, czy, x2[order], cx, np.asarray(blk.wx, np.float64)[order], r2s,
                            lead, mate, edges * edges, lo * lo, hi * hi, table, lo, t_inv,
                            W, S1, S2, K, seen)
        with np.errstate(invalid="ignore", divide="ignore"):
            has = W > 0
            safe = np.where(has, W, 1.0)
            mean = np.where(has, K + S1 / safe, 0.0)
            m2 = np.where(has, np.maximum(S2 - S1 * S1 / safe, 0.0), 0.0)
        return {"w": W, "mean": mean, "m2": m2, "half": bool(blk.half),
                "iz": np.asarray(blk.iz, np.int64), "iy": np.unique(np.asarray(blk.iy, np.int64)),
                "ix": np.asarray(blk.ix, np.int64)}

    def merge(self, a: Partial, b: Partial) -> Partial:
        w, mean, m2 = chan_merge(a["w"], a["mean"], a["m2"], b["w"], b["mean"], b["m2"])
        if not (np.array_equal(a["iz"], b["iz"]) and np.array_equal(a["ix"], b["ix"])):
            raise ValueError("radial partials from different z/x crops cannot be merged")
        return {"w": w, "mean": mean, "m2": m2, "half": a["half"], "iz": a["iz"],
                "iy": np.union1d(a["iy"], b["iy"]), "ix": a["ix"]}

    def geometry(self, grid: Grid, iz: Any = None, iy: Any = None, ix: Any = None,
                 half: bool = True) -> dict[str, np.ndarray]:
        """Per-bin count, Friedel samples, |q| moments and sub-histograms of the kept points.

        Default: the whole grid (``ix`` over the half spectrum when ``half``).
        """
        nz, ny, nx = grid.shape
        iz = np.arange(nz) if iz is None else np.asarray(iz)
        iy = np.arange(ny) if iy is None else np.asarray(iy)
        ix = np.arange(nx // 2 + 1 if half else nx) if ix is None else np.asarray(ix)
        return _geometry(grid, self._key, tuple(iz.tolist()), tuple(iy.tolist()),
                         tuple(ix.tolist()), bool(half), self.n_sub, self.friedel or half)

    def finalize(self, partial: Partial | None, grid: Grid) -> xr.Dataset:
        edges = self.edges(grid)
        nb = edges.size - 1
        if partial is None:
            z = np.zeros(nb)
            partial = {"w": z, "mean": z, "m2": z, "half": True, "iz": np.arange(0),
                       "iy": np.arange(0), "ix": np.arange(0)}
        geo = self.geometry(grid, partial["iz"], partial["iy"], partial["ix"], partial["half"])
        exact = ~geo["continuum"]
        if not np.array_equal(geo["count"][exact], partial["w"][exact]):
            bad = np.flatnonzero(exact & (geo["count"] != partial["w"]))
            warnings.warn(
                f"radial: points seen in bins {bad.tolist()[:10]} ({partial['w'][bad][:10]}) "
                f"differ from the grid geometry ({geo['count'][bad][:10]}); q statistics come "
                "from the geometry", RuntimeWarning, stacklevel=2)
        bin_spacing = self.bin_spacing if np.ndim(self.bins) == 0 else "edges"
        return radial_dataset(partial, geo, edges, bin_spacing, grid, e_min=self.e_min, attrs={
            "reduction": "radial", "sinc_correction": self.sinc_correction, "e_min": self.e_min,
            "contrast": self.contrast, "bin_spacing": bin_spacing, "n_sub": self.n_sub,
            "friedel": self.friedel, "q_exact_below": K_EXACT * max(grid.dq)})


def radial_dataset(p: Partial, geo: dict[str, np.ndarray], edges: np.ndarray, bin_spacing: str,
                   grid: Grid, e_min: float, attrs: dict[str, Any]) -> xr.Dataset:
    """Dataset on coordinate ``q`` (weighted mean |q| per bin, bin centre where empty)."""
    w = p["w"]
    n_indep = 0.5 * (w + geo["n_sc"]) if bool(geo["friedel"]) else w.copy()
    n_indep = np.where(w > 0, n_indep, 0.0)
    stats = bin_statistics(w, p["mean"], p["m2"], n_indep, e_min)
    centers = bin_centers(edges, bin_spacing)
    empty = w <= 0
    cont = geo["continuum"]
    n_sub = geo["sub_w"].shape[1]
    with np.errstate(invalid="ignore", divide="ignore"):
        safe = np.where(empty, 1.0, w)
        dq_mean = geo["q1"] / safe
        q = np.where(cont, geo["q_mean_cont"], np.where(empty, centers, edges[:-1] + dq_mean))
        q_std = np.where(cont, geo["q_std_cont"],
                         np.sqrt(np.maximum(geo["q2"] / safe - dq_mean**2, 0.0)))
        q_std = np.where(empty, np.nan, q_std)
        frac = (np.arange(n_sub) + 0.5) / n_sub
        sub_centers = edges[:-1, None] + np.diff(edges)[:, None] * frac[None, :]
        sub_has = geo["sub_w"] > 0
        sub_mean = geo["sub_q"] / np.where(sub_has, geo["sub_w"], 1)
        q_samples = np.where(sub_has, sub_mean, sub_centers)
        q_samples = np.where(cont[:, None], geo["sub_q_cont"], q_samples)
        q_weights = np.where(cont[:, None], w[:, None] * geo["sub_frac"], geo["sub_w"])
    qa = {"units": units.ATTR["q"]}
    ia = {"units": units.ATTR["intensity"]}
    one = {"units": "1"}
    return xr.Dataset(
        {
            "I": ("q", stats["I"], {**ia, "long_name": "mean intensity in the shell"}),
            "sigma": ("q", stats["sigma"], {**ia, "long_name": "max(sem, e_min*I)"}),
            "sem": ("q", stats["sem"], {**ia, "long_name": "standard error of the mean"}),
            "std": ("q", stats["std"], {**ia, "long_name": "spread of I over the shell"}),
            "count": ("q", w, {**one, "long_name": "points of the full spectrum in the shell"}),
            "n_independent": ("q", n_indep,
                              {**one, "long_name": "independent samples (Friedel pair = 1)"}),
            "q_std": ("q", q_std, {**qa, "long_name": "spread of |q| in the shell"}),
            "q_samples": (("q", "sub"), q_samples, {**qa, "long_name": "mean |q| per sub-bin"}),
            "q_weights": (("q", "sub"), q_weights, {**one, "long_name": "points per sub-bin"}),
        },
        coords={
            "q": ("q", q, {**qa, "long_name": "mean |q| in the shell"}),
            "q_center": ("q", centers, qa),
            "q_lo": ("q", edges[:-1], qa),
            "q_hi": ("q", edges[1:], qa),
        },
        attrs=provenance(grid, **attrs),
    )
