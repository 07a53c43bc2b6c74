"""The shipped GISAXS codec: a fresh image of its detector window, simulated here, through the CLI defaults."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from hifft.cli import app
from hifft.images.cli import DEFAULT_MODEL

ROOT = Path(__file__).resolve().parents[2]


def test_shipped_codec_records_its_training_and_stays_small():
    import json

    rec = json.loads(DEFAULT_MODEL.with_suffix(".json").read_text())
    assert DEFAULT_MODEL.stat().st_size <= 10e6
    assert rec["config"]["model"]["kind"] == "mean_scale" and rec["seconds"] <= 3600
    assert rec["val"]["bpp"] > 0 and 0 < rec["val"]["ms_ssim"] <= 1


def test_shipped_codec_compresses_a_new_image_with_no_model_option(tmp_path):
    from hifft.gisaxs import Islands, Sample, contrast, islands_image
    from hifft.gisaxs.config import load
    from hifft.images.bundle import load_bundle
    from hifft.images.metrics import ms_ssim

    cfg = load(ROOT / "pipelines" / "gisaxs_codec.yaml")
    geo = cfg.geometry(1)
    sample = Sample.create(geo.beam.wavelength, cfg.sample.substrate, cfg.sample.ambient)
    isl = Islands(radius=35.0, sigma_r=0.2, distance=100.0, omega_d=0.15)  # not a dataset draw
    img = islands_image(isl, geo, sample, contrast(cfg.sample.particle, sample, geo.beam.wavelength),
                        nodes=cfg.islands.nodes).astype(np.float32)
    np.save(tmp_path / "in.npy", img)
    r = CliRunner().invoke(app, ["images", "compress", str(tmp_path / "in.npy"), str(tmp_path / "x.hfc")])
    assert r.exit_code == 0, r.output
    n_bytes = (tmp_path / "x.hfc").stat().st_size
    assert 8 * n_bytes / img.size < 0.1  # the shipped codec runs at ~0.02 bpp on its validation images
    r = CliRunner().invoke(app, ["images", "decompress", str(tmp_path / "x.hfc"), str(tmp_path / "out.npy")])
    assert r.exit_code == 0, r.output
    dec = np.load(tmp_path / "out.npy")[0]
    scale = load_bundle(DEFAULT_MODEL).scale
    assert ms_ssim(scale.normalise(img)[None], scale.normalise(dec)[None])[0] > 0.98
    # the Yoneda row's intensities survive to within a few per cent at the interference peak
    row = int(np.argmax(img[:, 20:].sum(axis=1)))
    peak = 20 + int(np.argmax(img[row, 20:]))
    assert dec[row, peak] == pytest.approx(img[row, peak], rel=0.1)
