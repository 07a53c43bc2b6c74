"""Classical baselines: exact round trips, target rates met, error bounds kept, inpainting of a known field."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest

from hifft.images import baselines as B

imagecodecs = pytest.importorskip("imagecodecs")

requires_sz3 = pytest.mark.skipif(importlib.util.find_spec("pysz") is None,
                                  reason="pysz (SZ3) is not installed here: pip install pysz")
requires_zfp = pytest.mark.skipif(importlib.util.find_spec("zfpy") is None,
                                  reason="zfpy (ZFP) is not installed here: pip install zfpy")


def _log_image(rng, n=192):
    yy, xx = np.mgrid[:n, :n]
    ring = np.exp(-((np.hypot(xx - 20, yy - 30) - 60) ** 2) / 50.0)
    return (0.2 + 0.6 * ring + 0.02 * rng.random((n, n))).astype(np.float32)


def test_jpeg2000_lossless_round_trip_decodes_to_the_same_array(rng):
    x = _log_image(rng)
    q = B.to_uint16(x)
    blob = imagecodecs.jpeg2k_encode(q, level=None, reversible=True)
    np.testing.assert_array_equal(imagecodecs.jpeg2k_decode(blob), q)
    c = B.jpeg2000(x, None)
    np.testing.assert_array_equal(c.decoded, B.from_uint16(q))
    assert c.n_bytes == len(blob)
    # 16-bit quantisation of [0, 1]: at most half a step
    assert np.abs(B.from_uint16(q) - x).max() <= 0.5 / 65535 + 1e-7


@pytest.mark.parametrize("codec", B.IMAGE_CODECS)
def test_target_rates_are_met_from_below_and_more_bits_give_less_error(rng, codec):
    x = _log_image(rng)
    lo, ok_lo = B.at_bpp(codec, x, 0.3)
    hi, ok_hi = B.at_bpp(codec, x, 1.5)
    assert ok_lo and ok_hi
    assert lo.bpp() <= 0.3 and hi.bpp() <= 1.5
    assert lo.bpp() > 0.15  # the bisection lands near the target, not far below
    assert hi.n_bytes > lo.n_bytes
    assert np.abs(hi.decoded - x).mean() < np.abs(lo.decoded - x).mean()
    # an unreachable target returns the smallest stream, flagged
    tiny, reached = B.at_bpp(codec, x, 1e-4)
    assert not reached and tiny.bpp() > 1e-4


@pytest.mark.parametrize("codec", [pytest.param("sz3", marks=requires_sz3), pytest.param("zfp", marks=requires_zfp)])
def test_error_bounded_coders_keep_their_bound(rng, codec):
    v = np.log10(1e-8 + 10 ** (-8 + 6 * _log_image(rng)))
    for bound in (1e-3, 1e-2, 1e-1):
        c = B.error_bounded(codec, v, bound)
        assert np.abs(c.decoded - v).max() <= bound * (1 + 1e-6)
    assert B.error_bounded(codec, v, 1e-1).n_bytes < B.error_bounded(codec, v, 1e-3).n_bytes


def test_lossless_coders_report_bytes_of_a_reversible_encoding(rng):
    from numcodecs import Blosc

    a = (10.0 ** rng.uniform(-9, -2, (64, 64))).astype(np.float32)
    n = B.lossless_bytes(a)
    assert n["raw"] == a.nbytes
    codec = Blosc(cname="zstd", clevel=9, shuffle=Blosc.BITSHUFFLE)
    enc = codec.encode(a)
    assert len(enc) == n["blosc_zstd_bitshuffle"]
    np.testing.assert_array_equal(np.frombuffer(codec.decode(enc), np.float32).reshape(a.shape), a)


def test_biharmonic_inpainting_restores_a_quadratic_field_in_interior_gaps():
    yy, xx = np.mgrid[:64, :64]
    field = 1e-4 * (xx - 30.0) ** 2 + 0.01 * yy + 0.1  # Δ²field = 0: biharmonic inpainting is exact
    missing = np.zeros(field.shape, bool)
    missing[20:25, 10:50] = True
    missing[30:50, 40:43] = True
    filled = B.inpaint(field, missing)
    np.testing.assert_allclose(filled[missing], field[missing], atol=1e-6)
    assert np.abs(field[~missing].mean() - field[missing]).max() > 0.03  # a constant fill would not do
    np.testing.assert_array_equal(filled[~missing], field[~missing].astype(np.float32))


def test_bad_baseline_calls_are_refused():
    with pytest.raises(ValueError, match="codec: one of jpeg2000, jpegxl"):
        B.at_bpp("webp", np.zeros((8, 8)), 1.0)
    with pytest.raises(ValueError, match="one 2D image at a time"):
        B.jpeg2000(np.zeros((2, 8, 8)), 40)
    with pytest.raises(ValueError, match=r"mask \(4, 4\) does not match"):
        B.inpaint(np.zeros((8, 8)), np.zeros((4, 4), bool))
