"""Numba kernels that rasterize particles into one z-slab of the grid.

Each voxel gets Σ_particles Δρ · coverage, where coverage is the fraction of
the voxel inside the particle ("antialias") or 1/0 by the voxel centre
("binary"). Only voxels inside each particle's bounding box (∩ the slab)
are visited.

Anti-aliasing: a voxel whose centre is farther than a safe margin from every
surface is classified as fully in or out from its centre alone. A boundary
voxel is split into s³ sub-cells; each sub-cell contributes a linear ramp
``clamp(½ − f/h, 0, 1)`` of the signed distance f of its centre to each face
of the body (product over faces: sphere/ellipsoid 1, cylinder 2, box 3,
hemisphere 2). The ramp is the exact sub-cell coverage for faces parallel
to the grid and unbiased for oblique ones; for a curved surface of radius R
it overestimates the volume by about h²/(4R²) (h = d/s), which is why the
planner picks s from each particle's smallest radius (≤ 0.03 % by default).

Overlap rules (``clip``): "sum" adds every particle's Δρ·coverage, so
overlapping random particles add up like independent scatterers (the ideal
gas that sasmodels' scale = φ describes); "clip" lets a particle fill at
most the voxel fraction that earlier particles (in plan order) left free,
so total coverage never exceeds 1.

Every number a voxel receives depends only on global voxel indices and the
particle table, and particles are visited in table order, so a slab is
bit-identical however the volume is cut into slabs.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

ELLIPSOID, CYLINDER, BOX, HEMISPHERE = 0, 1, 2, 3


@njit(cache=True, nogil=True, inline="always")
def _ramp(f: float, h: float) -> float:
    c = 0.5 - f / h
    if c <= 0.0:
        return 0.0
    if c >= 1.0:
        return 1.0
    return c


@njit(cache=True, nogil=True)
def _classify(
    kind: int, x: float, y: float, z: float, a: float, b: float, c: float, margin: float
) -> int:
    """+1: surely outside, -1: surely inside, 0: near a surface (within ``margin``).

    Uses distances that are exact (sphere, planes, cylinder wall) or a lower
    bound (ellipsoid: min semi-axis · |k0 − 1|).
    """
    if kind == ELLIPSOID:
        if a == b and b == c:
            d = math.sqrt(x * x + y * y + z * z) - a
        else:
            k0 = math.sqrt((x / a) ** 2 + (y / b) ** 2 + (z / c) ** 2)
            d = min(a, min(b, c)) * (k0 - 1.0)
        if d >= margin:
            return 1
        if d <= -margin:
            return -1
        return 0
    if kind == CYLINDER:
        f1 = math.sqrt(x * x + y * y) - a
        f2 = abs(z) - c
        if f1 >= margin or f2 >= margin:
            return 1
        if f1 <= -margin and f2 <= -margin:
            return -1
        return 0
    if kind == BOX:
        f1 = abs(x) - a
        f2 = abs(y) - b
        f3 = abs(z) - c
        if f1 >= margin or f2 >= margin or f3 >= margin:
            return 1
        if f1 <= -margin and f2 <= -margin and f3 <= -margin:
            return -1
        return 0
    # hemisphere: ball of radius a, z >= 0
    f1 = math.sqrt(x * x + y * y + z * z) - a
    f2 = -z
    if f1 >= margin or f2 >= margin:
        return 1
    if f1 <= -margin and f2 <= -margin:
        return -1
    return 0


@njit(cache=True, nogil=True)
def _inside(kind: int, x: float, y: float, z: float, a: float, b: float, c: float) -> bool:
    if kind == ELLIPSOID:
        return (x / a) ** 2 + (y / b) ** 2 + (z / c) ** 2 <= 1.0
    if kind == CYLINDER:
        return x * x + y * y <= a * a and abs(z) <= c
    if kind == BOX:
        return abs(x) <= a and abs(y) <= b and abs(z) <= c
    return x * x + y * y + z * z <= a * a and z >= 0.0


@njit(cache=True, nogil=True)
def _curv_shift(h: float, mean_curvature: float) -> float:
    """Ramp shift h²·H/12 that cancels the ramp's curvature bias (capped at h/4)."""
    return min(h * h * mean_curvature / 12.0, 0.25 * h)


@njit(cache=True, nogil=True)
def _cover_point(
    kind: int, x: float, y: float, z: float, a: float, b: float, c: float, h: float
) -> float:
    """Ramp coverage of a sub-cell centred at local (x, y, z).

    Each signed distance f is shifted by h²·H/12 (H: mean curvature of the
    face): integrated over a surface, the plain ramp overestimates the volume
    by ∫ H h²/12 dA, so the shift removes the bias to second order.
    """
    if kind == ELLIPSOID:
        if a == b and b == c:
            f = math.sqrt(x * x + y * y + z * z) - a + _curv_shift(h, 1.0 / a)
        else:
            ia, ib, ic = 1.0 / (a * a), 1.0 / (b * b), 1.0 / (c * c)
            k0 = math.sqrt(x * x * ia + y * y * ib + z * z * ic)
            gx, gy, gz = x * ia, y * ib, z * ic
            g2 = gx * gx + gy * gy + gz * gz
            if g2 == 0.0:
                return 1.0
            g = math.sqrt(g2)
            # first-order distance to the ellipsoid: exact sign, unit gradient on the surface
            f = k0 * (k0 - 1.0) / g
            # mean curvature of the level set of Σ x²/a² through the point
            hmean = (
                0.5
                * ((ia + ib + ic) * g2 - (gx * gx * ia + gy * gy * ib + gz * gz * ic))
                / (g2 * g)
            )
            f += _curv_shift(h, hmean)
        return _ramp(f, h)
    if kind == CYLINDER:
        return _ramp(math.sqrt(x * x + y * y) - a + _curv_shift(h, 0.5 / a), h) * _ramp(
            abs(z) - c, h
        )
    if kind == BOX:
        return _ramp(abs(x) - a, h) * _ramp(abs(y) - b, h) * _ramp(abs(z) - c, h)
    return _ramp(math.sqrt(x * x + y * y + z * z) - a + _curv_shift(h, 1.0 / a), h) * _ramp(-z, h)


@njit(cache=True, nogil=True)
def _cover_voxel(
    kind: int,
    qx: float,
    qy: float,
    qz: float,
    a: float,
    b: float,
    c: float,
    st: np.ndarray,
    sx: int,
    sy: int,
    sz: int,
    margin: float,
    h: float,
    binary: bool,
) -> float:
    """Fraction of the voxel centred at local (qx, qy, qz) inside the body.

    ``st[i]`` is the local-frame vector of one whole voxel step along lab axis
    i (x, y, z); sub-cells sit at fractions (k + ½)/s − ½ of it.
    """
    cls = _classify(kind, qx, qy, qz, a, b, c, margin)
    if cls == 1:
        return 0.0
    if cls == -1:
        return 1.0
    if binary:
        return 1.0 if _inside(kind, qx, qy, qz, a, b, c) else 0.0
    total = 0.0
    for k in range(sz):
        fz = (k + 0.5) / sz - 0.5
        zx = qx + fz * st[2, 0]
        zy = qy + fz * st[2, 1]
        zz = qz + fz * st[2, 2]
        for j in range(sy):
            fy = (j + 0.5) / sy - 0.5
            yx = zx + fy * st[1, 0]
            yy = zy + fy * st[1, 1]
            yz = zz + fy * st[1, 2]
            for i in range(sx):
                fx = (i + 0.5) / sx - 0.5
                total += _cover_point(
                    kind, yx + fx * st[0, 0], yy + fx * st[0, 1], yz + fx * st[0, 2], a, b, c, h
                )
    return total / (sx * sy * sz)


@njit(cache=True, nogil=True)
def _axis_range(c: float, e: float, d: float, length: float) -> tuple[int, int]:
    """Inclusive voxel index range overlapping [c − e, c + e] (coordinates centred on 0)."""
    lo = int(math.floor((c - e + 0.5 * length) / d))
    hi = int(math.floor((c + e + 0.5 * length) / d))
    return lo, hi


@njit(cache=True, nogil=True)
def rasterize_slab(
    out: np.ndarray,
    cov: np.ndarray,
    z0: int,
    nz: int,
    dz: float,
    dy: float,
    dx: float,
    kind: np.ndarray,
    center: np.ndarray,
    rot: np.ndarray,
    dims_o: np.ndarray,
    w_o: np.ndarray,
    dims_i: np.ndarray,
    w_i: np.ndarray,
    ext: np.ndarray,
    rb: np.ndarray,
    ss: np.ndarray,
    binary: bool,
    clip: bool,
    wrap: bool,
) -> int:
    """Add particles into ``out`` (global z rows z0 … z0+depth−1, all y, x).

    Vectors are lab (x, y, z) in Å with the box centred on 0; ``rot[p]`` maps
    particle → lab; ``rb`` is each particle's bounding radius (rows of voxels
    farther than rb + margin from the centre are skipped). ``cov`` (same
    shape as ``out``) is the running coverage
    used by ``clip``; it may be a 1-element dummy otherwise. Returns the
    number of particle images that touched the slab.
    """
    depth, ny, nx = out.shape
    z1 = z0 + depth
    lx, ly, lz = nx * dx, ny * dy, nz * dz
    dmin = min(dx, min(dy, dz))
    st = np.empty((3, 3))
    touched = 0
    for p in range(kind.shape[0]):
        # cheap rejection first: does any periodic image of the particle reach rows z0..z1−1?
        hit = False
        for shift in range(-1, 2):
            if shift != 0 and not wrap:
                continue
            klo, khi = _axis_range(center[p, 2] + shift * lz, ext[p, 2], dz, lz)
            if klo <= z1 - 1 and khi >= z0:
                hit = True
        if not hit:
            continue
        s = ss[p]
        sx = max(1, int(round(s * dx / dmin)))
        sy = max(1, int(round(s * dy / dmin)))
        sz = max(1, int(round(s * dz / dmin)))
        hx, hy, hz = dx / sx, dy / sy, dz / sz
        h = (hx + hy + hz) / 3.0
        margin = 0.5 * math.sqrt((dx - hx) ** 2 + (dy - hy) ** 2 + (dz - hz) ** 2) + 0.75 * max(
            hx, max(hy, hz)
        )
        if binary:
            margin = 0.0
        r = rot[p]
        # local-frame vector of one voxel step along lab x, y, z: R^T e_i d_i
        for m in range(3):
            st[0, m] = r[0, m] * dx
            st[1, m] = r[1, m] * dy
            st[2, m] = r[2, m] * dz
        k = kind[p]
        ao, bo, co = dims_o[p, 0], dims_o[p, 1], dims_o[p, 2]
        ai, bi, ci = dims_i[p, 0], dims_i[p, 1], dims_i[p, 2]
        wo, wi = w_o[p], w_i[p]
        cx, cy = center[p, 0], center[p, 1]
        ilo, ihi = _axis_range(cx, ext[p, 0], dx, lx)
        jlo, jhi = _axis_range(cy, ext[p, 1], dy, ly)
        if not wrap:
            ilo, ihi = max(ilo, 0), min(ihi, nx - 1)
            jlo, jhi = max(jlo, 0), min(jhi, ny - 1)
        for shift in range(-1, 2):
            if shift != 0 and not wrap:
                continue
            cz = center[p, 2] + shift * lz
            klo, khi = _axis_range(cz, ext[p, 2], dz, lz)
            klo, khi = max(klo, z0), min(khi, z1 - 1)
            if klo > khi:
                continue
            touched += 1
            reach2 = (rb[p] + margin + 1e-9 * lx) ** 2
            for kz in range(klo, khi + 1):
                rz = (kz + 0.5) * dz - 0.5 * lz - cz
                for jy in range(jlo, jhi + 1):
                    ry = (jy + 0.5) * dy - 0.5 * ly - cy
                    rem = reach2 - rz * rz - ry * ry
                    if rem < 0.0:
                        continue  # the row misses the bounding sphere
                    w = math.sqrt(rem)
                    i0 = max(ilo, int(math.ceil((cx - w + 0.5 * lx) / dx - 0.5)))
                    i1 = min(ihi, int(math.floor((cx + w + 0.5 * lx) / dx - 0.5)))
                    jw = jy % ny
                    for ix in range(i0, i1 + 1):
                        rx = (ix + 0.5) * dx - 0.5 * lx - cx
                        qx = r[0, 0] * rx + r[1, 0] * ry + r[2, 0] * rz
                        qy = r[0, 1] * rx + r[1, 1] * ry + r[2, 1] * rz
                        qz = r[0, 2] * rx + r[1, 2] * ry + r[2, 2] * rz
                        cov_o = _cover_voxel(
                            k, qx, qy, qz, ao, bo, co, st, sx, sy, sz, margin, h, binary
                        )
                        if cov_o == 0.0:
                            continue
                        val = wo * cov_o
                        if wi != 0.0:
                            val += wi * _cover_voxel(
                                k, qx, qy, qz, ai, bi, ci, st, sx, sy, sz, margin, h, binary
                            )
                        iw = ix % nx
                        if clip:
                            free = 1.0 - cov[kz - z0, jw, iw]
                            if free <= 0.0:
                                continue
                            if cov_o > free:
                                val *= free / cov_o
                                cov_o = free
                            cov[kz - z0, jw, iw] += cov_o
                        out[kz - z0, jw, iw] += val
    return touched


@njit(cache=True, nogil=True, fastmath={"reassoc", "nsz"})  # SIMD sum: for stats only, never voxel values
def _sum_nonzero(flat: np.ndarray) -> tuple[float, int]:
    total = 0.0
    nz = 0
    for i in range(flat.shape[0]):
        v = flat[i]
        total += v
        nz += v != 0
    return total, nz


def slab_stats(data: np.ndarray) -> tuple[float, float, float, int]:
    """(sum in float64, min, max, number of non-zero voxels): two vectorized passes
    (numpy's float64-accumulating sum and count_nonzero are ~20× slower on float32)."""
    total, nz = _sum_nonzero(data.reshape(-1))
    return float(total), float(data.min()), float(data.max()), int(nz)
