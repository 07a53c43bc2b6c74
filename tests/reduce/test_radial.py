from __future__ import annotations

import pickle

import numpy as np
import pytest

from hifft import units
from hifft.fft.reducer import reduce_in_memory
from hifft.grid import Grid
from hifft.reduce import RadialReducer

from .helpers import (
    bin_index,
    friedel_class,
    full_intensity,
    full_q,
    full_q2,
    sphere,
    sphere_form_factor,
)

VARS = ("I", "std", "sem", "sigma", "count", "n_independent", "q", "q_std", "q_samples",
        "q_weights")


def _run(F, g, red, half=True, block_rows=16):
    return reduce_in_memory(F, g, [red], half=half, block_rows=block_rows)[red.name]


def _assert_same(a, b, rtol=1e-10):
    for v in VARS:
        np.testing.assert_allclose(a[v].values, b[v].values, rtol=rtol, atol=0, equal_nan=True,
                                   err_msg=v)


@pytest.mark.parametrize(
    ("shape", "bin_spacing", "sinc", "bins"),
    [
        ((12, 10, 8), "linear", False, 9),  # all even: Nyquist planes
        ((11, 9, 7), "log", True, 12),  # all odd: no Nyquist column
        ((10, 9, 12), "linear", True, 15),  # mixed
    ],
)
def test_half_spectrum_equals_full_spectrum(rng, shape, bin_spacing, sinc, bins):
    g = Grid(shape, (2.0, 1.5, 2.5))
    x = rng.standard_normal(shape)
    red = RadialReducer(bins=bins, bin_spacing=bin_spacing, sinc_correction=sinc)
    half = _run(np.fft.rfftn(x), g, red, half=True, block_rows=3)
    full = _run(np.fft.fftn(x), g, red, half=False, block_rows=4)
    _assert_same(half, full)


def test_statistics_against_brute_force(rng):
    g = Grid((14, 12, 10), 2.0)
    x = rng.standard_normal(g.shape)
    red = RadialReducer(bins=8, bin_spacing="linear", sinc_correction=True, n_sub=4)
    ds = _run(np.fft.rfftn(x), g, red, block_rows=5)
    edges = red.edges(g)
    I = full_intensity(x, g, True).ravel()
    q = full_q(g).ravel()
    b = bin_index(full_q2(g).ravel(), edges)
    cls = friedel_class(g).ravel()
    for k in range(edges.size - 1):
        m = b == k
        vals = I[m]
        n_ind = np.unique(cls[m]).size
        assert ds["count"].values[k] == m.sum()
        assert ds["n_independent"].values[k] == n_ind
        np.testing.assert_allclose(ds["I"].values[k], vals.mean(), rtol=1e-12)
        np.testing.assert_allclose(ds["std"].values[k], vals.std(), rtol=1e-9)
        np.testing.assert_allclose(ds["sem"].values[k], vals.std() / np.sqrt(n_ind - 1), rtol=1e-9)
        np.testing.assert_allclose(ds["q"].values[k], q[m].mean(), rtol=1e-12)
        np.testing.assert_allclose(ds["q_std"].values[k], q[m].std(), rtol=1e-6, atol=1e-12)
        sub = np.clip(((q[m] - edges[k]) / (edges[k + 1] - edges[k]) * 4).astype(int), 0, 3)
        np.testing.assert_array_equal(ds["q_weights"].values[k], np.bincount(sub, minlength=4))
        for s in range(4):
            if (sub == s).any():
                np.testing.assert_allclose(ds["q_samples"].values[k, s], q[m][sub == s].mean(),
                                           rtol=1e-12)
    sig = np.fmax(ds["sem"].values, 0.01 * ds["I"].values)
    np.testing.assert_allclose(ds["sigma"].values, sig, rtol=1e-12)


@pytest.mark.parametrize("block_rows", [1, 7, 10_000])
def test_block_size_does_not_matter(rng, block_rows):
    g = Grid((16, 15, 14), 1.0)
    x = rng.standard_normal(g.shape).astype(np.float32)
    F = np.fft.rfftn(x)
    red = RadialReducer(bins=20, bin_spacing="log")
    ref = _run(F, g, red, block_rows=4)
    _assert_same(_run(F, g, red, block_rows=block_rows), ref, rtol=1e-9)


def test_constant_spectrum_gives_constant_profile_with_zero_spread():
    g = Grid((12, 12, 12), 2.0)
    x = np.zeros(g.shape)
    x[0, 0, 0] = 1.0  # a single voxel at the origin: F = 1 everywhere
    red = RadialReducer(bins=10, bin_spacing="linear", sinc_correction=False)
    ds = _run(np.fft.rfftn(x), g, red, block_rows=5)
    scale = units.INTENSITY_PREFACTOR * g.voxel_volume**2 / g.volume
    full = ds["count"].values > 0
    assert full.all()
    np.testing.assert_allclose(ds["I"].values, scale, rtol=1e-14)
    assert np.all(ds["std"].values == 0)
    assert np.all(ds["sem"].values == 0)
    np.testing.assert_allclose(ds["sigma"].values, 0.01 * scale, rtol=1e-14)
    # counts = number of points of the full grid in each shell
    expected = np.bincount(bin_index(full_q2(g).ravel(), red.edges(g)) + 1, minlength=11)[1:]
    np.testing.assert_array_equal(ds["count"].values, expected)


def test_single_voxel_with_sinc_correction_is_the_cube_form_factor():
    g = Grid(10, 3.0)
    x = np.zeros(g.shape)
    x[0, 0, 0] = 1.0
    red = RadialReducer(bins=6, bin_spacing="linear", sinc_correction=True)
    ds = _run(np.fft.rfftn(x), g, red)
    # every point's I is 1/Π sinc²: the bin mean is that averaged over the bin's points
    q = [g.q(a) for a in range(3)]
    s = np.sinc(q[0][:, None, None] * 1.5 / np.pi) * np.sinc(q[1][None, :, None] * 1.5 / np.pi) \
        * np.sinc(q[2][None, None, :] * 1.5 / np.pi)
    inv = (1 / s**2).ravel()
    b = bin_index(full_q2(g).ravel(), red.edges(g))
    scale = units.INTENSITY_PREFACTOR * g.voxel_volume**2 / g.volume
    for k in range(6):
        np.testing.assert_allclose(ds["I"].values[k], scale * inv[b == k].mean(), rtol=1e-12)


def test_sphere_matches_analytic_form_factor_in_absolute_units():
    d, radius = 2.0, 20.0
    x, g = sphere(64, d, radius)
    red = RadialReducer(bins=60, bin_spacing="log", sinc_correction=False)
    ds = _run(np.fft.rfftn(x), g, red, block_rows=16)
    ds = ds.isel(q=np.flatnonzero(ds["count"].values > 0))
    v_vox = float(x.sum()) * d**3  # the voxelized volume (−0.3 % vs 4πR³/3 here)
    r_eff = (3 * v_vox / (4 * np.pi)) ** (1 / 3)
    # model averaged over each bin's actual |q| distribution (q_samples/q_weights)
    w = ds["q_weights"].values
    model = 1e-4 * v_vox**2 / g.volume * sphere_form_factor(ds["q_samples"].values, r_eff)
    model = (model * w).sum(1) / w.sum(1)
    rel = np.abs(ds["I"].values / model - 1)
    qd = ds["q"].values * d
    assert np.all(rel[qd < 0.25] < 3e-3)  # Guinier region: absolute scale to 0.3 %
    assert np.median(rel[qd < 0.5]) < 1e-2
    # Guinier: I ≈ I(0)·exp(−q²Rg²/3), I(0) = 1e-4·V²/V_box (= sasmodels' 1e-4·φ·V·Δρ², φ = V/V_box)
    q0 = ds["q"].values[0]
    guinier = 1e-4 * v_vox**2 / g.volume * np.exp(-(q0**2) * 0.6 * r_eff**2 / 3)
    assert ds["I"].values[0] == pytest.approx(guinier, rel=0.01)


def test_complex_density_counts_every_point():
    g = Grid((8, 9, 10), 1.0)
    rng = np.random.default_rng(3)
    x = rng.standard_normal(g.shape) + 1j * rng.standard_normal(g.shape)
    red = RadialReducer(bins=5, bin_spacing="linear", friedel=False)
    ds = _run(np.fft.fftn(x), g, red, half=False)
    np.testing.assert_array_equal(ds["n_independent"].values, ds["count"].values)


def test_explicit_edges_and_ranges(rng):
    g = Grid(12, 2.0)
    F = np.fft.rfftn(rng.standard_normal(g.shape))
    edges = np.array([0.0, 0.3, 0.6, 1.2])
    ds = _run(F, g, RadialReducer(bins=edges))
    np.testing.assert_array_equal(ds["q_lo"].values, edges[:-1])
    assert ds.attrs["bin_spacing"] == "edges"
    # q = 0 is in the first bin when the first edge is 0
    assert ds["count"].values.sum() == (full_q(g) <= 1.2 * (1 + 1e-9)).sum()
    red2 = RadialReducer(bins=5, q_min="0.1 1/nm", q_max="1 1/angstrom", bin_spacing="linear")
    ds2 = _run(F, g, red2)
    assert ds2["q_lo"].values[0] == pytest.approx(0.01)
    assert ds2["q_hi"].values[-1] == pytest.approx(1.0)


@pytest.mark.parametrize(
    ("kw", "match"),
    [
        ({"bins": 0}, "positive integer"),
        ({"bins": 10, "q_min": 0.5, "q_max": 0.1}, "q_min < q_max"),
        ({"bins": 10, "q_min": 0.0, "q_max": 1.0, "bin_spacing": "log"}, "> 0 for log"),
        ({"bins": 10, "bin_spacing": "cubic"}, "bin_spacing"),
        ({"bins": [0.1, 0.05]}, "increasing"),
        ({"bins": [0.1, 0.2], "q_min": 0.1}, "not both"),
        ({"e_min": -1}, "e_min"),
    ],
)
def test_bad_binning_is_rejected(kw, match):
    with pytest.raises(ValueError, match=match):
        RadialReducer(**kw)


def test_reducer_and_partials_pickle(rng):
    g = Grid(10, 1.0)
    red = pickle.loads(pickle.dumps(RadialReducer(bins=7, q_min="0.05 1/angstrom")))
    F = np.fft.rfftn(rng.standard_normal(g.shape))
    from hifft.fft.reducer import make_block

    before = repr(vars(red))
    p = red.block(make_block(F, g, True))
    assert repr(vars(red)) == before  # settings only: the engine fingerprints them
    p2 = pickle.loads(pickle.dumps(p))
    assert all(np.array_equal(p[k], p2[k]) for k in p)
    assert len(pickle.dumps(p)) < 10_000  # partials stay small


def test_outputs_carry_pint_units_and_provenance(rng):
    g = Grid(10, 1.0)
    ds = _run(np.fft.rfftn(rng.standard_normal(g.shape)), g, RadialReducer(bins=5))
    ureg = units.registry()
    for name in list(ds.data_vars) + list(ds.coords):
        u = ds[name].attrs["units"]
        ureg.parse_expression(u)  # must parse
    assert ds["I"].attrs["units"] == "1/cm" and ds["q"].attrs["units"] == "1/angstrom"
    keys = ("grid", "q_valid_min", "q_valid_max", "versions", "hifft_version", "sinc_correction")
    for key in keys:
        assert key in ds.attrs


def test_continuum_geometry_matches_the_lattice_sums(rng, monkeypatch):
    """High-q bins take their |q| distribution from the continuum (weight ∝ q²):
    check it against the exact lattice sums where both apply."""
    from hifft.reduce import radial

    g = Grid(48, 1.0)
    F = np.fft.rfftn(rng.standard_normal(g.shape))
    red = RadialReducer(bins=12, bin_spacing="linear", q_min=0.5, n_sub=2)
    exact = _run(F, g, red)
    radial._geometry.cache_clear()
    monkeypatch.setattr(radial, "K_EXACT", 6)
    approx = _run(F, g, red)
    radial._geometry.cache_clear()
    assert approx.attrs["q_exact_below"] == pytest.approx(6 * g.dq[0])
    for v in ("I", "std", "sem", "sigma", "count", "n_independent"):
        np.testing.assert_array_equal(approx[v].values, exact[v].values, err_msg=v)
    # at 6-20 Δq the lattice still shows (~0.3 %); at K_EXACT = 128 Δq it is far smaller
    np.testing.assert_allclose(approx["q"].values, exact["q"].values, rtol=5e-3)
    np.testing.assert_allclose(approx["q_std"].values, exact["q_std"].values, rtol=0.1)
    np.testing.assert_allclose(approx["q_samples"].values, exact["q_samples"].values, rtol=1e-2)
    np.testing.assert_allclose(approx["q_weights"].sum("sub").values, exact["count"].values)
    # sub-bins about 1 Δq wide still see the lattice (±15 %); at 128 Δq they hold >= 1e4 points
    np.testing.assert_allclose(approx["q_weights"].values, exact["q_weights"].values, rtol=0.15)
