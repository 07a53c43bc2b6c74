"""build_volume / open_volume on a LocalCluster: layout, determinism, resume, refusal, damage."""

from __future__ import annotations

import os

import numpy as np
import pytest
import zarr

import hifft
from hifft import shapes as S
from hifft.store import Manifest, StoreError
from hifft.volume.validate import VolumeError

pytestmark = pytest.mark.cluster


def scene(seed: int = 1) -> hifft.Scene:
    g = hifft.Grid(shape=(40, 36, 32), spacing=2.0)
    s = hifft.Scene(g, sld_solvent=0.5, seed=seed)
    s.add(S.Sphere(radius=7.0, sld=1.5), volume_fraction=0.04, polydispersity=0.1, placement="hard")
    s.add(S.Cylinder(radius=3.0, length=30.0, sld=2.0), count=6, orientation="uniform")
    s.add(S.Hemisphere(radius=8.0, sld=-1.0), count=2, orientation={"theta": 20, "phi_pd": 3})
    return s


def test_build_layout_and_attrs(client, tmp_path):
    sc = scene()
    vol = hifft.build_volume(sc, tmp_path / "rho.zarr", client=client, slab_depth=8)
    assert isinstance(vol, hifft.Volume)
    assert vol.grid == sc.grid and vol.shape == (40, 36, 32) and vol.dtype == np.float32
    assert vol.sld_units == "1e-6/angstrom**2" and vol.path == tmp_path / "rho.zarr"
    assert vol.nbytes == 40 * 36 * 32 * 4 and vol.chunk_depth == 8
    arr = zarr.open_array(str(tmp_path / "rho.zarr"), mode="r")
    assert arr.metadata.zarr_format == 3 and arr.chunks == (8, 36, 32)
    codecs = [type(c).__name__ for c in arr.metadata.codecs]
    assert codecs == ["BytesCodec", "ZstdCodec", "Crc32cCodec"]
    meta = arr.attrs["hifft"]
    assert (
        meta["kind"] == "density"
        and meta["grid"] == sc.grid.to_dict()
        and meta["dtype"] == "float32"
    )
    assert meta["sld_units"] == "1e-6/angstrom**2"
    assert meta["scene"]["components"][0]["achieved"]["count"] == len(
        sc.particles.parameters[0]["radius"]
    )
    assert Manifest(tmp_path / "rho.zarr").complete
    assert sorted(Manifest(tmp_path / "rho.zarr").done()) == [f"slab-{i:06d}" for i in range(5)]
    # ∫Δρ dV of the build = Σ contrast × volume of the plan (anti-aliased, ≤ 0.1 %, sum rule)
    p = sc.particles
    want = sum(
        float(((p.w_o[p.component == c]) * p.volume[p.component == c]).sum()) for c in range(3)
    )
    assert meta["stats"]["integral"] == pytest.approx(want, rel=2e-3)
    d = vol.to_dask()
    assert d.chunks[0] == (8,) * 5 and d.chunks[1:] == ((36,), (32,))
    np.testing.assert_array_equal(d.compute(), vol.slab(0, 40))
    assert vol.slab(3, 11).dtype == np.float32 and vol.slab(3, 11).flags.c_contiguous


def test_bit_identical_for_any_chunking_and_workers(client, tmp_path):
    """Same seed → same bytes: in-process (1 worker), 2 process workers, slab depths 1, 7, 40."""
    sc = scene(seed=5)
    ref = sc.to_volume().to_numpy()  # this process, whole volume at once
    for depth in (1, 7, 40):
        vol = hifft.build_volume(
            scene(seed=5), tmp_path / f"d{depth}.zarr", client=client, slab_depth=depth
        )
        assert np.array_equal(vol.to_numpy(), ref), depth
    with hifft.get_client(None, n_workers=1) as one:
        vol = hifft.build_volume(scene(seed=5), tmp_path / "w1.zarr", client=one, slab_depth=3)
    assert np.array_equal(vol.to_numpy(), ref)


def test_float64_build(client, tmp_path):
    vol = hifft.build_volume(
        scene(), tmp_path / "r64.zarr", client=client, dtype="float64", slab_depth=20
    )
    assert vol.dtype == np.float64
    np.testing.assert_allclose(
        vol.to_numpy(), scene().to_volume("float64").to_numpy(), rtol=0, atol=0
    )


def test_resume_after_partial_build(client, tmp_path):
    """Markers, not chunks, say what is done: removing two markers (and a chunk) rebuilds those."""
    path = tmp_path / "rho.zarr"
    vol = hifft.build_volume(scene(), path, client=client, slab_depth=8)
    full = vol.to_numpy()
    m = Manifest(path)
    os.remove(path / "hifft" / "complete")
    for t in ("slab-000001", "slab-000003"):
        os.remove(path / "hifft" / "done" / t)
    (path / "c" / "1" / "0" / "0").unlink()  # slab 1's chunk is gone too
    untouched = path / "c" / "0" / "0" / "0"
    mtime = untouched.stat().st_mtime_ns
    with pytest.raises(VolumeError, match="unfinished"):
        hifft.open_volume(path)
    again = hifft.build_volume(scene(), path, client=client, slab_depth=8)
    assert again.attrs["stats"]["resumed"] is True
    assert untouched.stat().st_mtime_ns == mtime  # finished slabs were not rewritten
    assert m.complete
    assert np.array_equal(again.to_numpy(), full)


def test_different_job_refused_unless_overwrite(client, tmp_path):
    path = tmp_path / "rho.zarr"
    hifft.build_volume(scene(1), path, client=client, slab_depth=8)
    with pytest.raises(StoreError, match="different hifft job"):
        hifft.build_volume(scene(2), path, client=client, slab_depth=8)
    with pytest.raises(StoreError, match="different hifft job"):  # same scene, other chunking
        hifft.build_volume(scene(1), path, client=client, slab_depth=4)
    vol = hifft.build_volume(scene(2), path, client=client, slab_depth=8, overwrite=True)
    assert np.array_equal(vol.to_numpy(), scene(2).to_volume().to_numpy())
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("mine")
    with pytest.raises(StoreError, match="did not write"):
        hifft.build_volume(scene(1), foreign, client=client)


def test_corrupt_chunk_is_detected_and_named(client, tmp_path):
    path = tmp_path / "rho.zarr"
    hifft.build_volume(scene(), path, client=client, slab_depth=8)
    chunk = path / "c" / "2" / "0" / "0"
    raw = bytearray(chunk.read_bytes())
    raw[len(raw) // 2] ^= 0xFF
    chunk.write_bytes(bytes(raw))
    vol = hifft.open_volume(path)
    vol.slab(0, 8)  # other slabs still read
    with pytest.raises(VolumeError, match=r"slab z=16:24 \(chunk\(s\) 2\.\.2"):
        vol.slab(16, 24)
    with pytest.raises(VolumeError, match="chunk"):
        vol.to_dask().sum().compute(scheduler="sync")


def test_open_volume_bad_stores(tmp_path):
    with pytest.raises(FileNotFoundError):
        hifft.open_volume(tmp_path / "nope.zarr")
    plain = tmp_path / "plain.zarr"
    zarr.create_array(store=str(plain), shape=(4, 4, 4), chunks=(2, 4, 4), dtype="float32")
    with pytest.raises(VolumeError, match="not a hifft density volume"):
        hifft.open_volume(plain)
    broken = tmp_path / "broken.zarr"
    broken.mkdir()
    (broken / "zarr.json").write_text("{not json")
    with pytest.raises(VolumeError, match="corrupt Zarr metadata"):
        hifft.open_volume(broken)
    a = zarr.create_array(
        store=str(tmp_path / "nogrid.zarr"),
        shape=(4, 4, 4),
        chunks=(2, 4, 4),
        dtype="float32",
        attributes={"hifft": {"kind": "density"}},
    )
    with pytest.raises(VolumeError, match="incomplete or invalid"):
        hifft.open_volume(a.store.root)
    # a foreign zarr array can still be used through from_array
    v = hifft.from_array(zarr.open_array(str(plain)), spacing=1.0)
    assert v.slab(0, 4).shape == (4, 4, 4)


def test_live_writer_lock_refused(client, tmp_path):
    path = tmp_path / "rho.zarr"
    hifft.build_volume(scene(), path, client=client, slab_depth=8)
    (path / "hifft" / "complete").unlink()
    import subprocess
    import sys

    holder = (
        "import sys, time\nfrom hifft.store import Manifest\n"
        "with Manifest(sys.argv[1]).lock():\n    print('held', flush=True)\n    time.sleep(30)\n"
    )
    p = subprocess.Popen([sys.executable, "-c", holder, str(path)], stdout=subprocess.PIPE, text=True)
    try:
        assert p.stdout.readline().strip() == "held"  # another live process writes the store
        with pytest.raises(StoreError, match=f"another job is writing it \\(pid {p.pid} "):
            hifft.build_volume(scene(), path, client=client, slab_depth=8, overwrite=True)
        assert (path / "zarr.json").exists()  # overwrite did not delete a store being written
    finally:
        p.kill()
        p.wait()
    # the killed writer's lock went with its process: the build resumes and completes
    vol = hifft.build_volume(scene(), path, client=client, slab_depth=8)
    assert (path / "hifft" / "complete").exists() and vol.grid.shape == scene().grid.shape


def test_task_error_names_slab_and_file(client, tmp_path):
    arr = np.zeros((12, 8, 8), np.float32)
    arr[9, 2, 3] = np.nan
    np.save(tmp_path / "bad.npy", arr)
    from hifft.volume.importers import read_npy

    with pytest.raises(VolumeError, match=r"bad\.npy.*slab z=8:12.*\(9, 2, 3\)"):
        hifft.build_volume(
            read_npy(tmp_path / "bad.npy", spacing=1.0),
            tmp_path / "o.zarr",
            client=client,
            slab_depth=4,
        )
    m = Manifest(tmp_path / "o.zarr")
    assert not m.complete and "slab-000002" not in m.done()


def test_disk_space_is_checked(client, tmp_path, monkeypatch):
    import hifft.store as store

    monkeypatch.setattr(store, "free_bytes", lambda path: 1000)
    with pytest.raises(StoreError, match="GiB is free"):
        hifft.build_volume(scene(), tmp_path / "rho.zarr", client=client)


def test_copy_store_rechunks_and_refuses_itself(client, tmp_path):
    vol = hifft.build_volume(scene(), tmp_path / "a.zarr", client=client, slab_depth=8)
    copy = hifft.build_volume(vol, tmp_path / "b.zarr", client=client, slab_depth=5)
    assert copy.chunk_depth == 5 and np.array_equal(copy.to_numpy(), vol.to_numpy())
    assert copy.attrs["source"]["kind"] == "zarr"
    with pytest.raises(StoreError, match="source volume lives here"):
        hifft.build_volume(vol, tmp_path / "a.zarr", client=client, overwrite=True)


def test_arrays_with_same_shape_are_different_jobs(client, tmp_path):
    a = hifft.from_array(np.zeros((4, 6, 6), np.float32), spacing=1.0)
    b = hifft.from_array(np.ones((4, 6, 6), np.float32), spacing=1.0)
    hifft.build_volume(a, tmp_path / "x.zarr", client=client)
    hifft.build_volume(
        a, tmp_path / "x.zarr", client=client
    )  # same content: resumes (nothing to do)
    with pytest.raises(StoreError, match="different hifft job"):
        hifft.build_volume(b, tmp_path / "x.zarr", client=client)
