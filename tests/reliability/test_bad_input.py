"""Bad input gets a clear error naming the file, chunk, slab or field; nothing existing is overwritten."""

from __future__ import annotations

import json

import numpy as np
import pytest
import zarr
from zarr.codecs import BytesCodec, Crc32cCodec

from hifft.config import ConfigError, StrictModel, load_config
from hifft.fft import rfftn
from hifft.fft.plan import PlanError, plan_fft
from hifft.fft.source import InputError
from hifft.grid import Grid
from hifft.store import Manifest, StoreError


def _crc_volume(tmp_path, rng):
    x = rng.standard_normal((12, 8, 8)).astype(np.float32)
    p = tmp_path / "vol.zarr"
    zarr.create_array(store=str(p), data=x, chunks=(4, 8, 8), serializer=BytesCodec(),
                      compressors=[Crc32cCodec()], zarr_format=3)
    return p, x


def test_corrupted_chunk_named(tmp_path, rng):
    p, _ = _crc_volume(tmp_path, rng)
    chunk = p / "c" / "1" / "0" / "0"
    raw = bytearray(chunk.read_bytes())
    raw[10] ^= 0xFF
    chunk.write_bytes(bytes(raw))
    with pytest.raises(InputError, match=r"vol.zarr: cannot read z-planes 4:8 \(chunks 1..1 along z\).*checksum"):
        rfftn(str(p), in_core=False, workdir=tmp_path / "w", progress=False, slab=4, backend="numpy")


def test_missing_and_truncated_metadata(tmp_path, rng):
    p, _ = _crc_volume(tmp_path, rng)
    meta = p / "zarr.json"
    meta.write_text(meta.read_text()[:40])
    with pytest.raises(InputError, match=r"vol\.zarr: not a readable Zarr array"):
        rfftn(str(p), progress=False)
    meta.unlink()
    with pytest.raises(InputError, match=r"vol\.zarr: not a readable Zarr array"):
        rfftn(str(p), progress=False)
    with pytest.raises(InputError, match="no such input"):
        rfftn(str(tmp_path / "nope.zarr"), progress=False)


def test_shape_metadata_mismatch(tmp_path, rng):
    x = rng.standard_normal((6, 6, 6)).astype(np.float32)
    p = tmp_path / "v.zarr"
    zarr.create_array(store=str(p), data=x, chunks=(2, 6, 6),
                      attributes={"hifft": {"grid": {"shape": [6, 6, 7], "spacing": [1, 1, 1]}}})
    with pytest.raises(InputError, match=r"v.zarr: metadata grid \(6, 6, 7\) does not match array shape"):
        rfftn(str(p), progress=False)


@pytest.mark.parametrize("dtype", ["int32", "complex64", "bool"])
def test_wrong_dtype_in_store(tmp_path, dtype):
    p = tmp_path / "v.zarr"
    zarr.create_array(store=str(p), shape=(4, 4, 4), chunks=(2, 4, 4), dtype=dtype)
    if dtype == "complex64":
        with pytest.raises(InputError, match="real input"):
            rfftn(str(p), progress=False)
    else:
        with pytest.raises(InputError, match=rf"v.zarr: dtype {dtype}"):
            rfftn(str(p), progress=False)


def test_absurd_sizes_refused_before_allocation():
    with pytest.raises(ValueError, match="above the limit"):
        Grid((10**6,) * 3)
    with pytest.raises(PlanError, match="raise the memory budget"):
        plan_fft(2**20, workers=1, memory_budget=2**31)


def test_output_of_other_job_kept(tmp_path, rng):
    x = rng.standard_normal((8, 8, 8))
    out = tmp_path / "F.zarr"
    rfftn(x, store=out, progress=False)
    before = zarr.open_array(str(out))[:]
    with pytest.raises(StoreError, match="refusing to overwrite"):
        rfftn(2 * x, store=out, progress=False)
    np.testing.assert_array_equal(zarr.open_array(str(out))[:], before)
    # a directory with foreign data is refused too
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "thesis.txt").write_text("keep me")
    with pytest.raises(StoreError, match="data hifft did not write"):
        rfftn(x, store=foreign, progress=False)
    assert (foreign / "thesis.txt").read_text() == "keep me"


def test_second_writer_refused(tmp_path, rng):
    x = rng.standard_normal((8, 8, 8))
    out = tmp_path / "F.zarr"
    with Manifest(out).lock():  # another job holds the store
        with pytest.raises(StoreError, match="another job is writing it"):
            rfftn(x, store=out, progress=False)


def test_stale_lock_of_dead_process_taken_over(tmp_path, rng):
    import socket

    out = tmp_path / "F.zarr"
    (out / "hifft").mkdir(parents=True)
    (out / "hifft" / "lock").write_text(json.dumps({"pid": 2**22 + 12345, "host": socket.gethostname()}))
    x = rng.standard_normal((8, 8, 8))
    F = rfftn(x, store=out, progress=False)
    np.testing.assert_allclose(F.values, np.fft.rfftn(x), atol=1e-10)


class Shape(StrictModel):
    n: int
    spacing: float


def test_yaml_duplicate_and_unknown_keys_named(tmp_path):
    p = tmp_path / "job.yaml"
    p.write_text("n: 4096\nn: -1\nspacing: 1\n")
    with pytest.raises(ConfigError, match=r"job.yaml:2: duplicate key 'n'"):
        load_config(p, Shape, environ={})
    p.write_text("n: 64\nspacing: 1\nspcing: 2\n")
    with pytest.raises(ConfigError, match=r"(?s)job.yaml.*field 'spcing'"):
        load_config(p, Shape, environ={})
