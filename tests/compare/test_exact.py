"""The exact realized-configuration oracle, and the pipeline against it at low q."""

from __future__ import annotations

import numpy as np
import pytest

import hifft
from hifft.compare.analysis import validation_edges
from hifft.compare.exact import isotropic, realized_check, shell_intensity
from hifft.volume import shapes


def test_single_centred_sphere_matches_form_factor():
    sc = hifft.Scene(hifft.Grid(32, 2.0), seed=0)
    sc.add(shapes.Sphere(radius=8.0, sld=1.5), count=1)
    lo = np.array([0.13, 0.3])
    I, cnt = shell_intensity(sc, lo, lo * 1.3, q_max=1.0)
    assert np.all(cnt > 0)
    # one particle: no phases, so the shell mean is the mean of the form factor over its modes
    L = 64.0
    m = np.arange(-16, 17)
    k = (
        2
        * np.pi
        / L
        * np.sqrt(m[:, None, None] ** 2 + m[None, :, None] ** 2 + m[None, None, :] ** 2)
    )
    V = 4 / 3 * np.pi * 8.0**3
    for i in range(2):
        kk = k[(k >= lo[i]) & (k < lo[i] * 1.3)]
        x = kk * 8.0
        P = (3 * (np.sin(x) - x * np.cos(x)) / x**3) ** 2
        assert I[i] == pytest.approx(1e-4 * 1.5**2 * V**2 * P.mean() / L**3, rel=1e-10)


@pytest.mark.parametrize(("placement", "phi"), [("random", 0.02), ("hard", 0.25)])
def test_pipeline_reproduces_its_configuration_at_low_q(placement, phi):
    """Speckle included, FFT shells equal the exact shells of the rasterized spheres (<0.1 %)."""
    sc = hifft.Scene(hifft.Grid(64, 2.0), sld_solvent=0.5, seed=7)
    sc.add(
        shapes.CoreShellSphere(radius=6.0, thickness=3.0, sld_core=2.0, sld_shell=1.0),
        volume_fraction=phi,
        placement=placement,
        polydispersity=0.1,
    )
    assert isotropic(sc)
    ds = hifft.saxs(sc.to_volume(), bins=validation_edges(64, 2.0), progress=False)
    dq = 2 * np.pi / 128
    r = realized_check([sc], ds, q_max=0.45, window=(3 * dq, 0.45))
    assert r is not None and r["n_bins"] >= 5
    assert abs(r["i0_error"]) < 1e-3 and r["max_abs"] < 2e-3


def test_not_isotropic():
    sc = hifft.Scene(hifft.Grid(32, 2.0), seed=0)
    sc.add(shapes.Cylinder(radius=4.0, length=20.0, sld=1.0), count=2)
    assert not isotropic(sc)
    sc2 = hifft.Scene(hifft.Grid(32, 2.0), seed=0, overlap="clip")
    sc2.add(shapes.Sphere(radius=4.0, sld=1.0), count=3)
    assert not isotropic(sc2)
