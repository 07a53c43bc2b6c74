"""Gap masks: geometry of lines and crosses, detector layouts, 2D → 3D, shape checks."""

from __future__ import annotations

import numpy as np
import pytest

from hifft.bcdi import gaps


@pytest.mark.parametrize("width", [3, 6, 9, 12])
@pytest.mark.parametrize("axis", [0, 1, 2])
def test_line_gap_geometry(width, axis):
    shape = (20, 24, 28)
    m = gaps.line_gap(shape, axis, 5, width)
    assert m.sum() == width * np.prod(shape) // shape[axis]
    profile = m.any(axis=tuple(a for a in range(3) if a != axis))
    assert np.flatnonzero(profile).tolist() == list(range(5, 5 + width))
    assert gaps.describe(m)["bands"][axis] == [(5, width)]


def test_cross_gap():
    m = gaps.cross_gap((32, 40), (10, 21), 6)
    assert m[7:13].all() and m[:, 18:24].all()
    assert m.sum() == 6 * 40 + 6 * 32 - 36
    assert gaps.describe(m)["bands"] == {0: [(7, 6)], 1: [(18, 6)]}


@pytest.mark.parametrize("kind", ["line", "cross"])
def test_random_gap_round_trip(kind):
    rng = np.random.default_rng(0)
    for _ in range(20):
        m = gaps.random_gap((16, 48, 40), 9, rng, kind=kind, axes=(1, 2), margin=4)
        bands = gaps.describe(m)["bands"]
        found = [b for ax in (1, 2) for b in bands[ax]]
        assert len(found) == (1 if kind == "line" else 2)
        assert all(w == 9 for _, w in found)
        for ax in (1, 2):
            for start, w in bands[ax]:
                assert start >= 4 and start + w <= m.shape[ax] - 4
        assert bands[0] == [] and m.all(axis=0).sum() == m[0].sum()  # planes through every frame


def test_detector_layouts_match_their_sizes():
    # frame sizes of pyFAI's definitions (Maxipix2x2/5x1, Eiger500k/1M/4M MAX_SHAPE)
    expected = {"maxipix_2x2": (516, 516), "maxipix_5x1": (256, 1296), "eiger_500k": (514, 1030),
                "eiger_1m": (1065, 1030), "eiger_4m": (2167, 2070)}
    for name, shape in expected.items():
        assert gaps.LAYOUTS[name].shape == shape
        assert gaps.detector_mask(name).shape == shape


def test_maxipix_gap_widths():
    phys = gaps.detector_mask("maxipix_2x2")
    assert gaps.describe(phys)["bands"] == {0: [(256, 4)], 1: [(256, 4)]}
    thesis = gaps.detector_mask("maxipix_2x2", widths="thesis")
    assert gaps.describe(thesis)["bands"] == {0: [(255, 6)], 1: [(255, 6)]}  # edge pixels 255 and 260 too
    five = gaps.describe(gaps.detector_mask("maxipix_5x1", widths="thesis"))["bands"]
    assert five == {0: [], 1: [(255 + 260 * k, 6) for k in range(4)]}


def test_eiger_gap_widths_and_chip_borders():
    b = gaps.describe(gaps.detector_mask("eiger_4m"))["bands"]
    assert b[0] == [(514 + 551 * k, 37) for k in range(3)] and b[1] == [(1030, 10)]
    t = gaps.describe(gaps.detector_mask("eiger_4m", widths="thesis"))["bands"]
    assert [w for _, w in t[0]] == [38] * 3 and t[1] == [(1029, 12)]
    c = gaps.describe(gaps.detector_mask("eiger_500k", chip_borders=True))["bands"]
    assert c == {0: [(256, 2)], 1: [(256, 2), (514, 2), (772, 2)]}


def test_roi_and_extend():
    roi = gaps.detector_mask("maxipix_2x2", widths="thesis", roi=(200, 240, 128, 96))
    assert roi.shape == (128, 96)
    assert gaps.describe(roi)["bands"] == {0: [(55, 6)], 1: [(15, 6)]}  # a cross near a chip corner
    vol = gaps.extend(roi, 7)
    assert vol.shape == (7, 128, 96) and all(np.array_equal(f, roi) for f in vol)
    with pytest.raises(gaps.MaskError, match="roi"):
        gaps.detector_mask("maxipix_2x2", roi=(500, 0, 32, 32))
    with pytest.raises(gaps.MaskError, match="unknown detector 'pilatus'"):
        gaps.detector_mask("pilatus")


def test_as_mask_extends_and_checks_shapes():
    frame = gaps.line_gap((24, 20), 1, 3, 3)
    m = gaps.as_mask(frame, (10, 24, 20))
    assert m.shape == (10, 24, 20) and m[:, :, 3:6].all() and m.sum() == 10 * 24 * 3
    with pytest.raises(ValueError, match=r"shape \(24, 21\) does not match the pattern's shape \(10, 24, 20\)"):
        gaps.as_mask(np.zeros((24, 21), bool), (10, 24, 20))
    with pytest.raises(ValueError, match=r"mask: shape \(8, 24, 20\) does not match the pattern's shape \(10, 24"):
        gaps.as_mask(np.zeros((8, 24, 20), bool), (10, 24, 20))
    with pytest.raises(ValueError, match="booleans"):
        gaps.as_mask(np.full((24, 20), 0.5), (24, 20))
    assert not gaps.as_mask(None, (4, 4)).any()


@pytest.mark.parametrize(("call", "field"), [
    (lambda: gaps.line_gap((10, 10), 0, 8, 3), "position"),
    (lambda: gaps.line_gap((10, 10), 2, 0, 3), "axis"),
    (lambda: gaps.line_gap((10, 10), 1, 0, 0), "width"),
    (lambda: gaps.random_gap((10, 10), 3, np.random.default_rng(0), kind="ring"), "kind"),
    (lambda: gaps.extend(np.zeros((2, 2, 2), bool), 3), "2D"),
])
def test_bad_gap_specs(call, field):
    with pytest.raises(gaps.MaskError, match=field):
        call()
