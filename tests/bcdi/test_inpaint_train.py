"""Inpainting training: SSIM against scikit-image, the gap loss, training data, config, a smoke run that
resumes, the held-out evaluation and the command line."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import xarray as xr
from scipy import ndimage
from typer.testing import CliRunner

torch = pytest.importorskip("torch")

from hifft.bcdi import gaps  # noqa: E402
from hifft.bcdi.inpaint_config import (  # noqa: E402
    GapConfig,
    InpaintEvalConfig,
    InpaintJob,
    InpaintTrainConfig,
    LossConfig,
    PatternConfig,
    load,
)
from hifft.bcdi.inpaint_data import PatchSampler, simulate_patterns  # noqa: E402
from hifft.bcdi.inpaint_eval import evaluate_inpaint  # noqa: E402
from hifft.bcdi.inpaint_train import gap_loss, ssim2d, train_inpaint  # noqa: E402
from hifft.bcdi.patches import gap_width  # noqa: E402
from hifft.bcdi.unet import InpaintModel, InpaintUNet, load_model, save_model  # noqa: E402
from hifft.cli import app  # noqa: E402
from hifft.config import ConfigError  # noqa: E402

runner = CliRunner()
TINY_PATTERNS = PatternConfig(size=24)


# ---------------------------------------------------------------------------
# loss
# ---------------------------------------------------------------------------


def test_ssim_matches_scikit_image():
    from skimage.metrics import structural_similarity

    rng = np.random.default_rng(0)
    a = ndimage.gaussian_filter(rng.uniform(size=(3, 40, 36)), (0, 2, 2))
    b = np.clip(a + rng.normal(0, 0.05, a.shape), 0, 1)
    got = ssim2d(torch.from_numpy(a[:, None]).float(), torch.from_numpy(b[:, None]).float())
    want = [structural_similarity(a[i], b[i], gaussian_weights=True, sigma=1.5, use_sample_covariance=False,
                                  data_range=1.0) for i in range(3)]
    np.testing.assert_allclose(got.numpy(), want, rtol=2e-4)
    assert float(ssim2d(torch.from_numpy(a[:1, None]), torch.from_numpy(a[:1, None]))) == pytest.approx(1.0)


@pytest.mark.parametrize("dims", [2, 3])
def test_gap_loss_sees_only_the_gap(dims):
    rng = np.random.default_rng(1)
    shape = (2, 1, *(16,) * dims)
    truth = torch.from_numpy(rng.uniform(size=shape).astype(np.float32))
    mask = torch.zeros(shape, dtype=torch.bool)
    mask[..., 6:9] = True
    exact, parts = gap_loss(truth.clone(), truth, mask)
    assert float(exact) == pytest.approx(0.0, abs=1e-6) and parts["mae"] == 0.0
    pred = truth + 10 * torch.randn(shape) * ~mask  # wrong only outside the gap
    assert float(gap_loss(pred, truth, mask)[0]) == pytest.approx(0.0, abs=1e-6)
    off = truth + 0.2 * mask
    loss, parts = gap_loss(off, truth, mask, LossConfig(mae=1, ssim=0, grad=0))
    assert parts["mae"] == pytest.approx(0.2, rel=1e-5) and float(loss) == pytest.approx(0.2, rel=1e-5)
    pred = (truth + 0.1 * torch.randn(shape)).requires_grad_()
    gap_loss(pred, truth, mask)[0].backward()
    assert pred.grad is not None and float(pred.grad[~mask].abs().max()) == 0.0
    assert float(pred.grad[mask].abs().max()) > 0


# ---------------------------------------------------------------------------
# data
# ---------------------------------------------------------------------------


def test_patterns_are_reproducible_and_held_out_families_stay_out():
    a = simulate_patterns(TINY_PATTERNS, 3, seed=4, stream="train")
    b = simulate_patterns(TINY_PATTERNS, 3, seed=4, stream="train")
    np.testing.assert_array_equal(a.counts, b.counts)
    assert a.counts.shape == (3, 24, 24, 24) and (a.counts >= 0).all()
    for info in a.info:
        assert info["shape"] in TINY_PATTERNS.shapes and info["strain"] in TINY_PATTERNS.strains
        assert 2 <= info["oversampling"] <= 5.01
    test = simulate_patterns(TINY_PATTERNS, 4, seed=4, stream="test")
    assert {i["shape"] for i in test.info} <= set(TINY_PATTERNS.held_out_shapes)
    assert {i["strain"] for i in test.info} <= set(TINY_PATTERNS.held_out_strains)
    assert not np.array_equal(test.counts[0], a.counts[0])


@pytest.mark.parametrize("dims", [2, 3])
def test_patch_sampler_gaps_are_detector_planes_inside_the_interior(dims):
    pats = simulate_patterns(TINY_PATTERNS, 2, seed=0)
    cfg = GapConfig(widths=[3, 5], cross_fraction=0.5)
    x, y, m = PatchSampler(pats, dims=dims, patch=16, margin=3, gaps=cfg, peak_ref=1e5).sample(
        np.random.default_rng(2), 12)
    assert x.shape == (12, 2, *(16,) * dims) and y.shape == m.shape == (12, 1, *(16,) * dims)
    for i in range(12):
        mask = m[i, 0]
        assert mask.any() and 3 <= gap_width(mask) <= 5
        bands = gaps.describe(mask)["bands"]
        rebuilt = np.zeros_like(mask)
        for ax in (dims - 2, dims - 1):  # bands across the detector axes, 3 px of margin kept
            for start, w in bands[ax]:
                assert start >= 3 and start + w <= 16 - 3 and w in (3, 5)
                rebuilt |= gaps.line_gap(mask.shape, ax, start, w)
        np.testing.assert_array_equal(rebuilt, mask)  # nothing but such bands (planes through every frame)
        np.testing.assert_array_equal(x[i, 1], mask.astype(np.float32))
        assert (x[i, 0][mask] == 0).all()
        assert y[i].min() >= 0 and y[i].max() <= 1.2


def test_config_errors_name_field_and_file(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("train:\n  out: x\n  minuts: 3\n")
    with pytest.raises(ConfigError, match=r"(?s)bad\.yaml.*train\.minuts"):
        load(bad, environ={})
    wide = tmp_path / "wide.yaml"
    wide.write_text("train:\n  out: x\n  gaps: {widths: [30]}\n")
    with pytest.raises(ConfigError, match=r"(?s)wide\.yaml.*30 px does not fit"):
        load(wide, environ={})
    for name in ("bcdi_inpaint_2d.yaml", "bcdi_inpaint_3d.yaml"):
        job = load(Path(__file__).resolve().parents[2] / "pipelines" / name, environ={})
        assert job.train.model.patch <= job.train.patterns.size


# ---------------------------------------------------------------------------
# a smoke training that resumes, then evaluation and the command line
# ---------------------------------------------------------------------------


def _tiny(out: Path, **kw) -> InpaintTrainConfig:
    base = dict(out=out, minutes=1.0, max_steps=6, batch_size=2, n_patterns=3, n_val_patterns=1, val_patches=3,
                checkpoint_minutes=1e-6, threads=1, patterns=TINY_PATTERNS, gaps=GapConfig(widths=[3, 4]),
                model=dict(dims=3, widths=[4, 8], dilations=[[2, 1]], patch=16, margin=2, stride=6))
    base.update(kw)
    return InpaintTrainConfig.model_validate(base)


class _Stop(Exception):
    pass


def test_smoke_training_checkpoints_resumes_and_records(tmp_path):
    cfg = _tiny(tmp_path / "run")
    lines: list[str] = []

    def stop_at_first_checkpoint(s: str) -> None:
        lines.append(s)
        if s.startswith("checkpoint at step 2"):
            raise _Stop

    with pytest.raises(_Stop):
        train_inpaint(cfg, log=stop_at_first_checkpoint)
    assert (tmp_path / "run" / "train.partial.pt").exists() and not (tmp_path / "run" / "model.pt").exists()
    lines.clear()
    path = train_inpaint(cfg, log=lines.append)
    assert any(s.startswith("resuming at step 2") for s in lines), lines
    rec = json.loads((tmp_path / "run" / "model.json").read_text())
    assert rec["steps"] == 6 and rec["patches_seen"] == 12 and rec["dims"] == 3
    assert len(rec["load_average_start"]) == 3 and rec["train_seconds"] > 0
    assert rec["config"]["max_steps"] == 6 and rec["file_bytes"] == path.stat().st_size
    assert rec["validation"]["pcc_log_biharmonic"] is not None and "pcc_log_model" in rec["validation"]
    assert not (tmp_path / "run" / "train.partial.pt").exists()
    model = load_model(path)
    assert (model.patch, model.margin, model.stride, model.peak) == (16, 2, 6, 1e5)
    lines.clear()
    train_inpaint(cfg, log=lines.append)
    assert any("nothing to do" in s for s in lines)


def test_a_residual_model_trains_on_three_channels_and_validates_the_line_fill(tmp_path):
    model = dict(dims=3, widths=[4, 8], dilations=[[2, 1]], patch=16, margin=2, stride=6, residual=True)
    path = train_inpaint(_tiny(tmp_path / "run", max_steps=2, checkpoint_minutes=5, model=model), log=lambda s: None)
    net = load_model(path).net
    assert net.residual and net.arch["in_channels"] == 3
    val = json.loads((tmp_path / "run" / "model.json").read_text())["validation"]
    assert -1 <= val["pcc_log_line"] <= 1 and -1 <= val["pcc_log_model"] <= 1


def _tiny_model(path: Path, dims: int = 3) -> Path:
    torch.manual_seed(0)
    return save_model(path, InpaintModel(InpaintUNet(dims, (4, 8), ((2, 1),)), 16, 2, 6, 1e5))


def test_evaluation_reports_every_width_method_and_bin(tmp_path):
    job = InpaintJob(train=_tiny(tmp_path / "run"),
                     evaluate=InpaintEvalConfig(n_patterns=1, widths=[3, 5], bins=[10.0, 1000.0], threads=1))
    res = evaluate_inpaint(job, {"tiny": load_model(_tiny_model(tmp_path / "m.pt"))}, log=lambda s: None)
    assert res["methods"] == ["zero", "biharmonic", "line", "tiny"] and res["n_patterns"] == 1
    for w in ("3", "5"):
        assert res["widths"][w]["biharmonic"]["pcc_log_mean"] > 0.5
        assert res["widths"][w]["line"]["pcc_log_mean"] > 0.5
        assert res["widths"][w]["zero"]["pcc_log_mean"] is None
        assert res["widths"][w]["ceiling"]["n"] == 1 and 0 < res["widths"][w]["ceiling"]["pcc_log_mean"] <= 1
        assert len(res["bins"]["by_width"][w]["tiny"]) == 3
        assert set(res["targets"]["tiny"][w]) >= {"target", "meets_target", "beats_biharmonic"}
    json.dumps(res)  # JSON-able as it stands


def test_cli_inpaint_round_trip(tmp_path):
    pat = tmp_path / "p.zarr"
    r = runner.invoke(app, ["bcdi", "simulate", str(pat), "--size", "32", "--shape", "octahedron", "--peak", "1e5"])
    assert r.exit_code == 0, r.output
    counts = xr.open_zarr(pat, consolidated=False)["counts"].values
    out, png = tmp_path / "bh.zarr", tmp_path / "bh.png"
    r = runner.invoke(app, ["bcdi", "inpaint", str(pat), "--gap", "cross:16,15,4", "--method", "biharmonic",
                            "--out", str(out), "--plot", str(png)])
    assert r.exit_code == 0, r.output
    ds = xr.open_zarr(out, consolidated=False)
    mask = gaps.extend(gaps.cross_gap((32, 32), (16, 15), 4), 32)
    np.testing.assert_array_equal(ds["mask"].values, mask)
    filled = ds["inpainted"].values
    np.testing.assert_array_equal(filled[~mask], counts[~mask])  # bit-identical (float64 holds any count)
    assert (filled[mask] > 0).any() and png.stat().st_size > 10_000
    # with a (tiny, untrained) model and a mask file
    np.save(tmp_path / "mask.npy", mask[0])
    model = _tiny_model(tmp_path / "m.pt")
    r = runner.invoke(app, ["bcdi", "inpaint", str(pat), str(tmp_path / "mask.npy"), "--model", str(model),
                            "--out", str(tmp_path / "m.npy")])
    assert r.exit_code == 0, r.output
    got = np.load(tmp_path / "m.npy")
    np.testing.assert_array_equal(got[~mask], counts[~mask].astype(got.dtype))
    # the gap stored with a simulated pattern is used when none is given
    gapped = tmp_path / "g.zarr"
    r = runner.invoke(app, ["bcdi", "simulate", str(gapped), "--size", "32", "--shape", "cube", "--gap", "3"])
    assert r.exit_code == 0, r.output
    r = runner.invoke(app, ["bcdi", "inpaint", str(gapped), "--method", "zero", "--out", str(tmp_path / "z.npy")])
    assert r.exit_code == 0, r.output
    stored = xr.open_zarr(gapped, consolidated=False)
    z = np.load(tmp_path / "z.npy")
    assert (z[stored["mask"].values] == 0).all() and stored["mask"].values.any()
    # nothing is replaced without --overwrite
    before = (tmp_path / "m.npy").read_bytes()
    r = runner.invoke(app, ["bcdi", "inpaint", str(pat), "--gap", "line:2,3,3", "--method", "zero",
                            "--out", str(tmp_path / "m.npy")])
    assert r.exit_code != 0 and "exists" in r.output and (tmp_path / "m.npy").read_bytes() == before


def test_cli_inpaint_bad_input_is_named_and_writes_nothing(tmp_path):
    data = np.full((8, 20, 20), 5.0)
    data[2, 3, 4] = np.nan
    np.save(tmp_path / "scan.npy", data)
    out = tmp_path / "o.npy"
    r = runner.invoke(app, ["bcdi", "inpaint", str(tmp_path / "scan.npy"), "--gap", "line:2,5,3", "--method",
                            "zero", "--out", str(out)])
    assert r.exit_code != 0 and "scan.npy" in r.output and "non-finite" in r.output and not out.exists()
    np.save(tmp_path / "ok.npy", np.abs(np.nan_to_num(data)))
    np.save(tmp_path / "m.npy", np.zeros((20, 21), bool))
    r = runner.invoke(app, ["bcdi", "inpaint", str(tmp_path / "ok.npy"), str(tmp_path / "m.npy"), "--method",
                            "zero", "--out", str(out)])
    assert r.exit_code != 0 and "m.npy" in r.output and "does not match" in r.output and not out.exists()
    r = runner.invoke(app, ["bcdi", "inpaint", str(tmp_path / "ok.npy"), "--gap", "line:2,5,14", "--model",
                            str(_tiny_model(tmp_path / "t.pt")), "--out", str(out)])
    assert r.exit_code != 0 and "14 px wide" in r.output and not out.exists()
    r = runner.invoke(app, ["bcdi", "inpaint", str(tmp_path / "ok.npy"), "--gap", "diagonal:1,2,3", "--method",
                            "zero", "--out", str(out)])
    assert r.exit_code != 0 and "--gap" in r.output and not out.exists()


def test_cli_train_evaluate_and_report(tmp_path):
    import subprocess
    import sys

    import yaml

    job = {
        "train": {"out": str(tmp_path / "run"), "minutes": 1, "max_steps": 3, "batch_size": 2, "n_patterns": 2,
                  "n_val_patterns": 1, "val_patches": 2, "threads": 1, "patterns": {"size": 24},
                  "gaps": {"widths": [3, 4]},
                  "model": {"dims": 3, "widths": [4, 8], "dilations": [[2, 1]], "patch": 16, "margin": 2}},
        "evaluate": {"n_patterns": 1, "widths": [3], "threads": 1},
    }
    cfg = tmp_path / "job.yaml"
    cfg.write_text(yaml.safe_dump(job))
    r = runner.invoke(app, ["bcdi", "train-inpaint", str(cfg)])
    assert r.exit_code == 0, r.output
    assert (tmp_path / "run" / "model.pt").exists() and "wrote" in r.output
    res_dir = tmp_path / "results"
    js = res_dir / "bcdi_inpaint_3d.json"
    r = runner.invoke(app, ["bcdi", "evaluate-inpaint", str(cfg), "--json", str(js)])
    assert r.exit_code == 0, r.output
    res = json.loads(js.read_text())
    assert res["methods"] == ["zero", "biharmonic", "line", "run"] and res["records"]["run"]["steps"] == 3
    assert res["models"]["run"].endswith("model.pt")
    r = runner.invoke(app, ["bcdi", "evaluate-inpaint", str(cfg), "--json", str(js)])
    assert r.exit_code != 0 and "exists" in r.output
    report = Path(__file__).resolve().parents[2] / "benchmarks" / "bcdi_report.py"
    done = subprocess.run([sys.executable, str(report), "--results", str(res_dir)], capture_output=True, text=True,
                          check=False)
    assert done.returncode == 0, done.stderr
    md = (res_dir / "bcdi.md").read_text()
    assert "| 3 |" in md and "3D patch model" in md and (res_dir / "bcdi_accuracy.png").exists()


def test_shipped_model_is_the_default_and_matches_its_record(tmp_path):
    from hifft.bcdi.inpaint import DEFAULT_MODEL
    from hifft.bcdi.unet import load_model, n_parameters

    record = json.loads(DEFAULT_MODEL.with_suffix(".json").read_text())
    net = load_model(DEFAULT_MODEL)
    assert DEFAULT_MODEL.stat().st_size == record["file_bytes"] <= 10_000_000
    assert n_parameters(net.net) == record["parameters"] and net.patch == record["patch"] == 32
    pat = tmp_path / "p.zarr"
    r = runner.invoke(app, ["bcdi", "simulate", str(pat), "--size", "48", "--shape", "truncated_octahedron"])
    assert r.exit_code == 0, r.output
    out = tmp_path / "m.zarr"
    r = runner.invoke(app, ["bcdi", "inpaint", str(pat), "--gap", "cross:20,27,6", "--out", str(out)])
    assert r.exit_code == 0, r.output
    ds = xr.open_zarr(out, consolidated=False)
    counts = xr.open_zarr(pat, consolidated=False)["counts"].values
    mask = ds["mask"].values
    assert ds.attrs["model"] == str(DEFAULT_MODEL) and mask.sum() > 0
    np.testing.assert_array_equal(ds["inpainted"].values[~mask], counts[~mask])
    assert np.isfinite(ds["inpainted"].values).all() and (ds["inpainted"].values[mask] > 0).any()
