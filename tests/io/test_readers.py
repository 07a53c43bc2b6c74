"""Readers beside their writers: NXcanSAS, canSAS XML, text and netCDF curves back in 1/Å and 1/cm."""

from __future__ import annotations

import h5py
import numpy as np
import pytest
import xarray as xr

from hifft.io import (
    read_cansas_xml,
    read_netcdf,
    read_nxcansas,
    read_text,
    to_cansas_xml,
    to_netcdf,
    to_nxcansas,
)

Q = np.geomspace(0.005, 0.4, 120)
I = 3.0 / (1 + (Q * 80) ** 2) ** 2 + 0.01
SIG = 0.02 * I


def _ds() -> xr.Dataset:
    ds = xr.Dataset({"I": ("q", I), "sigma": ("q", SIG)}, coords={"q": Q})
    ds["q"].attrs["units"] = "1/angstrom"
    ds["I"].attrs["units"] = ds["sigma"].attrs["units"] = "1/cm"
    return ds


def _assert_curve(ds: xr.Dataset) -> None:
    np.testing.assert_allclose(ds["q"], Q, rtol=1e-12)
    np.testing.assert_allclose(ds["I"], I, rtol=1e-12)
    np.testing.assert_allclose(ds["sigma"], SIG, rtol=1e-12)
    assert ds["q"].attrs["units"] == "1/angstrom" and ds["I"].attrs["units"] == "1/cm"


def _nxcansas(path, q_unit: str, i_unit: str, q_scale: float, i_scale: float, mask=None) -> None:
    """A hand-written NXcanSAS file (not hifft's writer): uncertainties named 'dI'."""
    with h5py.File(path, "w") as f:
        e = f.create_group("entry")
        e.attrs.update(NX_class="NXentry", canSAS_class="SASentry")
        d = e.create_group("data")
        d.attrs.update(NX_class="NXdata", canSAS_class="SASdata", signal="I", I_axes="Q")
        d.create_dataset("Q", data=Q * q_scale).attrs["units"] = q_unit
        i = d.create_dataset("I", data=I * i_scale)
        i.attrs.update(units=i_unit, uncertainties="dI")
        d.create_dataset("dI", data=SIG * i_scale).attrs["units"] = i_unit
        if mask is not None:
            d.create_dataset("mask", data=mask)


def test_nxcansas_round_trip(tmp_path):
    p = to_nxcansas(_ds(), tmp_path / "iq.h5", title="sphere test")
    ds = read_nxcansas(p)
    _assert_curve(ds)
    assert ds["mask"].values.all()
    assert ds.attrs["format"] == "NXcanSAS" and ds.attrs["title"] == "sphere test"


def test_cansas_xml_round_trip(tmp_path):
    p = to_cansas_xml(_ds(), tmp_path / "iq.xml", title="xml test")
    ds = read_cansas_xml(p)
    _assert_curve(ds)
    assert ds.attrs["format"] == "canSAS XML" and ds.attrs["title"] == "xml test"


def test_writers_leave_no_temporary_files(tmp_path):
    for writer, name in ((to_nxcansas, "iq.h5"), (to_cansas_xml, "iq.xml"), (to_netcdf, "iq.nc")):
        writer(_ds(), tmp_path / name)
        writer(_ds(), tmp_path / name)  # replacing an existing file
    assert sorted(p.name for p in tmp_path.iterdir()) == ["iq.h5", "iq.nc", "iq.xml"]


@pytest.mark.parametrize(
    ("q_unit", "i_unit", "q_scale", "i_scale"),
    [
        ("1/nm", "1/m", 10.0, 100.0),
        ("nm^-1", "m^-1", 10.0, 100.0),
        ("A^{-1}", "cm^{-1}", 1.0, 1.0),  # canSAS: A is the ångström, not the ampere
        ("1/m", "1/cm", 1e10, 1.0),
        ("1/Å", "cm-1", 1.0, 1.0),
    ],
)
def test_nxcansas_units_are_converted(tmp_path, q_unit, i_unit, q_scale, i_scale):
    m = np.zeros(Q.size, dtype=bool)
    m[:5] = True  # NXcanSAS: true = masked
    _nxcansas(tmp_path / "u.h5", q_unit, i_unit, q_scale, i_scale, mask=m)
    ds = read_nxcansas(tmp_path / "u.h5")
    _assert_curve(ds)
    assert ds["mask"].values[:5].sum() == 0 and ds["mask"].values[5:].all()


def test_arbitrary_intensity_units_read_as_relative(tmp_path):
    _nxcansas(tmp_path / "au.h5", "1/A", "a.u.", 1.0, 7.0)
    np.testing.assert_allclose(read_nxcansas(tmp_path / "au.h5")["I"], 7.0 * I, rtol=1e-12)


def test_unusable_units_name_the_file(tmp_path):
    _nxcansas(tmp_path / "bad.h5", "seconds", "1/cm", 1.0, 1.0)
    with pytest.raises(ValueError, match=r"bad\.h5: cannot use q units 'seconds'"):
        read_nxcansas(tmp_path / "bad.h5")
    _nxcansas(tmp_path / "bad_i.h5", "1/A", "1/s", 1.0, 1.0)
    with pytest.raises(ValueError, match=r"bad_i\.h5: cannot use intensity units"):
        read_nxcansas(tmp_path / "bad_i.h5")


def test_nxcansas_without_sasdata_or_uncertainties(tmp_path):
    with h5py.File(tmp_path / "empty.h5", "w") as f:
        f.create_group("entry")
    with pytest.raises(ValueError, match="no NXcanSAS SASdata group"):
        read_nxcansas(tmp_path / "empty.h5")
    p = to_nxcansas(_ds().drop_vars("sigma"), tmp_path / "nosig.h5")
    with pytest.raises(ValueError, match="no uncertainties"):
        read_nxcansas(p)


def test_cansas_xml_v10_in_nm(tmp_path):
    rows = "".join(
        f"<Idata><Q unit='1/nm'>{float(q) * 10!r}</Q><I unit='1/cm'>{float(i)!r}</I>"
        f"<Idev unit='1/cm'>{float(s)!r}</Idev></Idata>"
        for q, i, s in zip(Q, I, SIG, strict=True)
    )
    text = (
        "<?xml version='1.0'?><SASroot version='1.0' xmlns='cansas1d/1.0'>"
        "<SASentry><Title>x</Title>"
        f"<SASdata>{rows}</SASdata></SASentry></SASroot>"
    )
    p = tmp_path / "v10.xml"
    p.write_text(text)
    ds = read_cansas_xml(p)
    _assert_curve(ds)
    assert ds.attrs["title"] == "x"
    (tmp_path / "no.xml").write_text("<SASroot><SASentry/></SASroot>")
    with pytest.raises(ValueError, match="no SASdata element"):
        read_cansas_xml(tmp_path / "no.xml")


def test_text_reader(tmp_path):
    p = tmp_path / "c.dat"
    body = "\n".join(f"{a}, {b}, {c}  # row" for a, b, c in zip(Q[::-1], I[::-1], SIG[::-1], strict=True))
    p.write_text("# q I sigma\nq I dI\n" + body)
    ds = read_text(p)
    _assert_curve(ds)  # sorted by q
    assert ds.attrs["format"] == "text"
    (tmp_path / "two.dat").write_text("\n".join(f"{a} {b}" for a, b in zip(Q, I, strict=True)))
    with pytest.raises(ValueError, match="three numbers"):
        read_text(tmp_path / "two.dat")


def test_netcdf_round_trip_and_error(tmp_path):
    ds = read_netcdf(to_netcdf(_ds(), tmp_path / "iq.nc"))
    _assert_curve(ds)
    to_netcdf(_ds().drop_vars("sigma"), tmp_path / "nosig.nc")
    with pytest.raises(ValueError, match="coordinate q and variables I, sigma"):
        read_netcdf(tmp_path / "nosig.nc")
