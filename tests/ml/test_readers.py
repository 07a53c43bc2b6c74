"""read_curve picks the reader by file type; regrid puts a curve onto the model's q grid.

The readers themselves are tested beside their writers, in tests/io/test_readers.py.
"""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

from hifft.io import read_cansas_xml, read_netcdf, read_nxcansas, read_text, to_cansas_xml, to_netcdf, to_nxcansas
from hifft.ml.inference import regrid
from hifft.ml.readers import read_curve
from tests.curves import SIG, I, Q
from tests.curves import curve as _ds


def _text(path):
    path.write_text("\n".join(f"{a} {b} {c}" for a, b, c in zip(Q, I, SIG, strict=True)))
    return path


@pytest.mark.parametrize(
    ("name", "write", "reader"),
    [
        ("iq.h5", lambda p: to_nxcansas(_ds(), p), read_nxcansas),
        ("iq.NXS", lambda p: to_nxcansas(_ds(), p), read_nxcansas),
        ("iq.xml", lambda p: to_cansas_xml(_ds(), p), read_cansas_xml),
        ("iq.nc", lambda p: to_netcdf(_ds(), p), read_netcdf),
        ("iq.dat", _text, read_text),
        ("iq.csv", _text, read_text),
    ],
)
def test_read_curve_picks_the_reader_by_extension(tmp_path, name, write, reader):
    p = tmp_path / name
    write(p)
    ds = read_curve(p)
    xr.testing.assert_identical(ds, reader(p))
    np.testing.assert_allclose(ds["I"], I, rtol=1e-12)


def test_read_curve_errors(tmp_path):
    p = _text(tmp_path / "c.foo")
    with pytest.raises(ValueError, match="unknown curve format"):
        read_curve(p)
    with pytest.raises(FileNotFoundError):
        read_curve(tmp_path / "missing.h5")


def test_regrid_rebins_dense_input_with_inverse_variance_weights():
    q_fine = np.geomspace(0.01, 0.2, 2000)
    i_fine = q_fine**-2.0
    s_fine = 0.1 * i_fine
    q_out = np.geomspace(0.005, 0.3, 40)
    i, s, m = regrid(q_fine, i_fine, s_fine, q_out)
    inside = (q_out > 0.0105) & (q_out < 0.19)
    assert m[inside].all() and not m[q_out < 0.0095].any() and not m[q_out > 0.21].any()
    # a power law averaged over a narrow log bin stays on the power law
    np.testing.assert_allclose(i[inside], q_out[inside] ** -2.0, rtol=0.01)
    # n points of 10% error in a bin: error 10%/√n
    per_bin = np.histogram(q_fine, np.sqrt(q_out[1:] * q_out[:-1]))[0]
    rel = s[inside] / i[inside]
    n = per_bin[np.flatnonzero(inside) - 1]
    np.testing.assert_allclose(rel, 0.1 / np.sqrt(n), rtol=0.05)


def test_regrid_interpolates_sparse_input_log_log():
    q_in = np.geomspace(0.01, 0.3, 10)
    q_out = np.geomspace(0.01, 0.3, 100)
    i, s, m = regrid(q_in, 5 * q_in**-3, 0.05 * 5 * q_in**-3, q_out)
    assert m.all()
    np.testing.assert_allclose(i, 5 * q_out**-3.0, rtol=1e-8)
    assert np.all(s / i >= 0.05 * (1 - 1e-9))  # no information is invented


def test_read_curve_passes_reader_options(tmp_path):
    p = tmp_path / "nm.dat"
    p.write_text("\n".join(f"{10 * a:.12g} {b:.12g} {c:.12g}" for a, b, c in zip(Q, I, SIG, strict=True)))
    with pytest.raises(ValueError, match="no unit stated"):
        read_curve(p)
    np.testing.assert_allclose(read_curve(p, q_unit="1/nm")["q"], Q, rtol=1e-10)
    with pytest.raises(ValueError, match=r"option\(s\) entry do not apply to \.dat files"):
        read_curve(p, entry=0)
    x = to_cansas_xml(_ds(), tmp_path / "one.xml")
    xr.testing.assert_identical(read_curve(x, entry=0), read_cansas_xml(x))
    with pytest.raises(ValueError, match="no entry 3"):
        read_curve(x, entry=3)
    with pytest.raises(ValueError, match=r"q_unit do not apply to \.xml"):
        read_curve(x, q_unit="1/nm")
