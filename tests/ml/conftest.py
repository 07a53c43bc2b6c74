"""Fixtures for the ML tests: a tiny, fast dataset config and (session-wide) store and model."""

from __future__ import annotations

import pytest

from hifft.ml.config import DatasetConfig, MLConfig

#: A small job: coarse polydispersity integrals and a 64-point grid keep
#: sasmodels and the network fast; priors as in the default job.
TINY_YAML = """
dataset:
  n_samples: 1200
  chunk_size: 300
  seed: 7
  q: {min: 0.003, max: 0.5, n: 64}
  shapes:
    sphere: {pd_n: 9}
    sphere@hardsphere: {pd_n: 9}
    core_shell_sphere: {pd_n: 9}
    cylinder: {pd_n: 3}
    ellipsoid: {pd_n: 3}
train:
  dataset: DATASET
  out: OUT
  seed: 0
  ensemble: 2
  epochs: 6
  batch_size: 64
  threads: 1
  lr: 0.003
  model: {widths: [16, 24, 32], hidden: 64, kernel_size: 5}
evaluate:
  baseline_per_class: 1
  baseline_scan: 8
  baseline_starts: 1
"""


def tiny_yaml(tmp_path, dataset="ds.zarr", out="run", **subs: str) -> str:
    text = TINY_YAML.replace("DATASET", str(tmp_path / dataset)).replace("OUT", str(tmp_path / out))
    for k, v in subs.items():
        text = text.replace(k, v)
    return text


@pytest.fixture(scope="session")
def tiny_cfg(tmp_path_factory) -> MLConfig:
    import yaml

    tmp = tmp_path_factory.mktemp("mlcfg")
    return MLConfig.model_validate(yaml.safe_load(tiny_yaml(tmp)))


@pytest.fixture(scope="session")
def tiny_store(tmp_path_factory, client, tiny_cfg):
    """The tiny dataset, written once by the Dask job."""
    from hifft.ml.dataset import make_dataset

    path = tmp_path_factory.mktemp("mlds") / "tiny.zarr"
    make_dataset(tiny_cfg.dataset, path, client=client)
    return path


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory, tiny_store, tiny_cfg):
    """A 2-member ensemble trained for a few seconds on the tiny store; (path, log lines)."""
    pytest.importorskip("torch", reason="training needs torch (the 'ml' extra)")
    from hifft.ml.train import train

    out = tmp_path_factory.mktemp("mlrun")
    tc = tiny_cfg.train.model_copy(update={"dataset": tiny_store, "out": out, "threads": 1})
    lines: list[str] = []
    path = train(tc, log=lines.append)
    return path, lines


def small_dataset_config(**kw) -> DatasetConfig:
    import yaml

    d = yaml.safe_load(TINY_YAML)["dataset"]
    d.update(kw)
    return DatasetConfig.model_validate(d)
