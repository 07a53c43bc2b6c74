"""Codec layers and real bitstreams: exact round trips, frozen entropy parameters, refused streams."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.stats import norm

from hifft.images import entropy as E
from hifft.images.bundle import load_bundle, make_bundle, save_bundle
from hifft.images.codecs import GDN, KINDS, LATENT_LIMIT, FactorizedDensity, build_model, gaussian_likelihood
from hifft.images.preprocess import ImageError, LogScale

pytest.importorskip("constriction")


def _images(rng, n=3, size=128):
    yy, xx = np.mgrid[:size, :size]
    out = []
    for i in range(n):
        peak = np.exp(-((xx - 30 - 10 * i) ** 2 + (yy - 40) ** 2) / 200.0)
        out.append(1e-2 * peak + 1e-8 * (1 + rng.random((size, size))))
    return np.stack(out).astype(np.float32)


def _bundle(kind, rng, seed=0, size=128, in_channels=1, name=None):
    """An untrained codec whose analysis is scaled up so that latents spread over many integers."""
    torch.manual_seed(seed)
    sc = LogScale.fit(_images(rng, size=size), size=(size, size))
    model = build_model(kind, 8, 12, in_channels)
    with torch.no_grad():
        model.g_a[-1].weight.mul_(40)
        if hasattr(model, "h_a"):
            model.h_a[-1].weight.mul_(30)
            [c for c in model.h_s if isinstance(c, torch.nn.Conv2d)][-1].weight.mul_(20)
    return make_bundle(model, sc, name or kind[:3])


def _spread(v):
    return len(np.unique(v)) >= 5


@pytest.mark.parametrize("kind", KINDS)
def test_decompress_reproduces_the_quantised_latents_and_decoder_output_exactly(rng, kind, tmp_path):
    b = _bundle(kind, rng)
    path = save_bundle(b, tmp_path / "m.pt")
    x = E.model_input(b, _images(rng))
    frames = E.compress(b, x)
    assert len(frames) == 3
    # a separately loaded copy of the model decodes the concatenated frames
    b2 = load_bundle(path)
    assert b2.version == b.version
    lat_enc = E.analyse(b, x)
    assert all(_spread(v) for lat in lat_enc for v in lat.values())
    lat_dec = E.decode_latents(b2, b"".join(frames))
    for le, ld in zip(lat_enc, lat_dec, strict=True):
        assert set(le) == set(ld)
        for k in le:
            np.testing.assert_array_equal(ld[k], le[k])
    np.testing.assert_array_equal(E.decompress(b2, b"".join(frames)), E.synthesise(b, [lat["y"] for lat in lat_enc]))
    # frames do not depend on the batch they were coded in
    assert E.compress(b, x[1:2])[0] == frames[1]


def test_frame_header_names_format_model_version_and_shape(rng):
    b = _bundle("mean_scale", rng)
    frame = E.compress(b, E.model_input(b, _images(rng, n=1)))[0]
    head, words, end = E.read_frame(frame)
    assert frame[:3] == b"HFC" and frame[3] == E.FRAME_FORMAT
    assert head == {"name": "mea", "version": b.version, "shape": (128, 128)}
    assert end == len(frame) == len(E.header("mea", b.version, (128, 128), len(words))) + 4 * len(words)


def test_a_stream_of_another_model_version_is_refused_naming_both_versions(rng):
    a = _bundle("hyperprior", rng, seed=0, name="hyp")
    b = _bundle("hyperprior", rng, seed=1, name="hyp")
    assert a.version != b.version
    data = b"".join(E.compress(a, E.model_input(a, _images(rng, n=2))))
    with pytest.raises(E.BitstreamError, match=rf"frame 0 was written by model 'hyp' version {a.version}; "
                                               rf"this model 'hyp' is version {b.version}"):
        E.decompress(b, data)


def test_truncated_and_foreign_streams_are_refused(rng):
    b = _bundle("factorized", rng)
    data = b"".join(E.compress(b, E.model_input(b, _images(rng, n=2))))
    one = len(data) // 2
    with pytest.raises(E.BitstreamError, match=r"truncated bitstream: frame 1 needs \d+ bytes"):
        E.decompress(b, data[:-3])
    with pytest.raises(E.BitstreamError, match=r"truncated bitstream: frame 1 header at byte \d+ is cut off"):
        E.decompress(b, data[: one + 6])
    with pytest.raises(E.BitstreamError, match="not an hifft image bitstream"):
        E.decompress(b, b"\x89PNG" + data)
    with pytest.raises(E.BitstreamError, match="empty bitstream"):
        E.decompress(b, b"")
    assert [len(f) for f in E.split_frames(data)] == [one, one]


def test_latents_outside_the_cdf_tables_are_escaped_and_round_trip(rng):
    b = _bundle("factorized", rng)
    x = E.model_input(b, _images(rng, n=1))
    y = E.analyse(b, x)[0]["y"]
    # tables of width 1 at symbol 0: every other latent value goes through the escape
    t = b.tables["y"]
    b.tables["y"] = {"lo": np.zeros_like(t["lo"]), "width": np.ones_like(t["width"]),
                     "counts": np.ones((len(t["lo"]), 2), dtype=np.int64)}
    assert _spread(y)
    data = E.compress(b, x)[0]
    np.testing.assert_array_equal(E.decode_latents(b, data)[0]["y"], y)


def test_entropy_parameters_are_quantised_and_the_same_on_any_thread_count(rng):
    b = _bundle("mean_scale", rng)
    z = E.analyse(b, E.model_input(b, _images(rng, n=1)))[0]["z"]
    assert _spread(z)
    s1, m1 = E.side_parameters(b, z)
    assert len(np.unique(s1)) > 3 and len(np.unique(m1)) > 3
    assert np.isin(s1, E.SCALE_TABLE).all()
    assert np.all(m1 / E.MEAN_STEP == np.round(m1 / E.MEAN_STEP))
    n = torch.get_num_threads()
    try:
        torch.set_num_threads(2)
        s2, m2 = E.side_parameters(b, z)
    finally:
        torch.set_num_threads(n)
    np.testing.assert_array_equal(s1, s2)
    np.testing.assert_array_equal(m1, m2)
    # σ goes to the nearest table level in log space; μ to the nearest multiple of 1/16
    s, m = E.quantize_parameters(np.array([0.01, 0.5, 1000.0]), np.array([0.03, -0.04, 2.49]))
    lv = E.SCALE_TABLE
    assert s[0] == lv[0] and s[2] == lv[-1]
    assert s[1] == lv[np.argmin(np.abs(np.log(lv) - np.log(0.5)))]
    np.testing.assert_array_equal(m, [0.0, -0.0625, 2.5])


def test_gaussian_likelihood_matches_scipy():
    v = torch.tensor([-40.0, -3.0, 0.0, 1.0, 7.0], dtype=torch.float64)
    s = torch.tensor([2.0, 0.5, 1.0, 3.0, 0.05], dtype=torch.float64)
    m = torch.tensor([0.3, -2.5, 0.0, 1.2, 7.1], dtype=torch.float64)
    got = gaussian_likelihood(v, s, m).numpy()
    sc = np.maximum(s.numpy(), 0.11)  # σ is bounded below by SCALE_MIN
    ref = norm.cdf(v.numpy() + 0.5, m.numpy(), sc) - norm.cdf(v.numpy() - 0.5, m.numpy(), sc)
    np.testing.assert_allclose(got, np.maximum(ref, 1e-9), rtol=1e-9)


def test_factorized_density_is_a_distribution_and_its_tables_cover_it():
    torch.manual_seed(0)
    d = FactorizedDensity(4)
    v = torch.arange(-300, 301, dtype=torch.float32).view(1, 1, 1, -1).expand(1, 4, 1, -1)
    total = d.likelihood(v).sum(dim=-1).flatten()
    np.testing.assert_allclose(total.detach().numpy(), 1.0, atol=2e-3)
    t = E.factorized_tables(d)
    for c in range(4):
        w = int(t["width"][c])
        assert t["counts"][c, :w + 1].sum() == pytest.approx(E.TABLE_TOTAL, rel=0.01)
        assert t["lo"][c] >= -LATENT_LIMIT and t["lo"][c] + w <= LATENT_LIMIT


def test_gdn_is_the_divisive_normalisation_formula():
    g = GDN(2)
    x = torch.tensor([[[[1.0, -2.0]], [[0.5, 3.0]]]])
    beta = torch.nn.functional.softplus(g.beta_raw).detach() + 1e-6
    gamma = torch.nn.functional.softplus(g.gamma_raw).detach()
    norm2 = beta[:, None, None] + torch.einsum("ij,bjhw->bihw", gamma, x * x)
    np.testing.assert_allclose(g(x).detach().numpy(), (x / torch.sqrt(norm2)).numpy(), rtol=1e-6)
    np.testing.assert_allclose(GDN(2, inverse=True)(x).detach().numpy(), (x * torch.sqrt(norm2)).numpy(),
                               rtol=1e-6)


def test_bad_models_and_image_sizes_are_refused(rng):
    with pytest.raises(ValueError, match="unknown codec 'cheng'"):
        build_model("cheng")
    m = build_model("hyperprior", 4, 4)
    with pytest.raises(ValueError, match=r"image size 96×128 is not a multiple of 64"):
        m(torch.zeros(1, 1, 96, 128))
    b = _bundle("factorized", rng)
    with pytest.raises(ImageError, match=r"images are 100×100 pixels; this model takes 128×128"):
        E.compress_images(b, np.ones((100, 100), np.float32))
    with pytest.raises(ImageError, match="image 1 is all zero"):
        E.compress_images(b, np.stack([np.ones((128, 128)), np.zeros((128, 128))]))
