"""End to end at CI size: Scene → volume → FFT → shells → sasmodels, and the CLI."""

from __future__ import annotations

import numpy as np
import pytest

from hifft.compare import compare_scene
from hifft.compare.validate import default_cases, run_case


@pytest.fixture(scope="module")
def single():
    return run_case(default_cases()["sphere_single"], 96, 2.0)


def test_single_sphere_is_exact_to_the_voxel(single):
    """One sphere, no speckle: partial-volume voxels + sinc² match sasmodels to <1 % at q·d ≤ 1."""
    a = single.analysis
    assert a.chi2 < 0.1
    assert abs(a.i0_error) < 2e-3
    assert single.comparison.max_abs_rel < 0.01
    assert a.sv_ratio == pytest.approx(1.0, abs=0.01)
    assert a.invariant_ratio == pytest.approx(1.0, abs=0.02)
    # past q·d ≈ 2 the aliases and the voxel staircase take over
    assert a.qd_agreement_end is not None and 1.5 < a.qd_agreement_end < np.pi
    assert single.verdict == "pass"


def test_compare_scene_reads_the_scene_from_attrs(single):
    cmp = compare_scene(single.dataset)  # no scene passed: taken from ds.attrs["source"]
    assert cmp.model_name == "sphere" and cmp.fit_scale is False
    assert cmp.chi2 == pytest.approx(single.analysis.chi2, rel=1e-6)
    assert cmp.scale == pytest.approx(single.volume_fraction)


def test_ci_sphere_ensemble():
    """40·(128/256)³ = 5 random spheres at φ = 1 %, N = 128: the CI threshold χ² ≤ 4."""
    r = run_case(default_cases()["sphere"], 128, 2.0)
    assert r.n_particles == 5
    assert r.analysis.chi2 <= r.thresholds["chi2"] == 4.0
    assert r.analysis.chi2_point > 5 * r.analysis.chi2
    assert abs(r.analysis.i0_error) <= max(0.05, 2 * r.analysis.i0_error_sigma)
    # against the exact scattering of the 5 spheres actually placed, speckle included
    assert abs(r.analysis.i0_error_realized) < 1e-3 and r.analysis.max_rel_realized < 2e-3
    assert r.passed


def test_cli_validate(tmp_path):
    import typer
    from typer.testing import CliRunner

    from hifft.compare.cli import register

    app = typer.Typer()  # only this module's command: other subsystems' CLIs are tested by them
    register(app)

    @app.command()
    def _other() -> None:  # a second command keeps typer from collapsing the group
        pass

    runner = CliRunner()
    res = runner.invoke(app, ["validate", "--list"])
    assert res.exit_code == 0 and "hardsphere_0.30" in res.output
    res = runner.invoke(
        app,
        ["validate", "--n", "64", "--case", "sphere_single", "--out", str(tmp_path), "--tag", "t"],
    )
    assert res.exit_code == 0, res.output
    md = (tmp_path / "report_t.md").read_text()
    assert "| sphere_single | `sphere` | 64 |" in md
    assert (tmp_path / "results_t.json").exists() and (
        tmp_path / "plots" / "sphere_single_N64.png"
    ).exists()
