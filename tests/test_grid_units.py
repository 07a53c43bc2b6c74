from __future__ import annotations

import numpy as np
import pytest

from hifft import units
from hifft.grid import Grid


@pytest.mark.parametrize(
    ("value", "kind", "expected"),
    [
        ("50 nm", "length", 500.0),
        ("1 um", "length", 1e4),
        ("3 Å", "length", 3.0),
        ("3 Ang", "length", 3.0),
        (2.5, "length", 2.5),
        ("0.1 1/nm", "q", 0.01),
        ("1 1/angstrom", "q", 1.0),
        ("2 nm^-1", "q", 0.2),
        ("1e10 cm^-2", "sld", 1.0),  # 1e10 cm⁻² = 1e-6 Å⁻²
        ("1e-6 1/angstrom**2", "sld", 1.0),
        ("9.4e-6/angstrom^2", "sld", 9.4),
        ("1 1/m", "intensity", 0.01),
        ("2 1/cm", "intensity", 2.0),
    ],
)
def test_conversion_table(value, kind, expected):
    assert units.convert(value, kind) == pytest.approx(expected, rel=1e-12)


def test_wrong_units_named():
    with pytest.raises(units.UnitError, match=r"radius.*not a length"):
        units.length("5 1/nm", field="radius")
    with pytest.raises(units.UnitError, match="spacing"):
        Grid(16, spacing="2 seconds")


def test_attr_units_parse_in_pint():
    ureg = units.registry()
    for spelled in units.ATTR.values():
        ureg.parse_expression(spelled)  # must not raise
    assert ureg.Quantity(1, units.ATTR["q"]).to("1/nm").magnitude == pytest.approx(10.0)
    assert units.factor(units.ATTR["sld"], "sld") == pytest.approx(1.0)


def test_grid_axes_and_ranges():
    g = Grid((8, 6, 10), spacing=2.0)
    assert g.shape == (8, 6, 10)
    assert g.box == (16.0, 12.0, 20.0)
    assert g.volume == 16 * 12 * 20
    assert g.voxel_volume == 8.0
    np.testing.assert_allclose(g.q("x"), 2 * np.pi * np.fft.fftfreq(10, 2.0))
    np.testing.assert_allclose(g.q_half(), 2 * np.pi * np.fft.rfftfreq(10, 2.0))
    assert g.spectrum_shape == (8, 6, 6)
    assert g.q_min == pytest.approx(2 * np.pi / 12.0)
    assert g.q_max == pytest.approx(np.pi / 2.0)
    assert g.valid_q_range == (g.q_min, g.q_max)
    c = g.coords("z")
    assert c[0] == pytest.approx(-7.0) and c[-1] == pytest.approx(7.0)
    assert np.allclose(np.diff(c), 2.0)


def test_grid_int_shape_and_units():
    g = Grid(64, spacing="0.5 nm")
    assert g.shape == (64, 64, 64)
    assert g.spacing == (5.0, 5.0, 5.0)
    assert g.isotropic
    assert Grid.from_dict(g.to_dict()) == g


def test_grid_axis_index_and_intensity_scale():
    assert [Grid.axis_index(a) for a in ("z", "y", "x", 0, 1, 2)] == [0, 1, 2, 0, 1, 2]
    with pytest.raises(ValueError, match="axis"):
        Grid.axis_index("w")
    g = Grid((4, 5, 6), spacing=(1.0, 2.0, 3.0))
    # I = 1e-4·|d³·Δρ·F|²/V_box (1/cm): d³ = 6 Å³, V_box = 4·5·6·6 Å³, Δρ = 2·(voxel value)
    assert g.intensity_scale(2.0) == pytest.approx(1e-4 * (6.0 * 2.0) ** 2 / (120 * 6.0), rel=1e-14)


@pytest.mark.parametrize("bad", [0, -3, (4, 4), (4, 4, 0), (10**6,) * 3, "x", True])
def test_grid_rejects_bad_shapes(bad):
    with pytest.raises(ValueError, match="shape"):
        Grid(bad)


def test_q_is_not_linspace():
    # the thesis used linspace(-π/d, π/d, N): off by ~2/N from the DFT frequencies
    g = Grid(81, spacing=1.0)
    q = np.sort(g.q(0))
    lin = np.linspace(-np.pi, np.pi, 81)
    assert np.max(np.abs(q - lin)) > 1e-3
    assert q[1] - q[0] == pytest.approx(2 * np.pi / 81)


@pytest.mark.parametrize(
    ("spelled", "kind", "expected"),
    [
        # spellings found in canSAS/SasView files: "A" is the ångström there, not the ampere
        ("1/A", "q", 1.0),
        ("1/a", "q", 1.0),
        ("A^-1", "q", 1.0),
        ("A^{-1}", "q", 1.0),
        ("a-1", "q", 1.0),
        ("1/Å", "q", 1.0),
        ("1 / Ang", "q", 1.0),
        ("1/angstrom", "q", 1.0),
        ("1/nm", "q", 0.1),
        ("nm^-1", "q", 0.1),
        ("nm-1", "q", 0.1),
        ("NM^-1", "q", 0.1),
        ("1/m", "q", 1e-10),
        ("m^-1", "q", 1e-10),
        ("1/cm", "intensity", 1.0),
        ("cm^{-1}", "intensity", 1.0),
        ("cm-1", "intensity", 1.0),
        ("1/m", "intensity", 0.01),
        ("m-1", "intensity", 0.01),
        (b"1/cm", "intensity", 1.0),
        (None, "q", 1.0),
        ("", "intensity", 1.0),
    ],
)
def test_file_spellings(spelled, kind, expected):
    # exact: the factors between SI prefixes and the ångström are decimals (no 0.09999999999999999)
    assert units.file_factor(spelled, kind) == expected


def test_cansas_spellings_read_back_as_internal_and_bad_units_are_named():
    for kind, spelled in units.CANSAS.items():
        assert units.file_factor(spelled, kind) == 1.0
    with pytest.raises(units.UnitError, match="Q column: cannot convert 'seconds' to q"):
        units.file_factor("seconds", "q", field="Q column")
    with pytest.raises(KeyError, match="unknown unit kind"):
        units.file_factor("1/A", "energy")


def test_every_kind_has_one_internal_spelling():
    for kind, spelled in units.ATTR.items():
        assert units.factor(spelled, kind) == 1.0
        assert units.convert(f"2 {spelled}", kind) == pytest.approx(2.0, rel=1e-12)


def test_values_in_reads_the_units_attr():
    import xarray as xr

    q = xr.DataArray([1.0, 2.0], dims="q", attrs={"units": "1/nm"})
    np.testing.assert_array_equal(units.values_in(q, "q"), [0.1, 0.2])
    np.testing.assert_array_equal(units.values_in(q.assign_attrs(units=""), "q"), [1.0, 2.0])
    with pytest.raises(units.UnitError, match="sld"):
        units.values_in(q, "sld")


@pytest.mark.parametrize(("value", "number_unit", "ev"), [
    (19, "eV", 19.0),                 # XUV: bare numbers in eV
    ("0.019 keV", "eV", 19.0),
    (12.9, "keV", 12900.0),           # hard X-rays: bare numbers in keV
    ("12.9 keV", "eV", 12900.0),      # a unit overrides the caller's number unit
])
def test_photon_energy_and_wavelength(value, number_unit, ev):
    e = units.photon_energy(value, "energy", number_unit=number_unit)
    assert e == pytest.approx(ev, rel=1e-12)
    # λ = hc/E against scipy's CODATA constants
    import scipy.constants as const
    assert units.wavelength_from_energy(e) == pytest.approx(const.h * const.c / (ev * const.e) * 1e10, rel=1e-12)


@pytest.mark.parametrize("bad", ["5 nm", -3, 0, "nan eV", True, None])
def test_photon_energy_bad_input_named(bad):
    with pytest.raises(units.UnitError, match=r"beam\.energy"):
        units.photon_energy(bad, "beam.energy")
