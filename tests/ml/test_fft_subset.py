"""The validation path through hifft's own pipeline: Scene → volume → FFT → saxs → curve."""

from __future__ import annotations

import numpy as np
import pytest

from hifft.ml import shapes as S
from hifft.ml.config import FFTSubsetConfig, ShapesConfig
from hifft.ml.fft_subset import SceneTask, average_realizations

from .conftest import small_dataset_config


def test_average_of_realizations():
    a = (np.array([1.0, 2.0, 3.0]), np.array([0.1, 0.2, 0.3]), np.array([True, True, False]))
    b = (np.array([3.0, 4.0, 5.0]), np.array([0.1, 0.2, 0.3]), np.array([True, True, True]))
    i, s, m = average_realizations([a, b])
    np.testing.assert_allclose(i[:2], [2.0, 3.0])
    np.testing.assert_allclose(s[:2], np.array([0.1, 0.2]) / np.sqrt(2))
    assert m.tolist() == [True, True, False] and np.isnan(i[2])


def test_scene_task_names_its_manifest_marker_and_keeps_its_label():
    t = SceneTask(7, "cylinder", (("radius", 20.0), ("length", 80.0)))
    assert t.name == "scene-00007"
    assert t.params == {"radius": 20.0, "length": 80.0}


@pytest.mark.cluster
@pytest.mark.slow  # ~25 s of numba compilation in fresh workers (hifft.volume's rasterizer)
def test_fft_subset_store(tmp_path, client):
    from hifft.ml.dataset import open_dataset
    from hifft.ml.fft_subset import make_fft_subset
    from hifft.store import Manifest

    dcfg = small_dataset_config(classes=["sphere", "sphere@hardsphere"], q={"min": 0.003, "max": 0.5, "n": 64})
    shapes = ShapesConfig.model_validate(
        {
            "sphere": {"radius": [14.0, 16.0], "radius_pd": [0.0, 0.05]},
            "sphere@hardsphere": {
                "radius": [12.0, 13.0],
                "radius_pd": [0.0, 0.05],
                "volfraction": [0.25, 0.3],
            },
        }
    )
    fcfg = FFTSubsetConfig(
        n_per_class=1,
        grid_shape=96,
        spacing=2.0,
        bins=80,
        realizations=2,
        shapes=shapes,
        volume_fraction=0.05,
    )
    path = tmp_path / "fft.zarr"
    make_fft_subset(fcfg, dcfg, path, client=client, max_tasks=1, log=lambda s: None)
    assert not Manifest(path).complete
    make_fft_subset(fcfg, dcfg, path, client=client, log=lambda s: None)  # resumes
    man = Manifest(path)
    assert man.complete
    ds = open_dataset(path).load()
    assert ds.attrs["source"] == "hifft-fft"
    assert ds.sizes["sample"] == 2 and (ds["split"].values == 2).all()
    q = ds["q"].values
    box_qmin = 2 * np.pi / (96 * 2.0)
    for k in range(2):
        m = ds["mask"].values[k]
        # masked exactly outside the box's valid q range
        assert not m[q < 0.95 * box_qmin].any() and m[(q > 1.3 * box_qmin) & (q < 0.5)].all()
        assert np.isfinite(ds["I"].values[k][m]).all() and np.isnan(ds["I"].values[k][~m]).all()
        c = S.CLASSES[int(ds["shape"].values[k])]
        assert man.info(f"scene-{k:05d}")["class"] == c
        lab = {p: float(ds[p].values[k]) for p in S.PARAMS[c]}
        # the noise-free FFT curve follows sasmodels at the same scale where the box is fine
        ref = S.forward(c, q, lab, dcfg.shapes, float(ds["scale"].values[k]), float(ds["background"].values[k]))
        mid = m & (q > 0.05) & (q < 0.2)
        ratio = ds["I_true"].values[k][mid] / ref[mid]
        assert np.median(ratio) == pytest.approx(1.0, abs=0.15), (c, ratio)
        # noise drawn by the dataset's model on top, σ beside I
        assert (ds["sigma"].values[k][m] > 0).all()
