"""``hifft images compress/decompress/train`` and the rate–distortion benchmark script on tiny inputs."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from hifft.cli import app
from hifft.images import entropy as E
from hifft.images.bundle import load_bundle
from hifft.images.data import load_images

from .conftest import codec_yaml

BENCH = Path(__file__).resolve().parents[2] / "benchmarks" / "image_codecs.py"


def test_compress_then_decompress_npy_files(trained, gisaxs_store, tmp_path):
    model = trained[0]
    b = load_bundle(model)
    imgs = load_images(gisaxs_store, "test", (196, 200), (0, 0)).intensity  # whole detector images
    np.save(tmp_path / "in.npy", imgs)
    r = CliRunner().invoke(app, ["images", "compress", str(tmp_path / "in.npy"), str(tmp_path / "x.hfc"),
                                 "--model", str(model)])
    assert r.exit_code == 0, r.output
    data = (tmp_path / "x.hfc").read_bytes()
    assert data == b"".join(E.compress_images(b, imgs))  # cropped at (2, 4) by the model's preprocessing
    assert f"{len(imgs)} image(s) of 192×192 in {len(data)} bytes" in " ".join(r.output.split())
    r = CliRunner().invoke(app, ["images", "decompress", str(tmp_path / "x.hfc"), str(tmp_path / "out.npy"),
                                 "--model", str(model)])
    assert r.exit_code == 0, r.output
    np.testing.assert_array_equal(np.load(tmp_path / "out.npy"), E.decompress_images(b, data))


def test_compress_a_dataset_split_and_refuse_a_stream_for_another_model(trained, gisaxs_store, tmp_path):
    r = CliRunner().invoke(app, ["images", "compress", str(gisaxs_store), str(tmp_path / "v.hfc"), "--split", "val",
                                 "--model", str(trained[0])])
    assert r.exit_code == 0, r.output
    assert len(E.split_frames((tmp_path / "v.hfc").read_bytes())) == 2
    # another model (trained one step) refuses the stream, naming both versions
    other = CliRunner().invoke(app, ["images", "train", str(codec_yaml(tmp_path, gisaxs_store, steps=1,
                                                                        distortion="mse"))])
    assert other.exit_code == 0, other.output
    r = CliRunner().invoke(app, ["images", "decompress", str(tmp_path / "v.hfc"), str(tmp_path / "o.npy"),
                                 "--model", str(tmp_path / "run" / "model.pt")])
    assert isinstance(r.exception, E.BitstreamError)
    assert load_bundle(trained[0]).version in str(r.exception)
    assert load_bundle(tmp_path / "run" / "model.pt").version in str(r.exception)


def test_benchmark_script_runs_end_to_end(trained, gisaxs_store, tmp_path):
    spec = importlib.util.spec_from_file_location("image_codecs_bench", BENCH)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    out = mod.main(["--dataset", str(gisaxs_store), "--models", str(trained[0]), "--split", "test",
                    "--max-images", "2", "--bpp", "0.5", "--errors", "0.1", "--out", str(tmp_path / "rd.json"),
                    "--science-images", "1", "--latent-train", "0"])
    res = json.loads(out.read_text())
    assert res["images"] == 2 and res["models"][0]["name"] == "tiny"
    points = {(p["codec"], p["setting"]): p for p in res["summary"]}
    model = points[("tiny", "model")]
    assert model["bpp"] > 0 and "ms_ssim" in model and "psnr_log" in model
    for codec in ("jpeg2000", "jpegxl"):
        same = points[(codec, "at=tiny")]
        assert same["bpp"] <= same["target_bpp"] + 1e-12  # at the learned codec's own bpp, per image
        assert points[(codec, "bpp=0.5")]["bpp"] <= 0.5
    for codec in ("sz3", "zfp"):
        if (codec, "at=tiny") in points:
            p = points[(codec, "at=tiny")]
            # float32 log images: the bound holds to ~1e-5 of log10 intensity
            assert p["max_abs_error_log10"] <= model["max_abs_error_log10"] + 1e-4
    assert points[("blosc_zstd_bitshuffle", "lossless")]["bpp"] < 32
    assert points[("biharmonic", "inpaint")]["rmse_missing"] > 0
    # the science check: the original's fit, then every kept decoded image against it
    sci = {(r["codec"], r["setting"]): r for r in res["science"]}
    orig = sci[("original", "fit")]
    assert orig["reference"]["success"] and orig["reference"]["rms_log10"] < 1e-2
    assert set(orig["truth"]) == {"radius", "sigma_r", "distance", "omega_d"}
    for key in (("tiny", "model"), ("jpeg2000", "at=tiny"), ("jpegxl", "at=tiny")):
        r = sci[key]
        assert np.isfinite([r["radius_rel"], r["distance_rel"]]).all()
        # cut points count only where the detector measures (>= 100 expected counts at the image's flux);
        # the tiny images may have none, and then there is no cut deviation, not a zero one
        assert r["cut_range"] == "counts>=100"
        if r["cut_points"]:
            assert 0 <= r["cut_median_rel"] <= r["cut_max_rel"]
        else:
            assert np.isnan([r["cut_max_rel"], r["cut_median_rel"]]).all()
    assert res["latents"] == []
    # the report is written from that JSON alone
    spec = importlib.util.spec_from_file_location("image_codecs_report", BENCH.parent / "image_codecs_report.py")
    rep = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(rep)
    md = rep.main(["--json", str(out), "--out", str(tmp_path / "report.md"), "--main", "tiny"]).read_text()
    assert "| target | required | measured | met |" in md and "tiny" in md
    assert (tmp_path / "image_codecs_rd.png").stat().st_size > 0
    assert (tmp_path / "image_codecs_rate_bias.png").stat().st_size > 0
    # every model row's bpp is its byte count
    for r in res["rows"]:
        if r["setting"] == "model":
            assert r["bpp"] == pytest.approx(8 * r["bytes"] / 192**2)


def test_gapped_or_odd_npy_input_and_foreign_model_files_are_refused(trained, gisaxs_store, tmp_path):
    from hifft.images.preprocess import ImageError

    imgs = load_images(gisaxs_store, "test", (192, 192), (2, 4)).intensity[:2]
    imgs[1, 10, :] = -1.0  # a gap row, detector convention
    np.save(tmp_path / "gap.npy", imgs)
    args = ["images", "compress", str(tmp_path / "gap.npy"), str(tmp_path / "x.hfc"), "--model", str(trained[0])]
    r = CliRunner().invoke(app, args)
    assert isinstance(r.exception, ImageError) and "no mask channel" in str(r.exception)
    imgs[1, 10, 3] = -3.0
    np.save(tmp_path / "gap.npy", imgs)
    r = CliRunner().invoke(app, args)
    assert isinstance(r.exception, ImageError) and "image 1 holds -3.0" in str(r.exception)
    (tmp_path / "junk.pt").write_bytes(b"not a model")
    r = CliRunner().invoke(app, [*args[:4], "--model", str(tmp_path / "junk.pt")])
    assert isinstance(r.exception, ValueError) and "not a codec model file" in str(r.exception)


def test_speed_script_times_batches_and_checks_they_decode_alike(trained, gisaxs_store, tmp_path):
    spec = importlib.util.spec_from_file_location("image_codec_speed", BENCH.with_name("image_codec_speed.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    mod.main(["--dataset", str(gisaxs_store), "--models", str(trained[0]), "--images", "2", "--batches", "1", "2",
              "--threads", "1", "--repeats", "1", "--out", str(tmp_path)])
    res = json.loads((tmp_path / "image_codec_speed.json").read_text())
    rows = res["rows"]
    assert [(r["threads"], r["batch"]) for r in rows] == [(1, 1), (1, 2)]
    for r in rows:
        assert r["images"] == 2 and r["images_per_s"] > 0 and r["bpp"] > 0
        assert r["decoded_equal_to_batch_1"] and r["max_abs_log10_vs_first"] == 0.0
        assert r["images_per_s"] == pytest.approx(2 / (r["encode_s"] + r["decode_s"]))
    assert len(res["load_average_start"]) == 3
    assert "| tiny | 1 | 2 |" in (tmp_path / "image_codec_speed.md").read_text()
