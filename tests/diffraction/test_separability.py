"""The physics check of benchmarks/droplet_separability.py: projection twins and the best-test statistics."""

from __future__ import annotations

import importlib.util
import math
from pathlib import Path

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from hifft.diffraction import Body, Droplets
from hifft.volume import shapes

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "droplet_separability.py"


@pytest.fixture(scope="module")
def sep():
    spec = importlib.util.spec_from_file_location("droplet_separability", SCRIPT)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def depth(a: np.ndarray) -> float:
    """Half-thickness along z through the centre of the ellipsoid xᵀAx ≤ 1."""
    return 1 / math.sqrt(a[2, 2])


@pytest.mark.parametrize("family", ["spheroid", "prolate"])
def test_twin_has_the_same_projection_and_another_depth(sep, family):
    rot = Rotation.from_euler("ZYZ", [30, 70, 10], degrees=True).as_matrix()
    shp = (shapes.Ellipsoid(radius_polar=1400.0, radius_equatorial=2000.0, sld=1.0) if family == "spheroid"
           else shapes.TriaxialEllipsoid(radius_equat_minor=1000.0, radius_equat_major=1100.0, radius_polar=2000.0,
                                         sld=1.0))
    drop = Droplets(family, (Body(shp, np.zeros(3), rot),), {"radius": 1800.0, "aspect": 0.7}, rotation=rot)
    tw = sep.twin(drop)
    a, b = sep.body_matrix(drop.bodies[0]), sep.body_matrix(tw.bodies[0])
    pa, pb = sep.projected_ellipse(a), sep.projected_ellipse(b)
    assert pa[0] == pytest.approx(pb[0], rel=1e-9) and pa[1] == pytest.approx(pb[1], rel=1e-9)
    assert abs(abs(float(pa[2] @ pb[2])) - 1) < 1e-9  # the same major-axis direction
    # the twin lies in the plane: its depth is its minor (prolate twin) or major (oblate twin) semi-axis
    want = pb[1] if family == "spheroid" else pb[0]
    assert depth(b) == pytest.approx(want, rel=1e-9) and abs(depth(a) - depth(b)) > 50
    assert isinstance(tw.bodies[0].shape, shapes.Ellipsoid)


def test_best_test_statistics(sep):
    rng = np.random.default_rng(0)
    mu = rng.uniform(0, 1, 400)
    mu /= mu.sum()
    assert math.isinf(sep.photons_needed(mu, mu))
    assert sep.uniform_error(mu, mu, 1e6, 0.25, 400) == pytest.approx(0.5)
    other = mu * (1 + 0.1 * rng.standard_normal(400))
    other /= other.sum()
    # m and s² grow like the flux, so the photons for a 95 % test follow z²s²/m²
    m, v = sep.llr_stats(mu, other)
    assert m > 0 and v > 0
    n95 = sep.photons_needed(mu, other)
    assert n95 >= 1.645**2 * v / m**2
    # Poisson only (uniform 0): at n95 photons the error is at most ~5 %; more photons, less error
    e1, e2 = (sep.uniform_error(mu, other, f, 0.0, 400) for f in (n95, 10 * n95))
    assert 0.01 < e1 < 0.1 and e2 < e1
    # uniform noise: more photons never beat the limit at infinite flux
    floor = sep.uniform_error(mu, other, math.inf, 0.25, 400)
    assert floor > 0 and all(sep.uniform_error(mu, other, f, 0.25, 400) >= floor for f in (1e3, 1e6, 1e9))
