"""Detector realism and outputs; the resumable image dataset job and its CLI."""

from __future__ import annotations

import math

import numpy as np
import pytest

from hifft.gisaxs import (
    DEAD,
    GAP,
    Beam,
    Detector,
    Geometry,
    apply_conventions,
    beam_stops,
    bin_down,
    dead_pixels,
    expected_counts,
    horizon,
    module_gaps,
    plot,
    poisson_counts,
    to_nexus,
    to_xarray,
)

DEG = math.pi / 180


def _geo(shape=(30, 40)):
    return Geometry(Beam(1.0, 0.4 * DEG), Detector.angular((-1, 3), (-2, 2), shape))


def test_conventions_gaps_dead_stops_horizon():
    g = _geo()
    img = np.full(g.detector.shape, 5.0)
    gaps = module_gaps(g.detector.shape, module=(10, 15), gap=(2, 3))
    assert gaps[10:12].all() and not gaps[:10, :15].any() and gaps[:, 15:18].all()
    dead = dead_pixels(g.detector.shape, 0.05, np.random.default_rng(0))
    stops = beam_stops(g, radius=0.3)
    shadow = horizon(g)
    out = apply_conventions(img, gaps=gaps, dead=dead, stops=stops, shadow=shadow)
    assert out.dtype == np.float32
    assert np.all(out[gaps] == GAP)
    assert np.all(out[dead & ~gaps] == DEAD)
    assert np.all(out[(stops | shadow) & ~dead & ~gaps] == 0)
    assert np.all(out[~(gaps | dead | stops | shadow)] == 5.0)
    # the specular stop sits at α_f = α_i, 2θ_f = 0; the horizon at α_f ≤ 0
    i, j = np.unravel_index(np.argmin(np.hypot(g.detector.alpha_f - 0.4 * DEG, g.detector.two_theta_f)),
                            g.detector.shape)
    assert stops[i, j]
    assert np.all(shadow == (g.detector.alpha_f <= 0))


def test_counts_scale_and_poisson_statistics():
    g = _geo((20, 20))
    i = np.full(g.detector.shape, 2.0)
    mean = expected_counts(i, g, flux=1e12)
    np.testing.assert_allclose(mean, 1e12 * 2.0 * g.detector.solid_angle / math.sin(0.4 * DEG))
    rng = np.random.default_rng(1)
    draws = np.stack([poisson_counts(np.full((50, 50), 7.0), rng) for _ in range(20)])
    assert draws.mean() == pytest.approx(7.0, rel=0.02) and draws.var() == pytest.approx(7.0, rel=0.05)
    with pytest.raises(ValueError, match="flux"):
        expected_counts(i, g, flux=0)


def test_pixel_integration_bins_subpixels():
    fine = np.arange(36, dtype=float).reshape(6, 6)
    np.testing.assert_allclose(bin_down(fine, 3), [[7.0, 10.0], [25.0, 28.0]])


def test_xarray_nexus_and_plot(tmp_path):
    h5py = pytest.importorskip("h5py", reason="h5py writes NeXus")
    g = _geo()
    img = np.exp(-np.hypot(g.q_y, g.q_z - 0.05) * 40)
    da = to_xarray(img, g, attrs={"note": "test"})
    assert da.dims == ("alpha_f", "two_theta_f")
    np.testing.assert_allclose(da["q_y"].values, g.q_y)
    assert da["q_z"].attrs["units"] == "1/angstrom"
    to_nexus(da, tmp_path / "img.h5")
    with h5py.File(tmp_path / "img.h5", "r") as f:
        assert f["entry"].attrs["NX_class"] == "NXentry"
        np.testing.assert_allclose(f["entry/data/data"][()], img)
        np.testing.assert_allclose(f["entry/data/alpha_f"][()], np.degrees(g.detector.alpha_axis))
        assert f["entry/data"].attrs["signal"] == "data"
    plot(da, tmp_path / "img.png", yoneda=0.144)
    assert (tmp_path / "img.png").stat().st_size > 1000


def _small_config(tmp_path, voxel_fraction=0.0):
    from hifft.gisaxs.config import load

    p = tmp_path / "g.yaml"
    p.write_text(f"""
beam: {{wavelength: 0.096 nm, alpha_i: 0.4}}
detector: {{alpha_f: [0, 4], two_theta_f: [0, 4], shape: [24, 20]}}
islands: {{radius: [2 nm, 4 nm], sigma_r: [0.1, 0.3], distance: [9 nm, 11 nm], omega_d: [0.1, 0.3]}}
dataset:
  n_samples: 6
  chunk_size: 2
  seed: 3
  noise: {{flux: [1.0e+9, 1.0e+9], module: [10, 10], gap: [2, 2], gap_offset: [0, 0]}}
  voxel: {{fraction: {voxel_fraction}, box: 60 nm, spacing: 0.5 nm, pad: 1}}
""")
    return load(p), p


def test_dataset_job_writes_labels_and_resumes(tmp_path):
    from hifft.gisaxs.dataset import generate_arrays, make_dataset, open_dataset
    from hifft.store import StoreError

    cfg, _ = _small_config(tmp_path)
    out = tmp_path / "g.zarr"
    make_dataset(cfg, out, max_chunks=1)
    with pytest.raises(StoreError, match="not finished"):
        open_dataset(out)
    make_dataset(cfg, out)  # resumes the two unfinished chunks
    ds = open_dataset(out)
    assert ds["I"].shape == (6, 24, 20)
    geo = cfg.geometry()  # the q maps are stored with their values (they once read back as NaN)
    np.testing.assert_allclose(ds["q_y"].values, geo.q_y)
    np.testing.assert_allclose(ds["q_z"].values, geo.q_z)
    assert np.all((ds["radius"].values >= 20) & (ds["radius"].values <= 40))
    assert np.all(2 * ds["radius"].values < ds["distance"].values)
    c = ds["counts"].values
    assert np.all(c[:, 10:12, :] == GAP)  # the gap rows
    assert np.all(c >= DEAD)
    # the stored chunk equals a fresh generation (deterministic in (seed, k))
    again = generate_arrays(cfg, 1)
    np.testing.assert_array_equal(ds["I"].values[2:4], again["I"])
    np.testing.assert_array_equal(ds["counts"].values[2:4], again["counts"])
    # the clean image follows the analytic route for the stored labels
    from hifft.gisaxs import Sample, contrast, islands_image
    from hifft.gisaxs.simulate import Islands

    geo = cfg.geometry()
    sample = Sample.create(geo.beam.wavelength, "Si", "vacuum")
    i0 = Islands(radius=float(ds["radius"][0]), sigma_r=float(ds["sigma_r"][0]), distance=float(ds["distance"][0]),
                 omega_d=float(ds["omega_d"][0]))
    ref = islands_image(i0, geo, sample, contrast("Au", sample, geo.beam.wavelength))
    np.testing.assert_allclose(ds["I"].values[0], ref, rtol=1e-5)


def test_voxel_subset_is_close_to_the_analytic_route(tmp_path):
    from hifft.gisaxs.dataset import generate_arrays

    cfg, _ = _small_config(tmp_path, voxel_fraction=1.0)
    arr = generate_arrays(cfg, 0)
    assert arr["route"].all()
    from hifft.gisaxs import Sample, contrast, islands_image
    from hifft.gisaxs.simulate import Islands

    geo = cfg.geometry()
    sample = Sample.create(geo.beam.wavelength, "Si", "vacuum")
    isl = Islands(radius=float(arr["radius"][0]), sigma_r=float(arr["sigma_r"][0]),
                  distance=float(arr["distance"][0]), omega_d=float(arr["omega_d"][0]))
    ref = islands_image(isl, geo, sample, contrast("Au", sample, geo.beam.wavelength))
    # different models of the same islands (explicit 2D paracrystal vs radial paracrystal, finite box,
    # voxelized): same order of magnitude, same Yoneda row
    ratio = np.median(arr["I"][0] / ref)
    assert 0.2 < ratio < 5
    assert abs(int(np.argmax(arr["I"][0].max(axis=1))) - int(np.argmax(ref.max(axis=1)))) <= 1


def test_cli_dataset(tmp_path):
    from typer.testing import CliRunner

    from hifft.gisaxs.cli import gisaxs_app

    _, p = _small_config(tmp_path)
    res = CliRunner().invoke(gisaxs_app, ["dataset", str(p), str(tmp_path / "c.zarr")])
    assert res.exit_code == 0, res.output
    assert "6 images" in res.output
    res = CliRunner().invoke(gisaxs_app, ["image", str(p), str(tmp_path / "one.h5")])
    assert res.exit_code == 0, res.output
    assert (tmp_path / "one.png").exists()


def test_bad_config_names_the_field(tmp_path):
    from hifft.config import ConfigError
    from hifft.gisaxs.config import load

    p = tmp_path / "bad.yaml"
    p.write_text("beam: {wavelength: 12 keV, alpha_i: 0.4}\n")
    with pytest.raises(ConfigError, match="wavelength"):
        load(p)
    p.write_text("beam: {wavelength: 1.0, alpha_i: -0.4}\n")
    with pytest.raises(ConfigError, match="alpha_i"):
        load(p)
    from hifft.gisaxs import MaterialError, Sample

    p.write_text("beam: {wavelength: 1.0}\nsample: {substrate: unobtainium}\n")
    spec = load(p).sample.substrate
    with pytest.raises(MaterialError, match="substrate"):
        Sample.create(1.0, spec)
    p.write_text("beam: {wavelength: 1.0}\ndetector: {alpha_f: [0, 100]}\n")
    with pytest.raises(ConfigError, match="alpha_f"):
        load(p)
    p.write_text("beam: {wavelength: 1.0}\nislands: {radius: [1 nm, 2 nm], colour: red}\n")
    with pytest.raises(ConfigError, match="colour"):
        load(p)
