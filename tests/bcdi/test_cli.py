"""``hifft bcdi simulate`` then ``hifft bcdi phase`` on a small pattern, through the top-level CLI."""

from __future__ import annotations

import xarray as xr
from typer.testing import CliRunner

from hifft.cli import app

runner = CliRunner()


def test_simulate_then_phase(tmp_path):
    pat, rec = tmp_path / "p.zarr", tmp_path / "r.zarr"
    r = runner.invoke(app, ["bcdi", "simulate", str(pat), "--size", "32", "--shape", "octahedron",
                            "--oversampling", "3", "--peak", "1e7", "--gap", "2", "--seed", "3"])
    assert r.exit_code == 0, r.output
    ds = xr.open_zarr(pat, consolidated=False)
    assert ds["counts"].shape == (32, 32, 32) and int(ds["mask"].sum()) > 0
    r = runner.invoke(app, ["bcdi", "phase", str(pat), str(rec), "--hio", "400", "--er", "150", "--starts", "3"])
    assert r.exit_code == 0, r.output
    out = xr.open_zarr(rec, consolidated=False)
    assert out.attrs["modulus_error"] < 0.15 and out.attrs["phase_rmse"] < 0.1, dict(out.attrs)
    # nothing written is replaced without --overwrite
    r = runner.invoke(app, ["bcdi", "phase", str(pat), str(rec)])
    assert r.exit_code != 0 and "exists" in r.output
    # guided by a biharmonic fill of the gap (an `inpaint` output store) through HIO
    fill, rec2 = tmp_path / "fill.zarr", tmp_path / "r2.zarr"
    r = runner.invoke(app, ["bcdi", "inpaint", str(pat), "--out", str(fill), "--method", "biharmonic"])
    assert r.exit_code == 0, r.output
    r = runner.invoke(app, ["bcdi", "phase", str(pat), str(rec2), "--hio", "400", "--er", "150", "--starts", "3",
                            "--guide", str(fill), "--release-fill", "100"])
    assert r.exit_code == 0, r.output
    out2 = xr.open_zarr(rec2, consolidated=False)
    assert out2.attrs["guide"] == str(fill) and out2.attrs["modulus_error"] < 0.15, dict(out2.attrs)
    assert out2.attrs["release_fill"] == 100
    r = runner.invoke(app, ["bcdi", "phase", str(pat), str(tmp_path / "r3.zarr"), "--guide", str(pat)])
    assert r.exit_code != 0 and "inpainted" in r.output


def test_simulate_refuses_unknown_shape(tmp_path):
    r = runner.invoke(app, ["bcdi", "simulate", str(tmp_path / "x.zarr"), "--shape", "dodecahedron"])
    assert r.exit_code != 0 and "shape" in r.output
