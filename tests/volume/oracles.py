"""Independent oracles for rasterized particles: point-in-shape tests and brute-force coverage."""

from __future__ import annotations

import numpy as np

import hifft


def inside(shape: hifft.shapes.Shape, q: np.ndarray) -> np.ndarray:
    """Contrast (sld − 0) at local (particle-frame) points ``q`` (..., 3) in (a, b, c):
    the core's SLD inside a core, the shell's in a shell, the SLD inside a plain shape, else 0."""
    x, y, z = q[..., 0], q[..., 1], q[..., 2]
    p = shape.parameters()
    name = shape.name
    if name == "sphere":
        return np.where(x * x + y * y + z * z <= p["radius"] ** 2, p["sld"], 0.0)
    if name == "hemisphere":
        return np.where((x * x + y * y + z * z <= p["radius"] ** 2) & (z >= 0), p["sld"], 0.0)
    if name == "ellipsoid":
        e, pol = p["radius_equatorial"], p["radius_polar"]
        return np.where((x / e) ** 2 + (y / e) ** 2 + (z / pol) ** 2 <= 1, p["sld"], 0.0)
    if name == "triaxial_ellipsoid":
        a, b, c = p["radius_equat_minor"], p["radius_equat_major"], p["radius_polar"]
        return np.where((x / a) ** 2 + (y / b) ** 2 + (z / c) ** 2 <= 1, p["sld"], 0.0)
    if name == "cylinder":
        return np.where(
            (x * x + y * y <= p["radius"] ** 2) & (np.abs(z) <= p["length"] / 2), p["sld"], 0.0
        )
    if name == "parallelepiped":
        ok = (
            (np.abs(x) <= p["length_a"] / 2)
            & (np.abs(y) <= p["length_b"] / 2)
            & (np.abs(z) <= p["length_c"] / 2)
        )
        return np.where(ok, p["sld"], 0.0)
    if name == "core_shell_sphere":
        r2 = x * x + y * y + z * z
        ro = p["radius"] + p["thickness"]
        return np.where(
            r2 <= p["radius"] ** 2, p["sld_core"], np.where(r2 <= ro**2, p["sld_shell"], 0.0)
        )
    if name == "core_shell_cylinder":
        r2, az = x * x + y * y, np.abs(z)
        core = (r2 <= p["radius"] ** 2) & (az <= p["length"] / 2)
        outer = (r2 <= (p["radius"] + p["thickness"]) ** 2) & (
            az <= p["length"] / 2 + p["thickness"]
        )
        return np.where(core, p["sld_core"], np.where(outer, p["sld_shell"], 0.0))
    raise KeyError(name)


def brute_force(
    grid: hifft.Grid,
    shape: hifft.shapes.Shape,
    center_zyx: np.ndarray,
    rot: np.ndarray,
    k: int = 16,
) -> np.ndarray:
    """Mean contrast per voxel by k³ point samples per voxel (periodic minimum image)."""
    nz, ny, nx = grid.shape
    dz, dy, dx = grid.spacing
    box = np.array(grid.box)  # z, y, x
    sub = (np.arange(k) + 0.5) / k - 0.5
    oz, oy, ox = np.meshgrid(sub * dz, sub * dy, sub * dx, indexing="ij")
    offs = np.stack([ox.ravel(), oy.ravel(), oz.ravel()], axis=1)  # x, y, z
    out = np.zeros(grid.shape)
    cz, cy, cx = (grid.coords(a) for a in range(3))
    c_xyz = np.asarray(center_zyx, dtype=float)[::-1]
    box_xyz = box[::-1]
    for iz in range(nz):
        yy, xx = np.meshgrid(cy, cx, indexing="ij")
        centres = np.stack([xx.ravel(), yy.ravel(), np.full(xx.size, cz[iz])], axis=1)  # (ny·nx, 3)
        pts = centres[:, None, :] + offs[None, :, :] - c_xyz
        pts -= box_xyz * np.round(pts / box_xyz)
        local = pts @ rot  # rows: (R^T p)^T = p^T R
        out[iz] = inside(shape, local).mean(axis=1).reshape(ny, nx)
    return out
