"""Line cuts and the cut fit: parameters of a simulated image recovered from a perturbed start."""

from __future__ import annotations

import math

import numpy as np
import pytest

from hifft.gisaxs import Beam, Detector, Geometry, Islands, Sample, contrast, islands_image, yoneda_angle
from hifft.gisaxs.cuts import CutError, Cuts, fit_cuts, standard_cuts

DEG = math.pi / 180


@pytest.fixture(scope="module")
def scene():
    geo = Geometry(Beam(0.96, 0.4 * DEG), Detector.angular((0, 2), (0, 2), (48, 64)))
    sample = Sample.create(geo.beam.wavelength, "Si", "vacuum")
    rho = contrast("Au", sample, geo.beam.wavelength)
    truth = Islands(radius=30.0, sigma_r=0.15, distance=90.0, omega_d=0.2)
    return geo, sample, rho, truth, islands_image(truth, geo, sample, rho, nodes=9)


def test_cuts_are_band_means_and_the_sub_geometry_matches(scene):
    geo, sample, rho, truth, img = scene
    cuts = standard_cuts(img, geo, sample, width=3)
    row = int(np.argmin(np.abs(geo.detector.alpha_axis - yoneda_angle(sample))))
    assert row in cuts.rows and len(cuts.rows) == 3 and len(cuts.cols) == 3
    v = cuts.extract(img)
    assert v.shape == (64 + 48,)
    np.testing.assert_allclose(v[:64], img[list(cuts.rows)].mean(axis=0))
    np.testing.assert_allclose(v[64:], img[:, list(cuts.cols)].mean(axis=1))
    # the simulator on the cut pixels alone gives the same cuts as on the whole image
    sub = islands_image(truth, cuts.geometry(geo), sample, rho, nodes=9)
    np.testing.assert_allclose(cuts.reduce(sub, geo.detector.shape), v, rtol=1e-10)
    # the vertical cut sits on a lateral maximum clear of the specular column
    h = v[:64]
    c = cuts.cols[1]
    assert c >= 8 and h[c] >= h[c - 1] and h[c] >= h[c + 1]


def test_fit_recovers_parameters_from_a_perturbed_start(scene):
    geo, sample, rho, _, img = scene
    cuts = standard_cuts(img, geo, sample)
    start = Islands(radius=34.0, sigma_r=0.2, distance=80.0, omega_d=0.25)
    fit = fit_cuts(img, cuts, geo, sample, rho, start, epsilon=1e-6 * img.max(), nodes=9)
    assert fit.success and fit.rms_log10 < 1e-3
    assert fit.islands.radius == pytest.approx(30.0, rel=2e-3)
    assert fit.islands.distance == pytest.approx(90.0, rel=2e-3)
    assert fit.islands.omega_d == pytest.approx(0.2, abs=5e-3)
    assert fit.scale == pytest.approx(1.0, rel=1e-2)


def test_bad_cuts_name_what_is_wrong(scene):
    geo, sample, _, _, img = scene
    with pytest.raises(CutError, match="row 60"):
        Cuts((60,), (3,)).extract(img)
    with pytest.raises(CutError, match="shape"):
        standard_cuts(img[:10], geo, sample)
    with pytest.raises(CutError, match="width"):
        standard_cuts(img, geo, sample, width=0)
    flat = Geometry(geo.beam, Detector.flat((8, 8), "2 m", "172 um", (0, 4), geo.beam))
    with pytest.raises(CutError, match="angular"):
        standard_cuts(np.ones((8, 8)), flat, sample)
