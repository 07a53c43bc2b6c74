"""Instrument augmentation (resolution, nuisances, q windows) and predict-then-refine."""

from __future__ import annotations

import json

import numpy as np
import pytest
import xarray as xr

from hifft.compare import sasmodels_ as sm
from hifft.ml import shapes as S
from hifft.ml.config import AugmentConfig

from .conftest import small_dataset_config

torch = pytest.importorskip("torch", reason="augmentation and inference need torch (the 'ml' extra)")

from hifft.ml.train import Augmenter, smearing_matrix  # noqa: E402


def _sphere(q, radius=60.0, pd=0.05, dq=None):
    pars = {"radius": radius, "radius_pd": pd, "radius_pd_n": 35, "scale": 0.01, "sld": 1.0, "sld_solvent": 0.0}
    return sm.evaluate("sphere", q, pars, dq=dq)


def test_smearing_matrix_matches_sasmodels_pinhole():
    """The training-time smearing on the log grid agrees with sasmodels' Pinhole1D where the kernel fits."""
    q = np.geomspace(0.002, 0.5, 256)
    for rel in (0.03, 0.1):
        w, ok = smearing_matrix(q, rel)
        ours = w @ _sphere(q)
        oracle = _sphere(q, dq=rel * q)  # sasmodels' own resolution integral on its extended grid
        assert ok[40:-40].all() and not ok[0] and not ok[-1]
        err = np.abs(ours[ok] / oracle[ok] - 1)
        # the 256-point grid under-samples the deepest minima (a few bins), where
        # the relative error peaks (~8 % at sigma_Q/Q = 10 %); elsewhere it is small
        assert np.median(err) < 0.005 and np.quantile(err, 0.9) < 0.03 and err.max() < 0.1, (
            rel, np.median(err), np.quantile(err, 0.9), err.max())
        # smearing fills the form-factor minima: the sharpest dip becomes shallower
        raw = _sphere(q)
        j = np.argmin(raw[q < 0.1] / np.maximum.accumulate(raw[q < 0.1][::-1])[::-1])
        assert ours[j] > raw[j]


def test_adapter_resolution_zero_is_identity_and_checks_input():
    q = np.geomspace(0.005, 0.3, 100)
    np.testing.assert_array_equal(_sphere(q, dq=np.zeros_like(q)), _sphere(q))
    with pytest.raises(ValueError, match="dq must be finite"):
        _sphere(q, dq=-q)
    with pytest.raises(ValueError, match="strictly increasing"):
        _sphere(q[::-1].copy(), dq=0.05 * q)


def test_augmenter_nuisances_smearing_and_masks():
    q = np.geomspace(0.002, 0.5, 128)
    cfg = small_dataset_config()
    aug_cfg = AugmentConfig(p_rescale=1.0, p_background=1.0, p_smear=1.0, p_dead_bins=1.0, dead_fraction=0.3)
    aug = Augmenter(q, cfg.noise, aug_cfg)
    i_true = torch.as_tensor(np.stack([_sphere(q, r) + 0.01 for r in (30.0, 60.0, 120.0, 180.0)]))
    bg = torch.full((4,), 0.01)
    rng = np.random.default_rng(0)
    new = aug.nuisances(i_true.double(), bg, rng)
    part_ratio = (new[:, :5] - new[:, -1:]) / (i_true[:, :5] - 0.01)
    # the particle term is rescaled by one factor per curve, within the configured range
    assert torch.allclose(part_ratio, part_ratio[:, :1], rtol=1e-2)
    assert (part_ratio[:, 0] >= 0.3 * 0.99).all() and (part_ratio[:, 0] <= 3.0 * 1.01).all()
    gen = torch.Generator().manual_seed(0)
    li, _, valid = aug.renoise(i_true, rng, gen, bg)
    assert li.shape == (4, 128) and valid.dtype == torch.bool
    assert not valid[:, 0].any()  # the smearing kernel does not fit at the grid's first bin
    m = aug.truncate(valid, rng)
    frac_dead = 1 - m[:, 30:90].float().mean()
    assert 0 < frac_dead < 0.4
    assert (m.sum(1) >= 16).all()


def test_augment_config_rejects_bad_ranges():
    with pytest.raises(ValueError, match="smear_dq_over_q"):
        AugmentConfig(smear_dq_over_q=(0.1, 0.01))


# ---------------------------------------------------------------------------
# predict, then refine
# ---------------------------------------------------------------------------


def _curve(q, model, label, cfg, scale=0.01, bg=0.01, dq=None, rel_err=0.02, seed=0):
    i = S.forward(model, q, label, cfg.shapes, scale, bg, "double", dq)
    rng = np.random.default_rng(seed)
    s = rel_err * i
    ds = xr.Dataset({"I": ("q", i + rng.normal(0, 1, q.size) * s), "sigma": ("q", s)}, coords={"q": q})
    if dq is not None:
        ds["q_std"] = ("q", dq)
    return ds


@pytest.mark.cluster
def test_refine_recovers_parameters_and_flags_ood(tiny_model, tmp_path):
    from hifft.ml.inference import load
    from hifft.ml.refine import plot, refine

    path, _ = tiny_model
    pred = load(path)
    cfg, aug = pred.dataset_config(), pred.augment_config()
    q = np.geomspace(0.004, 0.45, 150)
    dq = 0.05 * q
    truth = {"radius": 70.0, "radius_pd": 0.08}
    ans = refine(pred, _curve(q, "sphere", truth, cfg, dq=dq), cfg, aug, top=5, source="sphere70")
    c = next(c for c in ans.candidates if c.model == "sphere")
    assert ans.dq_used
    assert abs(c.params["radius"] / 70.0 - 1) < 0.02, c.params
    assert abs(c.params["radius_pd"] - 0.08) < 0.02, c.params
    assert c.lower["radius"] < c.params["radius"] < c.upper["radius"]
    for cand in ans.candidates:  # linear parameters' intervals stop at their physical limits
        for p in set(cand.params) & {"radius_pd", "length_pd", "volfraction"}:
            assert 0.0 <= cand.lower[p] <= cand.params[p] <= cand.upper[p], (cand.model, p)
    assert 0.5 < c.chi2_red < 2.0
    assert ans.shape in ("sphere", "sphere@hardsphere")  # the AIC may not separate the nested model
    assert not any("poor fit" in f for f in ans.ood)
    png = plot(ans, _curve(q, "sphere", truth, cfg, dq=dq), cfg, tmp_path / "fit.png")
    assert (tmp_path / "fit.png").stat().st_size > 1000 and png.endswith("fit.png")
    json.dumps(ans.to_dict(), default=float)  # JSON-ready

    # a 500 Å sphere lies outside the prior (20-200 Å): refined, and flagged
    big = refine(pred, _curve(q, "sphere", {"radius": 500.0, "radius_pd": 0.05}, cfg), cfg, aug, top=5)
    flags = " ".join(big.ood)
    assert "outside the training prior" in flags, big.ood

    # a narrow q window is flagged as outside the windows seen in training
    qn = np.geomspace(0.05, 0.09, 40)
    narrow = refine(pred, _curve(qn, "sphere", truth, cfg), cfg, aug)
    assert any("q window" in f for f in narrow.ood), narrow.ood

    # a wrong model (the curve's errors far too small for a sphere fit) is a poor fit
    cyl = _curve(q, "cylinder", {"radius": 30.0, "length": 600.0, "radius_pd": 0.05, "length_pd": 0.05}, cfg,
                 rel_err=0.002)
    bad = refine(pred, cyl, cfg, aug, top=1)
    if bad.shape != "cylinder":
        assert any("poor fit" in f for f in bad.ood), bad.ood


def test_widened_priors():
    from hifft.ml.refine import widened

    cfg = small_dataset_config()
    w = widened(cfg, 3.0)
    assert w.shapes.sphere.radius.bounds() == pytest.approx((20.0 / 3, 600.0))
    assert w.shapes.hardsphere.volfraction.bounds() == pytest.approx((0.0, 0.5))
    assert w.shapes.ellipsoid.min_axis_ratio == cfg.shapes.ellipsoid.min_axis_ratio


def test_window_flags():
    from hifft.ml.refine import window_flags

    grid = np.geomspace(0.002, 0.5, 256)
    aug = AugmentConfig()
    assert window_flags(np.geomspace(0.003, 0.3, 100), grid, aug) == []
    assert any("starts at" in f for f in window_flags(np.geomspace(0.05, 0.4, 100), grid, aug))
    assert any("ends at" in f for f in window_flags(np.geomspace(0.003, 0.05, 100), grid, aug))
    assert any("model grid" in f for f in window_flags(np.geomspace(0.6, 3.0, 100), grid, aug))


@pytest.mark.cluster
def test_predict_cli_refines_and_writes_json_and_plot(tiny_model, tmp_path):
    import typer
    from typer.testing import CliRunner

    from hifft.io import to_cansas_xml
    from hifft.ml.cli import register
    from hifft.ml.inference import load

    path, _ = tiny_model
    cfg = load(path).dataset_config()
    q = np.geomspace(0.004, 0.45, 120)
    curve = _curve(q, "core_shell_sphere", {"radius": 50.0, "thickness": 15.0, "radius_pd": 0.05}, cfg)
    curve["q"].attrs["units"] = "1/angstrom"
    curve["I"].attrs["units"] = curve["sigma"].attrs["units"] = "1/cm"
    f = to_cansas_xml(curve, tmp_path / "cs.xml")
    app = typer.Typer()
    register(app)
    out_json, out_png = tmp_path / "a.json", tmp_path / "a.png"
    r = CliRunner().invoke(
        app, ["ml", "predict", str(f), "--model", str(path), "--json", str(out_json), "--plot", str(out_png)]
    )
    assert r.exit_code == 0, r.output
    assert "refined" in r.output and "class probabilities" in r.output
    ans = json.loads(out_json.read_text())
    assert ans["shape"] in ans["probabilities"] and len(ans["candidates"]) >= 2
    assert out_png.stat().st_size > 1000


def test_missing_shipped_model_names_the_fix(monkeypatch, tmp_path):
    from hifft.ml import inference

    monkeypatch.setattr(inference, "DEFAULT_MODEL", tmp_path / "none.pt")
    with pytest.raises(FileNotFoundError, match="make model"):
        inference.load()
