"""Disk full mid-write: clear error, written chunks readable, rerun completes; pre-flight refusal."""

from __future__ import annotations

import errno

import numpy as np
import pytest
import zarr

from hifft import store
from hifft.fft import rfftn
from hifft.fft.chunkio import RawChunkArray
from hifft.fft.engine import FFTJob
from hifft.store import DiskFullError, Manifest


def test_enospc_mid_pass_then_resume(monkeypatch, tmp_path, rng):
    x = rng.standard_normal((24, 16, 12))
    out = tmp_path / "F.zarr"
    real_write = RawChunkArray.write
    calls = {"n": 0}

    def failing_write(self, start, data):
        calls["n"] += 1
        if calls["n"] > 3:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_write(self, start, data)

    monkeypatch.setattr(RawChunkArray, "write", failing_write)
    kw = dict(real=True, store=out, backend="numpy", progress=False, slab=4, block=4, intermediate="disk")
    with pytest.raises(DiskFullError) as e:
        FFTJob(x, **kw).execute()
    msg = str(e.value)
    assert "mid.zarr" in msg and "disk full" in msg and "still needed" in msg
    assert "3 of 6 tasks" in msg  # 3 slabs written before the disk filled
    mid = tmp_path / "F.zarr.work" / "mid.zarr"
    # what was written stays readable, and equals the 2D FFT of those slabs
    first = zarr.open_array(str(mid), mode="r")[0:4]
    np.testing.assert_allclose(first, np.fft.rfft2(x[0:4]), atol=1e-10)
    monkeypatch.setattr(RawChunkArray, "write", real_write)  # space freed
    job = FFTJob(x, **kw)
    F, _ = job.execute()
    assert job.counts["pass1"] == 3
    np.testing.assert_allclose(np.asarray(F), np.fft.rfftn(x), atol=1e-10)
    assert Manifest(out).complete


def test_preflight_refuses_before_writing(monkeypatch, tmp_path, rng):
    monkeypatch.setattr(store, "free_bytes", lambda path: 1000)
    x = rng.standard_normal((16, 16, 16))
    with pytest.raises(Exception, match=r"needs .* GiB of disk .* free"):
        rfftn(x, store=tmp_path / "F.zarr", progress=False)
    assert not (tmp_path / "F.zarr").exists()
    assert not (tmp_path / "F.zarr.work" / "mid.zarr").exists()
