"""Training on a tiny GISAXS store: bits from bytes against the estimate, records, resuming, denoising route."""

from __future__ import annotations

import json

import numpy as np
import pytest

from hifft.config import ConfigError
from hifft.images import entropy as E
from hifft.images.bundle import load_bundle
from hifft.images.config import load
from hifft.images.data import load_images, poisson_intensity
from hifft.images.train import noisy_batch, train

from .conftest import codec_yaml


def _val(store, bundle):
    return load_images(store, "val", bundle.scale.size, bundle.scale.crop)


def test_the_shipped_job_file_validates():
    from pathlib import Path

    cfg = load(Path(__file__).resolve().parents[2] / "pipelines" / "images_codec.yaml")
    assert cfg.data.size == (256, 256) and cfg.data.crop == (0, 0)
    assert (cfg.model.kind, cfg.train.distortion, cfg.train.minutes) == ("mean_scale", "ms_ssim", 60)


def test_bits_written_agree_with_the_likelihood_estimate(trained, gisaxs_store):
    """Payload bits (bytes written minus the header) are within 64 bits + 3 % of Σ −log2 p.

    The slack: the range coder's final words (≤ 64 bits) and the quantised σ and μ.
    """
    b = load_bundle(trained[0])
    s = _val(gisaxs_store, b)
    x = E.model_input(b, s.intensity)
    frames = E.compress(b, x)
    est = E.estimate_bits(b, x)
    for f, e in zip(frames, est, strict=True):
        _, words, _ = E.read_frame(f)
        head = len(f) - 4 * len(words)
        assert head == len(E.header(b.name, b.version, (192, 192), len(words)))
        assert abs(8 * (len(f) - head) - e) <= 64 + 0.03 * e, (8 * len(f), head, e)
    # the record's bpp is measured from the bytes, header included
    rec = json.loads((trained[0].parent / "model.json").read_text())
    np.testing.assert_allclose(rec["val"]["bpp"], np.mean([8 * len(f) / 192**2 for f in frames]), rtol=1e-12)


def test_trained_codec_decodes_exactly_the_quantised_latents(trained, gisaxs_store):
    b = load_bundle(trained[0])
    s = _val(gisaxs_store, b)
    x = E.model_input(b, s.intensity)
    data = b"".join(E.compress_images(b, s.intensity))
    lat = E.analyse(b, x)
    for a, d in zip(lat, E.decode_latents(b, data), strict=True):
        np.testing.assert_array_equal(d["y"], a["y"])
        np.testing.assert_array_equal(d["z"], a["z"])
    dec = E.decompress_images(b, data)
    np.testing.assert_array_equal(dec, b.scale.inverse(E.synthesise(b, [v["y"] for v in lat])))
    assert dec.shape == (len(s), 192, 192) and dec.dtype == np.float32 and dec.min() >= 0


def test_training_writes_its_record(trained):
    path, lines = trained
    rec = json.loads((path.parent / "model.json").read_text())
    assert rec["steps"] == 12 and rec["seconds"] > 0
    assert len(rec["load_average_start"]) == 3 and len(rec["load_average_end"]) == 3
    assert rec["config"]["model"] == {"name": "tiny", "kind": "mean_scale", "n": 8, "m": 12, "mask_channel": False}
    assert rec["train_images"] == 3 and rec["val_images"] == 2
    assert set(rec["val"]) >= {"bpp", "bpp_estimated", "psnr_log", "ms_ssim", "max_abs_error_log10"}
    assert rec["model_version"] == load_bundle(path).version
    assert rec["history"][0]["step"] == 1
    # the first 4 steps (warm-up) minimise the MSE alone: loss = distortion, though the rate is not 0
    first = rec["history"][0]
    assert first["loss"] == pytest.approx(first["distortion"]) and first["bpp_estimated"] > 0
    assert "mse (warm-up)" in lines[1] and rec["config"]["train"]["warmup_steps"] == 4
    assert any(line.startswith("wrote ") for line in lines)


def test_a_rerun_resumes_and_another_configuration_starts_anew(gisaxs_store, tmp_path):
    log: list[str] = []
    train(load(codec_yaml(tmp_path, gisaxs_store, kind="factorized", steps=2, distortion="mse")), log=log.append)
    train(load(codec_yaml(tmp_path, gisaxs_store, kind="factorized", steps=3, distortion="mse")), log=log.append)
    assert "resumed at step 2" in " ".join(log)
    rec = json.loads((tmp_path / "run" / "model.json").read_text())
    assert rec["steps"] == 3
    log.clear()
    path = train(load(codec_yaml(tmp_path, gisaxs_store, kind="factorized", steps=1, distortion="ms_ssim")),
                 log=log.append)
    assert "starting anew" in " ".join(log)
    assert json.loads((path.parent / "model.json").read_text())["steps"] == 1


def test_denoising_route_trains_a_mask_channel_codec(gisaxs_store, tmp_path):
    aug = "{flux: [1.0e+8, 1.0e+9], gaps: random, module: [60, 80], gap: [5, 4], dead_fraction: 0.001}"
    path = train(load(codec_yaml(tmp_path, gisaxs_store, kind="hyperprior", mask="true", steps=2,
                                 distortion="mse", augment=aug)), log=lambda s: None)
    b = load_bundle(path)
    assert b.mask_channel
    rec = json.loads((path.parent / "model.json").read_text())
    assert rec["val"]["rmse_missing"] > 0


def test_noisy_batches_keep_the_clean_target_and_mask_the_gaps(gisaxs_store, tmp_path):
    cfg = load(codec_yaml(tmp_path, gisaxs_store, mask="true",
                          augment="{flux: [1.0e+8, 1.0e+8], gaps: dataset}"))
    s = load_images(gisaxs_store, "train", (192, 192), (2, 4))
    from hifft.images.preprocess import LogScale

    sc = LogScale.fit(s.intensity, size=(192, 192), crop=(2, 4))
    x, target, mask = noisy_batch(s, np.array([0, 2]), sc, cfg.train.augment, True, np.random.default_rng(0))
    np.testing.assert_array_equal(target[:, 0], sc.normalise(s.intensity[[0, 2]]))
    np.testing.assert_array_equal(mask, s.mask[[0, 2]])
    assert not mask.all()  # the crop holds module gaps
    np.testing.assert_array_equal(x[:, 1], mask.astype(np.float32))
    assert np.all(x[:, 0][~mask] == 0)
    assert not np.allclose(x[:, 0][mask], target[:, 0][mask])  # noisy


def test_poisson_intensities_have_the_mean_and_variance_of_counts(rng):
    i = np.full((1, 4, 4), 2.0)
    per_photon = np.full((4, 4), 0.5)
    draws = np.stack([poisson_intensity(i, per_photon, np.array([10.0]), rng) for _ in range(4000)])
    k = 0.5 * 10.0  # mean counts = I·k = 10, intensity variance = I/k = 0.4
    assert draws.mean() == pytest.approx(2.0, rel=0.01)
    assert draws.var() == pytest.approx(2.0 / k, rel=0.05)
    assert np.allclose(draws * k, np.round(draws * k), atol=1e-4)  # whole photons


@pytest.mark.parametrize(("edit", "match"), [
    ({"size": "[200, 192]"}, r"data.size \[200, 192\]: a mean_scale codec needs multiples of 64"),
    ({"augment": "{gaps: dataset}"}, "gaps or dead pixels need model.mask_channel: true"),
    ({"augment": "{flux: [0, 1]}"}, "train.augment.flux"),
])
def test_bad_job_files_are_refused_naming_the_field(gisaxs_store, tmp_path, edit, match):
    p = codec_yaml(tmp_path, gisaxs_store, augment=edit.get("augment", "{}"))
    if "size" in edit:
        p.write_text(p.read_text().replace("size: [192, 192]", f"size: {edit['size']}"))
    with pytest.raises(ConfigError, match=match) as err:
        load(p)
    assert str(p) in str(err.value)
