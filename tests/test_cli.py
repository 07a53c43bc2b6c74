"""The installed ``hifft`` command: help, info, plan, and a config error reported cleanly."""

from __future__ import annotations

import subprocess
import sys

import pytest


def hifft(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "hifft.cli", *args], capture_output=True, text=True, timeout=300)


def test_help_lists_commands():
    r = hifft("--help")
    assert r.returncode == 0, r.stderr
    for cmd in ("info", "plan", "fft", "build", "run", "validate", "ml"):
        assert cmd in r.stdout


def test_info_reports_backends_and_disk():
    r = hifft("info")
    assert r.returncode == 0, r.stderr
    assert "auto backend" in r.stdout and "free disk" in r.stdout and "numpy" in r.stdout


def test_plan_for_a_cluster():
    r = hifft("plan", "--shape", "4096", "--workers", "64", "--memory", "16GiB")
    assert r.returncode == 0, r.stderr
    assert "pass 1: 128 tasks" in r.stdout and "disk needed" in r.stdout


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
    r = hifft("run", str(p))
    assert r.returncode == 2
    assert str(p) in r.stdout + r.stderr and match in r.stdout + r.stderr
