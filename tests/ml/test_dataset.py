"""The dataset job: label integrity, balance, determinism, the store, resuming."""

from __future__ import annotations

import json

import numpy as np
import pytest

from hifft.ml import shapes as S
from hifft.ml.config import CLASSES
from hifft.ml.dataset import chunk_name, generate_arrays, generate_chunk, make_dataset, open_dataset
from hifft.store import Manifest, StoreError

from .conftest import small_dataset_config


@pytest.fixture(scope="module")
def cfg():
    return small_dataset_config(n_samples=250, chunk_size=125)


@pytest.fixture(scope="module")
def chunk(cfg):
    return generate_arrays(cfg, 0)


def test_labels_reproduce_the_stored_noise_free_curves(cfg, chunk):
    """Every stored label, fed back to sasmodels, gives the stored I_true."""
    q = cfg.q.values()
    for j in range(0, 125, 5):
        c = CLASSES[chunk["shape"][j]]
        label = {p: chunk[p][j] for p in S.PARAMS[c]}
        ref = S.forward(c, q, label, cfg.shapes, chunk["scale"][j], chunk["background"][j], cfg.precision)
        np.testing.assert_allclose(chunk["I_true"][j], ref, rtol=1e-6)


def test_label_columns_exist_exactly_for_their_class(chunk):
    for j, k in enumerate(chunk["shape"]):
        c = CLASSES[k]
        for p in S.ALL_PARAMS:
            assert np.isfinite(chunk[p][j]) == (p in S.PARAMS[c]), (c, p)


def test_classes_are_balanced_and_shuffled(chunk):
    counts = np.bincount(chunk["shape"], minlength=5)
    assert counts.tolist() == [25] * 5
    # shuffled within the chunk: not the bare cycle 0,1,2,3,4,...
    assert not np.array_equal(chunk["shape"], np.arange(125) % 5)


def test_curves_are_physical(cfg, chunk):
    assert np.isfinite(chunk["I"]).all() and (chunk["I"] >= 0).all()
    assert (chunk["sigma"] > 0).all()
    # the noise-free curve never drops below its flat background
    assert (chunk["I_true"] >= chunk["background"][:, None].astype(np.float32) * (1 - 1e-6)).all()
    assert chunk["mask"].all()
    # the noise is about as large as the reported σ
    pull = (chunk["I"] - chunk["I_true"]) / chunk["sigma"]
    assert 0.8 < np.std(pull) < 1.2


def test_hard_sphere_structure_factor_lowers_low_q(cfg):
    """Same sphere, volume fraction 0.3 vs 0: S(0) of Percus-Yevick is (1-φ)^4/(1+2φ)^2."""
    q = cfg.q.values()
    lab = {"radius": 40.0, "radius_pd": 0.0, "volfraction": 0.3}
    hs = S.forward("sphere@hardsphere", q, lab, cfg.shapes, 0.01, 0.0)
    sp = S.forward("sphere", q, {"radius": 40.0, "radius_pd": 0.0}, cfg.shapes, 0.01, 0.0)
    assert hs[0] / sp[0] == pytest.approx(0.7**4 / 1.6**2, rel=0.01)
    assert hs[-1] / sp[-1] == pytest.approx(1.0, abs=0.02)


def test_chunks_are_deterministic_and_independent(cfg, chunk):
    again = generate_arrays(cfg, 0)
    for k, v in chunk.items():
        np.testing.assert_array_equal(v, again[k], err_msg=k)
    other = generate_arrays(cfg, 1)
    assert not np.allclose(other["I"][:5], chunk["I"][:5])
    assert other["sample"][0] == 125


def test_split_fractions(cfg):
    c = small_dataset_config(n_samples=4000, chunk_size=4000, classes=["sphere"])
    a = generate_arrays(c, 0)
    frac = np.bincount(a["split"], minlength=3) / 4000
    np.testing.assert_allclose(frac, [0.8, 0.1, 0.1], atol=0.02)


def test_unknown_sasmodels_parameter_is_an_error():
    with pytest.raises(ValueError, match="radus"):
        S.sasmodels_iq("sphere", np.geomspace(0.01, 0.1, 8), {"radius": 10.0, "radus": 3.0})


def test_xarray_chunk_has_units_and_attrs(cfg):
    ds = generate_chunk(cfg, 1)
    assert ds["q"].attrs["units"] == "1/angstrom" and ds["I"].attrs["units"] == "1/cm"
    assert ds["radius"].attrs["units"] == "angstrom"
    assert json.loads(ds.attrs["classes"]) == list(CLASSES)
    assert ds.sizes == {"sample": 125, "q": 64}


def _store_files(path) -> dict[str, bytes]:
    """Every file of the store's data group, by path inside it."""
    root = path / "data"
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.mark.cluster
def test_job_writes_store_resumes_and_refuses_other_jobs(tmp_path, client, cfg):
    path = tmp_path / "curves.zarr"
    make_dataset(cfg, path, client=client, max_chunks=1)
    man = Manifest(path)
    assert man.is_done(chunk_name(0)) and not man.is_done(chunk_name(1)) and not man.complete
    with pytest.raises(StoreError, match="not finished"):
        open_dataset(path)
    marker = man.done_dir / chunk_name(0)
    first = (marker.stat().st_mtime_ns, marker.read_text())
    make_dataset(cfg, path, client=client)
    assert man.complete
    assert (marker.stat().st_mtime_ns, marker.read_text()) == first  # chunk 0 was not redone
    ds = open_dataset(path)
    assert ds.sizes["sample"] == 250
    for k, sl in ((0, slice(0, 125)), (1, slice(125, 250))):
        ref = generate_arrays(cfg, k)
        for v in ("I", "sigma", "I_true", "shape", "split", "radius", "scale", "mask"):
            np.testing.assert_array_equal(ds[v].values[sl], ref[v], err_msg=f"chunk {k} {v}")
    assert man.summary()["per_class"] == dict.fromkeys(CLASSES, 50)
    # the interrupted-then-resumed store equals an uninterrupted one made in
    # this process (client=None), byte for byte
    whole = tmp_path / "whole.zarr"
    make_dataset(cfg, whole)
    assert _store_files(path) == _store_files(whole)
    # a finished store is not rewritten; another job is refused
    stamps = {p: p.stat().st_mtime_ns for p in path.rglob("*") if p.is_file()}
    make_dataset(cfg, path, client=client)
    assert {p: p.stat().st_mtime_ns for p in path.rglob("*") if p.is_file()} == stamps
    other = cfg.model_copy(update={"seed": 99})
    with pytest.raises(StoreError, match="different hifft job"):
        make_dataset(other, path, client=client)
