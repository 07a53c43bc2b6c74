"""The ``hifft ml`` commands: dataset → train → evaluate → predict on exported files."""

from __future__ import annotations

import json

import numpy as np
import pytest
import typer
from typer.testing import CliRunner

from hifft.ml.cli import register

from .conftest import tiny_yaml

pytestmark = pytest.mark.cluster
runner = CliRunner()
# the ml commands on an app of their own, as hifft.cli registers them (the
# full ``hifft`` app also imports every other subsystem's commands)
app = typer.Typer()
app.callback()(lambda: None)
register(app)


@pytest.fixture
def on_cluster(monkeypatch, client):
    """Commands connect to the session's LocalCluster instead of starting one."""
    monkeypatch.setenv("HIFFT_SCHEDULER", client.scheduler.address)


def test_ml_is_registered():
    r = runner.invoke(app, ["ml", "--help"])
    assert r.exit_code == 0
    for cmd in ("dataset", "train", "evaluate", "predict", "fft-subset"):
        assert cmd in r.output


def test_dataset_command_writes_a_complete_store(tmp_path, on_cluster):
    cfg = tmp_path / "job.yaml"
    cfg.write_text(
        tiny_yaml(tmp_path).replace("n_samples: 1200", "n_samples: 60").replace("chunk_size: 300", "chunk_size: 30")
    )
    r = runner.invoke(app, ["ml", "dataset", str(cfg), str(tmp_path / "c.zarr")])
    assert r.exit_code == 0, r.output
    assert "complete" in r.output
    from hifft.ml.dataset import open_dataset

    assert open_dataset(tmp_path / "c.zarr").sizes["sample"] == 60
    # a second run finds the store complete and does nothing
    r = runner.invoke(app, ["ml", "dataset", str(cfg), str(tmp_path / "c.zarr")])
    assert r.exit_code == 0, r.output


def test_bad_config_is_refused_with_the_field(tmp_path):
    cfg = tmp_path / "job.yaml"
    cfg.write_text("dataset:\n  n_sample: 10\n")
    r = runner.invoke(app, ["ml", "dataset", str(cfg), str(tmp_path / "x.zarr")])
    assert r.exit_code != 0
    assert "dataset.n_sample" in str(r.exception)


def test_train_command_members_in_parallel(tmp_path, tiny_store, on_cluster):
    """Two members as Dask tasks on the two workers; their progress is relayed."""
    pytest.importorskip("torch", reason="training needs torch")
    cfg = tmp_path / "job.yaml"
    cfg.write_text(tiny_yaml(tmp_path))
    r = runner.invoke(
        app,
        [
            "ml",
            "train",
            str(cfg),
            "--dataset",
            str(tiny_store),
            "--out",
            str(tmp_path / "r"),
            "--epochs",
            "1",
            "--ensemble",
            "2",
            "--workers",
            "2",
        ],
    )
    assert r.exit_code == 0, r.output
    assert (tmp_path / "r" / "model.pt").is_file() and (tmp_path / "r" / "metrics.json").is_file()
    assert "member 0 epoch 1/1" in r.output and "member 1 epoch 1/1" in r.output
    assert "finished earlier" in r.output  # the parent process loads what the workers wrote
    import torch

    ck = torch.load(tmp_path / "r" / "model.pt", weights_only=True)
    assert len(ck["states"]) == 2
    # different seeds: different members
    k = next(iter(ck["states"][0]))
    assert not torch.equal(ck["states"][0][k], ck["states"][1][k])


def test_predict_on_hifft_exports(tmp_path, tiny_model, tiny_store):
    pytest.importorskip("torch", reason="inference needs torch")
    import xarray as xr

    from hifft.io import to_cansas_xml, to_nxcansas
    from hifft.ml.dataset import open_dataset

    ds = open_dataset(tiny_store).isel(sample=0).load()
    curve = xr.Dataset(
        {
            "I": ("q", ds["I"].values.astype(float)),
            "sigma": ("q", ds["sigma"].values.astype(float)),
        },
        coords={"q": ds["q"].values},
    )
    curve["q"].attrs["units"] = "1/angstrom"
    curve["I"].attrs["units"] = curve["sigma"].attrs["units"] = "1/cm"
    h5 = to_nxcansas(curve, tmp_path / "c.h5")
    xml = to_cansas_xml(curve, tmp_path / "c.xml")
    path, _ = tiny_model
    outs = []
    for f in (h5, xml):
        out = tmp_path / (str(f).rsplit("/", 1)[-1] + ".nc")
        r = runner.invoke(app, ["ml", "predict", str(f), "--model", str(path), "--no-refine", "--out", str(out)])
        assert r.exit_code == 0, r.output
        assert "class probabilities" in r.output
        outs.append(xr.load_dataset(out))
    # both files hold the same curve: the same prediction as from the store itself
    from hifft.ml.inference import load

    direct = load(path).predict(ds[["I", "sigma", "mask"]])
    for o in outs:
        np.testing.assert_allclose(o["prob"].values, direct["prob"].values, rtol=1e-4, atol=1e-6)
        assert str(o["shape"].values[0]) == str(direct["shape"].values[0])


def test_baseline_then_evaluate(tmp_path, tiny_model, tiny_store, on_cluster):
    """`ml baseline` fits test curves; `ml evaluate --baseline` scores both on the same curves."""
    pytest.importorskip("torch", reason="inference needs torch")
    from hifft.ml.dataset import open_dataset

    cfg = tmp_path / "job.yaml"
    cfg.write_text(tiny_yaml(tmp_path))
    fits = tmp_path / "lsq.json"
    r = runner.invoke(app, ["ml", "baseline", str(tiny_store), str(fits), "--config", str(cfg)])
    assert r.exit_code == 0, r.output
    lsq = json.loads(fits.read_text())
    assert len(lsq["sample"]) == 5 and sorted(lsq["true_shape"]) == sorted(
        ["sphere", "sphere@hardsphere", "cylinder", "core_shell_sphere", "ellipsoid"]
    )
    ds = open_dataset(tiny_store)
    assert (ds["split"].sel(sample=lsq["sample"]).values == 2).all()
    path, _ = tiny_model
    js, md = tmp_path / "m.json", tmp_path / "m.md"
    r = runner.invoke(
        app,
        [
            "ml",
            "evaluate",
            str(path),
            str(tiny_store),
            "--baseline",
            str(fits),
            "--json",
            str(js),
            "--report",
            str(md),
        ],
    )
    assert r.exit_code == 0, r.output
    res = json.loads(js.read_text())
    test = ds.isel(sample=np.flatnonzero(ds["split"].values == 2)).load()
    assert res["network"]["n"] == test.sizes["sample"]
    # the reported accuracy is the checkpoint's, recomputed here from its predictions
    from hifft.ml.inference import load

    pred = load(path).predict(test[["I", "sigma", "mask"]])
    acc = float((pred["shape_index"].values == test["shape"].values).mean())
    assert res["network"]["accuracy"] == pytest.approx(acc, abs=1e-12)
    lsq_ok = sum(f["best"] == t for f, t in zip(lsq["fits"], lsq["true_shape"], strict=True))
    assert res["baseline"]["accuracy"] == pytest.approx(lsq_ok / 5)
    assert res["baseline"]["n"] == 5 and res["baseline"]["cpu_seconds_per_curve"] > 0
    # the network answers far faster than five least-squares fits
    assert res["speedup_single"] > 10
    assert {t["metric"] for t in res["targets"]} >= {"accuracy", "radius_rel_rmse", "coverage_min"}
    assert "Least squares vs network" in md.read_text()
    assert "by volfraction" in md.read_text()
    # identifiability from the baseline's per-class fits: the truth's χ² is never above its fit's
    idf = res["identifiability"]
    assert idf["n"] == 5 and len(idf["flags"]) == 5 and 0 <= idf["unidentifiable_fraction"] <= 1
    for f, t, c in zip(lsq["fits"], lsq["true_shape"], idf["chi2_truth"], strict=True):
        assert c > 0 and np.isfinite(c) and np.isfinite(f["fits"][t]["chi2"])
    # predict + refine on the same curves, timed against least squares
    ref = res["refined"]
    assert ref["n"] == 5 and len(ref["correct"]) == 5 and ref["cpu_seconds_per_curve"] > 0
    assert ref["accuracy"] == pytest.approx(np.mean(ref["correct"]))
    assert "Network + refinement" in md.read_text()
    assert {t["metric"] for t in res["targets"]} >= {"baseline.accuracy", "refined.speedup_vs_baseline"}
