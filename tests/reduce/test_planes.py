from __future__ import annotations

import dask.array as da
import numpy as np
import pytest

from hifft.fft.reducer import reduce_in_memory
from hifft.grid import Grid
from hifft.reduce import PlaneReducer, ProjectionReducer, detector_image

from .helpers import full_intensity

SHAPES = [(12, 10, 8), (11, 9, 7), (9, 12, 10)]


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("block_rows", [1, 5, 100])
def test_central_planes_equal_the_full_fft_planes(rng, shape, block_rows):
    g = Grid(shape, (2.0, 1.0, 1.5))
    x = rng.standard_normal(shape)
    reds = [PlaneReducer(a) for a in "zyx"]
    out = reduce_in_memory(np.fft.rfftn(x), g, reds, half=True, block_rows=block_rows)
    full = full_intensity(x, g, sinc=True)
    expect = {"plane_z": full[0], "plane_y": full[:, 0, :], "plane_x": full[:, :, 0]}
    for name, ref in expect.items():
        img = out[name]
        assert not np.isnan(img.values).any()
        np.testing.assert_allclose(img.values, np.fft.fftshift(ref), rtol=1e-10, err_msg=name)
    assert out["plane_z"].dims == ("q_y", "q_x")
    np.testing.assert_allclose(out["plane_z"]["q_x"].values, np.fft.fftshift(g.q(2)))


@pytest.mark.parametrize("shape", SHAPES[:2])
def test_projections_integrate_over_the_axis(rng, shape):
    g = Grid(shape, 2.0)
    x = rng.standard_normal(shape)
    reds = [ProjectionReducer(a, sinc_correction=False) for a in (0, 1, 2)]
    out = reduce_in_memory(np.fft.rfftn(x), g, reds, half=True, block_rows=4)
    full = full_intensity(x, g, sinc=False)
    for a, r in enumerate(reds):
        ref = np.fft.fftshift(full.sum(axis=a) * g.dq[a])
        np.testing.assert_allclose(out[r.name].values, ref, rtol=1e-10, err_msg=r.name)


@pytest.mark.parametrize("as_dask", [False, True])
@pytest.mark.parametrize("axis", [0, "y"])
def test_projection_slice_image_equals_the_qz0_plane(rng, as_dask, axis):
    shape = (10, 12, 9)
    g = Grid(shape, 2.5)
    x = rng.random(shape).astype(np.float32)
    vol = da.from_array(x, chunks=(3, 12, 9)) if as_dask else x
    img = detector_image(vol, axis=axis, spacing=2.5)
    a = Grid.axis_index(axis)
    plane = np.take(full_intensity(x.astype(np.float64), g, sinc=True), 0, axis=a)
    np.testing.assert_allclose(img.values, np.fft.fftshift(plane), rtol=1e-6)
    F = np.fft.rfftn(x.astype(np.float64))
    pr = reduce_in_memory(F, g, [PlaneReducer(a)])[f"plane_{'zyx'[a]}"]
    assert img.dims == pr.dims
    np.testing.assert_allclose(img.values, pr.values, rtol=1e-6)
    assert img.attrs["units"] == "1/cm" and img.attrs["friedel_symmetric"] == 1


def test_detector_image_of_a_volume(rng):
    import hifft

    g = Grid((8, 10, 6), 3.0)
    x = rng.random(g.shape)
    arr = da.from_array(x, chunks=(2, 10, 6))
    vol = hifft.from_array(arr, spacing=3.0, attrs={"scene": {"n": 1}})
    img = detector_image(vol)
    ref = np.fft.fftshift(full_intensity(x, g, sinc=True)[0])
    np.testing.assert_allclose(img.values, ref, rtol=1e-10)
    assert "scene" in img.attrs["source"]
