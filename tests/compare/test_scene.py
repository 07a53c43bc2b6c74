"""compare_scene: the Scene → sasmodels mapping, against closed forms and sasmodels itself."""

from __future__ import annotations

import numpy as np
import pytest

import hifft
from hifft.compare import sasmodels_ as sm
from hifft.compare.scene import scene_to_sasmodels
from hifft.volume import shapes


def _scene(sld_solvent=0.0, seed=3, n=64):
    return hifft.Scene(hifft.Grid(n, 2.0), sld_solvent=sld_solvent, seed=seed)


def test_sphere_absolute_scale_and_solvent():
    sc = _scene(sld_solvent=0.7)
    sc.add(shapes.Sphere(radius=12.0, sld=2.2), volume_fraction=0.01)
    model, pars, info = scene_to_sasmodels(sc)
    phi = sc.to_dict()["components"][0]["achieved"]["volume_fraction"]
    assert model == "sphere"
    assert pars["scale"] == pytest.approx(phi) and info["volume_fraction"] == pytest.approx(phi)
    assert pars["sld_solvent"] == 0.7 and pars["sld"] == 2.2
    # absolute I(0) = 1e-4·φ·Δρ²·V with the *contrast* the voxels hold (2.2 − 0.7)
    V = 4 / 3 * np.pi * 12.0**3
    assert sm.forward_intensity(model, pars) == pytest.approx(1e-4 * phi * 1.5**2 * V, rel=1e-9)
    assert info["n_particles"] == round(phi * 128.0**3 / V)


def test_polydispersity_is_mapped_with_points():
    sc = _scene()
    sc.add(
        shapes.Sphere(radius=12.0, sld=1.0),
        volume_fraction=0.02,
        polydispersity=0.15,
        distribution="schulz",
    )
    model, pars, _ = scene_to_sasmodels(sc)
    assert pars["radius_pd"] == 0.15 and pars["radius_pd_type"] == "schulz"
    assert pars["radius_pd_nsigma"] == 8.0
    # without *_pd_n sasmodels silently computes a monodisperse curve: it must be set
    assert pars["radius_pd_n"] == sm.DEFAULT_PD_N
    q = np.array([0.3])
    mono = sm.evaluate(
        "sphere", q, {k: v for k, v in pars.items() if not k.startswith("radius_pd")}
    )
    assert sm.evaluate(model, q, pars)[0] != pytest.approx(mono[0], rel=0.05)


def test_realized_sizes_equal_sum_over_particles():
    sc = _scene()
    sc.add(shapes.Sphere(radius=12.0, sld=1.0), volume_fraction=0.02, polydispersity=0.1)
    _, _, info = scene_to_sasmodels(sc, sizes="realized")
    parts = sc.particles
    r = parts.parameters[0]["radius"]
    q = np.array([0.01, 0.1, 0.3])
    x = q[:, None] * r[None, :]
    V = 4 / 3 * np.pi * r**3
    expect = (
        1e-4 * ((3 * (np.sin(x) - x * np.cos(x)) / x**3) ** 2 * V**2).sum(axis=1) / sc.grid.volume
    )
    np.testing.assert_allclose(info["func"](q), expect, rtol=1e-9)


def test_core_shell_contrast_against_closed_form():
    sc = _scene(sld_solvent=1.0)
    sc.add(shapes.CoreShellSphere(radius=10.0, thickness=4.0, sld_core=0.5, sld_shell=2.0), count=3)
    model, pars, _ = scene_to_sasmodels(sc)
    assert model == "core_shell_sphere" and pars["sld_solvent"] == 1.0
    vc, vt = 4 / 3 * np.pi * 10.0**3, 4 / 3 * np.pi * 14.0**3
    phi = 3 * vt / sc.grid.volume
    i0 = 1e-4 * phi * ((0.5 - 2.0) * vc + (2.0 - 1.0) * vt) ** 2 / vt
    assert sm.forward_intensity(model, pars) == pytest.approx(i0, rel=1e-8)


def test_hard_spheres_map_to_product_model():
    sc = _scene(n=96)
    sc.add(shapes.Sphere(radius=10.0, sld=1.0), volume_fraction=0.15, placement="hard")
    model, pars, info = scene_to_sasmodels(sc)
    assert model == "sphere@hardsphere"
    assert pars["scale"] == 1.0 and pars["volfraction"] == pytest.approx(info["volume_fraction"])
    assert pars["radius_effective"] == 10.0 and pars["radius_effective_mode"] == 0
    phi = pars["volfraction"]
    s0 = (1 - phi) ** 4 / (1 + 2 * phi) ** 2
    p0 = 1e-4 * phi * 4 / 3 * np.pi * 1000.0
    assert sm.forward_intensity(model, pars) == pytest.approx(p0 * s0, rel=1e-3)
    assert any("Percus" in n for n in info["notes"])


def test_two_random_components_become_a_mixture():
    sc = _scene(n=96)
    sc.add(shapes.Sphere(radius=10.0, sld=1.0), volume_fraction=0.01)
    sc.add(
        shapes.Cylinder(radius=6.0, length=40.0, sld=2.0),
        volume_fraction=0.005,
        orientation="fixed",
    )
    model, pars, info = scene_to_sasmodels(sc)
    assert model == "sphere+cylinder"
    comps = sc.to_dict()["components"]
    q = np.array([0.02, 0.2])
    a = sm.evaluate(
        "sphere",
        q,
        dict(radius=10.0, sld=1.0, sld_solvent=0.0, scale=comps[0]["achieved"]["volume_fraction"]),
    )
    b = sm.evaluate(
        "cylinder",
        q,
        dict(
            radius=6.0,
            length=40.0,
            sld=2.0,
            sld_solvent=0.0,
            scale=comps[1]["achieved"]["volume_fraction"],
        ),
    )
    np.testing.assert_allclose(sm.evaluate(model, q, pars), a + b, rtol=1e-10)
    assert any("orientation" in n for n in info["notes"])


def test_contrast_attr_and_refusals():
    import xarray as xr

    sc = _scene()
    sc.add(shapes.Sphere(radius=12.0, sld=1.0), volume_fraction=0.01)
    ds = xr.Dataset(attrs={"contrast": 3.0})
    _, pars, _ = scene_to_sasmodels(sc, ds)
    phi = sc.to_dict()["components"][0]["achieved"]["volume_fraction"]
    assert pars["scale"] == pytest.approx(9.0 * phi)
    lat = _scene()
    lat.add(shapes.Sphere(radius=5.0, sld=1.0), volume_fraction=0.05, placement="fcc")
    with pytest.raises(ValueError, match="lattice"):
        scene_to_sasmodels(lat)
    with pytest.raises(ValueError, match="record a scene"):
        scene_to_sasmodels(None, xr.Dataset())
    with pytest.raises(ValueError, match="Scene objects"):
        scene_to_sasmodels(sc.to_dict(), sizes="realized")


# ---- the one shape ↔ sasmodels mapping (hifft.volume.shapes) -------------------------------
MAPPED = [
    shapes.Sphere(radius=30.0, sld=2.0),
    shapes.CoreShellSphere(radius=20.0, thickness=7.0, sld_core=3.0, sld_shell=1.0),
    shapes.Ellipsoid(radius_polar=40.0, radius_equatorial=15.0, sld=2.0),
    shapes.TriaxialEllipsoid(radius_equat_minor=10.0, radius_equat_major=20.0, radius_polar=35.0, sld=2.0),
    shapes.Cylinder(radius=12.0, length=90.0, sld=2.0),
    shapes.CoreShellCylinder(radius=10.0, thickness=4.0, length=60.0, sld_core=3.0, sld_shell=1.0),
    shapes.Parallelepiped(length_a=10.0, length_b=25.0, length_c=60.0, sld=2.0),
]


def _forward_amplitude(shape, solvent: float) -> float:
    """Σ Δρ·V over the particle's bodies (1e-6/Å²·Å³), from hifft's closed-form geometry."""
    p = shape.parameters()
    if isinstance(shape, shapes.CoreShellSphere):
        v_core = 4 / 3 * np.pi * p["radius"] ** 3
    elif isinstance(shape, shapes.CoreShellCylinder):
        v_core = np.pi * p["radius"] ** 2 * p["length"]
    else:
        return (p["sld"] - solvent) * shape.volume
    return (p["sld_shell"] - solvent) * shape.volume + (p["sld_core"] - p["sld_shell"]) * v_core


@pytest.mark.parametrize("shape", MAPPED, ids=lambda s: s.name)
def test_every_mapped_shape_has_sasmodels_forward_intensity(shape):
    """sasmodels' I(0) = 1e-4·(ΣΔρV)²/V_outer: the mapping's names and geometry agree with
    sasmodels' own (core-shell cylinder: the shell covers the ends too)."""
    model = shape.sasmodels_model()
    assert model == type(shape).model
    pars = shape.sasmodels_params(sld_solvent=0.5)
    got = sm.forward_intensity(model, sm.check_pars(model, {**pars, "scale": 1.0}))
    want = 1e-4 * _forward_amplitude(shape, 0.5) ** 2 / shape.volume
    assert got == pytest.approx(want, rel=1e-6)
    assert shapes.shape_from_model(model, pars) == shape


def test_reverse_mapping_ignores_the_ensemble_and_names_what_is_missing():
    pars = dict(radius=30.0, sld=2.0, sld_solvent=1.0, radius_pd=0.1, scale=0.2, volfraction=0.1)
    assert shapes.shape_from_model("sphere@hardsphere", pars) == shapes.Sphere(radius=30.0, sld=2.0)
    with pytest.raises(ValueError, match=r"missing parameter\(s\) \['length'\]"):
        shapes.shape_from_model("cylinder", dict(radius=3.0, sld=1.0))
    with pytest.raises(ValueError, match="'sphere\\+cylinder' has no hifft shape"):
        shapes.shape_from_model("sphere+cylinder", pars)


def test_hemisphere_is_refused_by_name():
    hemi = shapes.Hemisphere(radius=10.0, sld=1.0)
    with pytest.raises(ValueError, match="'hemisphere' has no sasmodels model: sasmodels has no hemisphere"):
        hemi.sasmodels_params(0.0)
    sc = _scene()
    sc.add(hemi, count=2)
    assert sc.to_dict()["components"][0]["sasmodels"] is None
    with pytest.raises(ValueError, match="compare_scene: shape 'hemisphere' has no sasmodels model"):
        scene_to_sasmodels(sc)
