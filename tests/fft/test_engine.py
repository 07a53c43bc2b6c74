"""The out-of-core engine against numpy.fft: shapes, dtypes, chunkings, cluster, crop, inverse."""

from __future__ import annotations

import numpy as np
import pytest

from hifft import Grid
from hifft.fft import fftn, ifftn, irfftn, reduce_spectrum, rfftn
from hifft.fft.engine import FFTJob
from hifft.fft.reducer import Reducer, reduce_in_memory
from hifft.fft.source import InputError
from hifft.store import Manifest, StoreError

TOL = {np.float32: 1e-5, np.float64: 1e-12}
SHAPES = [(16, 16, 16), (97, 120, 75), (13, 17, 19), (9, 8, 4096)]


def rel(a, b) -> float:
    return float(np.linalg.norm(np.asarray(a) - b) / np.linalg.norm(b))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: "x".join(map(str, s)))
def test_rfftn_out_of_core_matches_numpy(shape, dtype, tmp_path, rng):
    x = rng.standard_normal(shape).astype(dtype)
    F = rfftn(x, in_core=False, workdir=tmp_path / "w", progress=False, backend="numpy",
              slab=max(1, shape[0] // 3), block=max(1, shape[1] // 4))
    ref = np.fft.rfftn(x.astype(np.float64))
    assert F.shape == ref.shape
    assert F.dtype == (np.complex64 if dtype == np.float32 else np.complex128)
    assert rel(F.values, ref) < TOL[dtype]
    # q coordinates attached, never applied
    np.testing.assert_allclose(F.q_x.values, 2 * np.pi * np.fft.rfftfreq(shape[2], 1.0))
    assert F.attrs["backend"] == "numpy"


@pytest.mark.parametrize("backend", ["numpy", "pyfftw", "torch"])
def test_backends_give_numpy_result(backend, tmp_path, rng):
    pytest.importorskip({"numpy": "numpy", "pyfftw": "pyfftw", "torch": "torch"}[backend])
    x = rng.standard_normal((20, 24, 18)).astype(np.float32)
    F = rfftn(x, in_core=False, workdir=tmp_path / "w", backend=backend, progress=False, slab=7, block=5)
    assert rel(F.values, np.fft.rfftn(x.astype(np.float64))) < 1e-5


def test_fftn_complex_input(tmp_path, rng):
    x = (rng.standard_normal((11, 12, 13)) + 1j * rng.standard_normal((11, 12, 13))).astype(np.complex128)
    F = fftn(x, in_core=False, workdir=tmp_path / "w", progress=False, slab=4, block=5)
    assert rel(F.values, np.fft.fftn(x)) < 1e-12
    back = ifftn(F, in_core=False, workdir=tmp_path / "w2", progress=False)
    assert rel(np.asarray(back), x) < 1e-12


def test_roundtrip_and_parseval(tmp_path, rng):
    x = rng.standard_normal((24, 20, 30))
    F = rfftn(x, store=tmp_path / "F.zarr", progress=False, slab=5, block=6)
    w = np.full(F.shape[2], 2.0)
    w[0] = 1.0
    w[-1] = 1.0  # even n_x: Nyquist column stands alone
    parseval = float((np.abs(F.values) ** 2 * w).sum() / x.size)
    assert parseval == pytest.approx(float((x**2).sum()), rel=1e-12)
    back = irfftn(F, shape=x.shape, workdir=tmp_path / "w", in_core=False, progress=False)
    assert rel(np.asarray(back), x) < 1e-12


def test_chunking_and_workers_deterministic(client, tmp_path, rng):
    x = rng.standard_normal((30, 28, 26)).astype(np.float32)
    a = rfftn(x, in_core=False, workdir=tmp_path / "a", progress=False, backend="numpy", slab=4, block=3).values
    b = rfftn(x, in_core=False, workdir=tmp_path / "b", progress=False, backend="numpy", slab=11, block=28).values
    c = rfftn(x, client=client, workdir=tmp_path / "c", progress=False, backend="numpy", slab=6, block=7).values
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(a, c)
    assert rel(a, np.fft.rfftn(x.astype(np.float64))) < 1e-5


def test_q_crop_equals_crop_of_full(tmp_path, rng):
    shape, d, q_max = (40, 36, 50), 2.0, 0.6
    x = rng.standard_normal(shape)
    full = np.fft.rfftn(x)
    Fc = rfftn(x, spacing=d, q_max=q_max, in_core=False, workdir=tmp_path / "w", progress=False, slab=7, block=5)
    idx = [np.rint(Fc[c].values * n * d / (2 * np.pi)).astype(int) % n
           for c, n in (("q_z", shape[0]), ("q_y", shape[1]), ("q_x", shape[2]))]
    np.testing.assert_allclose(Fc.values, full[np.ix_(*idx)], rtol=0, atol=1e-10 * np.abs(full).max())
    assert np.all(np.abs(Fc.q_z.values) <= q_max + 1e-12) and np.all(np.abs(Fc.q_y.values) <= q_max + 1e-12)
    assert Fc.q_x.values.max() <= q_max + 1e-12
    kept_fraction = Fc.size / full.size
    assert kept_fraction < 0.3


class SumI(Reducer):
    """Σ w·|F|² and the count of weighted samples (a minimal reducer for tests)."""

    name = "sumI"

    def block(self, blk):
        w = blk.wx[None, None, :]
        return np.array([(w * np.abs(blk.values) ** 2).sum(), np.broadcast_to(w, blk.values.shape).sum()])

    def merge(self, a, b):
        return a + b

    def finalize(self, partial, grid):
        return partial


def test_fused_reducer_matches_in_memory(client, tmp_path, rng):
    x = rng.standard_normal((18, 22, 16))
    out = reduce_spectrum(x, [SumI()], client=client, workdir=tmp_path / "w", progress=False,
                          slab=5, block=4)
    ref = reduce_in_memory(np.fft.rfftn(x), Grid(x.shape), [SumI()])
    np.testing.assert_allclose(out["sumI"], ref["sumI"], rtol=1e-12)
    assert out["sumI"][1] == x.size  # Hermitian weights count every full-spectrum sample once
    assert out["sumI"][0] == pytest.approx((x**2).sum() * x.size, rel=1e-12)
    assert not (tmp_path / "w" / "mid.zarr").exists()  # intermediate cleaned up


def test_zero_slabs_skipped_and_recorded(tmp_path):
    x = np.zeros((12, 8, 8))
    x[5, 3, 2] = 1.0
    job = FFTJob(x, real=True, workdir=tmp_path / "w", progress=False, slab=2, block=4,
                 keep_intermediate=True, in_core=False, intermediate="disk")
    F, _ = job.execute()
    np.testing.assert_allclose(np.asarray(F), np.fft.rfftn(x), atol=1e-12)
    zero = Manifest(tmp_path / "w" / "mid.zarr").summary()["zero_slabs"]
    assert zero == ["p1-000000", "p1-000001", "p1-000003", "p1-000004", "p1-000005"]


def test_resume_recomputes_only_missing(tmp_path, rng):
    x = rng.standard_normal((20, 12, 10))
    kw = dict(real=True, workdir=tmp_path / "w", progress=False, slab=4, block=3, keep_intermediate=True,
              in_core=False, intermediate="disk")
    FFTJob(x, **kw).execute()
    man = Manifest(tmp_path / "w" / "mid.zarr")
    # simulate an interrupted pass 1: forget two slabs and the completion mark
    (man.done_dir / "p1-000001").unlink()
    (man.done_dir / "p1-000003").unlink()
    (man.meta / "complete").unlink()
    (tmp_path / "w" / "spectrum.zarr" / "hifft" / "complete").unlink()  # the interrupted job never got there
    job = FFTJob(x, **kw)
    F, _ = job.execute()
    assert job.counts["pass1"] == 2
    np.testing.assert_allclose(np.asarray(F), np.fft.rfftn(x), rtol=0, atol=1e-10)


def test_nonfinite_input_names_slab(tmp_path, rng):
    x = rng.standard_normal((10, 6, 6)).astype(np.float32)
    x[7, 2, 3] = np.nan
    with pytest.raises(InputError, match=r"non-finite.*z-planes 6:9.*\(7, 2, 3\)"):
        rfftn(x, in_core=False, workdir=tmp_path / "w", progress=False, slab=3)


@pytest.mark.parametrize(
    ("bad", "match"),
    [
        (np.zeros((4, 4), np.float32), "3D"),
        (np.zeros((0, 4, 4), np.float32), "empty"),
        (np.zeros((4, 4, 4), np.int16), "dtype int16"),
        (np.zeros((4, 4, 4), object), "dtype object"),
    ],
)
def test_bad_inputs(bad, match):
    with pytest.raises(InputError, match=match):
        rfftn(bad, progress=False)


def test_rfftn_refuses_complex(rng):
    with pytest.raises(InputError, match="real input"):
        rfftn(np.zeros((4, 4, 4), np.complex64), progress=False)


def test_store_of_other_job_refused(tmp_path, rng):
    x = rng.standard_normal((8, 8, 8))
    rfftn(x, store=tmp_path / "F.zarr", progress=False)
    with pytest.raises(StoreError, match="different hifft job"):
        rfftn(x + 1, store=tmp_path / "F.zarr", progress=False)
    F = rfftn(x + 1, store=tmp_path / "F.zarr", progress=False, overwrite=True)
    assert rel(F.values, np.fft.rfftn(x + 1)) < 1e-12


def test_zarr_volume_input_with_metadata(tmp_path, rng):
    import zarr

    x = rng.standard_normal((12, 10, 8)).astype(np.float32)
    zarr.create_array(store=str(tmp_path / "v.zarr"), data=x, chunks=(4, 10, 8),
                      attributes={"hifft": {"grid": {"shape": [12, 10, 8], "spacing": [3.0, 3.0, 3.0]}}})
    F = rfftn(str(tmp_path / "v.zarr"), in_core=False, workdir=tmp_path / "w", progress=False)
    assert rel(F.values, np.fft.rfftn(x.astype(np.float64))) < 1e-5
    np.testing.assert_allclose(F.q_z.values, 2 * np.pi * np.fft.fftfreq(12, 3.0))


def test_engine_stores_are_standard_zarr(tmp_path, rng):
    """Spectra written through chunkio (edge chunks included) open in zarr-python and xarray."""
    import xarray as xr
    import zarr

    x = rng.standard_normal((13, 11, 9)).astype(np.float32)
    rfftn(x, store=tmp_path / "F.zarr", progress=False, slab=5, block=4)
    z = zarr.open_array(str(tmp_path / "F.zarr"), mode="r")
    assert z.chunks[1] == 4 and 11 % 4 != 0  # has partial edge chunks
    np.testing.assert_allclose(z[:], np.fft.rfftn(x.astype(np.float64)), rtol=0, atol=1e-4)
    # dask/xarray read the same bytes through zarr
    import dask.array as dsa

    v = xr.DataArray(dsa.from_zarr(str(tmp_path / "F.zarr")), dims=("q_z", "q_y", "q_x"))
    np.testing.assert_array_equal(v.values, z[:])


def test_chunkio_roundtrip_and_truncation(tmp_path, rng):
    import zarr

    from hifft.fft.chunkio import RawChunkArray

    zarr.create_array(store=str(tmp_path / "a.zarr"), shape=(7, 10, 5), chunks=(3, 4, 5), dtype="complex64",
                      compressors=None, fill_value=0, zarr_format=3)
    a = RawChunkArray(tmp_path / "a.zarr")
    data = (rng.standard_normal((7, 10, 5)) + 1j).astype(np.complex64)
    for z0 in (0, 3, 6):
        a.write((z0, 0, 0), data[z0 : z0 + 3])
    np.testing.assert_array_equal(zarr.open_array(str(tmp_path / "a.zarr"))[:], data)
    np.testing.assert_array_equal(a.read((0, 4, 0), (7, 8, 5)), data[:, 4:8])
    with pytest.raises(ValueError, match="not aligned"):
        a.read((1, 0, 0), (3, 4, 5))
    chunk = tmp_path / "a.zarr" / "c" / "1" / "0" / "0"
    chunk.write_bytes(chunk.read_bytes()[:100])
    with pytest.raises(OSError, match=r"chunk \(1, 0, 0\).*truncated"):
        a.read((0, 0, 0), (7, 10, 5))
