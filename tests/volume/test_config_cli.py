"""Scene YAML models and the ``hifft build`` command."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

import hifft
from hifft import shapes as S
from hifft.config import ConfigError, load_config, validate
from hifft.volume.config import BuildSpec, GridSpec, SceneSpec, scene_from_spec, source_from_spec

ROOT = Path(__file__).resolve().parents[2]

YAML = """
grid: {shape: [32, 40, 48], spacing: "0.2 nm"}
scene:
  sld_solvent: "1e10 cm^-2"
  seed: 4
  components:
    - shape: sphere
      radius: "1 nm"
      sld: 3.0
      volume_fraction: 0.02
      polydispersity: 0.1
      distribution: lognormal
      orientation: uniform
      placement: hard
    - {shape: core_shell_cylinder, radius: 4, thickness: 0, length: "3 nm", sld_core: 1,
       sld_shell: 2, count: 3, orientation: {theta: 90, phi_pd: 5},
       placement: {kind: random, boundary: inside}}
"""


def test_yaml_scene_equals_python_scene(tmp_path):
    (tmp_path / "s.yaml").write_text(YAML)
    spec = load_config(tmp_path / "s.yaml", BuildSpec)
    scene = source_from_spec(spec)
    ref = hifft.Scene(hifft.Grid(shape=(32, 40, 48), spacing=2.0), sld_solvent=1.0, seed=4)
    ref.add(
        S.Sphere(radius=10.0, sld=3.0),
        volume_fraction=0.02,
        polydispersity=0.1,
        distribution="lognormal",
        placement="hard",
    )
    ref.add(
        S.CoreShellCylinder(radius=4, thickness=0, length=30, sld_core=1, sld_shell=2),
        count=3,
        orientation={"theta": 90, "phi_pd": 5},
        placement="random",
        boundary="inside",
    )
    assert scene.to_dict() == ref.to_dict()
    assert scene_from_spec(spec.grid, spec.scene).to_dict() == ref.to_dict()


@pytest.mark.parametrize(
    ("component", "field"),
    [
        ({"shape": "sphere", "radius": -5, "sld": 1, "count": 1}, "components.0.sphere.radius"),
        (
            {"shape": "sphere", "radius": "-2 nm", "sld": 1, "count": 1},
            "components.0.sphere.radius",
        ),
        (
            {"shape": "cylinder", "radius": 5, "length": 0, "sld": 1, "count": 1},
            "components.0.cylinder.length",
        ),
        (
            {"shape": "sphere", "radius": 5, "length": 3, "sld": 1, "count": 1},
            "components.0.sphere.length",
        ),
        ({"shape": "sphere", "radius": 5, "count": 1}, "components.0.sphere.sld"),
        ({"shape": "sphere", "radius": 5, "sld": 1}, "components.0.sphere"),
        (
            {"shape": "sphere", "radius": 5, "sld": 1, "count": 1, "placement": "diamond"},
            "placement",
        ),
        (
            {"shape": "sphere", "radius": 5, "sld": 1, "count": 1, "distribution": "weibull"},
            "distribution",
        ),
        ({"shape": "torus", "radius": 5, "sld": 1, "count": 1}, "components.0"),
        (
            {
                "shape": "core_shell_sphere",
                "radius": 5,
                "thickness": -1,
                "sld_core": 1,
                "sld_shell": 2,
                "count": 1,
            },
            "components.0.core_shell_sphere.thickness",
        ),
    ],
)
def test_bad_components_name_the_field(component, field):
    with pytest.raises(ConfigError) as exc:
        validate(SceneSpec, {"components": [component]}, "scene.yaml")
    assert field in str(exc.value) and "scene.yaml" in str(exc.value)


def test_grid_spec_and_unknown_keys():
    assert validate(GridSpec, {"shape": 64, "spacing": "1 nm"}).to_grid() == hifft.Grid(64, 10.0)
    for bad, field in [
        ({"shape": 64, "spacing": -1}, "spacing"),
        ({"shape": [2, 2], "spacing": 1}, "shape"),
        ({"shape": 4, "spacing": 1, "origin": 0}, "origin"),
    ]:
        with pytest.raises(ConfigError, match=field):
            validate(GridSpec, bad)
    with pytest.raises(ConfigError, match="exactly one of 'scene'"):
        validate(BuildSpec, {"grid": {"shape": 4, "spacing": 1}})


def test_source_spec_tiles_and_upsamples(tmp_path, rng):
    np.save(tmp_path / "cell.npy", rng.normal(size=(4, 5, 6)))
    spec = validate(
        BuildSpec,
        {
            "source": {
                "path": str(tmp_path / "cell.npy"),
                "spacing": 2.0,
                "tile": [2, 1, 1],
                "upsample": [16, 10, 12],
            }
        },
    )
    vol = source_from_spec(spec)
    assert vol.shape == (16, 10, 12) and vol.grid.box == pytest.approx((16.0, 10.0, 12.0))


@pytest.mark.parametrize("name", ["scene_spheres.yaml", "scene_mixture.yaml", "scene_fcc.yaml"])
def test_example_pipelines_validate_and_plan(name):
    spec = load_config(ROOT / "pipelines" / name, BuildSpec, environ={})
    scene = source_from_spec(spec)
    summary = scene.plan().summary
    assert len(summary) == len(scene.components)
    for comp, got in zip(scene.components, summary, strict=True):  # what each component asked for
        want = comp.to_dict()
        if want.get("count") is not None:
            assert got["count"] == want["count"]
        else:  # lattices round the cell count, so within 10 %
            assert got["volume_fraction"] == pytest.approx(want["volume_fraction"], rel=0.1)


def test_cli_build(tmp_path):
    # our command on its own Typer app (hifft.cli registers it the same way via register())
    import typer

    from hifft.volume.cli import register

    app = typer.Typer()
    register(app)

    @app.command()
    def _other() -> None:  # a second command keeps "build" a named subcommand, as in hifft.cli
        pass

    (tmp_path / "s.yaml").write_text(
        "grid: {shape: 24, spacing: 2}\n"
        "scene: {seed: 1, components: [{shape: sphere, radius: 6, sld: 1, count: 4}]}\n"
    )
    runner = CliRunner()
    out = tmp_path / "rho.zarr"
    res = runner.invoke(
        app, ["build", str(tmp_path / "s.yaml"), str(out), "--workers", "1", "--no-progress"]
    )
    assert res.exit_code == 0, res.output
    assert "4 particles" in res.output
    vol = hifft.open_volume(out)
    assert vol.to_numpy().sum() * 8 == pytest.approx(4 * 4 / 3 * np.pi * 216, rel=1e-3)
    (tmp_path / "s.yaml").write_text(
        (tmp_path / "s.yaml").read_text().replace("seed: 1", "seed: 2")
    )
    res = runner.invoke(
        app, ["build", str(tmp_path / "s.yaml"), str(out), "--workers", "1", "--no-progress"]
    )
    assert res.exit_code != 0 and "different hifft job" in str(res.exception)
