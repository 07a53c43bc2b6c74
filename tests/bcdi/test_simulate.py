"""BCDI patterns: Friedel symmetry, Parseval, peak scaling, Poisson statistics, engine route, Zarr output."""

from __future__ import annotations

import json

import numpy as np
import pytest
import scipy.stats
import xarray as xr

from hifft import bcdi
from hifft.bcdi import simulate as sim
from hifft.grid import Grid

GRID = Grid(24, 2.0)
G = (0.0, 0.0, 2 * np.pi / 2.35)  # Au(111)-like |G|, 1/Å


def _friedel(a: np.ndarray) -> np.ndarray:
    """a(−q) of a centred (fftshifted, even-n) array: index j → (n − j) mod n."""
    return np.roll(np.flip(a), 1, axis=tuple(range(a.ndim)))


def _object(displacement: bool) -> np.ndarray:
    c = bcdi.fit_oversampling(bcdi.wulff(d100=1.0, d111=0.95).rotated(bcdi.random_rotation(4)), GRID, 3.0)
    rho = bcdi.support(c, GRID, centre=(1.1, -0.4, 0.3), supersample=2)
    u = bcdi.spherical_inclusion(GRID, 5.0, 0.02, centre=(2.0, 0.0, -1.0)) if displacement else None
    return bcdi.complex_object(rho, u, G, dtype=np.complex128)


def test_centrosymmetric_without_displacement():
    I = sim.diffraction(_object(False))
    assert np.allclose(I, _friedel(I), rtol=1e-9, atol=1e-9 * I.max())
    # an off-centre inclusion breaks it: the check above can fail
    Iu = sim.diffraction(_object(True))
    assert not np.allclose(Iu, _friedel(Iu), rtol=1e-3, atol=1e-3 * Iu.max())


def test_parseval_and_centred_peak():
    obj = _object(False)
    I = sim.diffraction(obj)
    assert I.sum() == pytest.approx(obj.size * (np.abs(obj) ** 2).sum(), rel=1e-10)
    assert np.unravel_index(np.argmax(I), I.shape) == tuple(n // 2 for n in I.shape)  # q = 0 at n/2


def test_peak_counts_and_poisson_statistics():
    ds = bcdi.simulate_pattern(bcdi.octahedron(1.0), GRID, oversampling=2.5, rotation="random", peak_counts=5e4, seed=7)
    lam = ds["intensity"].values.astype(float)
    k = ds["counts"].values
    assert lam.max() == pytest.approx(5e4, rel=1e-6)
    assert k.dtype.kind == "i" and (k >= 0).all()
    # Pearson χ² over voxels with λ ≥ 20 (where the Gaussian limit holds): χ²/ν within 5σ of 1
    sel = lam >= 20
    chi2 = np.sum((k[sel] - lam[sel]) ** 2 / lam[sel])
    nu = int(sel.sum())
    assert abs(chi2 - nu) < 5 * np.sqrt(2 * nu)
    # counts in dim voxels follow Poisson(λ): mean count vs mean λ over λ < 1
    dim = lam < 1
    assert abs(k[dim].sum() - lam[dim].sum()) < 5 * np.sqrt(lam[dim].sum())
    # variance = mean: the dispersion index over all voxels with λ ≥ 20
    z = (k[sel] - lam[sel]) / np.sqrt(lam[sel])
    assert scipy.stats.kstest(z, "norm").pvalue > 1e-3


def test_seeded_and_reproducible():
    a = bcdi.simulate_pattern(bcdi.cube(1.0), GRID, oversampling=3, rotation="random", seed=3)
    b = bcdi.simulate_pattern(bcdi.cube(1.0), GRID, oversampling=3, rotation="random", seed=3)
    c = bcdi.simulate_pattern(bcdi.cube(1.0), GRID, oversampling=3, rotation="random", seed=4)
    assert np.array_equal(a["counts"].values, b["counts"].values)
    assert not np.array_equal(a["counts"].values, c["counts"].values)
    assert a.attrs["crystal"] == b.attrs["crystal"] != c.attrs["crystal"]  # rotation drawn from the seed


def test_dataset_layout_and_object_phase():
    u = bcdi.uniform_strain(GRID, np.diag([0.0, 0.0, 0.01]))
    ds = bcdi.simulate_pattern(bcdi.sphere(1.0), GRID, oversampling=3, displacement=u, bragg=G, seed=0)
    assert ds["counts"].dims == sim.PATTERN_DIMS and ds["support"].dims == sim.OBJECT_DIMS
    assert ds.attrs["oversampling"] == pytest.approx(3.0)
    assert np.allclose(ds["dq_x"].values, np.fft.fftshift(GRID.q(2)))
    obj = sim.object_of(ds)
    inside = ds["support"].values > 0.99
    expected = np.exp(1j * G[2] * 0.01 * GRID.coords(2))[None, None, :] * np.ones(GRID.shape)
    assert np.allclose(obj[inside], expected[inside], atol=1e-5)
    # a uniform strain ε_xx moves the peak to Δq_x = +G·ε (the object carries e^{iΔq·x}, the DFT
    # e^{-iqx}): 0.0267 1/Å, about 0.2 pixels here, seen in the intensity's centre of mass
    I = ds["intensity"]
    com = float((I * ds["dq_x"]).sum() / I.sum())
    assert com == pytest.approx(G[2] * 0.01, rel=0.05)


def test_undersampled_crystal_refused():
    with pytest.raises(bcdi.CrystalError, match=r"oversampling 1\.50 < 2"):
        bcdi.simulate_pattern(bcdi.cube(32.0), GRID)


def test_engine_route_matches_numpy(tmp_path):
    obj = _object(True).astype(np.complex64)
    ref = sim.diffraction(obj)
    in_core = sim.diffraction(obj, engine="hifft")
    out_of_core = sim.diffraction(obj, engine="hifft", store=tmp_path / "F.zarr")
    assert hasattr(out_of_core, "dask")  # the engine's spectrum stays on disk; nothing gathered yet
    for I in (in_core, np.asarray(out_of_core)):
        assert np.linalg.norm(I - ref) <= 1e-5 * np.linalg.norm(ref)
    counts = sim.poisson(sim.scale_to_peak(out_of_core, 1e4), seed=5)
    assert np.array_equal(np.asarray(counts), np.asarray(sim.poisson(sim.scale_to_peak(out_of_core, 1e4), 5)))


def test_zarr_round_trip(tmp_path):
    ds = bcdi.simulate_pattern(bcdi.truncated_octahedron(1.0), GRID, oversampling=2.2, rotation="random", seed=1,
                       displacement=bcdi.spherical_inclusion(GRID, 4.0, 0.01), bragg=G)
    path = bcdi.write(ds, tmp_path / "pattern.zarr")
    back = xr.open_zarr(path, consolidated=False).load()
    for name in ("counts", "intensity", "support", "modulus", "phase", "displacement"):
        assert np.array_equal(back[name].values, ds[name].values), name
    assert json.loads(back.attrs["crystal"])["name"] == "truncated_octahedron"  # dict attrs are stored as JSON
    assert back["counts"].dims == ("frame", "y", "x")


def test_bad_inputs():
    with pytest.raises(ValueError, match="peak_counts"):
        sim.scale_to_peak(np.ones(3), -1)
    with pytest.raises(ValueError, match="engine"):
        sim.diffraction(np.ones((4, 4, 4)), engine="fftw")
    with pytest.raises(ValueError, match="bragg"):
        sim.complex_object(np.ones(GRID.shape), np.zeros((3, *GRID.shape)))
