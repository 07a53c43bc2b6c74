"""``hifft diffraction dataset`` through the top-level CLI, and the shipped job file."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from hifft.cli import app
from hifft.diffraction.config import load

runner = CliRunner()


def test_default_job_file_loads():
    cfg = load(Path(__file__).parents[2] / "pipelines" / "diffraction_default.yaml")
    assert cfg.detector.shape == 128
    assert cfg.dataset.n_samples == 40000


def test_dataset_command_writes_a_store(tmp_path):
    job = tmp_path / "job.yaml"
    job.write_text(
        "detector: {shape: 32}\n"
        "grid: {real_oversampling: 3.0}\n"
        "droplets: {radius: [100 nm, 200 nm], pair_radius: [100 nm, 150 nm], pair_axial: [0, 600 nm],"
        " pair_transverse: [0, 600 nm]}\n"
        "dataset: {n_samples: 4, chunk_size: 2, seed: 1}\n"
    )
    r = runner.invoke(app, ["diffraction", "dataset", str(job), str(tmp_path / "d.zarr")])
    assert r.exit_code == 0, r.output
    assert "4 images" in r.output and "label counts" in r.output
