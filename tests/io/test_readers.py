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
from hifft.io.cansas_xml import cansas_xml_entries
from hifft.io.nxcansas import nxcansas_entries
from tests.curves import SIG, I, Q
from tests.curves import curve as _ds


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
    with pytest.warns(UserWarning, match="no uncertainties"):
        ds = read_nxcansas(p)
    assert ds.attrs["sigma_estimated"] == 1 and "Savitzky-Golay" in ds.attrs["sigma_method"]
    # a smooth (noiseless) curve: the scatter is ~0, so σ is the stated 1 % floor
    np.testing.assert_allclose(ds["sigma"], 0.01 * I, rtol=1e-6)


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
    _assert_curve(ds)  # a descending file is read in reverse
    assert ds.attrs["format"] == "text" and "sigma_estimated" not in ds.attrs


def _rows(*cols) -> str:
    return "\n".join(" ".join(repr(float(v)) for v in r) for r in zip(*cols, strict=True))


def test_text_headers_numeric_and_not(tmp_path):
    """A point count and an instrument line before the data are headers, not data rows."""
    p = tmp_path / "h.txt"
    p.write_text(f"{Q.size}\nLOQ run 83404\n 121 0 0 0 1 121 0\n   0 0 0\n<X> <Y> <dY>\n" + _rows(Q, I, SIG))
    _assert_curve(read_text(p))
    # ISIS style: a numeric line of the same width as the data, separated by a format line
    p.write_text("0 0 0\n3 (F12.5,2E16.6)\n" + _rows(Q, I, SIG))
    _assert_curve(read_text(p))


def test_text_two_columns_estimate_sigma_from_scatter(tmp_path):
    rng = np.random.default_rng(0)
    noisy = I * (1 + 0.05 * rng.standard_normal(Q.size))
    p = tmp_path / "two.dat"
    p.write_text("q I\n" + _rows(Q, noisy))
    with pytest.warns(UserWarning, match="no uncertainties.*estimated"):
        ds = read_text(p)
    assert ds.attrs["sigma_estimated"] == 1
    rel = float(np.median(ds["sigma"] / ds["I"]))
    assert 0.03 < rel < 0.08  # the 5 % scatter put in, found again from the data alone


def test_text_four_columns_keep_dq(tmp_path):
    p = tmp_path / "four.txt"
    p.write_text(_rows(Q, I, SIG, 0.1 * Q))
    ds = read_text(p)
    _assert_curve(ds)
    np.testing.assert_allclose(ds["q_std"], 0.1 * Q, rtol=1e-12)
    assert ds["q_std"].attrs["units"] == "1/angstrom"


def test_text_units_header_and_argument(tmp_path):
    p = tmp_path / "nm.txt"
    p.write_text("q (1/nm)  I (1/cm)  sigma\n" + _rows(10 * Q, I, SIG))
    _assert_curve(read_text(p))
    p.write_text(_rows(10 * Q, I, SIG))
    with pytest.raises(ValueError, match=r"nm\.txt: q reaches 4 with no unit stated: 1/nm data\? Pass q_unit"):
        read_text(p)
    _assert_curve(read_text(p, q_unit="1/nm"))
    np.testing.assert_allclose(read_text(p, q_unit="1/nm", i_unit="1/m")["I"], I / 100, rtol=1e-12)


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("", r"bad\.txt: empty file"),
        ("q I sigma\n", r"bad\.txt: no rows of numbers"),
        ("0.01 1 0.1\n0.02 nan 0.1\n0.03 1 0.1\n", r"bad\.txt: non-finite intensity \(NaN/inf\) at line 2"),
        ("0.01 1 0.1\n0.02 -1 0.1\n0.03 1 0.1\n", r"bad\.txt: negative intensity .* at line 2"),
        ("0.01 1 0.1\n0.03 1 0.1\n0.02 1 0.1\n", r"bad\.txt: q not in order .* at line 3"),
        ("0.01 1 0.1\n0.02 1 0.1\n0.02 1 0.1\n", r"bad\.txt: duplicated q at line 3"),
        ("0.01 1 0.1\n0.02 1 0.1\n0.03 1 0.1\n0.04 1\n", r"bad\.txt: line 4 .* not a row of 3 numbers"),
        ("0.01 1 0\n0.02 1 0.1\n0.03 1 0.1\n", r"bad\.txt: uncertainty σ not finite and > 0 at line 1"),
        ("Qx Qy I err\n-0.1 -0.1 1 0.1\n0.1 -0.1 1 0.1\n", r"bad\.txt: 2D data \(the header names Qx and Qy\)"),
        (
            "".join(f"{x} {y} 1 0.1\n" for y in (0.01, 0.02, 0.03) for x in (0.01, 0.02, 0.03)),
            r"bad\.txt: looks like 2D data",
        ),
    ],
)
def test_text_bad_input_names_file_and_line(tmp_path, text, match):
    p = tmp_path / "bad.txt"
    p.write_text(text)
    with pytest.raises(ValueError, match=match):
        read_text(p)


def test_negative_intensities_can_be_masked(tmp_path):
    p = tmp_path / "neg.txt"
    i = I.copy()
    i[-3:] = -0.001
    p.write_text(_rows(Q, i, SIG))
    with pytest.warns(UserWarning, match="3 negative intensities left out"):
        ds = read_text(p, negative="mask")
    assert not ds["mask"].values[-3:].any() and ds["mask"].values[:-3].all()


def _xml_entry(title: str, q, i, s, tag="Q") -> str:
    rows = "".join(
        f"<Idata><{tag} unit='1/A'>{float(a)!r}</{tag}><I unit='1/cm'>{float(b)!r}</I>"
        f"<Idev unit='1/cm'>{float(c)!r}</Idev></Idata>"
        for a, b, c in zip(q, i, s, strict=True)
    )
    return f"<SASentry><Title>{title}</Title><SASdata>{rows}</SASdata></SASentry>"


def test_cansas_xml_several_entries(tmp_path):
    p = tmp_path / "two.xml"
    p.write_text(
        "<SASroot version='1.1' xmlns='urn:cansas1d:1.1'>"
        + _xml_entry("first", Q, I, SIG)
        + _xml_entry("second", Q, 2 * I, 2 * SIG)
        + "</SASroot>"
    )
    assert cansas_xml_entries(p) == ["first", "second"]
    msg = r"two\.xml: 2 curves in the file; choose one with entry= \(0: 'first'; 1: 'second'\)"
    with pytest.raises(ValueError, match=msg):
        read_cansas_xml(p)
    _assert_curve(read_cansas_xml(p, entry=0))
    ds = read_cansas_xml(p, entry="second")
    np.testing.assert_allclose(ds["I"], 2 * I, rtol=1e-12)
    assert ds.attrs["entry"] == "second" and ds.attrs["title"] == "second"
    with pytest.raises(ValueError, match="no entry 'third'"):
        read_cansas_xml(p, entry="third")


def test_cansas_xml_2d_refused(tmp_path):
    p = tmp_path / "2d.xml"
    p.write_text("<SASroot>" + _xml_entry("img", Q, I, SIG, tag="Qx") + "</SASroot>")
    with pytest.raises(ValueError, match=r"2d\.xml: 2D data"):
        read_cansas_xml(p)


def test_nxcansas_several_entries_and_2d(tmp_path):
    p = tmp_path / "multi.h5"
    with h5py.File(p, "w") as f:
        for k, scale in ((1, 1.0), (2, 3.0)):
            d = f.create_group(f"sasentry{k:02d}/sasdata")
            d.attrs.update(canSAS_class="SASdata", signal="I")
            d.create_dataset("Q", data=Q).attrs["unit"] = "1/A"  # older spelling of 'units'
            i = d.create_dataset("I", data=scale * I)
            i.attrs.update(unit="1/cm", uncertainty="Idev")
            d.create_dataset("Idev", data=scale * SIG)
        d = f.create_group("sasentry03/sasdata")
        d.attrs.update(canSAS_class="SASdata")
        d.create_dataset("I", data=np.ones((4, 4)))
        d.create_dataset("Qx", data=np.ones((4, 4)))
    assert nxcansas_entries(p) == ["sasentry01/sasdata", "sasentry02/sasdata", "sasentry03/sasdata"]
    with pytest.raises(ValueError, match=r"multi\.h5: 3 curves in the file; choose one with entry="):
        read_nxcansas(p)
    _assert_curve(read_nxcansas(p, entry=0))
    np.testing.assert_allclose(read_nxcansas(p, entry="sasentry02/sasdata")["sigma"], 3 * SIG, rtol=1e-12)
    with pytest.raises(ValueError, match=r"multi\.h5 \[entry 'sasentry03/sasdata'\]: 2D data"):
        read_nxcansas(p, entry=2)


def test_nxcansas_resolution_kept(tmp_path):
    ds = _ds()
    ds["q_std"] = ("q", 0.05 * Q)
    back = read_nxcansas(to_nxcansas(ds, tmp_path / "dq.h5"))
    np.testing.assert_allclose(back["q_std"], 0.05 * Q, rtol=1e-12)
    back = read_cansas_xml(to_cansas_xml(ds, tmp_path / "dq.xml"))
    np.testing.assert_allclose(back["q_std"], 0.05 * Q, rtol=1e-12)


def test_netcdf_round_trip_and_error(tmp_path):
    ds = read_netcdf(to_netcdf(_ds(), tmp_path / "iq.nc"))
    _assert_curve(ds)
    to_netcdf(_ds().drop_vars("sigma"), tmp_path / "nosig.nc")
    with pytest.raises(ValueError, match="coordinate q and variables I, sigma"):
        read_netcdf(tmp_path / "nosig.nc")


# --- SasView's own example files (shipped with the sasdata package) -------------------------------


@pytest.fixture(scope="module")
def sasview_examples():
    sasdata = pytest.importorskip("sasdata", reason="SasView's example data come with the sasdata package")
    from pathlib import Path

    root = Path(sasdata.__file__).parent / "example_data"
    if not root.is_dir():
        pytest.skip("this sasdata install ships no example_data")
    return root


def test_sasview_1d_files_read_alike(sasview_examples):
    d = sasview_examples / "1d_data"
    xml = read_cansas_xml(d / "33837rear_1D_1.75_16.5_CanSAS1D.xml")
    for name in ("33837rear_1D_1.75_16.5_NXcanSAS.h5", "33837rear_1D_1.75_16.5_NXcanSAS_v3.h5"):
        h5 = read_nxcansas(d / name)
        np.testing.assert_allclose(h5["q"], xml["q"], rtol=1e-5)  # the XML holds 6 digits
        np.testing.assert_allclose(h5["I"] / h5["sigma"], xml["I"] / xml["sigma"], rtol=1e-4)
    assert "q_std" in xml and xml.sizes["q"] == 66


def test_sasview_several_entries_and_2d_files(sasview_examples):
    d1, d2 = sasview_examples / "1d_data", sasview_examples / "2d_data"
    with pytest.raises(ValueError, match=r"latex_smeared\.xml: 2 curves in the file"):
        read_cansas_xml(d1 / "latex_smeared.xml")
    slit = read_cansas_xml(d1 / "latex_smeared.xml", entry=1)
    assert "slit" in slit.attrs["title"]
    for name in ("P123_D2O_10_percent.dat", "33837rear_2D_1.75_16.5_NIST.dat"):
        with pytest.raises(ValueError, match="2D data"):
            read_text(d2 / name)
    for name in ("33837rear_2D_1.75_16.5_NXcanSAS.h5", "14250_2D_NoDetInfo_NXcanSAS_v3.h5"):
        with pytest.raises(ValueError, match="2D data"):
            read_nxcansas(d2 / name)


def test_sasview_text_files(sasview_examples):
    d = sasview_examples / "1d_data"
    with pytest.raises(ValueError, match=r"apoferritin\.txt: negative intensity"):
        read_text(d / "apoferritin.txt")
    with pytest.warns(UserWarning, match="negative intensities left out"):
        apo = read_text(d / "apoferritin.txt", negative="mask")
    assert apo.sizes["q"] == 395 and "q_std" in apo and 0 < int(apo["mask"].sum()) < 395
    with pytest.warns(UserWarning, match="no uncertainties"):
        two = read_text(d / "sphere_80.txt")  # "<X> <Y>" header, two columns
    assert two.attrs["sigma_estimated"] == 1 and two.sizes["q"] == 99
    with pytest.raises(ValueError, match=r"testdata_line\.txt: q reaches .* no unit stated"):
        read_text(d / "testdata_line.txt")
