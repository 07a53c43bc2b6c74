"""Training on the tiny dataset: learning happens, checkpoints resume, predictions are xarray."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="training and inference need torch (the 'ml' extra)")

from hifft.ml import shapes as S  # noqa: E402
from hifft.ml.config import CLASSES  # noqa: E402
from hifft.ml.dataset import open_dataset  # noqa: E402

pytestmark = pytest.mark.cluster


def test_learning_happened(tiny_model):
    path, _ = tiny_model
    ck = torch.load(path, weights_only=True)
    hist = ck["history"]
    for m in range(2):
        h = [r for r in hist if r["member"] == m]
        assert h[-1]["loss"] < 0.75 * h[0]["loss"], h
        assert h[-1]["val_ce"] < np.log(5) - 0.4  # chance is ln 5 = 1.61
    # the ensemble beats chance (0.2) by a clear margin on held-out curves
    from hifft.ml.inference import load

    ds = open_dataset(ck["train_config"]["dataset"])
    test = ds.isel(sample=np.flatnonzero(ds["split"].values == 2)).load()
    pred = load(path).predict(test)
    acc = float((pred["shape_index"].values == test["shape"].values).mean())
    assert acc > 0.45, acc
    # and the radius of spheres is already better than the prior's spread
    sel = test["shape"].values == 0
    j = list(pred["slot"].values).index("sphere:radius")
    err = np.log(pred["slot_value"].values[sel, j] / test["radius"].values[sel])
    prior_sd = np.log(200 / 20) / np.sqrt(12)
    assert np.sqrt(np.mean(err**2)) < 0.7 * prior_sd


def test_predictions_are_labelled_xarray(tiny_model, tiny_store):
    from hifft.ml.inference import load

    path, _ = tiny_model
    ds = open_dataset(tiny_store).isel(sample=slice(0, 20)).load()
    out = load(path).predict(ds)
    assert out.sizes["sample"] == 20 and list(out["class"].values) == list(CLASSES)
    np.testing.assert_allclose(out["prob"].sum("class"), 1.0, rtol=1e-5)
    for k in range(20):
        c = str(out["shape"].values[k])
        have = np.isfinite(out["value"].values[k])
        assert {p for p, h in zip(S.ALL_PARAMS, have, strict=True) if h} == set(S.PARAMS[c])
        lo, hi, v = (out[n].values[k][have] for n in ("lower", "upper", "value"))
        assert (lo <= v).all() and (v <= hi).all()
    assert out.attrs["coverage"] == 0.9 and out.attrs["seconds_per_curve"] > 0
    # one curve without a sample dimension works too
    one = load(path).predict(ds[["I", "sigma"]].isel(sample=3))
    assert one.sizes["sample"] == 1
    np.testing.assert_allclose(one["prob"].values[0], out["prob"].values[3], rtol=1e-4, atol=1e-6)


def test_rerun_resumes_from_checkpoints(tiny_model, tiny_cfg):
    from hifft.ml.train import train

    path, _ = tiny_model
    tc = tiny_cfg.train.model_copy(
        update={
            "dataset": torch.load(path, weights_only=True)["train_config"]["dataset"],
            "out": path.parent,
            "threads": 1,
        }
    )
    lines: list[str] = []
    train(tc, log=lines.append)
    assert sum("finished earlier" in s for s in lines) == 2
    assert not any("epoch" in s for s in lines)
    # every file was written whole: no temporary or per-epoch leftovers
    assert sorted(p.name for p in path.parent.iterdir()) == [
        "member-0.pt",
        "member-1.pt",
        "metrics.json",
        "model.pt",
        "train_config.json",
    ]


def test_truncated_q_range_predicts_as_the_masked_full_curve(tiny_model, tiny_store):
    """A curve on a grid that starts higher is the full curve with its first points unmeasured."""
    from hifft.ml.inference import load

    path, _ = tiny_model
    pred = load(path)
    ds = open_dataset(tiny_store).isel(sample=slice(0, 8)).load()
    cut = ds[["I", "sigma"]].isel(q=slice(10, None))  # another q grid: regridded onto the model's
    masked = ds[["I", "sigma", "mask"]].copy(deep=True)
    masked["mask"][:, :10] = False
    a, b = pred.predict(cut), pred.predict(masked)
    np.testing.assert_allclose(a["prob"].values, b["prob"].values, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(a["slot_value"].values, b["slot_value"].values, rtol=1e-5)
    np.testing.assert_allclose(a["prob"].sum("class"), 1.0, rtol=1e-5)
    # losing the low-q points changes what the network sees
    full = pred.predict(ds[["I", "sigma", "mask"]])
    assert np.abs(full["prob"].values - b["prob"].values).max() > 1e-4


def test_calibration_factor_makes_coverage_nominal():
    from hifft.ml.train import calibrate

    rng = np.random.default_rng(0)
    n = 5000
    y = rng.normal(0, 2.0, (n, 2))  # true spread 2
    mu = np.zeros((n, 2))
    var = np.ones((n, 2))  # the model claims spread 1
    w = np.ones((n, 2), dtype=bool)
    f = calibrate(mu, var, y, w, 0.9)
    np.testing.assert_allclose(f, 2.0, rtol=0.05)
    cover = np.mean(np.abs(y) <= 1.645 * f[None, :], axis=0)
    np.testing.assert_allclose(cover, 0.9, atol=0.01)


def test_speckle_augmentation_has_gamma_statistics():
    """Finite-box noise: relative scatter 1/√n(q) with n the number of modes, σ reported alike."""
    from hifft.ml.config import AugmentConfig, NoiseConfig
    from hifft.ml.noise import bin_widths, counts_per_intensity
    from hifft.ml.train import Augmenter

    q = np.geomspace(0.002, 0.5, 64)
    aug = Augmenter(
        q, NoiseConfig(), AugmentConfig(p_speckle=1.0, speckle_box=(1000.0, 1000.0), speckle_realizations=(2, 2))
    )
    i_true = torch.ones((4000, q.size), dtype=torch.float64)
    out, s_box = aug.speckle(i_true, np.random.default_rng(0), torch.Generator().manual_seed(0))
    n = 2 * (1000 / (2 * np.pi)) ** 3 * 2 * np.pi * q**2 * bin_widths(q)
    n = np.maximum(n, 1.0)
    rel = out.numpy().std(0)
    few = n < 200
    np.testing.assert_allclose(rel[few], 1 / np.sqrt(n[few]), rtol=0.1)
    np.testing.assert_allclose(out.numpy().mean(0), 1.0, atol=5 / np.sqrt(4000) + 1e-9)
    np.testing.assert_allclose((s_box / out).numpy()[0], 1 / np.sqrt(n), rtol=1e-9)
    # p_speckle = p_smear = 0 leaves curves alone: only Poisson counting noise, 1/√λ relative, at a fixed exposure
    noise = NoiseConfig(exposure=100.0)
    aug0 = Augmenter(q, noise, AugmentConfig(p_speckle=0.0, p_smear=0.0))
    li, _, m = aug0.renoise(i_true * 10.0, np.random.default_rng(1), torch.Generator().manual_seed(1))
    lam = 10.0 * counts_per_intensity(q, noise, 100.0)
    rel = (10.0 ** li.double().numpy() / 10.0 - 1).std(0)
    big = lam > 100
    assert m.all() and big.sum() > 20
    np.testing.assert_allclose(rel[big], 1 / np.sqrt(lam[big]), rtol=0.1)
