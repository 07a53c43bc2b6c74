from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

from hifft.fft.reducer import reduce_in_memory
from hifft.grid import Grid
from hifft.reduce import (
    Azimuthal,
    Detector,
    PlaneReducer,
    azimuthal,
    beamstop_mask,
    detector_frame,
    gap_mask,
)

# a synthetic detector: the common ground with pyFAI (pixel size, distance, wavelength in m)
SHAPE, PIX, DIST, LAM, CENTER = (160, 140), 1e-4, 0.5, 1e-10, (70.3, 60.7)


def _frame(data: np.ndarray) -> xr.DataArray:
    return detector_frame(data, Detector(SHAPE, PIX * 1e10, DIST * 1e10, CENTER), LAM * 1e10)


def _pyfai():
    pytest.importorskip("pyFAI")
    from pyFAI.detectors import Detector as FaiDetector
    from pyFAI.integrator.azimuthal import AzimuthalIntegrator

    # pyFAI's PONI is measured from the detector corner: pixel i's centre is at (i + ½)·p
    return AzimuthalIntegrator(dist=DIST, poni1=(CENTER[0] + 0.5) * PIX,
                               poni2=(CENTER[1] + 0.5) * PIX,
                               detector=FaiDetector(PIX, PIX, max_shape=SHAPE), wavelength=LAM)


def test_constant_image_gives_constant_profile_and_counts_unmasked_pixels():
    img = _frame(np.full(SHAPE, 3.5))
    mask = gap_mask(SHAPE, rows=[(40, 45)], cols=[(100, 104)])
    bs = beamstop_mask(img, 0.01)
    res = azimuthal(img, bins=30, mask=mask | bs)
    full = res["count"].values > 0
    np.testing.assert_array_equal(res["I"].values[full], 3.5)
    assert np.all(res["std"].values[full] == 0)
    assert res["count"].values.sum() == (~(mask | bs)).sum()
    np.testing.assert_allclose(res["sigma"].values[full], 0.035)
    # beamstop given as an argument is the same as the mask
    res2 = azimuthal(img, bins=30, mask=mask, beamstop="0.1 1/nm")
    np.testing.assert_array_equal(res2["count"].values, res["count"].values)


def test_matches_pyfai_integrate1d(rng):
    ai = _pyfai()
    data = (rng.random(SHAPE) * 100).astype(np.float32)
    img = _frame(data)
    r_pix = np.hypot(*(np.indices(SHAPE) - np.array(CENTER)[:, None, None]))
    mask = gap_mask(SHAPE, rows=[(100, 108)]) | (r_pix < 6)
    qr = (0.0, float(img.coords["q"].max()))
    ours = azimuthal(img, bins=60, q_min=qr[0], q_max=qr[1], mask=mask)
    theirs = ai.integrate1d(data, 60, unit="q_A^-1", method=("no", "histogram", "cython"),
                            radial_range=qr, correctSolidAngle=False, polarization_factor=None,
                            mask=mask, error_model="azimuthal")
    np.testing.assert_allclose(ours["q_center"].values, theirs.radial, rtol=1e-6)
    np.testing.assert_array_equal(ours["count"].values, theirs.count)
    ok = ours["count"].values > 1
    np.testing.assert_allclose(ours["I"].values[ok], theirs.intensity[ok], rtol=1e-5)
    np.testing.assert_allclose(ours["std"].values[ok], theirs.std[ok], rtol=1e-4)
    # pyFAI's sem is std/√n; ours is std/√(n−1) (the ddof = 1 estimate)
    n = ours["n_independent"].values[ok]
    np.testing.assert_allclose(ours["sem"].values[ok] * np.sqrt((n - 1) / n), theirs.sem[ok],
                               rtol=1e-4)


def test_caked_matches_pyfai_integrate2d_and_sums_to_1d(rng):
    ai = _pyfai()
    data = rng.random(SHAPE) * 10
    img = _frame(data)
    qr = (0.0, float(img.coords["q"].max()))
    cake = azimuthal(img, bins=25, q_min=qr[0], q_max=qr[1], n_phi=36)
    theirs = ai.integrate2d(data, 25, 36, unit="q_A^-1", method=("no", "histogram", "cython"),
                            radial_range=qr, azimuth_range=(-180, 180), correctSolidAngle=False,
                            polarization_factor=None)
    np.testing.assert_allclose(cake["phi"].values, theirs.azimuthal, atol=1e-4)  # pyFAI: float32
    np.testing.assert_array_equal(cake["count"].values.T, theirs.count)
    ok = theirs.count > 0
    np.testing.assert_allclose(cake["I"].values.T[ok], theirs.intensity[ok], rtol=1e-5)
    one = azimuthal(img, bins=25, q_min=qr[0], q_max=qr[1])
    np.testing.assert_array_equal(cake["count"].sum("phi").values, one["count"].values)
    w = cake["count"].values
    np.testing.assert_allclose(np.nansum(cake["I"].values * w, 1) / w.sum(1), one["I"].values)


def test_nan_pixels_are_masked_and_frames_reuse_the_geometry(rng):
    data = rng.random(SHAPE)
    img = _frame(data)
    integ = Azimuthal(img, bins=20)
    a = integ(data)
    holes = data.copy()
    holes[10:20, 30:40] = np.nan
    b = integ(holes)
    assert b["count"].values.sum() == a["count"].values.sum() - 100
    c = azimuthal(_frame(np.where(np.isnan(holes), 0, holes)), bins=20,
                  mask=np.isnan(holes))
    np.testing.assert_allclose(b["I"].values, c["I"].values, rtol=1e-12)
    np.testing.assert_array_equal(b["n_independent"].values, b["count"].values)  # no Friedel pairs


def test_flat_plane_image_counts_friedel_pairs_once(rng):
    g = Grid((8, 12, 10), 2.0)
    x = rng.standard_normal(g.shape)
    plane = reduce_in_memory(np.fft.rfftn(x), g, [PlaneReducer(0)])["plane_z"]
    res = azimuthal(plane, bins=8)
    qy, qx = np.meshgrid(plane.q_y.values, plane.q_x.values, indexing="ij")
    q = np.hypot(qy, qx)
    edges = np.linspace(0, q.max(), 9)
    b = np.clip(np.searchsorted(edges, q.ravel(), "right") - 1, 0, 7)
    # brute force: one class per {q, −q} pair present in the image
    key = [frozenset({(round(a, 9), round(c, 9)), (round(-a, 9), round(-c, 9))})
           for a, c in zip(qy.ravel(), qx.ravel(), strict=True)]
    for k in range(8):
        m = b == k
        assert res["count"].values[k] == m.sum()
        assert res["n_independent"].values[k] == len({key[i] for i in np.flatnonzero(m)})
        np.testing.assert_allclose(res["I"].values[k], plane.values.ravel()[m].mean(), rtol=1e-12)
    assert res["I"].attrs["units"] == "1/cm"


def test_bad_inputs():
    img = _frame(np.ones(SHAPE))
    with pytest.raises(ValueError, match="mask"):
        azimuthal(img, mask=np.zeros((3, 3), bool))
    with pytest.raises(TypeError, match="DataArray"):
        azimuthal(np.ones(SHAPE))
    with pytest.raises(ValueError, match="frame shape"):
        Azimuthal(img)(np.ones((3, 3)))
