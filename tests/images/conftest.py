"""Fixtures for the image-codec tests: a tiny GISAXS store and a codec trained on it for seconds."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

#: 8 Born images of 196 × 200 pixels (the codecs crop 192 × 192 at (2, 4)); seed 2 draws
#: 3 train, 2 val and 3 test images; small module gaps so every crop holds some.
GISAXS_YAML = """
beam: {wavelength: 0.096 nm, alpha_i: 0.4}
detector: {alpha_f: [0, 4], two_theta_f: [0, 4], shape: [196, 200]}
islands: {radius: [2 nm, 4 nm], sigma_r: [0.1, 0.3], distance: [9 nm, 11 nm], omega_d: [0.1, 0.3], nodes: 5}
dataset:
  n_samples: 8
  chunk_size: 4
  seed: 2
  approximation: born
  noise: {flux: [1.0e+8, 1.0e+9], module: [60, 80], gap: [5, 4], gap_offset: [30, 40]}
  split: {train: 0.5, val: 0.25, test: 0.25}
"""

CODEC_YAML = """
data: {{dataset: {dataset}, crop: [2, 4], size: [192, 192]}}
model: {{name: tiny, kind: {kind}, n: 8, m: 12, mask_channel: {mask}}}
train:
  out: {out}
  minutes: 1
  max_steps: {steps}
  batch_size: 2
  distortion: {distortion}
  lmbda: 10
  lr: 0.003
  threads: 1
  warmup_steps: 4
  augment: {augment}
"""


def codec_yaml(tmp_path, dataset, *, name="job.yaml", out="run", kind="mean_scale", mask="false", steps=12,
               distortion="ms_ssim", augment="{}"):
    p = tmp_path / name
    p.write_text(CODEC_YAML.format(dataset=dataset, kind=kind, mask=mask, out=tmp_path / out, steps=steps,
                                   distortion=distortion, augment=augment))
    return p


@pytest.fixture(autouse=True)
def _one_thread():
    """One torch thread: on a shared 2-core machine more threads spin (30× slower steps measured)."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


@pytest.fixture(scope="session")
def gisaxs_store(tmp_path_factory):
    from hifft.gisaxs.config import load
    from hifft.gisaxs.dataset import make_dataset

    d = tmp_path_factory.mktemp("gisaxs")
    (d / "g.yaml").write_text(GISAXS_YAML)
    return make_dataset(load(d / "g.yaml"), d / "g.zarr")


@pytest.fixture(scope="session")
def trained(gisaxs_store, tmp_path_factory):
    """(model path, log lines) of a mean–scale codec trained for 12 steps (a few seconds)."""
    from hifft.images.config import load
    from hifft.images.train import train

    torch.set_num_threads(1)
    d = tmp_path_factory.mktemp("codec")
    lines: list[str] = []
    path = train(load(codec_yaml(d, gisaxs_store)), log=lines.append)
    return path, lines
