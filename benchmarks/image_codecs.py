"""Rate–distortion points of the learned image codecs and their baselines on GISAXS images.

Run (the lead runs it alone, after training the codecs with `hifft images train`):

    python benchmarks/image_codecs.py --dataset out/gisaxs_seed000.zarr \
        --models out/images/fp/model.pt out/images/msh/model.pt --split test --max-images 64

Writes ``benchmarks/results/image_codecs.json`` (``--out``): one row per image and
codec setting, and a summary (means per codec, route and setting). All bpp are
counted from the bytes each coder writes (8 · bytes / pixels, headers included).

Common reference: every decoded image is mapped back to intensities and compared on
the first model's log scale (``--size``/``--crop`` and a scale fitted on the images
when no model is given): PSNR (dB) and MS-SSIM on the normalised log image, max
|error| of log10(I + ε).

- Learned codecs: route ``clean`` (clean image in); models with a mask channel also
  route ``noisy`` (the dataset's own Poisson counts with gaps and dead pixels in, clean
  out), with the RMSE on the missing pixels.
- JPEG 2000 / JPEG XL (16-bit log images): at each learned codec's per-image bpp
  (``at=<codec>``) and at the ``--bpp`` grid.
- SZ3 / ZFP (log10 intensity, float32): at each learned codec's per-image max error
  and at the ``--errors`` grid.
- Lossless: Blosc-zstd with bit-shuffle and zstd on the float32 intensities.
- Gap filling: biharmonic inpainting of the noisy image's missing pixels (route ``noisy``).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _harness import git_commit, loadavg, machine

RESULTS = Path(__file__).resolve().parent / "results"


def _quality(ref: Any, x_ref: np.ndarray, dec_intensity: np.ndarray) -> dict[str, Any]:
    """Metrics of one decoded intensity image against the clean reference (normalised) ``x_ref``."""
    from hifft.images.metrics import MS_SSIM_MIN_SIDE, max_abs_error, ms_ssim, psnr

    x = ref.normalise(np.maximum(dec_intensity, 0))
    out = {"psnr_log": float(psnr(x_ref, x)[0]),
           "max_abs_error_log10": float(max_abs_error(ref.log10_intensity(x_ref), ref.log10_intensity(x))[0])}
    if min(x_ref.shape) >= MS_SSIM_MIN_SIDE:
        out["ms_ssim"] = float(ms_ssim(x_ref, x)[0])
    return out


def gap_parts(missing: np.ndarray) -> dict[str, np.ndarray]:
    """Missing pixels split by kind: module-gap rows and columns (≥ 90 % of the line missing; named by
    the width of their run, e.g. ``gap_rows_17px``) and the rest (dead pixels, beam stop)."""
    out: dict[str, np.ndarray] = {}
    rest = missing.copy()
    for axis, name in ((1, "rows"), (0, "cols")):
        line = missing.mean(axis=axis) >= 0.9
        idx = np.flatnonzero(line)
        for run in np.split(idx, np.flatnonzero(np.diff(idx) > 1) + 1) if idx.size else []:
            m = np.zeros_like(missing)
            if axis == 1:
                m[run, :] = missing[run, :]
            else:
                m[:, run] = missing[:, run]
            key = f"gap_{name}_{len(run)}px"
            out[key] = out.get(key, np.zeros_like(missing)) | m
            rest &= ~m
    out["other_missing"] = rest
    return {k: v for k, v in out.items() if v.any()}


def _missing_errors(x_ref: np.ndarray, x: np.ndarray, missing: np.ndarray) -> dict[str, float]:
    from hifft.images.metrics import masked_rmse

    out = {"rmse_missing": float(masked_rmse(x_ref, x, missing)[0])}
    for k, m in gap_parts(missing).items():
        out[f"rmse_{k}"] = float(masked_rmse(x_ref, x, m)[0])
    return out


def evaluate_model(path: Path, imgs: Any, ref: Any, keep: int = 0, decoded: dict | None = None,
                   ) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """(model info, rows) of one trained codec on every image, per route; the decoded intensities of the
    first ``keep`` images go into ``decoded[(codec, route, setting)][i]``."""
    from hifft.images.bundle import load_bundle
    from hifft.images.entropy import compress_images, decompress_images, estimate_bits, model_input

    b = load_bundle(path)
    if (b.scale.size, b.scale.crop) != (ref.size, ref.crop):
        raise SystemExit(f"{path}: model images are {b.scale.size} at {b.scale.crop}; the others "
                         f"{ref.size} at {ref.crop}")
    info = {"path": str(path), "name": b.name, "version": b.version, "spec": b.model.spec(),
            "scale": b.scale.to_dict(), "train_seconds": b.record.get("seconds"), "steps": b.record.get("steps"),
            "parameters": sum(p.numel() for p in b.model.parameters()), "file_bytes": Path(path).stat().st_size,
            "train_load_average_start": b.record.get("load_average_start"),
            "train_images": b.record.get("train_images"),
            "torch_threads": b.record.get("torch_threads"), "val": b.record.get("val"),
            "augment": b.record.get("config", {}).get("train", {}).get("augment"),
            "lmbda": b.record.get("config", {}).get("train", {}).get("lmbda")}
    routes = {"clean": (imgs.intensity, None)}
    if b.mask_channel:
        routes["noisy"] = (imgs.noisy_intensity(), imgs.mask)
    rows = []
    pixels = ref.size[0] * ref.size[1]
    for route, (inp, mask) in routes.items():
        for i in range(len(imgs)):
            m = None if mask is None else mask[i]
            t0 = time.perf_counter()
            frames = compress_images(b, inp[i], m, what=f"image {imgs.sample[i]}")
            t1 = time.perf_counter()
            dec = decompress_images(b, frames[0])[0]
            t2 = time.perf_counter()
            if decoded is not None and i < keep:
                decoded.setdefault((b.name, route, "model"), {})[i] = dec
            x_ref = ref.normalise(imgs.intensity[i])
            row = {"codec": b.name, "kind": b.model.spec()["kind"], "route": route, "setting": "model",
                   "sample": int(imgs.sample[i]), "bytes": len(frames[0]), "bpp": 8 * len(frames[0]) / pixels,
                   "bpp_estimated": float(estimate_bits(b, model_input(b, inp[i], m))[0] / pixels),
                   "encode_s": t1 - t0, "decode_s": t2 - t1, **_quality(ref, x_ref, dec)}
            if m is not None:
                row["flux"] = float(imgs.flux[i])
            if m is not None and not m.all():
                row.update(_missing_errors(x_ref, ref.normalise(dec), ~m))
            rows.append(row)
    return info, rows


def evaluate_baselines(imgs: Any, ref: Any, model_rows: list[dict[str, Any]], bpp_grid: list[float],
                       error_grid: list[float], keep: int = 0, decoded: dict | None = None,
                       science_at: str | None = None) -> list[dict[str, Any]]:
    """Rows of the classical coders at the learned codecs' operating points and on the grids; the
    decoded intensities of the first ``keep`` images at codec ``science_at``'s points go into ``decoded``."""
    from hifft.images import baselines as B

    have = B.available()
    noisy_all = imgs.noisy_intensity()
    rows: list[dict[str, Any]] = []
    at_model: dict[int, list[tuple[str, float, float]]] = defaultdict(list)
    for r in model_rows:
        if r["route"] == "clean":
            at_model[r["sample"]].append((r["codec"], r["bpp"], r["max_abs_error_log10"]))
    for i in range(len(imgs)):
        s = int(imgs.sample[i])
        x_ref = ref.normalise(imgs.intensity[i])
        v_ref = ref.log10_intensity(x_ref)
        targets = [(f"at={c}", bpp) for c, bpp, _ in at_model[s]] + [(f"bpp={v}", v) for v in bpp_grid]
        errors = [(f"at={c}", e) for c, _, e in at_model[s]] + [(f"error={v}", v) for v in error_grid]
        for codec in B.IMAGE_CODECS:
            if not have[codec]:
                continue
            for setting, bpp in targets:
                c, reached = B.at_bpp(codec, x_ref, bpp)
                dec = ref.inverse(c.decoded)
                rows.append({**B.summary(c), "route": "clean", "setting": setting, "sample": s,
                             "target_bpp": bpp, "reached": reached, **_quality(ref, x_ref, dec)})
                if decoded is not None and i < keep and setting == f"at={science_at}":
                    decoded.setdefault((codec, "clean", setting), {})[i] = dec
        for codec in B.ERROR_BOUNDED:
            if not have[codec]:
                continue
            for setting, err in errors:
                c = B.error_bounded(codec, v_ref, max(err, 1e-6))
                dec = np.maximum(10.0 ** c.decoded.astype(np.float64) - ref.epsilon, 0).astype(np.float32)
                rows.append({**B.summary(c), "route": "clean", "setting": setting, "sample": s, "max_error_bound": err,
                             **_quality(ref, x_ref, dec)})
                if decoded is not None and i < keep and setting == f"at={science_at}":
                    decoded.setdefault((codec, "clean", setting), {})[i] = dec
        for name, n in B.lossless_bytes(imgs.intensity[i]).items():
            rows.append({"codec": name, "route": "clean", "setting": "lossless", "sample": s, "bytes": n,
                         "bpp": 8 * n / x_ref.size})
        missing = ~imgs.mask[i]
        if missing.any():
            noisy = ref.normalise(noisy_all[i])
            filled = B.inpaint(noisy, missing)
            rows.append({"codec": "biharmonic", "route": "noisy", "setting": "inpaint", "sample": s,
                         "flux": float(imgs.flux[i]), **_missing_errors(x_ref, filled, missing),
                         **_quality(ref, x_ref, ref.inverse(filled))})
    return rows


def evaluate_science(dataset: Path, imgs: Any, ref: Any, decoded: dict, keep: int) -> list[dict[str, Any]]:
    """Cut deviations and fitted (R, σ/R, D, ω/D) differences of every kept decoded image against the
    original clean image's (:mod:`hifft.images.science`)."""
    from hifft.images import science as S

    scene = S.scene_of(dataset, ref.size, ref.crop)
    rows = []
    for i in range(min(keep, len(imgs))):
        start = S.islands_of(scene, imgs.labels, i)
        t0 = time.perf_counter()
        cuts, fit = S.reference_fit(scene, imgs.intensity[i], start, ref.epsilon)
        base = {"sample": int(imgs.sample[i]), "reference": fit.to_dict(),
                "truth": {k: float(imgs.labels[k][i]) for k in ("radius", "sigma_r", "distance", "omega_d")},
                "cuts": {"rows": list(cuts.rows), "cols": list(cuts.cols)}}
        rows.append({"codec": "original", "route": "clean", "setting": "fit", **base,
                     "fit_s": time.perf_counter() - t0})
        for (codec, route, setting), per in decoded.items():
            if i in per:
                rows.append({"codec": codec, "route": route, "setting": setting, "sample": base["sample"],
                             **S.compare(scene, imgs.intensity[i], per[i], cuts, fit, ref.epsilon,
                                         counts_per_intensity=imgs.per_photon * imgs.flux[i])})
        print(f"science: image {i + 1}/{min(keep, len(imgs))}", flush=True)
    return rows


def evaluate_latents(path: Path, dataset: Path, train_max: int | None) -> dict[str, Any]:
    """Clusters of one codec's latents against (D, ω/D) classes and linear probes to log R, log D, σ/R, ω/D:
    PCA, k-means/GMM and the probes fitted on the training split, scored on the whole test split
    (:mod:`hifft.images.latents`). D bins: the training split's terciles; ω/D split at 0.25."""
    from hifft.images import latents as L
    from hifft.images.bundle import load_bundle
    from hifft.images.data import load_images
    from hifft.images.entropy import model_input

    b = load_bundle(path)
    train = load_images(dataset, "train", b.scale.size, b.scale.crop, train_max)
    test = load_images(dataset, "test", b.scale.size, b.scale.crop)
    f_tr = L.latent_features(b, model_input(b, train.intensity))
    f_te = L.latent_features(b, model_input(b, test.intensity))
    d_edges = [float(v) for v in np.quantile(train.labels["distance"], [1 / 3, 2 / 3])]
    w_edges = [0.25]
    cls = L.physics_classes(test.labels["distance"], test.labels["omega_d"], d_edges, w_edges)

    def targets(s: Any) -> dict[str, np.ndarray]:
        lab = s.labels
        return {"log_radius": np.log(lab["radius"]), "log_distance": np.log(lab["distance"]),
                "sigma_r": lab["sigma_r"], "omega_d": lab["omega_d"]}

    out: dict[str, Any] = {"codec": b.name, "train_images": len(train), "test_images": len(test),
                           "distance_edges": d_edges, "omega_edges": w_edges,
                           "class_counts": np.bincount(cls, minlength=6).tolist(), "features": {}}
    for name in f_tr:
        out["features"][name] = {
            "dimension": int(f_tr[name].shape[1]),
            "clusters": L.cluster_scores(f_tr[name], f_te[name], cls),
            "probe_r2": L.linear_probe(f_tr[name], targets(train), f_te[name], targets(test)),
        }
    out["map"] = {"xy": L.latent_map(f_te["y_stats"]).round(3).tolist(), "classes": cls.tolist()}
    return out


def summarise(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Means of the numeric fields per (codec, route, setting)."""
    groups: dict[tuple[str, str, str], list[dict[str, Any]]] = defaultdict(list)
    for r in rows:
        groups[(r["codec"], r["route"], r["setting"])].append(r)
    out = []
    for (codec, route, setting), rs in groups.items():
        keys = sorted({k for r in rs for k, v in r.items()
                       if isinstance(v, int | float) and not isinstance(v, bool) and k != "sample"})
        point: dict[str, Any] = {"codec": codec, "route": route, "setting": setting, "images": len(rs)}
        for k in keys:
            vals = [r[k] for r in rs if k in r]
            point[k] = float(np.mean(vals))
        if any("reached" in r for r in rs):
            point["reached"] = int(sum(bool(r.get("reached")) for r in rs))
        out.append(point)
    return out


def main(argv: list[str] | None = None) -> Path:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--dataset", required=True, type=Path, help="GISAXS dataset store (hifft gisaxs dataset)")
    p.add_argument("--models", nargs="*", type=Path, default=[], help="trained codecs (model.pt)")
    p.add_argument("--split", default="test", help="train, val or test")
    p.add_argument("--max-images", type=int, default=64)
    p.add_argument("--bpp", nargs="*", type=float, default=[0.05, 0.1, 0.2, 0.5, 1.0],
                   help="bpp grid of JPEG 2000 / JPEG XL")
    p.add_argument("--errors", nargs="*", type=float, default=[0.01, 0.03, 0.1, 0.3],
                   help="max-error grid (log10 intensity) of SZ3 / ZFP")
    p.add_argument("--size", nargs=2, type=int, default=[256, 256], help="crop size without a model")
    p.add_argument("--crop", nargs=2, type=int, default=[0, 0], help="crop origin without a model")
    p.add_argument("--threads", type=int, default=1, help="torch threads")
    p.add_argument("--science-images", type=int, default=8,
                   help="images whose cuts are fitted, original vs decoded (0: none)")
    p.add_argument("--latent-train", type=int, default=None, help="training images for the latent analysis "
                   "(default all; 0: no latent analysis)")
    p.add_argument("--out", type=Path, default=RESULTS / "image_codecs.json")
    a = p.parse_args(argv)

    import torch

    from hifft.atomic import atomic_write
    from hifft.images.bundle import load_bundle
    from hifft.images.data import load_images
    from hifft.images.preprocess import LogScale

    torch.set_num_threads(a.threads)
    load_start = loadavg()
    t0 = time.perf_counter()
    if a.models:
        ref = load_bundle(a.models[0]).scale
    else:
        probe = load_images(a.dataset, a.split, tuple(a.size), tuple(a.crop), a.max_images)
        ref = LogScale.fit(probe.intensity, size=tuple(a.size), crop=tuple(a.crop))
    imgs = load_images(a.dataset, a.split, ref.size, ref.crop, a.max_images)
    models, rows, decoded = [], [], {}  # type: ignore[var-annotated]
    keep = a.science_images
    for path in a.models:
        info, r = evaluate_model(path, imgs, ref, keep, decoded)
        models.append(info)
        rows += r
        print(f"{path}: {len(r)} rows", flush=True)
    rows += evaluate_baselines(imgs, ref, rows, a.bpp, a.errors, keep, decoded,
                               models[0]["name"] if models else None)
    science = evaluate_science(a.dataset, imgs, ref, decoded, keep) if keep else []
    latents = [evaluate_latents(path, a.dataset, a.latent_train) for path in a.models
               if a.latent_train != 0]
    result = {
        "command": " ".join([Path(sys.argv[0]).name, *(argv if argv is not None else sys.argv[1:])]),
        "date": time.strftime("%Y-%m-%d %H:%M:%S"), "commit": git_commit(), "machine": machine(),
        "load_average_start": load_start, "load_average_end": loadavg(), "seconds": time.perf_counter() - t0,
        "dataset": str(a.dataset), "split": a.split, "images": len(imgs), "samples": imgs.sample.tolist(),
        "torch_threads": a.threads, "reference_scale": ref.to_dict(), "models": models,
        "summary": summarise(rows), "rows": rows,
        "science": science, "science_summary": summarise(science), "latents": latents,
    }
    a.out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(a.out, json.dumps(result, indent=1))
    print(f"wrote {a.out}: {len(rows)} rows, {len(result['summary'])} rate–distortion points")
    return a.out


if __name__ == "__main__":
    main()
