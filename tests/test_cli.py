"""The installed ``hifft`` command: help, info, plan, fft, and errors reported cleanly (exit code 2)."""

from __future__ import annotations

import json
import os
import platform
import re
import subprocess
import sys
from importlib.metadata import version

import numpy as np
import pytest
import typer
import zarr
from typer.testing import CliRunner

import hifft.fft.cli as fft_cli
from hifft.cli import app
from hifft.fft.plan import plan_fft

GIB = 2**30


def hifft(*args: str, cwd=None) -> subprocess.CompletedProcess:
    env = {**os.environ, "COLUMNS": "200"}  # no wrapping of rich tables
    return subprocess.run([sys.executable, "-m", "hifft.cli", *args], capture_output=True, text=True,
                          timeout=300, env=env, cwd=cwd)


def table_row(text: str, key: str) -> str:
    """The value cell of the rich table row whose first cell is ``key``."""
    m = re.search(rf"^\W*{re.escape(key)}\s*│\s*(.*?)\s*│", text, re.MULTILINE)
    assert m, f"no row {key!r} in:\n{text}"
    return m.group(1)


def test_every_subsystem_registers_its_commands():
    r = hifft("--help")
    assert r.returncode == 0, r.stderr
    commands = set(typer.main.get_command(app).commands)
    assert commands >= {"info", "plan", "fft", "build", "run", "validate", "ml"}
    for cmd in commands:  # each is listed as a row of the help's command table
        assert re.search(rf"^\W*{cmd}\s", r.stdout, re.MULTILINE), cmd


def test_info_reports_versions_backends_and_cpus():
    from hifft.cluster import default_workers
    from hifft.fft.backends import NAMES, auto_name

    r = hifft("info")
    assert r.returncode == 0, r.stderr
    assert table_row(r.stdout, "python") == platform.python_version()
    assert table_row(r.stdout, "numpy") == version("numpy")
    assert table_row(r.stdout, "auto backend") == auto_name()
    assert table_row(r.stdout, "CPUs") == str(default_workers())
    listed = [b.split(" ")[0] for b in table_row(r.stdout, "FFT backends").split(", ")]
    assert listed == list(NAMES)
    assert re.fullmatch(r"\d+\.\d GiB of \d+\.\d GiB", table_row(r.stdout, "free disk (cwd)"))


def test_plan_prints_the_planners_numbers():
    r = hifft("plan", "--shape", "4096", "--workers", "64", "--memory", "16GiB")
    assert r.returncode == 0, r.stderr
    expected = plan_fft((4096, 4096, 4096), workers=64, memory_budget=16 * GIB, dtype="float32", spacing=1.0)
    assert r.stdout.startswith(expected.summary() + "\n")
    # independent of the planner: 4096³ float32 voxels are 256 GiB read once in pass 1
    assert "pass1 (input) 256.00 GiB" in r.stdout
    assert f"pass 1: {expected.n_slabs} tasks" in r.stdout and expected.n_slabs * expected.slab == 4096


def test_plan_with_shipped_rates_prints_projection_and_origin(tmp_path, monkeypatch):
    rates = {"rates": {"pass1": 50e6, "pass2": 25e6}, "date": "2026-01-02 03:04:05",
             "machine": {"cpus": 2, "load": [1.5, 1.25, 1.0]}, "from": "hifft-cluster N=1024"}
    f = tmp_path / "rates.json"
    f.write_text(json.dumps(rates))
    monkeypatch.setattr(fft_cli, "RATES_FILE", f)
    r = CliRunner().invoke(app, ["plan", "--shape", "512,256,256", "--workers", "4", "--memory", "1GiB"])
    assert r.exit_code == 0, r.output
    p = plan_fft((512, 256, 256), workers=4, memory_budget=GIB, spacing=1.0)
    t1 = 512 * 256 * 256 * 4 / (50e6 * 4)  # input bytes over 4 workers' pass-1 rate
    t2 = p.mid_bytes / (25e6 * 4)
    assert f"pass 1 {t1:.0f} s + pass 2 {t2:.0f} s = {t1 + t2:.0f} s on 4 workers" in r.output
    assert (f"rates: {f}, measured 2026-01-02 03:04:05, 2 CPUs, load average 1.5/1.2/1.0, "
            "from hifft-cluster N=1024") in r.output


def test_plan_without_rates_says_so(tmp_path, monkeypatch):
    monkeypatch.setattr(fft_cli, "RATES_FILE", tmp_path / "absent.json")
    r = CliRunner().invoke(app, ["plan", "--shape", "64"])
    assert r.exit_code == 0, r.output
    assert r.output.rstrip().splitlines()[-1].startswith("no time projection: no measured rates shipped")


def test_malformed_rates_file_is_an_error_naming_it(tmp_path):
    f = tmp_path / "rates.json"
    f.write_text(json.dumps({"rates": {"pass1": 1e6}}))
    with pytest.raises(ValueError, match=re.escape(str(f))):
        fft_cli.load_rates(f)


def test_plan_rejects_a_bad_shape():
    r = CliRunner().invoke(app, ["plan", "--shape", "64,64"])
    assert r.exit_code == 2
    assert "expected 1 or 3 sizes, got 2" in r.output


def _volume(path, shape=(8, 6, 10)):
    x = np.random.default_rng(3).random(shape).astype(np.float32)
    z = zarr.create_array(str(path), shape=shape, chunks=(4, *shape[1:]), dtype="float32")
    z[:] = x
    return x


def _assert_close(got, want):
    """complex64 tolerance of DESIGN.md: rtol 1e-5 norm-wise."""
    assert got.shape == want.shape
    assert np.linalg.norm(got - want) <= 1e-5 * np.linalg.norm(want)


def test_fft_writes_the_spectrum_and_a_rerun_resumes(tmp_path):
    x = _volume(tmp_path / "in.zarr")
    r = hifft("fft", "in.zarr", "out.zarr", "--backend", "numpy", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("wrote out.zarr: (8, 6, 6) complex64 (numpy)")
    _assert_close(zarr.open_array(str(tmp_path / "out.zarr"), mode="r")[:], np.fft.rfftn(x))
    again = hifft("fft", "in.zarr", "out.zarr", "--backend", "numpy", cwd=tmp_path)
    assert again.returncode == 0, again.stderr


def test_fft_full_spectrum(tmp_path):
    x = _volume(tmp_path / "in.zarr")
    out = tmp_path / "full.zarr"
    r = CliRunner().invoke(app, ["fft", str(tmp_path / "in.zarr"), str(out), "--full", "--backend", "numpy"])
    assert r.exit_code == 0, r.output
    _assert_close(zarr.open_array(str(out), mode="r")[:], np.fft.fftn(x))


def test_fft_of_a_missing_input_exits_2_naming_it(tmp_path):
    r = hifft("fft", "nope.zarr", "out.zarr", cwd=tmp_path)
    assert r.returncode == 2
    assert "nope.zarr: no such input" in r.stdout + r.stderr
    assert not (tmp_path / "out.zarr").exists()


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("name: x\ngrid: {shape: 32, spacing: 2}\nscene: {components: []}\noutput: {dir: o}\n", "scene.components"),
        ("name: x\nname: y\n", "duplicate key 'name'"),
        ("name: x\ngrid: {shape: 32, spacing: '2 s'}\nscene: {components: [{shape: sphere, radius: 5, sld: 1, "
         "count: 1}]}\noutput: {dir: o}\n", "grid.spacing"),
        ("name: x\ngrid: {shape: 32, spacing: 2}\nscene: {components: [{shape: sphere, radius: -5, sld: 1, "
         "count: 1}]}\noutput: {dir: o}\n", "radius"),
    ],
)
def test_run_rejects_bad_config_with_field_named(tmp_path, text, match):
    p = tmp_path / "job.yaml"
    p.write_text(text)
    r = hifft("run", str(p), cwd=tmp_path)
    assert r.returncode == 2
    assert str(p) in r.stdout + r.stderr and match in r.stdout + r.stderr
    assert not (tmp_path / "o").exists()  # nothing was built
