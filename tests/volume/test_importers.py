"""Imported densities: file round trips, CHGCAR, tiling, Fourier up-sampling, bad input."""

from __future__ import annotations

import h5py
import numpy as np
import pytest
import tifffile

import hifft
from hifft.volume import importers as im
from hifft.volume.validate import VolumeError


@pytest.fixture
def data(rng):
    return rng.normal(size=(9, 10, 11)).astype(np.float32)


def test_npy_round_trip_and_build(client, tmp_path, data):
    np.save(tmp_path / "rho.npy", data)
    vol = im.read_npy(tmp_path / "rho.npy", spacing="0.5 nm")
    assert vol.grid.spacing == (5.0, 5.0, 5.0) and vol.dtype == np.float32
    np.testing.assert_array_equal(vol.slab(2, 7), data[2:7])
    built = hifft.build_volume(vol, tmp_path / "rho.zarr", client=client, slab_depth=4)
    np.testing.assert_array_equal(built.to_numpy(), data)
    assert built.attrs["source"]["kind"] == "npy" and built.attrs["scene"] is None
    shifted = im.read_npy(tmp_path / "rho.npy", spacing=1.0, sld_solvent=2.0, scale=3.0)
    assert shifted.dtype == np.float32
    np.testing.assert_allclose(
        shifted.slab(0, 9), 3.0 * data.astype(float) - 2.0, rtol=1e-6, atol=1e-6
    )


def test_hdf5_round_trip(tmp_path, data):
    with h5py.File(tmp_path / "rho.h5", "w") as f:
        ds = f.create_dataset("entry/density", data=data.astype(np.float64))
        ds.attrs["spacing"] = [1.0, 2.0, 3.0]
        f.create_dataset("flat", data=np.zeros((4, 4)))
    vol = im.read_hdf5(tmp_path / "rho.h5", "entry/density")
    assert vol.grid.spacing == (1.0, 2.0, 3.0) and vol.dtype == np.float64
    np.testing.assert_array_equal(vol.to_numpy(), data.astype(np.float64))
    with pytest.raises(VolumeError, match=r"no dataset 'missing'.*entry/density"):
        im.read_hdf5(tmp_path / "rho.h5", "missing", spacing=1.0)
    with pytest.raises(VolumeError, match=r"flat.*3D"):
        im.read_hdf5(tmp_path / "rho.h5", "flat", spacing=1.0)


def test_tiff_round_trip(tmp_path, data):
    tifffile.imwrite(tmp_path / "stack.tif", data)
    vol = im.read_density(tmp_path / "stack.tif", spacing=2.0)
    np.testing.assert_array_equal(vol.slab(0, 9), data)
    np.testing.assert_array_equal(vol.slab(4, 5), data[4:5])
    tifffile.imwrite(tmp_path / "one.tif", data[0])
    with pytest.raises(VolumeError, match="3D"):
        im.read_tiff(tmp_path / "one.tif", spacing=1.0)


def write_chgcar(path, lattice, grid_xyz, values_zyx, per_line=5):
    ngx, ngy, ngz = grid_xyz
    flat = values_zyx.reshape(-1)  # x fastest
    lines = ["unit test cell", "   1.0"]
    lines += ["  " + "  ".join(f"{v:.6f}" for v in row) for row in lattice]
    lines += [
        "   Si   O",
        "     1     2",
        "Direct",
        "  0.0 0.0 0.0",
        "  0.5 0.5 0.5",
        "  0.25 0.25 0.25",
        "",
        f"   {ngx}   {ngy}   {ngz}",
    ]
    for i in range(0, len(flat), per_line):
        lines.append(" " + " ".join(f"{v:.11E}" for v in flat[i : i + per_line]))
    lines += ["augmentation occupancies   1  2", " 0.1 0.2"]
    path.write_text("\n".join(lines) + "\n")


def test_chgcar(tmp_path):
    iz, iy, ix = np.meshgrid(np.arange(5), np.arange(4), np.arange(3), indexing="ij")
    raw = (1 + ix + 10 * iy + 100 * iz).astype(float)  # ρ·V as VASP writes it
    lattice = np.diag([6.0, 8.0, 10.0])
    write_chgcar(tmp_path / "CHGCAR", lattice, (3, 4, 5), raw)
    vol = im.read_density(tmp_path / "CHGCAR")
    assert vol.shape == (5, 4, 3) and vol.grid.spacing == (2.0, 2.0, 2.0)
    r_e = 2.8179403205e-5  # Å
    np.testing.assert_allclose(vol.to_numpy(), raw / 480.0 * r_e * 1e6, rtol=1e-6)
    e = im.read_chgcar(tmp_path / "CHGCAR", quantity="electron_density", dtype="float64")
    assert e.to_numpy().sum() * vol.grid.voxel_volume == pytest.approx(
        raw.mean()
    )  # electrons per cell
    write_chgcar(tmp_path / "CHGCAR_tri", [[6, 0, 0], [1, 8, 0], [0, 0, 10]], (3, 4, 5), raw)
    with pytest.raises(VolumeError, match="not orthogonal"):
        im.read_chgcar(tmp_path / "CHGCAR_tri")
    text = (tmp_path / "CHGCAR").read_text().splitlines()
    (tmp_path / "CHGCAR_cut").write_text("\n".join(text[:16]) + "\n")
    with pytest.raises(VolumeError, match="truncated"):
        im.read_chgcar(tmp_path / "CHGCAR_cut")


def test_tile(data):
    cell = hifft.from_array(data, spacing=1.5)
    t = im.tile(cell, (3, 2, 1))
    assert t.shape == (27, 20, 11) and t.grid.spacing == (1.5, 1.5, 1.5)
    ref = np.tile(data, (3, 2, 1))
    for z0, z1 in [(0, 27), (5, 17), (8, 10), (0, 1)]:
        np.testing.assert_array_equal(t.slab(z0, z1), ref[z0:z1])


def band_limited(grid: hifft.Grid) -> np.ndarray:
    z, y, x = np.meshgrid(*(grid.coords(a) for a in range(3)), indexing="ij")
    lz, ly, lx = grid.box
    return (
        1
        + np.cos(2 * np.pi * 2 * z / lz + 0.3) * np.sin(2 * np.pi * 3 * y / ly - 0.1)
        + 0.5 * np.cos(2 * np.pi * 4 * x / lx + 0.7)
        + 0.2 * np.cos(2 * np.pi * (3 * z / lz + 5 * x / lx))
    )


def test_fourier_upsampling_is_exact_for_band_limited_density():
    coarse_grid = hifft.Grid(shape=(8, 10, 12), spacing=(1.0, 1.5, 2.0))
    coarse = hifft.from_array(band_limited(coarse_grid), grid=coarse_grid)
    fine = im.upsample(coarse, (16, 25, 36))
    assert fine.grid.box == pytest.approx(coarse_grid.box)
    np.testing.assert_allclose(fine.to_numpy(), band_limited(fine.grid), atol=1e-12)
    np.testing.assert_allclose(fine.slab(5, 9), band_limited(fine.grid)[5:9], atol=1e-12)


def test_fourier_upsampling_odd_factor_keeps_samples(rng):
    """×3 (odd): every third fine voxel centre is a coarse one and keeps its value."""
    coarse = rng.normal(size=(6, 8, 4))
    fine = im.upsample(hifft.from_array(coarse, spacing=3.0), (18, 24, 12)).to_numpy()
    np.testing.assert_allclose(fine[1::3, 1::3, 1::3], coarse, atol=1e-12)
    assert fine.mean() == pytest.approx(coarse.mean())
    with pytest.raises(VolumeError, match="only up-sampling"):
        im.upsample(hifft.from_array(coarse, spacing=3.0), (4, 8, 4))


def test_from_array_inputs_and_errors(tmp_path):
    import dask.array as da

    v = hifft.from_array(np.ones((4, 5, 6), dtype=np.int16), spacing=2.0)
    assert v.dtype == np.float32 and v.slab(0, 4).dtype == np.float32
    assert hifft.from_array(np.ones((2, 2, 2)), spacing=1.0).dtype == np.float64
    bad = np.zeros((4, 5, 6))
    bad[3, 1, 2] = np.inf
    with pytest.raises(VolumeError, match=r"slab z=0:4; first at voxel \(z, y, x\) = \(3, 1, 2\)"):
        hifft.from_array(bad, spacing=1.0)
    lazy = hifft.from_array(da.from_array(bad, chunks=2), spacing=1.0, name="lazy")
    lazy.slab(0, 2)
    with pytest.raises(VolumeError, match=r"lazy.*\(3, 1, 2\)"):
        lazy.slab(2, 4)
    with pytest.raises(VolumeError, match=r"lazy.*\(3, 1, 2\)"):
        lazy.to_dask(depth=2).compute(scheduler="sync")
    for arr, match in [
        (np.zeros((4, 4)), "3D"),
        (np.zeros((4, 4, 4, 4)), "3D"),
        (np.zeros((0, 4, 4)), "zero-size"),
        (np.zeros((2, 2, 2), complex), "complex"),
        (np.array([[["a"]]]), "not numeric"),
    ]:
        with pytest.raises(VolumeError, match=match):
            hifft.from_array(arr, spacing=1.0)
    with pytest.raises(ValueError, match="spacing"):
        hifft.from_array(np.zeros((2, 2, 2)))
    with pytest.raises(IndexError):
        v.slab(3, 9)
    np.save(tmp_path / "c.npy", np.zeros((2, 2, 2), complex))
    with pytest.raises(VolumeError, match="complex"):
        im.read_npy(tmp_path / "c.npy", spacing=1.0)
    (tmp_path / "junk.npy").write_bytes(b"not an array")
    with pytest.raises(VolumeError, match=r"junk\.npy"):
        im.read_npy(tmp_path / "junk.npy", spacing=1.0)
    with pytest.raises(FileNotFoundError):
        im.read_npy(tmp_path / "missing.npy", spacing=1.0)
