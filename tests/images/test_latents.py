"""Latent features, cluster scores and linear probes (scikit-learn is the oracle for the scores)."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("sklearn")

from hifft.images.latents import cluster_scores, latent_features, latent_map, linear_probe, physics_classes


def test_physics_classes_bin_d_and_omega():
    d = np.array([10.0, 49.9, 50.0, 120.0, 151.0])
    w = np.array([0.05, 0.3, 0.1, 0.26, 0.5])
    c = physics_classes(d, w, [50.0, 100.0], [0.25])
    np.testing.assert_array_equal(c, [0, 1, 2, 5, 5])


def _blobs(rng, n_per, k, dim, spread):
    centres = rng.normal(0, 10, (k, dim))
    x = np.concatenate([centres[i] + spread * rng.normal(size=(n_per, dim)) for i in range(k)])
    return x, np.repeat(np.arange(k), n_per)


def test_separated_classes_score_near_one_and_random_features_near_zero():
    rng = np.random.default_rng(0)
    tr, _ = _blobs(rng, 60, 4, 12, 0.5)
    te, cls = _blobs(np.random.default_rng(0), 40, 4, 12, 0.5)
    good = cluster_scores(tr, te, cls)
    assert good["classes"] == 4
    assert good["kmeans"]["ari"] > 0.95 and good["gmm"]["ari"] > 0.95
    assert good["hdbscan"]["ari"] > 0.8
    noise = cluster_scores(rng.normal(size=(240, 12)), rng.normal(size=(160, 12)), cls)
    assert abs(noise["kmeans"]["ari"]) < 0.1 and abs(noise["gmm"]["ari"]) < 0.1


def test_linear_probe_finds_a_linear_target_and_not_noise():
    rng = np.random.default_rng(1)
    f_tr, f_te = rng.normal(size=(300, 20)), rng.normal(size=(100, 20))
    w = rng.normal(size=20)
    r2 = linear_probe(f_tr, {"lin": f_tr @ w + 0.01 * rng.normal(size=300), "noise": rng.normal(size=300)},
                      f_te, {"lin": f_te @ w, "noise": rng.normal(size=100)})
    assert r2["lin"] > 0.99 and r2["noise"] < 0.1


def test_latent_features_pool_the_bitstream_latents(trained, gisaxs_store):
    from hifft.images.bundle import load_bundle
    from hifft.images.data import load_images
    from hifft.images.entropy import analyse, model_input

    b = load_bundle(trained[0])
    imgs = load_images(gisaxs_store, None, b.scale.size, b.scale.crop)
    x = model_input(b, imgs.intensity)
    f = latent_features(b, x, batch=3)
    m = b.model.spec()["m"]
    assert f["y_stats"].shape == (len(imgs), 2 * m)
    y = analyse(b, x[4:5])[0]["y"].astype(float)
    np.testing.assert_allclose(f["y_stats"][4], np.concatenate([y.mean(axis=(1, 2)), y.std(axis=(1, 2))]))
    assert f["z"].shape[0] == len(imgs)
    xy = latent_map(f["y_stats"])
    assert xy.shape == (len(imgs), 2) and np.isfinite(xy).all()
