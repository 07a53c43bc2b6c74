"""The resumable image dataset job and configuration errors."""

from __future__ import annotations

import numpy as np
import pytest

from hifft.config import ConfigError, validate
from hifft.diffraction import labels as L
from hifft.diffraction.config import DiffractionConfig, load
from hifft.diffraction.dataset import PARAMS, generate_arrays, make_dataset, open_dataset
from hifft.store import StoreError


def tiny(**dataset) -> DiffractionConfig:
    return DiffractionConfig.model_validate({
        "detector": {"shape": 32},
        "grid": {"real_oversampling": 3.0},
        "droplets": {"radius": ["100 nm", "200 nm"], "pair_radius": ["100 nm", "150 nm"],
                     "pair_axial": [0, "600 nm"], "pair_transverse": [0, "600 nm"]},
        "dataset": {"n_samples": 6, "chunk_size": 3, "seed": 5, "store_clean": True, **dataset},
    })


def test_dataset_job_writes_and_resumes(tmp_path):
    cfg = tiny()
    out = tmp_path / "d.zarr"
    make_dataset(cfg, out, progress=False, max_chunks=1)
    with pytest.raises(StoreError, match="not finished"):
        open_dataset(out)
    part = open_dataset(out, allow_incomplete=True)
    first = generate_arrays(cfg, 0)
    np.testing.assert_array_equal(part["image"].values[:3], first["image"])
    make_dataset(cfg, out, progress=False)  # resumes at chunk 1
    ds = open_dataset(out)
    assert ds["image"].shape == (6, 32, 32) and ds["image"].dtype == np.float32
    assert list(ds["label"].values) == list(L.LABELS)
    np.testing.assert_array_equal(ds["image"].values[3:], generate_arrays(cfg, 1)["image"])
    np.testing.assert_array_equal(ds["labels"].values[:3], first["labels"])
    assert L.count_violations(ds["labels"].values)["images"] == 0
    # the detector coordinates are stored with their values (they once read back as NaN)
    from hifft.diffraction.patterns import make_detector, two_theta
    np.testing.assert_allclose(ds["two_theta"].values, two_theta(make_detector(cfg.detector)))
    assert np.isfinite(ds["phi"].values).all()
    hole = ds["two_theta"].values < ds["hole_radius"].values[:, None, None]
    assert hole.any()
    assert (ds["image"].values[hole] == 0).all()
    assert (ds["image"].values <= ds["saturation_level"].values[:, None, None]).all()
    assert set(PARAMS) <= set(ds.data_vars)
    assert np.isfinite(ds["energy"].values).all() and (ds["energy"].values >= 19).all()
    assert (ds["clean"].values >= 0).all()
    # the finished store is left as it is; another job may not take it over
    make_dataset(cfg, out, progress=False)
    with pytest.raises(StoreError):
        make_dataset(tiny(seed=6), out, progress=False)


def test_config_errors_name_the_field(tmp_path):
    with pytest.raises(ConfigError, match=r"(?s)field 'rules'.*unknown label 'sphere'"):
        validate(DiffractionConfig, {"rules": {"sphere": {"max_aspect": 1.2}}})
    with pytest.raises(ConfigError, match=r"rules.*label 'empty' has no thresholds"):
        validate(DiffractionConfig, {"rules": {"empty": {}}})
    with pytest.raises(ConfigError, match=r"droplets.families.*unknown family 'torus'"):
        validate(DiffractionConfig, {"droplets": {"families": {"torus": 1.0}}})
    with pytest.raises(ConfigError, match=r"beam.energy.low.*photon energy"):
        validate(DiffractionConfig, {"beam": {"energy": ["lots", 30]}})
    with pytest.raises(ConfigError, match=r"droplets: family '\w+' reaches .* µm across the beam"):
        validate(DiffractionConfig, {"droplets": {"radius": ["100 nm", "2 um"]}})
    with pytest.raises(ConfigError, match=r"detector.shape"):
        validate(DiffractionConfig, {"detector": {"shape": 4}})
    cfg = validate(DiffractionConfig, {"beam": {"energy": ["0.019 keV", "35 eV"]}})
    assert cfg.beam.energy.low == pytest.approx(19.0)
    f = tmp_path / "job.yaml"
    f.write_text("rules:\n  round:\n    max_aspect: 1.2\n  circles:\n    max_aspect: 1.3\n")
    with pytest.raises(ConfigError, match=r"(?s)job.yaml.*field 'rules'.*unknown label 'circles'"):
        load(f)
