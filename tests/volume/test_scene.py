"""Scene planning: counts, volume fractions, size distributions, orientations, placement, dicts."""

from __future__ import annotations

import json

import numpy as np
import pytest
from scipy.spatial import cKDTree

import hifft
from hifft import shapes as S
from hifft.volume.placement import PlacementError


def grid(n: int = 64, d: float = 2.0) -> hifft.Grid:
    return hifft.Grid(shape=n, spacing=d)


def min_gap(scene: hifft.Scene) -> float:
    """Smallest (centre distance − r_i − r_j) over all pairs, periodic."""
    p = scene.particles
    box = np.array(scene.grid.box[::-1])
    r = np.concatenate(
        [type(s).bounding_radius(p.parameters[i]) for i, s in enumerate(scene.shapes)]
    )
    pos = np.mod(p.center + box / 2, box)
    pos = np.where(pos >= box, 0.0, pos)
    tree = cKDTree(pos, boxsize=box)
    pairs = tree.query_pairs(2 * r.max(), output_type="ndarray")
    if len(pairs) == 0:
        return np.inf
    d = pos[pairs[:, 0]] - pos[pairs[:, 1]]
    d -= box * np.round(d / box)
    return float((np.linalg.norm(d, axis=1) - r[pairs[:, 0]] - r[pairs[:, 1]]).min())


def test_volume_fraction_and_count():
    g = grid()
    s = hifft.Scene(g, seed=1).add(S.Sphere(radius=6.0, sld=1.0), volume_fraction=0.05)
    a = s.particles.summary[0]
    v1 = 4 / 3 * np.pi * 6.0**3
    assert a["count"] == round(0.05 * g.volume / v1)
    assert a["volume_fraction"] == pytest.approx(0.05, abs=v1 / g.volume)
    s2 = hifft.Scene(g, seed=1).add(S.Sphere(radius=6.0, sld=1.0), count=17)
    assert len(s2.particles) == 17


@pytest.mark.parametrize("dist", ["gaussian", "lognormal", "schulz"])
def test_polydispersity_statistics(dist):
    """Radii follow sasmodels: mean (gaussian, schulz) or median (lognormal), relative σ."""
    g = hifft.Grid(shape=256, spacing=10.0)
    s = hifft.Scene(g, seed=5).add(
        S.Sphere(radius=20.0, sld=1.0), count=20000, polydispersity=0.1, distribution=dist
    )
    r = s.particles.parameters[0]["radius"]
    if dist == "lognormal":
        assert np.median(r) == pytest.approx(20.0, rel=0.01)
        assert np.std(np.log(r)) == pytest.approx(0.1, rel=0.03)
    else:
        assert r.mean() == pytest.approx(20.0, rel=0.005)
        assert r.std() / r.mean() == pytest.approx(0.1 if dist == "schulz" else 0.0986, rel=0.04)
    nsig = 3 if dist == "gaussian" else 8
    assert r.min() > 20.0 * (1 - nsig * 0.1) - 1e-9 and r.max() <= 20.0 * (1 + nsig * 0.1)


def test_polydispersity_on_any_size_parameter_and_volume_target():
    g = grid(96, 2.0)
    s = hifft.Scene(g, seed=2).add(
        S.Cylinder(radius=5.0, length=40.0, sld=1.0),
        volume_fraction=0.02,
        polydispersity={"length": 0.2, "radius": {"width": 0.05}},
        distribution={"length": "schulz"},
    )
    p = s.particles.parameters[0]
    assert p["length"].std() / p["length"].mean() == pytest.approx(0.2, rel=0.3)
    assert p["radius"].std() / p["radius"].mean() == pytest.approx(0.05, rel=0.3)
    achieved = s.particles.summary[0]["volume_fraction"]
    vmax = np.pi * p["radius"].max() ** 2 * p["length"].max() / g.volume
    assert abs(achieved - 0.02) <= vmax
    d = s.to_dict()["components"][0]
    assert d["polydispersity"]["length"] == {"width": 0.2, "distribution": "schulz", "nsigmas": 8.0}
    sm = d["sasmodels"]["parameters"]
    assert (
        sm["length_pd"] == 0.2
        and sm["length_pd_type"] == "schulz"
        and sm["radius_pd_type"] == "gaussian"
    )
    assert sm["scale"] == pytest.approx(achieved)


def test_orientations():
    g = grid()
    fixed = hifft.Scene(g, seed=1).add(
        S.Cylinder(radius=3.0, length=20.0, sld=1.0), count=50, orientation="fixed"
    )
    assert np.allclose(fixed.particles.rot, np.eye(3))
    side = hifft.Scene(g, seed=1).add(
        S.Cylinder(radius=3.0, length=20.0, sld=1.0), count=5, orientation={"theta": 90, "phi": 30}
    )
    axis = side.particles.rot[:, :, 2]  # c axis in the lab (x, y, z)
    np.testing.assert_allclose(
        axis, np.tile([np.cos(np.pi / 6), np.sin(np.pi / 6), 0.0], (5, 1)), atol=1e-12
    )
    uni = hifft.Scene(g, seed=1).add(S.Cylinder(radius=3.0, length=20.0, sld=1.0), count=4000)
    c = uni.particles.rot[:, :, 2]
    assert np.abs(c.mean(axis=0)).max() < 0.05  # uniform on the sphere: mean axis ≈ 0, <z²> = 1/3
    assert (c[:, 2] ** 2).mean() == pytest.approx(1 / 3, abs=0.02)
    spread = hifft.Scene(g, seed=1).add(
        S.Cylinder(radius=3.0, length=20.0, sld=1.0),
        count=4000,
        orientation={"theta": 0, "theta_pd": 5, "phi_pd": 5},
    )
    tilt = np.degrees(np.arccos(np.clip(spread.particles.rot[:, 2, 2], -1, 1)))
    assert 4.0 < np.sqrt((tilt**2).mean() / 2) < 6.0  # two 5° gaussian jitters
    assert tilt.max() < 3 * 5 * np.sqrt(2) + 1e-9
    for R in (fixed, side, uni, spread):
        r = R.particles.rot
        np.testing.assert_allclose(
            np.einsum("nij,nkj->nik", r, r), np.broadcast_to(np.eye(3), r.shape), atol=1e-12
        )


def test_hard_spheres_do_not_overlap_at_phi_0p3():
    g = hifft.Grid(shape=128, spacing=1.0)
    s = hifft.Scene(g, seed=3).add(
        S.Sphere(radius=4.0, sld=1.0), volume_fraction=0.3, placement="hard"
    )
    assert s.particles.summary[0]["volume_fraction"] == pytest.approx(0.3, abs=1e-3)
    assert min_gap(s) >= 0.0


def test_hard_polydisperse_mixture_and_inside():
    """Two hard components avoid each other; 'inside' keeps every bounding box in the box."""
    g = grid(80, 2.0)
    s = hifft.Scene(g, seed=4)
    s.add(
        S.Sphere(radius=10.0, sld=1.0), volume_fraction=0.1, placement="hard", polydispersity=0.15
    )
    s.add(
        S.CoreShellSphere(radius=4.0, thickness=2.0, sld_core=1, sld_shell=2),
        volume_fraction=0.08,
        placement="hard",
        boundary="inside",
    )
    assert min_gap(s) >= 0.0
    p = s.particles
    sel = p.component == 1
    half = np.array(g.box[::-1]) / 2
    assert np.all(np.abs(p.center[sel]) + p.ext[sel] <= half + 1e-9)


def test_hard_placement_jams_with_clear_error():
    g = hifft.Grid(shape=48, spacing=1.0)
    s = hifft.Scene(g, seed=1).add(
        S.Sphere(radius=4.0, sld=1.0),
        volume_fraction=0.45,
        placement={"kind": "hard", "max_tries_per_particle": 50},
    )
    with pytest.raises(PlacementError, match="jams"):
        s.plan()


@pytest.mark.parametrize(("lattice", "per_cell"), [("sc", 1), ("bcc", 2), ("fcc", 4), ("hcp", 4)])
def test_lattices(lattice, per_cell):
    g = hifft.Grid(shape=96, spacing=1.0)
    s = hifft.Scene(g, seed=1).add(
        S.Sphere(radius=4.0, sld=1.0), volume_fraction=0.2, placement=lattice
    )
    a = s.particles.summary[0]
    assert a["count"] == per_cell * np.prod(a["lattice"]["cells"])
    assert a["volume_fraction"] == pytest.approx(0.2, rel=0.35)
    assert min_gap(s) > 0
    if lattice == "fcc":  # fcc nearest neighbours at a/√2
        a0 = a["lattice"]["cell_edges"][0]
        pos = s.particles.center
        d = np.linalg.norm(pos[1:] - pos[0], axis=1)
        assert d.min() == pytest.approx(a0 / np.sqrt(2))


def test_lattice_too_dense_is_refused():
    s = hifft.Scene(grid(32, 1.0), seed=1).add(
        S.Sphere(radius=4.0, sld=1.0), volume_fraction=0.9, placement="sc"
    )
    with pytest.raises(PlacementError, match="overlap"):
        s.plan()


def test_inside_boundary_random():
    g = grid(48, 1.0)
    s = hifft.Scene(g, seed=1).add(
        S.Cylinder(radius=2.0, length=30.0, sld=1.0), count=200, boundary="inside"
    )
    p = s.particles
    assert np.all(np.abs(p.center) + p.ext <= np.array(g.box[::-1]) / 2 + 1e-9)
    vol = s.to_volume("float64").to_numpy()
    assert vol.sum() == pytest.approx(200 * np.pi * 4 * 30, rel=2e-3)


def test_plan_is_deterministic_and_components_independent():
    g = grid()
    a = hifft.Scene(g, seed=7).add(S.Sphere(radius=5.0, sld=1.0), count=30, polydispersity=0.1)
    b = hifft.Scene(g, seed=7).add(S.Sphere(radius=5.0, sld=1.0), count=30, polydispersity=0.1)
    b.add(S.Cylinder(radius=2.0, length=10.0, sld=1.0), count=5)
    pa, pb = a.particles, b.particles
    assert np.array_equal(pa.center, pb.center[:30]) and np.array_equal(pa.rot, pb.rot[:30])
    c = hifft.Scene(g, seed=8).add(S.Sphere(radius=5.0, sld=1.0), count=30, polydispersity=0.1)
    assert not np.array_equal(pa.center, c.particles.center)


def test_to_dict_round_trip_json():
    g = hifft.Grid(shape=(32, 40, 48), spacing=(1.0, 2.0, 2.0))
    s = hifft.Scene(g, sld_solvent="1 1e-6/angstrom**2", seed=12, overlap="clip", supersample=3)
    s.add(
        S.CoreShellCylinder(
            radius="0.5 nm", thickness=2.0, length=20.0, sld_core=2.0, sld_shell=3.0
        ),
        count=3,
        orientation={"theta": 30, "phi": 10, "theta_pd": 4},
        placement="hard",
    )
    s.add(S.Hemisphere(radius=6.0, sld=1.0), positions=[[1.0, 2.0, 3.0]], orientation="fixed")
    s.add(
        S.Parallelepiped(length_a=4, length_b=5, length_c=6, sld=-1),
        volume_fraction=0.01,
        polydispersity=0.1,
        distribution="lognormal",
    )
    d = json.loads(json.dumps(s.to_dict()))
    assert d["components"][0]["parameters"]["radius"] == 5.0
    assert d["components"][0]["achieved"]["count"] == 3
    assert d["components"][0]["seed"] == {"entropy": 12, "spawn_key": [0]}
    assert d["components"][1]["sasmodels"] is None  # no sasmodels hemisphere
    assert d["components"][2]["sasmodels"]["model"] == "parallelepiped"
    s2 = hifft.Scene.from_dict(d)
    assert s2.to_dict() == s.to_dict()
    assert np.array_equal(s2.to_volume().to_numpy(), s.to_volume().to_numpy())


def test_unseeded_scene_records_its_seed():
    s = hifft.Scene(grid(), seed=None).add(S.Sphere(radius=5.0, sld=1.0), count=3)
    again = hifft.Scene.from_dict(s.to_dict())
    assert np.array_equal(again.particles.center, s.particles.center)


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: S.Sphere(radius=-1.0, sld=1.0), "Sphere.radius"),
        (lambda: S.Cylinder(radius=1.0, length="-3 nm", sld=1.0), "Cylinder.length"),
        (lambda: S.Sphere(radius=1.0, sld=float("nan")), "Sphere.sld"),
        (lambda: S.Sphere(radius="5 kg", sld=1.0), "radius"),
        (
            lambda: hifft.Scene(grid()).add(
                S.Sphere(radius=5, sld=1), count=3, volume_fraction=0.1
            ),
            "exactly one",
        ),
        (
            lambda: hifft.Scene(grid()).add(S.Sphere(radius=5, sld=1), volume_fraction=1.5),
            "volume_fraction",
        ),
        (
            lambda: hifft.Scene(grid()).add(
                S.Sphere(radius=5, sld=1), count=2, polydispersity={"length": 0.1}
            ),
            "not a size parameter",
        ),
        (
            lambda: hifft.Scene(grid()).add(
                S.Sphere(radius=5, sld=1), count=2, distribution="weibull", polydispersity=0.1
            ),
            "distribution",
        ),
        (
            lambda: hifft.Scene(grid()).add(
                S.Sphere(radius=5, sld=1), count=2, placement="diamond"
            ),
            "placement",
        ),
        (
            lambda: hifft.Scene(grid()).add(
                S.Sphere(radius=5, sld=1), count=2, placement="fcc", boundary="inside"
            ),
            "lattice",
        ),
        (
            lambda: hifft.Scene(grid()).add(
                S.Sphere(radius=5, sld=1), count=2, orientation="random"
            ),
            "orientation",
        ),
        (lambda: hifft.Scene(grid(), seed=-1), "seed"),
        (lambda: hifft.Scene(grid(), overlap="max"), "overlap"),
        (
            lambda: hifft.Scene(grid(8, 1.0)).add(S.Sphere(radius=5, sld=1), count=1).plan(),
            "larger than the box",
        ),
        (
            lambda: hifft.Scene(grid()).add(S.Sphere(radius=1, sld=1), volume_fraction=1e-9).plan(),
            "too small",
        ),
    ],
)
def test_bad_input(call, match):
    with pytest.raises((ValueError, TypeError), match=match):
        call()


def test_shapes_reexported_and_units():
    assert hifft.shapes.Sphere is S.Sphere
    s = hifft.shapes.Sphere(radius="5 nm", sld="2e10 cm^-2")
    assert s.radius == pytest.approx(50.0) and s.sld == pytest.approx(2.0)
    assert hifft.shapes.CoreShellCylinder(
        radius=1, thickness=1, length=4, sld_core=0, sld_shell=1
    ).volume == pytest.approx(np.pi * 4 * 6)
