"""Encode + decode throughput of the learned image codecs: one image at a time and in batches, 1 and 2 threads.

    python benchmarks/image_codec_speed.py --dataset out/gisaxs_codec.zarr \
        [--models hifft/images/models/gisaxs_msh.pt ...] [--images 64] [--batches 1 8 32] [--threads 1 2]

Held-out test images of the dataset, cropped as each model was trained. Per
(model, threads, batch): intensities in → frames (bytes) → intensities out, through
:func:`hifft.images.entropy.compress_images` / :func:`decompress_images` (the path
``hifft images compress/decompress`` takes), after one warm-up batch; encode and
decode timed apart, so images/s = images / (encode + decode). Each configuration
runs ``--repeats`` times and the median run is kept. The decoded images of a
batch are checked equal to those decoded one at a time with the same threads (batching
never changes the output); across thread counts the bitstreams are the same and the
decoded floats differ by rounding (max |Δ log10 I| is recorded). Results:
benchmarks/results/image_codec_speed.{json,md}, with the load average before and after.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _harness import loadavg, require_quiet, save

TARGET = 50.0  # images/s, issue 15


def run(bundle, intensity: np.ndarray, batch: int) -> tuple[float, float, int, np.ndarray]:
    """(encode s, decode s, bytes, decoded images) of every image, ``batch`` images per call."""
    from hifft.images.entropy import compress_images, decompress_images

    enc = dec = 0.0
    nbytes = 0
    out = []
    for s in range(0, len(intensity), batch):
        t0 = time.perf_counter()
        frames = compress_images(bundle, intensity[s:s + batch])
        t1 = time.perf_counter()
        out.append(decompress_images(bundle, b"".join(frames)))
        t2 = time.perf_counter()
        enc, dec, nbytes = enc + t1 - t0, dec + t2 - t1, nbytes + sum(len(f) for f in frames)
    return enc, dec, nbytes, np.concatenate(out)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--dataset", required=True, type=Path, help="GISAXS dataset store (hifft gisaxs dataset)")
    p.add_argument("--models", nargs="*", type=Path, default=None, help="codecs (default: the shipped ones)")
    p.add_argument("--split", default="test")
    p.add_argument("--images", type=int, default=64)
    p.add_argument("--batches", nargs="*", type=int, default=[1, 8, 32])
    p.add_argument("--threads", nargs="*", type=int, default=[1, 2])
    p.add_argument("--repeats", type=int, default=5, help="runs per configuration; the median is kept")
    p.add_argument("--out", type=Path, default=None, help="results folder (default benchmarks/results)")
    a = p.parse_args(argv)

    import torch

    from hifft.images.bundle import load_bundle
    from hifft.images.cli import DEFAULT_MODEL
    from hifft.images.data import load_images

    models = a.models or [Path(DEFAULT_MODEL)]
    load_start = require_quiet()
    rows = []
    for path in models:
        b = load_bundle(path)
        imgs = load_images(a.dataset, a.split, b.scale.size, b.scale.crop, a.images)
        x = imgs.intensity
        first = None  # decoded by the first configuration
        for threads in a.threads:
            torch.set_num_threads(threads)
            reference = None  # decoded one at a time with this many threads
            for batch in a.batches:
                run(b, x[:batch], batch)  # warm-up
                runs = sorted((run(b, x, batch) for _ in range(a.repeats)), key=lambda r: r[0] + r[1])
                enc, dec, nbytes, decoded = runs[len(runs) // 2]  # the median run
                reference = decoded if reference is None else reference
                first = decoded if first is None else first
                same = bool(np.array_equal(decoded, reference))
                drift = float(np.max(np.abs(np.log10(decoded.astype(np.float64) + 1e-30)
                                            - np.log10(first.astype(np.float64) + 1e-30))))
                rows.append({"model": b.name, "file": str(path), "threads": threads, "batch": batch,
                             "images": len(x), "encode_s": enc, "decode_s": dec,
                             "images_per_s": len(x) / (enc + dec), "encode_images_per_s": len(x) / enc,
                             "decode_images_per_s": len(x) / dec, "bpp": 8 * nbytes / (len(x) * x[0].size),
                             "decoded_equal_to_batch_1": same, "max_abs_log10_vs_first": drift})
                print(f"{b.name} threads {threads} batch {batch}: {len(x) / (enc + dec):.1f} images/s "
                      f"(encode {len(x) / enc:.1f}, decode {len(x) / dec:.1f}), same as batch 1 {same}, "
                      f"max |Δ log10 I| vs first {drift:.1e}", flush=True)
    load_end = loadavg()
    table = ["| model | threads | batch | encode + decode images/s | encode images/s | decode images/s | bpp | "
             "same as batch 1 | max abs Δ log10 I vs the first row | ≥ 50 |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    table += [f"| {r['model']} | {r['threads']} | {r['batch']} | {r['images_per_s']:.1f} | "
              f"{r['encode_images_per_s']:.1f} | {r['decode_images_per_s']:.1f} | {r['bpp']:.4f} | "
              f"{'yes' if r['decoded_equal_to_batch_1'] else 'no'} | {r['max_abs_log10_vs_first']:.1e} | "
              f"{'✓' if r['images_per_s'] >= TARGET else '✗'} |"
              for r in rows]
    header = (f"{rows[0]['images'] if rows else 0} held-out test images of `{a.dataset}`, intensities in → bytes → "
              "intensities out (`hifft.images.entropy.compress_images` / `decompress_images`), median of "
              f"{a.repeats} runs "
              f"after a warm-up batch. Load average {' / '.join(map(str, load_start))} before, "
              f"{' / '.join(map(str, load_end))} after (1/5/15 min). Target: ≥ {TARGET:.0f} images/s.\n\n")
    command = " ".join(["python benchmarks/image_codec_speed.py", *(argv if argv is not None else sys.argv[1:])])
    save("image_codec_speed", command, rows, "\n".join(table),
         extra={"load_average_start": load_start, "load_average_end": load_end, "target_images_per_s": TARGET},
         out=a.out, header=header)


if __name__ == "__main__":
    main()
