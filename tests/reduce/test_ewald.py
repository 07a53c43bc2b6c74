from __future__ import annotations

import pickle

import numpy as np
import pytest

from hifft import units
from hifft.fft.reducer import reduce_in_memory
from hifft.grid import Grid
from hifft.reduce import Detector, EwaldReducer, PlaneReducer


def _flat_matched_detector(g: Grid, lam: float) -> Detector:
    """Pixels that land on the (q_y, q_x) grid points in the flat limit."""
    k = 2 * np.pi / lam
    dist = 1e6
    return Detector(g.shape[1:], (g.dq[1] * dist / k, g.dq[2] * dist / k), dist,
                    beam_center=(g.shape[1] // 2, g.shape[2] // 2))


def test_ewald_image_tends_to_the_flat_slice_as_wavelength_goes_to_zero(rng):
    g = Grid((16, 12, 10), 2.0)
    x = rng.standard_normal(g.shape)
    F = np.fft.rfftn(x)
    plane = reduce_in_memory(F, g, [PlaneReducer(0)])["plane_z"].values
    errs = []
    for lam in (1e-1, 1e-2, 1e-3):
        img = reduce_in_memory(F, g, [EwaldReducer(lam, _flat_matched_detector(g, lam))],
                               block_rows=5)["ewald"]
        assert not np.isnan(img.values).any()
        errs.append(np.abs(img.values - plane).max() / plane.max())
    assert errs[0] > errs[1] > errs[2]
    assert errs[2] < 5e-3
    assert errs[1] / errs[2] == pytest.approx(10, rel=0.2)  # first order in λ (q_z ∝ q²/k)


@pytest.mark.parametrize("shape", [(12, 10, 8), (11, 9, 7)])
def test_half_and_full_spectrum_and_block_sizes_agree(rng, shape):
    g = Grid(shape, 1.5)
    x = rng.standard_normal(shape)
    det = Detector.from_angle((23, 19), 40.0, distance="10 cm", beam_center=(11.2, 8.6))
    lam = 2 * np.pi / (g.q_max * 2.5)  # the detector reaches beyond Nyquist: some NaN pixels
    red = EwaldReducer(lam, det, sinc_correction=True)
    ref = reduce_in_memory(np.fft.fftn(x), g, [red], half=False, block_rows=3)["ewald"].values
    assert np.isnan(ref).any() and np.isfinite(ref).any()
    for rows in (1, 4, 100):
        img = reduce_in_memory(np.fft.rfftn(x), g, [red], half=True, block_rows=rows)["ewald"]
        np.testing.assert_allclose(img.values, ref, rtol=1e-10, equal_nan=True)


def test_wide_angle_image_is_trilinear_interpolation_on_the_curved_sphere():
    """A tilted anisotropic Gaussian (I(q_x, q_y, q_z) ≠ I(q_x, q_y, −q_z)): at 30° the
    image equals scipy's trilinear interpolation of the full |F|² at each pixel's
    q = k(ŝ − ẑ), and is far from the flat slice (curvature matters)."""
    from scipy.interpolate import RegularGridInterpolator

    n, d = 32, 1.0
    g = Grid(n, d)
    rot = np.array([[np.cos(0.6), 0, np.sin(0.6)], [0, 1, 0], [-np.sin(0.6), 0, np.cos(0.6)]])
    cov = rot @ np.diag([1.2**2, 1.5**2, 2.0**2]) @ rot.T  # (z, y, x), Å²
    c = [g.coords(a) + 0.5 * d for a in range(3)]
    r = np.stack(np.meshgrid(*c, indexing="ij"), axis=-1)
    x = np.exp(-0.5 * np.einsum("...i,ij,...j->...", r, np.linalg.inv(cov), r))
    lam = 2 * np.pi / 4.0  # k = 4/Å; at the detector corner |q| ≈ 2.6/Å < Nyquist π/Å
    det = Detector.from_angle(41, 30.0, distance="1 m")
    img = reduce_in_memory(np.fft.rfftn(x), g, [EwaldReducer(lam, det, sinc_correction=False)],
                           block_rows=5)["ewald"]
    assert not np.isnan(img.values).any()
    qz, qy, qx = (img.coords[f"q_{a}"].values for a in "zyx")
    assert qz.max() <= 0 and qz.min() < -0.5  # q_z = k(cos 2θ − 1)
    scale = units.INTENSITY_PREFACTOR * g.voxel_volume**2 / g.volume
    full = np.fft.fftshift(scale * np.abs(np.fft.fftn(x)) ** 2)
    axes = [np.fft.fftshift(g.q(a)) for a in range(3)]
    interp = RegularGridInterpolator(axes, full, method="linear")
    ref = interp(np.stack([qz, qy, qx], axis=-1))
    np.testing.assert_allclose(img.values, ref, rtol=1e-9)
    flat = interp(np.stack([np.zeros_like(qz), qy, qx], axis=-1))
    bright = ref > 1e-3 * ref.max()
    assert np.max(np.abs(flat[bright] / ref[bright] - 1)) > 0.5
    mirrored = interp(np.stack([-qz, qy, qx], axis=-1))  # wrong sign of q_z
    assert np.max(np.abs(mirrored[bright] / ref[bright] - 1)) > 0.1
    assert img.coords["two_theta"].values.max() == pytest.approx(np.degrees(np.arctan(
        np.tan(np.radians(30)) * np.sqrt(2) * 40 / 41)), rel=1e-9)


def test_reducer_settings_are_small_and_unchanged_by_use(rng):
    """The engine fingerprints vars(reducer) to resume and ships reducers to workers."""
    g = Grid(8, 1.0)
    red = EwaldReducer("1.54 Å", Detector(32, "100 um", "0.1 m"))
    before = repr(vars(red))
    reduce_in_memory(np.fft.rfftn(rng.standard_normal(g.shape)), g, [red])
    assert repr(vars(red)) == before
    blob = pickle.dumps(red)
    assert len(blob) < 2000
    assert pickle.loads(blob).wavelength == pytest.approx(1.54)


def test_detector_validation():
    with pytest.raises(ValueError, match="positive"):
        Detector(10, 0.0, 1e9)
    with pytest.raises(ValueError, match="wavelength"):
        EwaldReducer(-1.0, Detector(10, 1e5, 1e9))
    det = Detector((4, 6), "1 mm", "1 m")
    assert det.pixel_size == (1e7, 1e7) and det.beam_center == (1.5, 2.5)
