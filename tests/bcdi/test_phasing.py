"""Phase retrieval on small noise-free patterns with gaps, the support safeguard, and the comparison tools."""

from __future__ import annotations

import numpy as np
import pytest

from hifft import bcdi
from hifft.bcdi import evaluate as ev
from hifft.bcdi import phasing as ph
from hifft.bcdi.simulate import diffraction
from hifft.grid import Grid

G = (0.0, 0.0, 2 * np.pi / 2.35)


def _crystal_object(n: int, os_: float, seed: int) -> np.ndarray:
    """A rotated Wulff crystal (anti-aliased) with an off-centre inclusion's phase (≈ 1.5 rad range)."""
    grid = Grid(n, 1.0)
    c = bcdi.fit_oversampling(bcdi.wulff(d100=1.0, d111=0.9, d110=1.05).rotated(bcdi.random_rotation(seed)),
                              grid, os_)
    rho = bcdi.support(c, grid, supersample=2)
    u = bcdi.spherical_inclusion(grid, n / 10, 0.06, centre=(1.5, -2.0, 1.0))
    return bcdi.complex_object(rho, u, G, dtype=np.complex128)


@pytest.fixture(scope="module")
def obj2d() -> np.ndarray:
    return _crystal_object(64, 2.7, 1)[32]  # a 2D section: a polygon with a smooth phase


def test_2d_recovery_with_cross_gap(obj2d):
    I = diffraction(obj2d)
    mask = bcdi.cross_gap(I.shape, (40, 21), 3)  # off-centre cross: no modulus constraint there
    res = bcdi.phase_retrieval(I, mask, starts=4, seed=0)
    cmp = bcdi.compare(res.obj, obj2d)
    assert np.ptp(np.angle(obj2d[np.abs(obj2d) > 0.5])) > 1.0  # the phase is not trivial
    assert cmp.modulus_error < 0.1 and cmp.phase_rmse < 0.1
    # the gap is filled by the reconstruction's own transform
    Ic = np.abs(np.fft.fftshift(np.fft.fftn(np.fft.ifftshift(res.obj)))) ** 2
    assert np.linalg.norm(Ic[mask] - I[mask]) < 0.1 * np.linalg.norm(I[mask])
    assert res.selected_by == "llk_free" and res.llk_free == min(s.llk_free for s in res.starts)


def test_3d_recovery_with_plane_gap():
    obj = _crystal_object(32, 2.6, 2)
    I = diffraction(obj)
    mask = bcdi.extend(bcdi.line_gap(I.shape[1:], 1, 22, 3), I.shape[0])  # a detector gap: a plane in 3D
    res = bcdi.phase_retrieval(I, mask, recipe=bcdi.Recipe(hio=200, er=100), starts=2, seed=3)
    cmp = bcdi.compare(res.obj, obj)
    assert cmp.modulus_error < 0.1 and cmp.phase_rmse < 0.1


def test_fill_guides_hio_through_a_gap_at_the_peak(obj2d):
    """A cross through the Bragg peak removes the strongest voxels: left free, HIO does not recover the
    object; held at the true intensities through HIO (then free through ER), it does. The gap voxels
    are free at the end: the reconstruction's own moduli there, not the fill, come back."""
    I = diffraction(obj2d)
    peak = np.unravel_index(int(np.argmax(I)), I.shape)
    mask = bcdi.cross_gap(I.shape, peak, 5)
    recipe = bcdi.Recipe(hio=300, er=100)
    masked = bcdi.compare(bcdi.phase_retrieval(I, mask, recipe=recipe, starts=2, seed=0).obj, obj2d)
    res = bcdi.phase_retrieval(I, mask, recipe=recipe, starts=2, seed=0, fill=I)
    guided = bcdi.compare(res.obj, obj2d)
    assert guided.modulus_error < 0.1 and guided.phase_rmse < 0.1
    assert masked.modulus_error > 2 * guided.modulus_error
    # a wrong fill (gap voxels ×4) is released for ER: the gap moduli relax away from it
    wrong = bcdi.phase_retrieval(I, mask, recipe=recipe, starts=1, seed=0, fill=4 * I)
    Ic = np.abs(np.fft.fftshift(np.fft.fftn(np.fft.ifftshift(wrong.obj)))) ** 2
    assert np.linalg.norm(Ic[mask] - 4 * I[mask]) > 0.5 * np.linalg.norm(I[mask])


def test_fill_bad_inputs(obj2d):
    I = diffraction(obj2d)
    mask = bcdi.cross_gap(I.shape, (40, 21), 3)
    with pytest.raises(bcdi.PhasingError, match=r"fill: shape \(3, 3\)"):
        bcdi.phase_retrieval(I, mask, fill=np.ones((3, 3)))
    with pytest.raises(bcdi.PhasingError, match="no gap voxels"):
        bcdi.phase_retrieval(I, None, fill=I)
    with pytest.raises(bcdi.PhasingError, match="finite and ≥ 0"):
        bcdi.phase_retrieval(I, mask, fill=np.where(mask, -1.0, I))


def test_torch_backend_matches_numpy(obj2d):
    """The same start, iterations and shrink-wraps on torch (CPU) and on numpy (the reference), in
    complex128: HIO amplifies rounding, so complex64 runs drift apart by ~1 % within 40 iterations."""
    from hifft.bcdi.backends import get_ops

    I0 = np.fft.ifftshift(diffraction(obj2d))
    gaps = np.fft.ifftshift(bcdi.line_gap(I0.shape, 0, 40, 3))
    s0 = ph.initial_support(I0, gaps, 0.04)
    recipe = bcdi.Recipe(hio=30, er=10, shrinkwrap_every=5)
    out = {}
    for name in ("numpy", "torch"):
        ops = get_ops(name, np.complex128)
        psi, s, history, _ = ph.run_start(ops, np.sqrt(I0) * ~gaps, ~gaps, s0, recipe, seed=5)
        out[name] = (ops.to_numpy(psi), ops.to_numpy(s), history)
    (pn, sn, hn), (pt, st, ht) = out["numpy"], out["torch"]
    assert pt.dtype == np.complex128
    assert np.array_equal(sn, st)
    assert np.linalg.norm(pt - pn) < 1e-8 * np.linalg.norm(pn)
    assert np.allclose(ht, hn, rtol=1e-8)
    assert hn[-1] < 0.5 * hn[0]  # and it converges


def test_vanishing_support_keeps_last_good(obj2d):
    I = diffraction(obj2d)
    recipe = bcdi.Recipe(hio=40, er=20, threshold=0.9999, min_support=8, free_fraction=0.0)
    with pytest.warns(bcdi.SupportWarning, match="kept the previous support"):
        res = bcdi.phase_retrieval(I, recipe=recipe, starts=1, select="error")
    s0 = np.fft.fftshift(ph.initial_support(np.fft.ifftshift(I), np.zeros(I.shape, bool),
                                            recipe.autocorrelation_threshold))
    assert res.starts[0].warnings > 0
    assert res.support.sum() >= recipe.min_support
    assert np.array_equal(res.support, s0)  # every shrink-wrap was refused: still the first support
    assert np.isfinite(res.obj).all() and np.abs(res.obj).max() > 0


def test_selection_by_error(obj2d):
    I = diffraction(obj2d)
    res = bcdi.phase_retrieval(I, recipe=bcdi.Recipe(hio=40, er=20), starts=3, seed=1, select="error")
    assert res.error == min(s.error for s in res.starts)
    assert len({s.seed for s in res.starts}) == 3


def test_free_set_and_deviance():
    rng = np.random.default_rng(0)
    mask = np.zeros((16, 18), bool)
    mask[:, 4:7] = True
    free = ph.free_set(mask, 0.1, rng)
    assert not (free & mask).any()
    mates = np.roll(np.flip(free), 1, axis=(0, 1))  # index k → (−k) mod n
    assert not (mates & ~mask & ~free).any()  # every unmasked Friedel mate is held out too
    assert 0.05 < free.sum() / (~mask).sum() < 0.3
    assert not ph.free_set(mask, 0.5, rng, exclude_centre=0.2)[0, 0]  # never the peak
    i = rng.poisson(50.0, size=100).astype(float)
    assert ph.poisson_deviance(i, i) == pytest.approx(0.0, abs=1e-12)
    assert ph.poisson_deviance(i, 1.2 * i) > 0


def test_bad_inputs():
    I = np.ones((8, 8, 8))
    with pytest.raises(ValueError, match=r"shape \(8, 9\) does not match the pattern's shape \(8, 8, 8\)"):
        bcdi.phase_retrieval(I, np.zeros((8, 9), bool))
    with pytest.raises(bcdi.PhasingError, match="free_fraction"):
        bcdi.phase_retrieval(I, recipe=bcdi.Recipe(free_fraction=0.0))
    with pytest.raises(bcdi.PhasingError, match="intensity"):
        bcdi.phase_retrieval(-I)
    with pytest.raises(ValueError, match="backend"):
        bcdi.phase_retrieval(I, backend="jax", recipe=bcdi.Recipe(hio=1, er=1))
    with pytest.raises(ValueError, match="hio"):
        bcdi.Recipe(hio=-1)


def test_compare_undoes_the_ambiguities(obj2d):
    """Twin, translation, global phase, linear ramp and scale are all removed; a real change is not."""
    n = obj2d.shape[0]
    yy, xx = np.indices(obj2d.shape)
    ramp = np.exp(1j * (0.13 * yy - 0.07 * xx))
    moved = 1.7 * np.roll(ev.twin(obj2d), (5, -3), axis=(0, 1)) * ramp * np.exp(0.8j)
    cmp = bcdi.compare(moved, obj2d)
    assert cmp.twin and cmp.modulus_error < 1e-9 and cmp.phase_rmse < 1e-9
    # a sub-voxel shift of a band-limited (blurred) object is found too
    blurred = np.fft.ifftn(np.fft.fftn(obj2d) * np.exp(-0.5 * (np.fft.fftfreq(n)[:, None] ** 2
                                                             + np.fft.fftfreq(n)[None, :] ** 2) / 0.1**2))
    cmp = bcdi.compare(ev.shift(blurred, np.array([2.4, -1.3])), blurred)
    assert cmp.modulus_error < 1e-2 and cmp.phase_rmse < 1e-2
    assert np.allclose(cmp.shift, [-2.4, 1.3], atol=0.15)
    # a real difference survives the alignment
    wrong = obj2d * np.exp(0.5j * (np.abs(obj2d) > 0.5) * (yy > n // 2))
    assert bcdi.compare(wrong, obj2d).phase_rmse > 0.1
