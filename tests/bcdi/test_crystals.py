"""Crystal supports against analytic volumes (formulas and scipy's convex hull) and the oversampling rule."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.spatial import ConvexHull

from hifft.bcdi import crystals as cr
from hifft.bcdi.simulate import diffraction
from hifft.grid import Grid

GRID = Grid(40, 1.0)
S = 3  # sub-points per voxel and axis


def _bound(crystal: cr.Crystal, s: int = S) -> float:
    """Largest volume error (Å³) of s³-point sampling: surface area × half a sub-voxel diagonal."""
    area = 4 * math.pi * crystal.radius**2 if crystal.radius else ConvexHull(crystal.vertices()).area
    return area * math.sqrt(3) / (2 * s)


@pytest.mark.parametrize(("crystal", "volume"), [
    (cr.cube(17.3), 17.3**3),
    (cr.octahedron(26.1), 26.1**3 / 6),
    (cr.truncated_octahedron(6.2), 8 * math.sqrt(2) * 6.2**3),
    (cr.sphere(9.7), 4 / 3 * math.pi * 9.7**3),
])
def test_analytic_volumes(crystal, volume):
    assert crystal.volume() == pytest.approx(volume, rel=1e-9)  # hull of the half-spaces vs the formula
    voxels = cr.support(crystal, GRID, supersample=S).sum() * GRID.voxel_volume
    assert abs(voxels - volume) < _bound(crystal)


@pytest.mark.parametrize("seed", [0, 1])
def test_rotated_wulff_volume(seed):
    c = cr.wulff(d100=11.0, d111=10.5, d110=12.0).rotated(cr.random_rotation(seed))
    assert len(c.vertices()) > 8  # {100} and {111} both cut the shape
    voxels = cr.support(c, GRID, supersample=S, centre=(0.3, -0.2, 0.7)).sum()
    hull = ConvexHull(c.vertices()).volume
    assert abs(voxels - hull) < _bound(c)


def test_far_family_is_inert():
    """A family lying outside the others does not change the shape."""
    assert cr.wulff(d100=10.0, d111=100.0).volume() == pytest.approx(cr.cube(20.0).volume())


@pytest.mark.parametrize("os_", [2.0, 3.3, 5.0])
def test_oversampling_respected(os_):
    grid = Grid((48, 40, 44), 1.0)
    c = cr.fit_oversampling(cr.octahedron(1.0).rotated(cr.random_rotation(3)), grid, os_)
    rho = cr.support(c, grid) > 0
    for ax, n in enumerate(grid.shape):
        occupied = np.flatnonzero(rho.any(axis=tuple(a for a in range(3) if a != ax)))
        assert occupied[-1] - occupied[0] + 1 <= n / os_
    # the tightest axis is filled (the crystal is as large as allowed, to a voxel)
    assert np.min(np.array(grid.shape) / c.extent()) == pytest.approx(os_, rel=1e-6)
    # the pattern's autocorrelation (object ⋆ object) spans at most 2n/σ + 1 voxels per axis
    ac = np.fft.fftshift(np.abs(np.fft.ifftn(np.fft.ifftshift(diffraction(rho.astype(np.complex64))))))
    ac_support = ac > 1e-3 * ac.max()
    for ax, n in enumerate(grid.shape):
        occupied = np.flatnonzero(ac_support.any(axis=tuple(a for a in range(3) if a != ax)))
        assert occupied[-1] - occupied[0] + 1 <= 2 * n / os_ + 1


def test_family_counts():
    assert [len(cr.family(h)) for h in ((1, 0, 0), (1, 1, 1), (1, 1, 0))] == [6, 8, 12]
    assert np.allclose(np.linalg.norm(cr.family((1, 1, 0)), axis=1), 1)


@pytest.mark.parametrize(("make", "field"), [
    (lambda: cr.cube(-1.0), "edge"),
    (lambda: cr.sphere(float("nan")), "radius"),
    (lambda: cr.wulff(), "wulff"),
    (lambda: cr.fit_oversampling(cr.cube(1.0), GRID, 0.5), "oversampling"),
    (lambda: cr.polyhedron("bad", {(1, 0, 0): 5.0, (0, 0, 0): 1.0}), "Miller"),
])
def test_bad_parameters_name_the_field(make, field):
    with pytest.raises(cr.CrystalError, match=field):
        make()


def test_rhombic_dodecahedron():
    """{110} alone: the rhombic dodecahedron with vertices (±1,±1,±1), (±2,0,0)... has volume 16 and
    faces at √2 from the centre, so V = 16·(d/√2)³ for faces at d."""
    d = 7.0
    assert cr.wulff(d110=d).volume() == pytest.approx(16 * (d / math.sqrt(2)) ** 3, rel=1e-9)
