"""The measured range of the science check: cut points by expected counts, not by the log floor."""

from __future__ import annotations

import numpy as np

from hifft.gisaxs.cuts import Cuts
from hifft.images.science import MIN_COUNTS, measured_points


def test_measured_points_sum_counts_over_the_band():
    img = np.zeros((6, 8))
    img[:, :4] = 1.0     # left half bright
    img[:, 4:] = 1e-3    # right half faint
    cuts = Cuts(rows=(1, 2, 3), cols=(2,))
    # 3-row band: 3 pixels per horizontal point; 1 column: 1 pixel per vertical point
    keep = measured_points(cuts, img, counts_per_intensity=40.0)
    horiz, vert = keep[:8], keep[8:]
    assert horiz[:4].all() and not horiz[4:].any()   # 3 × 40 = 120 ≥ 100; 3 × 0.04 < 100
    assert not vert.any()                            # 1 × 40 = 40 < 100 in column 2
    # a per-pixel map (per-photon × flux) is honoured pixel by pixel
    k = np.full(img.shape, 40.0)
    k[:, 2] = 200.0
    assert measured_points(cuts, img, k)[8:].all()   # column 2 now 200 counts per pixel
    assert measured_points(cuts, img, 40.0, min_counts=10.0)[8:].all()
    assert MIN_COUNTS == 100.0
