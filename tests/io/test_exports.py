from __future__ import annotations

import os

import numpy as np
import pytest
import xarray as xr

import hifft
from hifft.fft.reducer import reduce_in_memory
from hifft.grid import Grid
from hifft.io import plot_image, plot_iq, to_cansas_xml, to_netcdf, to_nxcansas, to_zarr
from hifft.reduce import Detector, EwaldReducer, PlaneReducer, RadialReducer


@pytest.fixture(scope="module")
def profile():
    rng = np.random.default_rng(7)
    g = Grid((16, 16, 16), 2.0)
    ds = reduce_in_memory(np.fft.rfftn(rng.random(g.shape)), g, [RadialReducer(40)])["radial"]
    assert (ds["count"].values == 0).any()  # keeps some empty bins: exports must drop them
    return ds


def _load(path):
    """The file as SasView's loader reads it (skips the calling test without sasdata)."""
    pytest.importorskip("sasdata", reason="sasdata (SasView's loader) is the independent reader")
    from sasdata.dataloader.loader import Loader

    out = Loader().load(str(path))
    assert len(out) == 1
    return out[0]


def _check_loaded(d, ds, q_factor=1.0):
    good = ds["count"].values > 0
    assert d.x_unit == "A^{-1}" and d.y_unit == "cm^{-1}"
    np.testing.assert_allclose(d.x, ds["q"].values[good] * q_factor, rtol=1e-12)
    np.testing.assert_allclose(d.y, ds["I"].values[good], rtol=1e-12)
    np.testing.assert_allclose(d.dy, ds["sigma"].values[good], rtol=1e-12)
    np.testing.assert_allclose(d.dx, ds["q_std"].values[good] * q_factor, rtol=1e-12, atol=1e-300)
    assert not d.errors


def test_nxcansas_round_trip_through_sasdata(profile, tmp_path):
    path = hifft.to_nxcansas(profile, tmp_path / "iq.h5")
    _check_loaded(_load(path), profile)
    import h5py

    with h5py.File(path) as f:
        e = f["sasentry01"]
        assert e.attrs["canSAS_class"] == "SASentry" and e.attrs["default"] == "sasdata01"
        d = e["sasdata01"]
        assert d.attrs["signal"] == "I" and d["Q"].attrs["units"] == "1/A"
        assert d["I"].attrs["uncertainties"] == "Idev" and d["Q"].attrs["resolutions"] == "Qdev"


def test_exports_convert_q_units(profile, tmp_path):
    nm = profile.assign_coords(q=("q", profile["q"].values * 10, {"units": "1/nm"}))
    nm["q_std"] = nm["q_std"] * 10
    nm["q_std"].attrs["units"] = "1/nm"
    _check_loaded(_load(to_nxcansas(nm, tmp_path / "nm.h5")), profile)
    _check_loaded(_load(to_cansas_xml(nm, tmp_path / "nm.xml")), profile)


def test_cansas_xml_round_trip_and_schema(profile, tmp_path):
    path = hifft.to_cansas_xml(profile, tmp_path / "iq.xml")
    _check_loaded(_load(path), profile)
    lxml = pytest.importorskip("lxml.etree")
    import sasdata

    xsd = os.path.join(os.path.dirname(sasdata.__file__), "dataloader", "readers", "schema",
                       "cansas1d_v1_1.xsd")
    schema = lxml.XMLSchema(lxml.parse(xsd))
    assert schema.validate(lxml.parse(str(path))), schema.error_log


def test_netcdf_and_zarr_round_trips(profile, tmp_path):
    cases = ((to_netcdf, xr.open_dataset, "iq.nc"), (to_zarr, xr.open_zarr, "iq.zarr"))
    for writer, opener, name in cases:
        path = writer(profile, tmp_path / name)
        with opener(path) as back:
            xr.testing.assert_allclose(back.load(), profile)
            assert back["q"].attrs["units"] == "1/angstrom" and back["I"].attrs["units"] == "1/cm"
            assert back.attrs["grid"] == profile.attrs["grid"]


def test_image_netcdf_round_trip(tmp_path, rng):
    g = Grid(8, 1.0)
    det = Detector(9, "1 mm", "1 m")
    reds = [PlaneReducer(0), EwaldReducer(1.0, det)]
    out = reduce_in_memory(np.fft.rfftn(rng.random(g.shape)), g, reds)
    for name in ("plane_z", "ewald"):
        path = to_netcdf(out[name], tmp_path / f"{name}.nc")
        with xr.open_dataset(path) as back:
            np.testing.assert_allclose(back["I"].values, out[name].values, equal_nan=True)


def test_profile_validation(tmp_path):
    with pytest.raises(TypeError, match="Dataset"):
        to_nxcansas(xr.DataArray([1.0]), tmp_path / "x.h5")
    empty = xr.Dataset({"I": ("q", [np.nan])}, coords={"q": [0.1]})
    with pytest.raises(ValueError, match="no finite"):
        to_cansas_xml(empty, tmp_path / "x.xml")


def _is_png(path) -> bool:
    with open(path, "rb") as f:
        return f.read(8) == b"\x89PNG\r\n\x1a\n"


def test_plots_write_pngs(profile, tmp_path, rng):
    good = profile.isel(q=np.flatnonzero(profile["count"].values > 0))
    assert _is_png(plot_iq(good, tmp_path / "iq.png"))
    model = (good["I"] * 1.05).rename("model")
    assert _is_png(hifft.io.plot_iq(good, tmp_path / "iq_model.png", model=model))
    g = Grid(8, 1.0)
    det = Detector(9, "1 mm", "1 m")
    reds = [PlaneReducer(0), EwaldReducer(1.0, det)]
    out = reduce_in_memory(np.fft.rfftn(rng.random(g.shape)), g, reds)
    assert _is_png(plot_image(out["plane_z"], tmp_path / "plane.png"))
    assert _is_png(plot_image(out["ewald"], tmp_path / "ewald.png"))
