"""Droplet geometries: shape measures against analytic moments, and the labelling rules."""

from __future__ import annotations

import numpy as np
import pytest

from hifft.diffraction import labels as L
from hifft.diffraction.config import FAMILIES, DiffractionConfig, DropletsConfig, RulesConfig
from hifft.diffraction.droplets import (
    Body,
    Droplets,
    GeometryError,
    _arc,
    derive_labels,
    draw,
    max_extent,
    rule_margins,
    shape_features,
)
from hifft.diffraction.patterns import grid_for
from hifft.grid import Grid
from hifft.volume import shapes

from .conftest import WAVELENGTH, one_body, turn

GRID_CFG = DiffractionConfig().grid
RULES = RulesConfig()


def labels_of(drop: Droplets) -> tuple[str, ...]:
    feats = None
    if not drop.empty and drop.family != "pair":
        grid = grid_for(drop.extent(), WAVELENGTH, GRID_CFG, 30.0)
        feats = shape_features(drop.density(grid), grid)
    v, _ = derive_labels(drop, feats, WAVELENGTH, RULES, 30.0)
    return L.decode(v)


def test_moments_recover_a_rotated_ellipsoid():
    a, b, c = 1500.0, 2000.0, 3500.0
    rot = turn("z", 30) @ turn("y", 50) @ turn("z", -20)
    drop = one_body(shapes.TriaxialEllipsoid(radius_equat_minor=a, radius_equat_major=b, radius_polar=c,
                                            sld=1.0), rot)
    grid = Grid((64, 96, 96), 160.0)
    f = shape_features(drop.density(grid), grid)
    np.testing.assert_allclose(f["semi_axes"], [c, b, a], rtol=0.03)
    assert abs(abs(f["axis"] @ rot[:, 2]) - 1) < 1e-3  # the polar (particle c) axis, via the scene's angles
    assert f["inversion_defect"] < 0.03
    assert f["tilt"] == pytest.approx(np.degrees(np.arcsin(abs(rot[2, 2]))), abs=1.0)


def test_spheres_and_spheroids_by_view():
    sph = one_body(shapes.Sphere(radius=2000.0, sld=1.0))
    assert labels_of(sph) == ("spherical_oblate", "round")
    obl = shapes.Ellipsoid(radius_polar=1500.0, radius_equatorial=2500.0, sld=1.0)
    assert labels_of(one_body(obl)) == ("spherical_oblate", "round")                       # face-on
    assert labels_of(one_body(obl, turn("y", 90))) == ("spherical_oblate", "elliptical")   # edge-on
    pro = shapes.Ellipsoid(radius_polar=4000.0, radius_equatorial=1500.0, sld=1.0)
    assert labels_of(one_body(pro)) == ("spherical_oblate", "round")                       # end-on
    assert labels_of(one_body(pro, turn("y", 90))) == ("prolate", "streak")               # in the detector plane
    assert labels_of(one_body(pro, turn("y", 60))) == ("prolate", "bent", "streak")       # 30° out of plane
    # the same tilt without a streak (projected aspect < streak.min_aspect): a blob, not a bent streak
    stub = shapes.Ellipsoid(radius_polar=2600.0, radius_equatorial=1500.0, sld=1.0)
    assert labels_of(one_body(stub, turn("y", 60))) == ("prolate",)


def test_bent_capsule_lobes_layers_and_empty():
    bodies, chord, sag, _ = _arc(2500.0, 3.0, 90.0)
    rot = turn("x", 90)  # the bend plane (particle x–z) onto the detector plane (x–y)
    drop = Droplets("bent", tuple(Body(b.shape, rot @ b.center, rot @ b.rotation) for b in bodies),
                    chord=rot @ chord, sagitta=rot @ sag)
    assert set(labels_of(drop)) >= {"prolate", "bent", "asymmetric"}
    lobes = Droplets("lobed", (Body(shapes.Sphere(radius=2500.0, sld=1.0), np.zeros(3), np.eye(3)),
                               Body(shapes.Sphere(radius=1250.0, sld=1.0), np.array([2600.0, 0, 0]), np.eye(3))))
    assert "asymmetric" in labels_of(lobes)
    cs = one_body(shapes.CoreShellSphere(radius=1500.0, thickness=1000.0, sld_core=2.0, sld_shell=1.0),
                  family="core_shell")
    assert labels_of(cs) == ("spherical_oblate", "round", "layered")
    weak = one_body(shapes.CoreShellSphere(radius=1500.0, thickness=1000.0, sld_core=1.1, sld_shell=1.0),
                    family="core_shell")
    assert labels_of(weak) == ("spherical_oblate", "round")
    assert labels_of(Droplets("empty", ())) == ("empty",)


@pytest.mark.parametrize(("r2", "axial", "transverse", "expected"), [
    (1000.0, 8000.0, 0.0, ("spherical_oblate", "round", "newton_rings", "double_rings")),  # n_z = 2.1
    (2000.0, 8000.0, 0.0, ("spherical_oblate", "round", "newton_rings")),
    (2000.0, 0.0, 6000.0, ("spherical_oblate", "round")),          # side by side: straight fringes only
    (1000.0, 3000.0, 6000.0, ("spherical_oblate", "round", "double_rings")),
])
def test_pair_rules(r2, axial, transverse, expected):
    eye = np.eye(3)
    sep = np.array([transverse, 0.0, axial])
    drop = Droplets("pair", (Body(shapes.Sphere(radius=2000.0, sld=1.0), -sep / 2, eye),
                             Body(shapes.Sphere(radius=r2, sld=1.0), sep / 2, eye)),
                    params={"radius": 2000.0, "radius_2": r2})
    assert labels_of(drop) == expected


def test_drawn_geometries_obey_the_hierarchy_and_their_priors():
    cfg = DropletsConfig()
    rng = np.random.default_rng(7)
    seen = np.zeros(len(L.LABELS), int)
    for fam in FAMILIES:
        for _ in range(3):
            drop = draw(cfg, fam, rng)
            assert drop.family == fam
            ext = drop.extent()
            w_xy, w_z = max_extent(cfg, fam)
            assert ext[0] <= w_xy + 1e-6 and ext[1] <= w_xy + 1e-6 and ext[2] <= w_z + 1e-6
            lab = labels_of(drop)
            assert L.count_violations(L.encode(lab))["images"] == 0
            assert L.enforce_hierarchy(lab) == lab
            seen += L.encode(lab)
    assert seen[L.INDEX["empty"]] == 3 and seen[L.INDEX["layered"]] == 3


def test_bad_geometry_is_refused():
    with pytest.raises(GeometryError, match="unknown family 'blob'"):
        draw(DropletsConfig(), "blob", np.random.default_rng(0))
    with pytest.raises(GeometryError, match="empty"):
        shape_features(np.zeros((4, 4, 4)), Grid(4, 1.0))
    with pytest.raises(GeometryError, match="shape features"):
        derive_labels(one_body(shapes.Sphere(radius=10.0, sld=1.0)), None, WAVELENGTH, RULES, 30.0)


def test_rule_margins_measure_the_distance_to_the_nearest_threshold():
    nan = np.nan
    names = ("projected_aspect", "elongation", "inversion_defect", "body_bend", "streak_bend", "newton_fringes",
             "transverse_fringes", "radius", "radius_2")
    rows = [
        (1.0, 1.0, 0.0, 0.0, 0.0, nan, nan, 2000.0, nan),        # sphere: 1.0 vs round's 1.1
        (1.12, 1.5, 0.01, 0.0, 0.05, nan, nan, 2000.0, nan),     # ρ 2 % above 1.1
        (3.0, 3.0, 0.01, 0.0, 0.099, nan, nan, 2000.0, nan),     # streak bend 1 % below 0.1 (streak set)
        (3.0, 3.0, 0.01, 0.0, 0.099, nan, nan, 2000.0, nan),     # the same without a streak: not read
        (nan, nan, nan, nan, nan, 10.0, 2.0, 1000.0, 1250.0),    # pair: radius ratio 1.25 vs 1.2
        (nan,) * 9,                                              # empty
    ]
    meas = {k: np.array([r[i] for r in rows]) for i, k in enumerate(names)}
    y = np.zeros((len(rows), len(L.LABELS)), bool)
    y[2, L.INDEX["streak"]] = True
    m = rule_margins(meas, y, RULES)
    np.testing.assert_allclose(m[:3], [np.log(1.1), np.log(1.12 / 1.1), np.log(0.1 / 0.099)], rtol=1e-9)
    assert m[3] == pytest.approx(np.log(3.0 / 2.0))        # nearest is then ρ against streak.min_aspect 2.0
    assert m[4] == pytest.approx(np.log(1.25 / 1.2))
    assert m[5] == np.inf
