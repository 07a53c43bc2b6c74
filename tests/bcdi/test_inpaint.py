"""Gap inpainting: patch planning, overlap-averaged inference, baselines, metrics, bad input."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy import ndimage

from hifft.bcdi import gaps
from hifft.bcdi import inpaint as ip
from hifft.bcdi.patches import PlanError, axis_origins, gap_width, plan_patches

# ---------------------------------------------------------------------------
# planning
# ---------------------------------------------------------------------------


@st.composite
def masks_and_plans(draw):
    ndim = draw(st.sampled_from([2, 3]))
    shape = tuple(draw(st.integers(4, 40)) for _ in range(ndim))
    patch = draw(st.integers(6, 24))
    margin = draw(st.integers(0, (patch - 1) // 2))
    stride = draw(st.integers(1, patch - 2 * margin))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    mask = np.zeros(shape, dtype=bool)
    for _ in range(draw(st.integers(0, 3))):  # bands of random width along random axes
        ax = int(rng.integers(ndim))
        w = int(rng.integers(1, shape[ax] + 1))
        mask |= gaps.line_gap(shape, ax, int(rng.integers(0, shape[ax] - w + 1)), w)
    mask |= rng.uniform(size=shape) < draw(st.sampled_from([0.0, 0.01, 0.1]))  # scattered dead pixels
    return mask, patch, margin, stride


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(masks_and_plans())
def test_plan_covers_every_gap_voxel_or_names_the_width(case):
    mask, patch, margin, stride = case
    limit = patch - 2 * margin
    if mask.all():
        with pytest.raises(PlanError, match="every voxel is in the gap"):
            plan_patches(mask, patch, stride, margin)
        return
    if gap_width(mask) > limit:
        with pytest.raises(PlanError, match=f"{gap_width(mask)} px wide"):
            plan_patches(mask, patch, stride, margin)
        return
    plan = plan_patches(mask, patch, stride, margin)
    assert plan.covered()[mask].all()
    for k in range(len(plan)):
        sl = plan.slices(k)
        assert all(s.start >= 0 and s.stop <= n for s, n in zip(sl, mask.shape, strict=True))
        inner = tuple(slice(s.start + a, s.start + b) for s, (a, b) in zip(sl, plan.interiors[k], strict=True))
        assert mask[inner].any()  # no patch without gap voxels in its interior
        for ax, (a, b) in enumerate(plan.interiors[k]):  # margins kept except at the array's faces
            assert a == 0 if sl[ax].start == 0 else a == margin
            assert b == plan.size[ax] if sl[ax].stop == mask.shape[ax] else b == plan.size[ax] - margin
        w = plan.weight(k)
        inside = np.zeros(plan.size, dtype=bool)
        inside[tuple(slice(a, b) for a, b in plan.interiors[k])] = True
        assert (w[inside] > 0).all() and (w[~inside] == 0).all()


@pytest.mark.parametrize(
    ("make", "width"),
    [
        (lambda: gaps.line_gap((40, 50), 1, 10, 7), 7),
        (lambda: gaps.cross_gap((40, 50), (20, 25), 6), 6),
        (lambda: gaps.extend(gaps.cross_gap((30, 30), (15, 15), 9), 12), 9),  # planes through every frame
        (lambda: gaps.line_gap((20, 20, 20), 0, 3, 4), 4),  # missing frames
        (lambda: np.eye(12, dtype=bool), 1),  # a diagonal line of dead pixels
        (lambda: np.zeros((8, 8), dtype=bool), 0),
    ],
)
def test_gap_width_of_known_masks(make, width):
    assert gap_width(make()) == width


def test_refuses_a_gap_wider_than_the_interior():
    mask = gaps.extend(gaps.line_gap((64, 64), 1, 20, 25), 40)
    with pytest.raises(PlanError, match=r"25 px wide.*at most 24 px"):
        plan_patches(mask, 32, margin=4)
    assert len(plan_patches(gaps.extend(gaps.line_gap((64, 64), 1, 20, 24), 40), 32, margin=4)) > 0


def test_refuses_holes_between_interiors():
    mask = gaps.line_gap((64, 64), 1, 20, 3)
    with pytest.raises(PlanError, match="stride"):
        plan_patches(mask, 32, stride=25, margin=4)
    with pytest.raises(PlanError, match="no interior"):
        plan_patches(mask, 8, margin=4)


def test_axis_origins_reach_both_ends():
    assert axis_origins(100, 32, 12) == [0, 12, 24, 36, 48, 60, 68]
    assert axis_origins(20, 32, 12) == [0]  # a short axis: one patch spans it


def test_plan_touches_only_patches_along_the_gap():
    # a 6-px plane in a 128³ volume: a few rows of patches, not the whole volume
    mask = gaps.extend(gaps.line_gap((128, 128), 1, 60, 6), 128)
    plan = plan_patches(mask, 32, 12, 4)
    per_axis = len(axis_origins(128, 32, 12))
    across = {int(o) for o in plan.origins[:, 2]}  # 24-px interiors every 12 px: ≤ 3 hold a 6-px band
    assert len(across) <= 3 and len(plan) == per_axis**2 * len(across)
    assert plan.covered()[mask].all()


def test_bcdi_and_the_inpainting_baselines_import_without_torch():
    import subprocess
    import sys

    code = ("import sys; sys.modules['torch'] = None\n"
            "import hifft.bcdi, hifft.bcdi.cli, hifft.bcdi.inpaint, hifft.bcdi.inpaint_data, hifft.bcdi.inpaint_eval\n"
            "import numpy as np\n"
            "from hifft.bcdi.inpaint import inpaint\n"
            "m = np.zeros((8, 8), bool); m[:, 3] = True\n"
            "print(round(float(inpaint(np.ones((8, 8)), m, 'biharmonic')[0, 3]), 6))\n"
            "hifft.bcdi.InpaintUNet\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert done.stdout.strip() == "1.0", done.stderr
    assert "ModuleNotFoundError" in done.stderr or "ImportError" in done.stderr  # only the model needs torch


# ---------------------------------------------------------------------------
# overlap-averaged inference against direct computations
# ---------------------------------------------------------------------------

torch = pytest.importorskip("torch")


class BoxMean(torch.nn.Module):
    """Identity-like 'model': the 3-wide box mean of the masked log-intensity (zero padding), radius 1."""

    def __init__(self, dims: int) -> None:
        super().__init__()
        self.dims = dims

    def forward(self, x):
        k = torch.full((1, 1, *(3,) * self.dims), 1.0 / 3**self.dims)
        conv = torch.nn.functional.conv2d if self.dims == 2 else torch.nn.functional.conv3d
        return conv(x[:, :1], k, padding=1)


def _pattern(shape, seed=0):
    rng = np.random.default_rng(seed)
    return rng.poisson(50 * np.exp(rng.normal(0, 1.5, shape))).astype(np.float64)


@pytest.mark.parametrize(
    ("shape", "make_mask", "patch", "stride", "margin"),
    [
        ((37, 45), lambda s: gaps.cross_gap(s, (18, 20), 5), 16, 4, 2),
        ((40, 50, 45), lambda s: gaps.extend(gaps.cross_gap(s[1:], (25, 20), 4), s[0]), 16, 5, 2),
        ((20, 30, 33), lambda s: gaps.line_gap(s, 2, 0, 3), 12, 8, 1),  # gap on the array's face
    ],
)
def test_overlap_averaging_equals_the_direct_computation(shape, make_mask, patch, stride, margin):
    data = _pattern(shape)
    mask = make_mask(shape)
    x = ip.to_log(data, 1e5, 1.0)
    plan = plan_patches(mask, patch, stride, margin)
    pred = ip.run_patches(BoxMean(len(shape)), x, mask, plan, batch_size=5)
    direct = ndimage.uniform_filter(np.where(mask, 0, x).astype(np.float64), 3, mode="constant")
    np.testing.assert_allclose(pred[mask], direct[mask], rtol=1e-5, atol=1e-7)


class _Model:
    """What :func:`hifft.bcdi.inpaint.inpaint` needs of a model (like :class:`~hifft.bcdi.unet.InpaintModel`)."""

    def __init__(self, dims, patch=16, margin=2, stride=6, peak=1e5):
        self.net, self.dims, self.patch, self.margin, self.stride, self.peak = BoxMean(dims), dims, patch, margin, \
            stride, peak


def test_inpaint_with_a_model_changes_only_gap_voxels_and_inverts_the_scale():
    data = _pattern((24, 40, 36), seed=1)
    mask = gaps.extend(gaps.line_gap((40, 36), 1, 15, 6), 24)
    out = ip.inpaint(data, mask, "model", _Model(3))
    assert out.dtype == np.float64
    np.testing.assert_array_equal(out[~mask], data[~mask])  # bit-identical measured voxels
    np.testing.assert_array_equal(out, np.where(mask, out, data))
    gain = 1e5 / data[~mask].max()
    x = np.log1p(gain * data) / math.log1p(1e5)
    direct = ndimage.uniform_filter(np.where(mask, 0, x), 3, mode="constant")
    np.testing.assert_allclose(out[mask], np.expm1(direct[mask] * math.log1p(1e5)) / gain, rtol=2e-4,
                               atol=1e-9)


def test_a_2d_model_runs_frame_by_frame_on_a_3d_pattern():
    data = _pattern((6, 30, 28), seed=2)
    frame = gaps.line_gap((30, 28), 0, 10, 4)
    out = ip.inpaint(data, frame, "model", _Model(2), rescale=False)  # a 2D frame mask is extended
    mask = gaps.extend(frame, 6)
    x = np.log1p(data) / math.log1p(1e5)
    direct = ndimage.uniform_filter(np.where(mask, 0, x), (1, 3, 3), mode="constant")
    np.testing.assert_allclose(out[mask], np.expm1(direct[mask] * math.log1p(1e5)), rtol=2e-4, atol=1e-9)
    np.testing.assert_array_equal(out[~mask], data[~mask])
    with pytest.raises(ip.InpaintError, match="3D model cannot inpaint a 2D"):
        ip.inpaint(data[0], frame, "model", _Model(3))


def test_log_scale_round_trip():
    counts = np.array([0.0, 1.0, 17.0, 3e4, 1e5, 2e6])
    for gain in (1.0, 0.37):
        x = ip.to_log(counts, 1e5, gain)
        assert x[0] == 0 and abs(float(x[4]) - math.log1p(1e5 * gain) / math.log1p(1e5)) < 1e-6
        np.testing.assert_allclose(ip.from_log(x, 1e5, gain), counts, rtol=1e-5)
    assert ip.gain_for(np.array([1.0, 50.0, 400.0]), np.array([False, False, True]), 1e5) == 1e5 / 50


# ---------------------------------------------------------------------------
# baselines
# ---------------------------------------------------------------------------


def _smooth_field(shape):
    axes = np.meshgrid(*(np.arange(n, dtype=float) for n in shape), indexing="ij")
    arg = sum(np.sin(2 * np.pi * a / (40 + 7 * i)) for i, a in enumerate(axes))
    return 2000.0 * np.exp(0.5 * arg)  # log1p of it is smooth: what biharmonic interpolates


@pytest.mark.parametrize(
    ("shape", "mask"),
    [
        ((60, 64), gaps.line_gap((60, 64), 1, 30, 6)),
        ((8, 48, 50), gaps.extend(gaps.cross_gap((48, 50), (20, 26), 5), 8)),
    ],
)
def test_biharmonic_fills_a_smooth_field_closely(shape, mask):
    truth = _smooth_field(shape)
    out = ip.inpaint(truth, mask, "biharmonic")
    rel = np.abs(out / truth - 1)
    # scikit-image's stencil is truncated where the gap meets the array's faces: ~6 % there, ~1 % inside
    assert rel[mask & _inner(shape)].max() < 0.02 and rel[mask].max() < 0.1
    np.testing.assert_array_equal(out[~mask], truth[~mask])
    zero = ip.inpaint(truth, mask, "zero")
    assert (zero[mask] == 0).all() and (zero[~mask] == truth[~mask]).all()


def _inner(shape, edge=3):
    out = np.zeros(shape, bool)
    out[tuple(slice(edge, n - edge) for n in shape)] = True
    return out


def test_biharmonic_in_3d_at_once():
    truth = _smooth_field((12, 24, 26))
    mask = gaps.extend(gaps.line_gap((24, 26), 1, 10, 4), 12)
    whole = ip.biharmonic(truth, mask, axis=None)
    assert np.abs(whole / truth - 1)[mask & _inner(truth.shape)].max() < 0.02


def test_biharmonic_refuses_a_slice_with_nothing_measured():
    data = _pattern((4, 10, 10))
    mask = np.zeros(data.shape, bool)
    mask[2] = True  # a whole frame missing: nothing to interpolate from along axis 0
    with pytest.raises(ip.InpaintError, match="slice 2 along axis 0"):
        ip.inpaint(data, mask, "biharmonic", axis=0)


# ---------------------------------------------------------------------------
# metrics
# ---------------------------------------------------------------------------


def test_metrics_against_numpy_and_by_hand():
    rng = np.random.default_rng(3)
    truth = rng.uniform(0, 100, (10, 10))
    pred = truth + rng.normal(0, 5, truth.shape)
    mask = np.zeros(truth.shape, bool)
    mask[:, 4:7] = True
    got = ip.gap_metrics(pred, truth, mask)
    p, t = pred[mask], truth[mask]
    assert got["n"] == 30
    assert got["pcc"] == pytest.approx(np.corrcoef(p, t)[0, 1], rel=1e-12)
    assert got["pcc_log"] == pytest.approx(np.corrcoef(np.log1p(np.maximum(p, 0)), np.log1p(t))[0, 1], rel=1e-12)
    assert got["accuracy"] == pytest.approx(1 - np.abs(p - t).sum() / t.sum())
    assert got["mae"] == pytest.approx(np.abs(p - t).mean())
    zero = ip.gap_metrics(np.zeros_like(truth), truth, mask)
    assert zero["pcc"] is None and zero["accuracy"] == 0.0  # a constant fill has no correlation


def test_binned_metrics_partition_the_gap():
    truth = np.arange(1, 201, dtype=float).reshape(10, 20) ** 1.5
    mask = np.zeros(truth.shape, bool)
    mask[:, 5:9] = True
    rows = ip.binned_metrics(truth * 1.1, truth, mask, truth, [10.0, 100.0, 1000.0])
    assert [r["low"] for r in rows] == [0.0, 10.0, 100.0, 1000.0] and rows[-1]["high"] is None
    assert sum(r["n"] for r in rows) == mask.sum()
    assert all(r["accuracy"] == pytest.approx(0.9) for r in rows if r["n"])


# ---------------------------------------------------------------------------
# bad input
# ---------------------------------------------------------------------------


def test_bad_input_is_named():
    data = _pattern((10, 12))
    mask = gaps.line_gap((10, 12), 1, 4, 2)
    bad = data.copy()
    bad[3, 5] = np.nan
    with pytest.raises(ip.InpaintError, match=r"scan\.npy: non-finite value nan at index \(3, 5\)"):
        ip.inpaint(bad, mask, "zero", name="scan.npy")
    bad[3, 5] = -2
    with pytest.raises(ip.InpaintError, match=r"scan\.npy: negative count -2\.0 at index \(3, 5\)"):
        ip.inpaint(bad, mask, "biharmonic", name="scan.npy")
    with pytest.raises(gaps.MaskError, match=r"gaps\.npy: shape \(10, 13\) does not match the pattern's shape"):
        ip.inpaint(data, np.zeros((10, 13), bool), "zero", mask_name="gaps.npy")
    with pytest.raises(ip.InpaintError, match="2D frame or a 3D pattern"):
        ip.inpaint(np.ones(5), np.zeros(5, bool), "zero")
    with pytest.raises(ip.InpaintError, match="method"):
        ip.inpaint(data, mask, "nearest")
    with pytest.raises(ip.InpaintError, match="needs a trained model"):
        ip.inpaint(data, mask, "model")


def test_too_wide_gap_for_the_model_is_named():
    data = _pattern((20, 40))
    mask = gaps.line_gap((20, 40), 1, 10, 14)
    with pytest.raises(PlanError, match="14 px wide"):
        ip.inpaint(data, mask, "model", _Model(2, patch=16, margin=2))


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU; none here")
def test_model_inference_on_cuda_matches_cpu():
    from hifft.bcdi.unet import InpaintModel, InpaintUNet

    torch.manual_seed(0)
    data = _pattern((16, 40, 36), seed=4)
    mask = gaps.extend(gaps.line_gap((40, 36), 1, 15, 6), 16)
    model = InpaintModel(InpaintUNet(3, (4, 8), ((2, 1),)), 16, 2, 6, 1e5)
    cpu = ip.inpaint(data, mask, "model", model)
    gpu = ip.inpaint(data, mask, "model", model, device="cuda")
    np.testing.assert_allclose(gpu, cpu, rtol=1e-3, atol=1e-3)


# ---------------------------------------------------------------------------
# line fill (the residual models' starting estimate)
# ---------------------------------------------------------------------------


def _plane(shape):
    """A field linear in every axis: any linear interpolation of it is exact."""
    idx = np.indices(shape, dtype=np.float64)
    return sum((0.3 + 0.2 * k) * i for k, i in enumerate(idx)) + 1.0


@pytest.mark.parametrize(
    "make_mask",
    [
        lambda s: gaps.line_gap(s, len(s) - 1, 7, 5),  # a band
        lambda s: gaps.extend(gaps.cross_gap(s[-2:], (9, 11), 4), s[0]) if len(s) == 3
        else gaps.cross_gap(s, (9, 11), 4),  # a cross: the square where the bands meet takes a second pass
    ],
)
@pytest.mark.parametrize("shape", [(20, 26), (5, 20, 26)])
def test_line_fill_is_exact_on_a_linear_field(shape, make_mask):
    mask = make_mask(shape)
    truth = _plane(shape)
    got = ip.line_fill(np.where(mask, -99.0, truth), mask)
    assert got.dtype == np.float32
    np.testing.assert_allclose(got, truth, rtol=1e-5)


def test_line_fill_by_hand_at_an_edge_and_between_two_sides():
    x = np.array([[1.0, 0.0, 0.0, 7.0, 2.0, 0.0]])
    mask = np.array([[False, True, True, False, False, True]])
    # row: 1 → 7 across two voxels (3, 5); the last voxel has only a left side (2)
    # column axis: each column is 1 voxel long and its voxel is masked, so it does not reach
    np.testing.assert_allclose(ip.line_fill(x, mask), [[1, 3, 5, 7, 2, 2]])
    assert ip.channels(x, mask, fill=True).shape == (3, 1, 6)
    np.testing.assert_allclose(ip.channels(x, mask, fill=True)[2], ip.line_fill(x, mask))


def test_an_untrained_residual_model_inpaints_the_line_fill_of_the_whole_array():
    """Patch-wise inference of a residual net whose correction is zero equals the line fill of the
    whole array: the estimate channel is the same on a patch as on the array."""
    torch = pytest.importorskip("torch")
    from hifft.bcdi.unet import InpaintModel, InpaintUNet

    torch.manual_seed(0)
    net = InpaintUNet(3, (4, 8), ((2, 1),), in_channels=3, residual=True).eval()
    data = _pattern((8, 40, 36), seed=5)
    mask = gaps.extend(gaps.cross_gap((40, 36), (17, 12), 6), 8)
    out = ip.inpaint(data, mask, "model", InpaintModel(net, 16, 2, 6, 1e5), rescale=False)
    x = ip.to_log(data, 1e5, 1.0)
    np.testing.assert_allclose(out[mask], ip.from_log(ip.line_fill(x, mask), 1e5)[mask], rtol=1e-4)
    np.testing.assert_array_equal(out[~mask], data[~mask])


def test_line_method_interpolates_log_counts_and_keeps_measured_voxels():
    data = _pattern((4, 20, 22), seed=6)
    mask = gaps.extend(gaps.line_gap((20, 22), 1, 8, 3), 4)
    out = ip.inpaint(data, mask, "line")
    np.testing.assert_array_equal(out[~mask], data[~mask])
    # column 8..10 of each row lies between columns 7 and 11: log1p is linear across it
    lo, hi = np.log1p(data[..., 7]), np.log1p(data[..., 11])
    for k, c in enumerate(range(8, 11), start=1):
        np.testing.assert_allclose(np.log1p(out[..., c]), lo + k / 4 * (hi - lo), rtol=1e-5)
