"""The public entry points, through hifft.fft.reduce_spectrum (whatever engine is behind it)."""

from __future__ import annotations

import json

import dask.array as da
import numpy as np
import pytest

import hifft
from hifft.fft.reducer import reduce_in_memory
from hifft.grid import Grid
from hifft.reduce import Detector, EwaldReducer, PlaneReducer, RadialReducer, run_reducers


@pytest.fixture
def density(rng):
    return rng.random((16, 14, 12)).astype(np.float32)


def test_saxs_on_array_dask_and_volume_agree(density):
    g = Grid(density.shape, 2.0)
    a = hifft.saxs(density, bins=25, spacing=2.0)
    b = hifft.saxs(da.from_array(density, chunks=(4, 14, 12)), bins=25, spacing="0.2 nm")
    vol = hifft.from_array(density, spacing=2.0, attrs={"scene": {"radius": 10.0}})
    c = hifft.saxs(vol, bins=25)
    for other in (b, c):
        for v in ("I", "sigma", "sem", "std", "count", "q"):
            np.testing.assert_allclose(a[v].values, other[v].values, rtol=1e-6)
    ref = reduce_in_memory(np.fft.rfftn(density), g, [RadialReducer(25)])["radial"]
    ref = ref.isel(q=np.flatnonzero(ref["count"].values > 0))
    np.testing.assert_allclose(a["I"].values, ref["I"].values, rtol=1e-6)
    assert "scene" in c.attrs["source"] and "backend" in c.attrs and "dtype" in c.attrs
    assert json.loads(c.attrs["scene"]) == {"radius": 10.0}
    assert a.attrs["q_valid_min"] == pytest.approx(g.q_min)
    assert set(a.data_vars) >= {"I", "sigma", "sem", "std", "count", "n_independent", "q_std",
                                "q_samples", "q_weights"}
    assert a["q_samples"].dims == ("q", "sub") and a["q_samples"].attrs["units"] == "1/angstrom"


def test_saxs_keeps_or_drops_empty_bins(density):
    a = hifft.saxs(density, bins=80, spacing=1.0, drop_empty=False)
    assert a.sizes["q"] == 80 and (a["count"].values == 0).any()
    assert np.isnan(a["I"].values[a["count"].values == 0]).all()
    b = hifft.saxs(density, bins=80, spacing=1.0)
    assert (b["count"].values > 0).all() and b.sizes["q"] < 80


def test_saxs_input_errors(density):
    with pytest.raises(ValueError, match="spacing: an array carries no grid"):
        hifft.saxs(density)
    with pytest.raises(TypeError, match="bin_spacing="):
        hifft.saxs(density, spacing="log")
    with pytest.raises(ValueError, match="3D"):
        hifft.saxs(density[0], spacing=1.0)
    with pytest.raises(TypeError, match="real-valued"):
        hifft.saxs(density.astype(np.complex64), spacing=1.0)
    with pytest.raises(ValueError, match="carries its own grid"):
        hifft.saxs(hifft.from_array(density, spacing=1.0), spacing=1.0)


def test_fused_reducers_and_ewald_detector_image(density):
    g = Grid(density.shape, 2.0)
    det = Detector((15, 13), "1 mm", "2 m")
    out = run_reducers(density, [RadialReducer(10), PlaneReducer("z"), EwaldReducer(1.0, det)],
                       spacing=2.0)
    assert set(out) >= {"radial", "plane_z", "ewald", "meta"}
    img = hifft.detector_image(density, wavelength="1 Å", detector=det, spacing=2.0)
    np.testing.assert_allclose(img.values, out["ewald"].values, rtol=1e-6, equal_nan=True)
    assert img.dims == ("row", "col") and img.attrs["wavelength"] == pytest.approx(1.0)
    flat = hifft.detector_image(density, spacing=2.0)
    np.testing.assert_allclose(flat.values, out["plane_z"].values, rtol=1e-5)
    with pytest.raises(ValueError, match="wavelength"):
        hifft.detector_image(density, detector=det, spacing=2.0)
    assert out["radial"].attrs["q_valid_min"] == pytest.approx(g.q_min)  # the grid made from spacing=


def test_azimuthal_of_the_detector_image_is_close_to_saxs_for_an_isotropic_object():
    from .helpers import sphere

    x, _ = sphere(48, 2.0, 14.0)
    img = hifft.detector_image(x, spacing=2.0, sinc_correction=False)
    prof = hifft.azimuthal(img, bins=np.linspace(0.1, 0.25, 6)).dropna("q", subset=["I"])
    assert prof.sizes["q"] >= 4
    ds = hifft.saxs(x, bins=40, q_max=0.3, spacing=2.0, sinc_correction=False)
    # the plane samples other |q| than the 3D shells, but a sphere's I depends on |q| only
    ref = np.exp(np.interp(prof["q"].values, ds["q"].values, np.log(ds["I"].values)))
    np.testing.assert_allclose(prof["I"].values, ref, rtol=0.03)
