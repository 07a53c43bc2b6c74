"""Classifier: a tiny dataset → short trainings → resume, evaluate JSON, predict on files, bad input."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import xarray as xr
from typer.testing import CliRunner

torch = pytest.importorskip("torch", reason="the classifier needs torch (the 'ml' extra)")

from hifft.cli import app  # noqa: E402
from hifft.config import ConfigError  # noqa: E402
from hifft.diffraction.classify import load, read_split, train  # noqa: E402
from hifft.diffraction.config import ClassifierConfig, DiffractionConfig, load_classifier  # noqa: E402
from hifft.diffraction.dataset import make_dataset, open_dataset  # noqa: E402
from hifft.diffraction.ensemble import build as build_ensemble  # noqa: E402
from hifft.diffraction.evaluate import clear_images  # noqa: E402
from hifft.diffraction.images import ImageError, read_images  # noqa: E402
from hifft.diffraction.labels import LABELS  # noqa: E402
from hifft.diffraction.metrics import best_thresholds, score_metrics  # noqa: E402

runner = CliRunner()


@pytest.fixture(scope="module")
def store(tmp_path_factory) -> Path:
    cfg = DiffractionConfig.model_validate({
        "detector": {"shape": 32},
        "grid": {"real_oversampling": 3.0},
        "droplets": {"radius": ["100 nm", "200 nm"], "pair_radius": ["100 nm", "150 nm"],
                     "pair_axial": [0, "600 nm"], "pair_transverse": [0, "600 nm"]},
        "dataset": {"n_samples": 40, "chunk_size": 20, "seed": 3,
                    "split": {"train": 0.5, "val": 0.25, "test": 0.25}},
    })
    return make_dataset(cfg, tmp_path_factory.mktemp("data") / "d.zarr", progress=False)


def job(store: Path, out: Path, **model) -> ClassifierConfig:
    return ClassifierConfig.model_validate({
        "model": {"base_width": 4, **model}, "ccf": {"n_q": 6, "n_phi": 20},
        "train": {"dataset": str(store), "out": str(out), "batch_size": 6, "minutes": 10, "max_epochs": 2,
                  "threads": 1, "seed": 2},
        "evaluate": {"throughput_images": 16, "batch_size": 8, "threads": 1},
    })


@pytest.fixture(scope="module")
def trained(store, tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("models")
    return {"log": train(job(store, root / "log"), log=lambda s: None),
            "ccf": train(job(store, root / "ccf", input="ccf", first_activation="relu"), log=lambda s: None)}


def test_training_writes_model_record_and_val_thresholds(store, trained):
    rec = json.loads(trained["log"].with_name("model.json").read_text())
    assert rec["epochs"] == 2 and len(rec["history"]) == 2 and rec["steps"] > 0
    assert rec["dataset"]["path"] == str(store) and len(rec["dataset"]["fingerprint"]) == 16
    assert rec["config"]["model"]["first_activation"] == "log" and rec["wall_seconds"] > 0
    assert len(rec["load_average_start"]) == 3 and rec["train_images_per_s"] > 0
    assert set(rec["thresholds"]) == set(LABELS)
    assert {"raw", "enforced"} <= set(rec["val"]) and rec["val"]["enforced"]["violations"]["images"] == 0
    assert rec["weights_bytes"] == trained["log"].stat().st_size
    # thresholds and val metrics are those of the validation split (recomputed here from the loaded model)
    clf = load(trained["log"])
    ds = open_dataset(store)
    val, imgs = read_split(ds, 1, str(store))
    lg = clf.logits(imgs)
    np.testing.assert_allclose(clf.thresholds, best_thresholds(lg, val.y), atol=1e-5)
    assert rec["val"]["raw"]["macro_f1"] == pytest.approx(score_metrics(lg, clf.thresholds, val.y)["raw"]["macro_f1"])
    # the input scale is the median per-image mean of the training images
    tr, _ = read_split(ds, 0, str(store))
    assert rec["input_scale"] == pytest.approx(float(np.median(tr.x.mean(axis=(1, 2)))), rel=1e-5)
    ccf = json.loads(trained["ccf"].with_name("model.json").read_text())
    assert ccf["config"]["model"]["input"] == "ccf" and ccf["config"]["model"]["first_activation"] == "relu"
    assert load(trained["ccf"]).ccf is not None


def test_rerun_resumes_to_the_same_weights(store, trained, tmp_path):
    cfg = job(store, tmp_path / "run")
    logs: list[str] = []
    part = train(cfg, log=logs.append, max_new_epochs=1)
    assert part.name == "checkpoint.pt" and not (tmp_path / "run" / "model.pt").exists()
    final = train(cfg, log=logs.append)
    assert any("resuming after epoch 1" in s for s in logs)
    assert not part.exists()
    x = np.random.default_rng(0).uniform(0, 500, (5, 32, 32)).astype(np.float32)
    np.testing.assert_allclose(load(final).logits(x), load(trained["log"]).logits(x), rtol=1e-4, atol=1e-4)
    got = json.loads(final.with_name("model.json").read_text())["history"]
    want = json.loads(trained["log"].with_name("model.json").read_text())["history"]
    assert [h["loss"] for h in got] == pytest.approx([h["loss"] for h in want], rel=1e-5)
    assert got[0]["loss"] != got[1]["loss"]  # the second epoch did train
    logs.clear()
    train(cfg, log=logs.append)
    assert any("finished earlier" in s for s in logs)


def test_evaluate_command_writes_every_field(store, trained, tmp_path):
    cfg_file = tmp_path / "clf.yaml"
    cfg_file.write_text("evaluate: {throughput_images: 16, batch_size: 8, threads: 1, noise_levels: [none, max]}\n")
    out = tmp_path / "eval.json"
    r = runner.invoke(app, ["diffraction", "evaluate", str(trained["log"]), str(trained["ccf"]), str(store),
                            "--json", str(out), "--config", str(cfg_file)])
    assert r.exit_code == 0, r.output
    res = json.loads(out.read_text())
    assert set(res["models"]) == {"log", "ccf"}
    assert res["noise"]["levels"] == ["none", "max"] and res["noise"]["bounds"]["max"] > res["noise"]["bounds"]["none"]
    for key in ("n_test", "dataset_fingerprint", "load_average_start", "load_average_end", "threads", "seed_reference",
                "test_label_counts"):
        assert key in res
    for m in res["models"].values():
        assert m["throughput"]["images_per_s"] > 0 and m["throughput"]["images"] == 16
        assert m["weights_bytes"] > 0 and m["parameters"] > 0 and m["train"]["wall_seconds"] > 0
        for level in ("none", "max"):
            lv = m["levels"][level]
            for part in ("raw", "enforced"):
                assert set(lv[part]["per_label"]) == set(LABELS)
                for key in ("macro_f1", "micro_precision", "micro_recall", "micro_accuracy", "exact_match",
                            "violations", "violation_fraction"):
                    assert key in lv[part]
            assert lv["enforced"]["violations"]["images"] == 0
    assert "ccf_throughput" in res["models"]["ccf"] and "ccf_throughput" not in res["models"]["log"]
    # the noise-free level is the model's plain prediction on the test split
    ds = open_dataset(store)
    test, imgs = read_split(ds, 2, str(store))
    clf = load(trained["log"])
    want = score_metrics(clf.logits(imgs), clf.thresholds, test.y)
    assert res["models"]["log"]["levels"]["none"] == json.loads(json.dumps(want))
    assert res["n_test"] == len(test)
    # the clear subset: the same logits scored on the images away from every labelling threshold
    clear = clear_images(ds, np.flatnonzero(ds["split"].values == 2), test.y, 0.05)
    assert res["clear"]["images"] == int(clear.sum()) and res["clear"]["margin"] == 0.05
    want_clear = score_metrics(clf.logits(imgs)[clear], clf.thresholds, test.y[clear])
    assert res["models"]["log"]["clear"] == json.loads(json.dumps(want_clear))
    report = Path(__file__).resolve().parents[2] / "benchmarks" / "diffraction_report.py"
    done = subprocess.run([sys.executable, str(report), "--json", str(out)], capture_output=True, text=True,
                          check=False)
    assert done.returncode == 0, done.stderr
    md = (tmp_path / "eval.md").read_text()  # the JSON's name with .md
    assert "from `eval.json`" in md and "Earlier rounds" not in md and "fresh draw" not in md
    assert "| log | image | log |" in md and "| ccf | ccf | relu |" in md and "| max |" in md
    assert f"{res['models']['log']['levels']['none']['enforced']['macro_f1']:.3f}" in md


def test_predict_reads_npy_tif_h5_and_stores(store, trained, tmp_path):
    import h5py
    import tifffile

    ds = open_dataset(store)
    imgs = ds["image"].values[:3]
    clf = load(trained["log"])
    want = clf.predict(imgs)["probability"].values
    np.save(tmp_path / "a.npy", imgs)
    tifffile.imwrite(tmp_path / "b.tif", imgs[1])
    with h5py.File(tmp_path / "c.cxi", "w") as f:
        f["entry_1/data_1/data"] = imgs
        f["entry_1/other"] = imgs[:, :4, :4]
    xr.Dataset({"frames": (("n", "row", "col"), imgs)}).to_zarr(tmp_path / "d.zarr")
    got = {p: clf.predict(*read_images(p, **kw)[:1])["probability"].values for p, kw in [
        (tmp_path / "a.npy", {}), (tmp_path / "b.tif", {}), (tmp_path / "c.cxi", {"dataset": "entry_1/data_1/data"}),
        (tmp_path / "d.zarr", {})]}
    np.testing.assert_allclose(got[tmp_path / "a.npy"], want, rtol=1e-5)
    np.testing.assert_allclose(got[tmp_path / "b.tif"], want[1:2], rtol=1e-5)
    np.testing.assert_allclose(got[tmp_path / "c.cxi"], want, rtol=1e-5)
    np.testing.assert_allclose(got[tmp_path / "d.zarr"], want, rtol=1e-5)
    with pytest.raises(ImageError, match=r"c.cxi: several image datasets \(entry_1/data_1/data, entry_1/other\)"):
        read_images(tmp_path / "c.cxi")
    out = tmp_path / "p.csv"
    r = runner.invoke(app, ["diffraction", "predict", str(trained["log"]), str(tmp_path / "a.npy"), str(store),
                            "--split", "2", "--out", str(out)])
    assert r.exit_code == 0, r.output
    rows = out.read_text().splitlines()
    n_test = int((ds["split"].values == 2).sum())
    assert len(rows) == 1 + 3 + n_test and rows[1].startswith(f"{tmp_path / 'a.npy'}[0],")
    np.testing.assert_allclose([float(v) for v in rows[1].split(",")[1:12]], want[0], rtol=1e-4)
    labels = np.array([[int(v) for v in row.split(",")[12:]] for row in rows[1:]], bool)
    from hifft.diffraction.labels import count_violations

    assert count_violations(labels)["images"] == 0
    r = runner.invoke(app, ["diffraction", "predict", str(trained["log"]), str(tmp_path / "b.tif"),
                            "--out", str(tmp_path / "p.json")])
    assert r.exit_code == 0, r.output
    js = json.loads((tmp_path / "p.json").read_text())
    assert js["images"][0]["id"] == str(tmp_path / "b.tif") and set(js["images"][0]["probability"]) == set(LABELS)


def test_bad_input_is_named(store, trained, tmp_path):
    clf = load(trained["log"])
    np.save(tmp_path / "small.npy", np.ones((2, 30, 30), np.float32))
    bad = np.ones((3, 32, 32), np.float32)
    bad[1, 5, 5] = np.nan
    np.save(tmp_path / "nan.npy", bad)
    r = runner.invoke(app, ["diffraction", "predict", str(trained["log"]), str(tmp_path / "small.npy")])
    assert r.exit_code != 0
    assert "small.npy: image size 30×30 does not match the model's 32×32" in str(r.exception)
    from hifft.diffraction.classify import predict_files

    with pytest.raises(ImageError, match=r"nan.npy: image 1 has non-finite pixels"):
        predict_files(clf, [tmp_path / "nan.npy"])
    (tmp_path / "x.png").write_bytes(b"x")
    with pytest.raises(ImageError, match=r"x.png: unknown image format '.png'"):
        read_images(tmp_path / "x.png")
    # a training store with a non-finite pixel: the store and the sample are named
    ds = open_dataset(store).load()
    first_train = int(ds["sample"].values[ds["split"].values == 0][0])
    ds["image"][first_train, 3, 3] = np.inf
    with pytest.raises(ImageError, match=rf"d.zarr: image {first_train} has non-finite pixels"):
        read_split(ds, 0, str(store))
    # config: unknown label names and unknown fields, with the file named
    f = tmp_path / "clf.yaml"
    f.write_text("train: {dataset: x.zarr, out: o, pos_weight: {round: 2.0, sphere: 3.0}}\n")
    with pytest.raises(ConfigError, match=r"(?s)clf.yaml.*field 'train.pos_weight'.*unknown label 'sphere'"):
        load_classifier(f)
    f.write_text("model: {base_widht: 16}\n")
    with pytest.raises(ConfigError, match=r"(?s)clf.yaml.*field 'model.base_widht'.*Extra inputs"):
        load_classifier(f)
    f.write_text("model: {first_activation: tanh}\n")
    with pytest.raises(ConfigError, match=r"field 'model.first_activation'"):
        load_classifier(f)


def test_train_command_with_overrides(store, tmp_path):
    f = tmp_path / "clf.yaml"
    f.write_text(f"model: {{base_width: 4}}\nccf: {{n_q: 6, n_phi: 20}}\n"
                 f"train: {{dataset: {store}, out: {tmp_path / 'x'}, batch_size: 6, max_epochs: 1, threads: 1}}\n")
    r = runner.invoke(app, ["diffraction", "train", str(f), "--out", str(tmp_path / "relu"),
                            "--first-activation", "relu", "--input", "ccf"])
    assert r.exit_code == 0, r.output
    rec = json.loads((tmp_path / "relu" / "model.json").read_text())
    assert rec["config"]["model"]["first_activation"] == "relu" and rec["config"]["model"]["input"] == "ccf"
    assert not (tmp_path / "x").exists()
    r = runner.invoke(app, ["diffraction", "train", str(f), "--input", "pixels"])
    assert r.exit_code != 0
    assert "clf.yaml (with command-line options)" in str(r.exception) and "model.input" in str(r.exception)


@pytest.mark.parametrize("rot90", [False, True])
def test_augment_only_flips_and_transposes(rot90):
    from hifft.diffraction.classify import augment

    base = np.arange(16.0).reshape(4, 4)
    flips = [base, base[:, ::-1], base[::-1, :], base[::-1, ::-1]]
    group = flips + ([f.T for f in flips] if rot90 else [])
    x = torch.from_numpy(np.stack([base] * 64)).float()
    out = augment(x.clone(), np.random.default_rng(0), rot90).numpy()
    seen = set()
    for img in out:
        hits = [k for k, g in enumerate(group) if np.array_equal(img, g)]
        assert hits, "not a flip/transpose of the input"
        seen.add(hits[0])
    assert seen == set(range(len(group)))
    if rot90:  # transposes alone: the image or its transpose
        out = augment(x.clone(), np.random.default_rng(1), True, flips=False).numpy()
        kinds = {0 if np.array_equal(img, base) else 1 if np.array_equal(img, base.T) else -1 for img in out}
        assert kinds == {0, 1}


def test_shipped_job_file_loads():
    cfg = load_classifier(Path(__file__).parents[2] / "pipelines" / "diffraction_classifier.yaml")
    assert cfg.train is not None and cfg.model.base_width == 32 and cfg.model.first_activation == "log"
    assert cfg.evaluate.noise_levels == ["none", "mean", "mean+std", "max"]
    assert cfg.ccf.orders == list(range(1, 9))  # the round-4 CCF input


def test_noise_augmentation_stays_on_active_pixels_and_below_its_bound(store, tmp_path):
    from hifft.diffraction.classify import noise_augmenter
    from hifft.diffraction.evaluate import store_active_pixels
    from hifft.diffraction.metrics import noise_bounds

    cfg = job(store, tmp_path / "n").model_copy(deep=True)
    cfg.train.augment.noise = 2.0
    ds = open_dataset(store)
    tr, _ = read_split(ds, 0, str(store))
    active = store_active_pixels(ds, np.flatnonzero(ds["split"].values == 0))
    b_max = 2.0 * noise_bounds(tr.x, active)["mean"]
    add = noise_augmenter(ds, tr, cfg.train)
    idx = np.arange(len(tr))
    x = torch.from_numpy(tr.x.copy())
    d = (add(x, idx, np.random.default_rng(0)) - x).numpy()
    assert (d[~active] == 0).all() and (d >= 0).all() and d.max() <= b_max
    hit = (d > 0).any(axis=(1, 2))
    assert 0 < hit.sum() < len(tr)  # about half the images
    # a second batch in a longer training gets fresh noise; the model trains with it
    cfg2 = job(store, tmp_path / "n2")
    cfg2.train.augment.noise = 1.0
    assert train(cfg2, log=lambda s: None).exists()


def test_ccf_noise_augmentation_maps_noisy_images_per_batch(store, tmp_path, monkeypatch):
    from hifft.diffraction import classify

    calls: list[int] = []
    real = classify.CCF.__call__

    def spy(self, images):
        calls.append(len(images))
        return real(self, images)

    monkeypatch.setattr(classify.CCF, "__call__", spy)
    cfg = job(store, tmp_path / "c", input="ccf")
    cfg.train.augment.noise = 1.0
    final = train(cfg, log=lambda s: None)
    rec = json.loads(final.with_name("model.json").read_text())
    # maps of every training batch (batch_size 6) besides those of the splits read once
    assert calls.count(cfg.train.batch_size) >= rec["steps"] and rec["steps"] > 0
    assert rec["config"]["train"]["augment"]["noise"] == 1.0 and load(final).ccf is not None


def test_multi_order_ccf_model_trains_loads_and_predicts(store, tmp_path):
    cfg = job(store, tmp_path / "m", input="ccf")
    cfg.ccf.orders = [1, 2, 3]
    final = train(cfg, log=lambda s: None)
    clf = load(final)
    assert clf.ccf is not None and clf.ccf.map_shape == (4, 6, 6)
    assert clf.net.stem.in_channels == 4
    imgs = open_dataset(store)["image"].values[:5]
    assert clf.inputs(imgs).shape == (5, 4, 6, 6)
    lg = clf.logits(imgs)
    assert lg.shape == (5, len(LABELS)) and np.isfinite(lg).all()
    rec = json.loads(final.with_name("model.json").read_text())
    assert rec["config"]["ccf"]["orders"] == [1, 2, 3]


def test_keep_best_keeps_the_epoch_of_lowest_val_loss(store, tmp_path):
    cfg = job(store, tmp_path / "b")
    cfg.train.max_epochs = 4
    cfg.train.keep_best = True
    logs: list[str] = []
    part = train(cfg, log=logs.append, max_new_epochs=2)  # the best so far survives a resume
    assert part.name == "checkpoint.pt"
    final = train(cfg, log=logs.append)
    rec = json.loads(final.with_name("model.json").read_text())
    losses = [h["val_loss"] for h in rec["history"]]
    assert len(losses) == 4 and rec["selected_epoch"] == int(np.argmin(losses))
    # the stored thresholds are those of the kept weights on the validation split
    clf = load(final)
    val, imgs = read_split(open_dataset(store), 1, str(store))
    np.testing.assert_allclose(clf.thresholds, best_thresholds(clf.logits(imgs), val.y), atol=1e-5)
    pw = torch.tensor(rec["pos_weight"], dtype=torch.float32)
    got = torch.nn.functional.binary_cross_entropy_with_logits(
        torch.from_numpy(clf.logits(imgs)).float(), torch.from_numpy(val.y.astype(np.float32)), pos_weight=pw)
    assert float(got) == pytest.approx(min(losses), rel=1e-4)


def test_ensemble_averages_logits_and_chooses_its_own_thresholds(store, trained, tmp_path):
    r = runner.invoke(app, ["diffraction", "ensemble", str(trained["log"]), str(trained["ccf"]), str(store),
                            "--out", str(tmp_path / "ens"), "--weights", "mean"])
    assert r.exit_code == 0, r.output
    ens = load(tmp_path / "ens" / "model.pt")
    members = [load(trained["log"]), load(trained["ccf"])]
    ds = open_dataset(store)
    val, vimgs = read_split(ds, 1, str(store))
    test, imgs = read_split(ds, 2, str(store))
    np.testing.assert_allclose(ens.logits(imgs), (members[0].logits(imgs) + members[1].logits(imgs)) / 2,
                               rtol=1e-6, atol=1e-6)
    lv = (members[0].logits(vimgs) + members[1].logits(vimgs)) / 2
    np.testing.assert_allclose(ens.thresholds, best_thresholds(lv, val.y))
    rec = json.loads((tmp_path / "ens" / "model.json").read_text())
    assert rec["member_inputs"] == ["image", "ccf"] and rec["wall_seconds"] > 0
    pred = ens.predict(imgs)
    assert pred["labels"].shape == (len(test), len(LABELS)) and not np.isnan(pred["probability"].values).any()
    # evaluate takes it beside single models
    out = tmp_path / "eval.json"
    cfg_file = tmp_path / "clf.yaml"
    cfg_file.write_text("evaluate: {throughput_images: 8, batch_size: 8, threads: 1, noise_levels: [none]}\n")
    r = runner.invoke(app, ["diffraction", "evaluate", str(tmp_path / "ens" / "model.pt"), str(trained["log"]),
                            str(store), "--json", str(out), "--config", str(cfg_file)])
    assert r.exit_code == 0, r.output
    res = json.loads(out.read_text())
    m = res["models"]["ens"]
    assert m["input"] == "image+ccf" and m["first_activation"] == "log+relu" and len(m["members"]) == 2
    assert m["levels"]["none"] == json.loads(json.dumps(score_metrics(ens.logits(imgs), ens.thresholds, test.y)))
    # one member, or a member trained on another dataset, is refused
    with pytest.raises(ValueError, match="at least two"):
        build_ensemble([trained["log"]], store, tmp_path / "one")
    cfg = DiffractionConfig.model_validate_json(ds.attrs["config"]).model_dump()
    cfg["dataset"].update(n_samples=8, chunk_size=8, seed=9)
    other = make_dataset(DiffractionConfig.model_validate(cfg), tmp_path / "other.zarr", progress=False)
    with pytest.raises(ValueError, match=r"not on .*other\.zarr"):
        build_ensemble([trained["log"], trained["ccf"]], other, tmp_path / "bad")
    assert not (tmp_path / "bad" / "model.pt").exists()


def test_ensemble_weights_chosen_on_validation(store, trained, tmp_path):
    r = runner.invoke(app, ["diffraction", "ensemble", str(trained["log"]), str(trained["ccf"]), str(store),
                            "--out", str(tmp_path / "w")])
    assert r.exit_code == 0, r.output
    ens = load(tmp_path / "w" / "model.pt")
    rec = json.loads((tmp_path / "w" / "model.json").read_text())
    w = np.asarray(rec["weights"])
    assert rec["weights_rule"] == "val" and w.sum() == pytest.approx(1.0) and (w >= 0).all()
    np.testing.assert_allclose(ens.weights, w)
    members = [load(trained["log"]), load(trained["ccf"])]
    ds = open_dataset(store)
    val, vimgs = read_split(ds, 1, str(store))
    lv0, lv1 = (m.logits(vimgs) for m in members)
    # every weight of the 0.1 grid, scored here: the chosen one reaches the best validation macro-F1
    f1 = {}
    for a in np.linspace(0, 1, 11):
        lv = a * lv0 + (1 - a) * lv1
        f1[round(a, 1)] = score_metrics(lv, best_thresholds(lv, val.y), val.y)["enforced"]["macro_f1"] or 0.0
    assert len(rec["weights_scan"]) == 11
    assert f1[round(float(w[0]), 1)] == pytest.approx(max(f1.values()))
    mixed = w[0] * lv0 + w[1] * lv1
    np.testing.assert_allclose(ens.thresholds, best_thresholds(mixed, val.y))
    x = np.random.default_rng(1).uniform(0, 500, (4, 32, 32)).astype(np.float32)
    np.testing.assert_allclose(ens.logits(x), w[0] * members[0].logits(x) + w[1] * members[1].logits(x),
                               rtol=1e-6, atol=1e-6)
    r = runner.invoke(app, ["diffraction", "ensemble", str(trained["log"]), str(trained["ccf"]), str(store),
                            "--out", str(tmp_path / "x"), "--weights", "best"])
    assert r.exit_code != 0 and "--weights" in r.output
