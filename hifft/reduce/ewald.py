"""Detector images on the Ewald sphere, interpolated in the 3D spectrum inside pass 2.

Geometry: beam along +z, flat detector normal to the beam at ``distance``;
pixel (row, col) sits at Y = (row − c_row)·p_y, X = (col − c_col)·p_x. With
k = 2π/λ and R = √(X² + Y² + D²) the momentum transfer is

    q = k·(X/R, Y/R, D/R − 1)     (q_x, q_y, q_z; |q| = 4π sin θ / λ).

Each pixel's I is the trilinear interpolation of I on the FFT grid. Linear
interpolation is separable, so a y-block contributes, for every pixel whose
two q_y neighbours include one of its rows, that row's bilinear (z, x) share
times the y weight; the partial images of different blocks simply add.
Pixels with q_x < 0 are read at −q (I(q) = I(−q) for a real density).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numba
import numpy as np
import xarray as xr

from .. import units
from ..fft.reducer import Reducer, SpectrumBlock
from ..grid import Grid
from ._common import provenance, sinc2_inverse

#: a pixel is reported only when its interpolation weights add up to 1 within this
COVER_TOL = 1e-6


def _pair(x: Any, field: str, conv: Any) -> tuple[float, float]:
    if isinstance(x, str) or np.ndim(x) == 0:
        v = conv(x, field)
        return (v, v)
    a, b = x
    return (conv(a, field), conv(b, field))


@dataclass(frozen=True, init=False)
class Detector:
    """A flat detector normal to the beam (z).

    Parameters
    ----------
    shape : (rows, cols)
        Rows run along lab y, columns along lab x.
    pixel_size : float, str or (p_y, p_x)
        Å, or strings with units ("172 um").
    distance : float or str
        Sample–detector distance, Å or with units ("1.5 m").
    beam_center : (row, col), optional
        Where the direct beam hits, in pixel units (pixel i's centre is at i);
        default the detector centre ((rows−1)/2, (cols−1)/2).
    """

    shape: tuple[int, int]
    pixel_size: tuple[float, float]
    distance: float
    beam_center: tuple[float, float]

    def __init__(self, shape: Any, pixel_size: Any, distance: Any, beam_center: Any = None) -> None:
        shp = (int(shape), int(shape)) if np.ndim(shape) == 0 else tuple(int(s) for s in shape)
        if len(shp) != 2 or min(shp) < 1:
            raise ValueError(f"shape: expected (rows, cols) >= 1, got {shape!r}")
        ps = _pair(pixel_size, "pixel_size", units.length)
        dist = units.length(distance, "distance")
        if min(ps) <= 0 or dist <= 0 or not all(map(math.isfinite, (*ps, dist))):
            raise ValueError("pixel_size and distance must be positive and finite")
        bc = ((shp[0] - 1) / 2, (shp[1] - 1) / 2) if beam_center is None else tuple(
            float(b) for b in beam_center)
        if len(bc) != 2:
            raise ValueError(f"beam_center: expected (row, col), got {beam_center!r}")
        object.__setattr__(self, "shape", shp)
        object.__setattr__(self, "pixel_size", ps)
        object.__setattr__(self, "distance", dist)
        object.__setattr__(self, "beam_center", bc)

    @classmethod
    def from_angle(cls, shape: Any, two_theta_max: float, distance: Any = "1 m",
                   beam_center: Any = None) -> Detector:
        """Square pixels sized so the detector's half-width subtends ``two_theta_max`` (degrees)."""
        shp = (int(shape), int(shape)) if np.ndim(shape) == 0 else tuple(int(s) for s in shape)
        dist = units.length(distance, "distance")
        half = max(shp) / 2
        return cls(shp, dist * math.tan(math.radians(two_theta_max)) / half, dist, beam_center)

    def positions(self) -> tuple[np.ndarray, np.ndarray]:
        """Pixel-centre (Y, X) in Å relative to the beam centre, shape (rows, cols)."""
        r = (np.arange(self.shape[0]) - self.beam_center[0]) * self.pixel_size[0]
        c = (np.arange(self.shape[1]) - self.beam_center[1]) * self.pixel_size[1]
        return np.broadcast_to(r[:, None], self.shape), np.broadcast_to(c[None, :], self.shape)

    def q(self, wavelength: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(q_x, q_y, q_z) per pixel in 1/Å for ``wavelength`` (Å or with units)."""
        lam = units.length(wavelength, "wavelength")
        if not (lam > 0 and math.isfinite(lam)):
            raise ValueError(f"wavelength: must be positive, got {wavelength!r}")
        k = 2 * np.pi / lam
        y, x = self.positions()
        d = self.distance
        r = np.sqrt(x * x + y * y + d * d)
        # D/R − 1 written without cancellation: −(X² + Y²)/(R (R + D))
        return k * x / r, k * y / r, -k * (x * x + y * y) / (r * (r + d))

    def coords(self, wavelength: Any) -> dict[str, Any]:
        """2D coords (q_x, q_y, q_z, q, two_theta, phi) for a DataArray over ("row", "col")."""
        qx, qy, qz = self.q(wavelength)
        y, x = self.positions()
        qa = {"units": units.ATTR["q"]}
        dims = ("row", "col")
        return {
            "q_x": (dims, qx, qa), "q_y": (dims, qy, qa), "q_z": (dims, qz, qa),
            "q": (dims, np.sqrt(qx * qx + qy * qy + qz * qz), {**qa, "long_name": "|q|"}),
            "two_theta": (dims, np.degrees(np.arctan2(np.hypot(x, y), self.distance)),
                          {"units": "degree"}),
            "phi": (dims, np.degrees(np.arctan2(qy, qx)), {"units": "degree"}),
        }

    def attrs(self, wavelength: Any) -> dict[str, Any]:
        return {"wavelength": units.length(wavelength, "wavelength"),
                "wavelength_units": "angstrom",
                "detector_shape": list(self.shape), "pixel_size": list(self.pixel_size),
                "distance": self.distance, "beam_center": list(self.beam_center),
                "length_units": "angstrom"}


def detector_frame(data: Any, detector: Detector, wavelength: Any, **attrs: Any) -> xr.DataArray:
    """Wrap a (rows, cols) image in a DataArray carrying the detector's q coords."""
    data = np.asarray(data)
    if data.shape != detector.shape:
        raise ValueError(f"data shape {data.shape} != detector shape {detector.shape}")
    return xr.DataArray(data, dims=("row", "col"), coords=detector.coords(wavelength),
                        attrs={**detector.attrs(wavelength), "friedel_symmetric": 0, **attrs})


@numba.njit(cache=True, nogil=True)
def _ewald_kernel(values: np.ndarray, scale: float, cz: np.ndarray, cy: np.ndarray, cx: np.ndarray,
                  posz: np.ndarray, posy: np.ndarray, posx: np.ndarray, half: bool, fz: np.ndarray,
                  fy: np.ndarray, fx: np.ndarray, out_v: np.ndarray,
                  out_w: np.ndarray) -> None:  # pragma: no cover - compiled
    nz = posz.shape[0]
    ny = posy.shape[0]
    nxx = posx.shape[0]
    for p in range(fz.shape[0]):
        z0 = math.floor(fz[p])
        y0 = math.floor(fy[p])
        x0 = math.floor(fx[p])
        tz = fz[p] - z0
        ty = fy[p] - y0
        tx = fx[p] - x0
        acc = 0.0
        wacc = 0.0
        for a in range(2):
            wz = tz if a else 1.0 - tz
            if wz == 0.0:
                continue
            jz = (z0 + a) % nz
            pz = posz[jz]
            if pz < 0:
                continue
            for b in range(2):
                wy = ty if b else 1.0 - ty
                if wy == 0.0:
                    continue
                jy = (y0 + b) % ny
                py = posy[jy]
                if py < 0:
                    continue
                for c in range(2):
                    wxx = tx if c else 1.0 - tx
                    if wxx == 0.0:
                        continue
                    jx = x0 + c
                    if half:
                        if jx >= nxx:
                            continue
                    else:
                        jx = jx % nxx
                    px = posx[jx]
                    if px < 0:
                        continue
                    v = values[pz, py, px]
                    vr = np.float64(v.real)
                    vi = np.float64(v.imag)
                    w = wz * wy * wxx
                    acc += w * scale * (vr * vr + vi * vi) * cz[jz] * cy[jy] * cx[jx]
                    wacc += w
        out_v[p] = acc
        out_w[p] = wacc


@lru_cache(maxsize=2)
def _pixel_geometry(wavelength: float, detector: Detector, grid: Grid,
                    half: bool) -> tuple[np.ndarray, ...]:
    """Pixels inside the spectrum's band, sorted by fractional y index, and their
    fractional (z, y, x) grid indices. Computed per process (workers included),
    so the reducer ships only its settings."""
    qx, qy, qz = (a.ravel() for a in detector.q(wavelength))
    if half:  # serve q_x < 0 from −q
        flip = qx < 0
        qx, qy, qz = np.where(flip, -qx, qx), np.where(flip, -qy, qy), np.where(flip, -qz, qz)
    dqz, dqy, dqx = grid.dq
    f = [qz / dqz, qy / dqy, qx / dqx]
    ok = np.ones(qx.size, bool)
    for a in range(3):
        n = grid.shape[a]
        lim = n / 2 if n % 2 == 0 else (n - 1) / 2
        ok &= np.abs(f[a]) <= lim * (1 + 1e-12)
    pix = np.flatnonzero(ok)
    pix = pix[np.argsort(f[1][pix], kind="stable")]
    out = (pix, *(np.ascontiguousarray(fa[pix]) for fa in f))
    for arr in out:
        arr.setflags(write=False)
    return out


class EwaldReducer(Reducer):
    """I(q) in 1/cm on the Ewald sphere for ``detector`` at ``wavelength`` (Å or with units).

    Pixels whose q lies outside the spectrum (beyond Nyquist, or cropped by
    the engine) are NaN.
    """

    def __init__(self, wavelength: Any, detector: Detector, sinc_correction: bool = True,
                 contrast: float = 1.0, name: str = "ewald") -> None:
        self.wavelength = units.length(wavelength, "wavelength")
        if not (self.wavelength > 0 and math.isfinite(self.wavelength)):
            raise ValueError(f"wavelength: must be positive, got {wavelength!r}")
        if not isinstance(detector, Detector):
            raise TypeError("detector: expected a hifft.reduce.Detector")
        self.detector = detector
        self.sinc_correction = bool(sinc_correction)
        self.contrast = float(contrast)
        self.name = name

    def q_max_needed(self, grid: Grid) -> float:
        qx, qy, qz = self.detector.q(self.wavelength)
        reach = max(np.abs(qx).max(), np.abs(qy).max(), np.abs(qz).max())
        return float(reach * (1 + 1e-6)) + max(grid.dq)  # + one cell for the interpolation

    def _geometry(self, grid: Grid, half: bool) -> tuple[np.ndarray, ...]:
        return _pixel_geometry(self.wavelength, self.detector, grid, half)

    def block(self, blk: SpectrumBlock) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
        g = blk.grid
        nz, ny, nx = g.shape
        pix, fz, fy, fx = self._geometry(g, blk.half)
        # candidate pixels: those with floor(f_y) or floor(f_y)+1 ≡ one of the block's rows
        signed = np.where(blk.iy > ny // 2, blk.iy - ny, blk.iy)
        rows = np.unique(np.concatenate([signed, signed + ny, signed - ny]))
        rows = rows[(rows >= -ny / 2 - 1) & (rows <= ny / 2 + 1)]
        if rows.size == 0:
            return None
        # f_y in [s − 1, s + 1) for each row s; merge the intervals (usually one or two)
        brk = np.flatnonzero(np.diff(rows) > 2) + 1
        starts = np.concatenate([rows[:1], rows[brk]]) - 1
        stops = np.concatenate([rows[brk - 1], rows[-1:]]) + 1
        i0 = np.searchsorted(fy, starts, "left")
        i1 = np.searchsorted(fy, stops, "left")
        cand = np.concatenate([np.arange(a, b) for a, b in zip(i0, i1, strict=True)])
        if cand.size == 0:
            return None
        nxx = nx // 2 + 1 if blk.half else nx
        posz = np.full(nz, -1, np.int64)
        posz[blk.iz] = np.arange(len(blk.iz))
        posy = np.full(ny, -1, np.int64)
        posy[blk.iy] = np.arange(len(blk.iy))
        posx = np.full(nxx, -1, np.int64)
        posx[blk.ix] = np.arange(len(blk.ix))
        # sinc² corrections on the full index range of each axis
        qz_full, qy_full = g.q(0), g.q(1)
        qx_full = g.q_half() if blk.half else g.q(2)
        cz = sinc2_inverse(qz_full, g.spacing[0], self.sinc_correction)
        cy = sinc2_inverse(qy_full, g.spacing[1], self.sinc_correction)
        cx = sinc2_inverse(qx_full, g.spacing[2], self.sinc_correction)
        out_v = np.zeros(cand.size)
        out_w = np.zeros(cand.size)
        values = blk.values
        if values.dtype not in (np.complex64, np.complex128):
            values = values.astype(np.complex128)
        _ewald_kernel(values, g.intensity_scale(self.contrast), cz, cy, cx, posz, posy, posx,
                      bool(blk.half), fz[cand], fy[cand], fx[cand], out_v, out_w)
        keep = out_w > 0
        return pix[cand[keep]], out_v[keep], out_w[keep]

    def merge(self, a: Any, b: Any) -> Any:
        if a is None:
            return b
        if b is None:
            return a
        return tuple(np.concatenate([x, y]) for x, y in zip(a, b, strict=True))

    def finalize(self, partial: Any, grid: Grid) -> xr.DataArray:
        npix = self.detector.shape[0] * self.detector.shape[1]
        s: np.ndarray
        w: np.ndarray
        if partial is None:
            s = np.zeros(npix)
            w = np.zeros(npix)
        else:
            idx, v, wt = partial
            s = np.bincount(idx, weights=v, minlength=npix)
            w = np.bincount(idx, weights=wt, minlength=npix)
        img = np.where(np.abs(w - 1) <= COVER_TOL, s, np.nan).reshape(self.detector.shape)
        return xr.DataArray(
            img, dims=("row", "col"), coords=self.detector.coords(self.wavelength), name="I",
            attrs={"units": units.ATTR["intensity"], **provenance(
                grid, reduction="Ewald-sphere detector image", sinc_correction=self.sinc_correction,
                contrast=self.contrast, friedel_symmetric=False,
                **self.detector.attrs(self.wavelength))},
        )
