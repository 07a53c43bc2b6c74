"""Write benchmarks/results/image_codecs.md and its plots from image_codecs.json.

    python benchmarks/image_codecs_report.py [--json FILE] [--out FILE]

Every figure comes from the JSON that ``benchmarks/image_codecs.py`` writes (rate–
distortion rows and summary, the science check, the latent analysis, each model's
training record); the prose around them is fixed text.
"""

from __future__ import annotations

import argparse
import json
from collections import defaultdict
from itertools import pairwise
from pathlib import Path
from typing import Any

import numpy as np

RESULTS = Path(__file__).resolve().parent / "results"
BASELINE_COLOURS = {"jpeg2000": "tab:blue", "jpegxl": "tab:orange", "sz3": "tab:green", "zfp": "tab:red"}


def f(v: Any, nd: int = 4) -> str:
    return "–" if v is None or (isinstance(v, float) and not np.isfinite(v)) else f"{v:.{nd}g}"


def yes(ok: bool | None) -> str:
    return "–" if ok is None else ("yes" if ok else "**no**")


def points(res: dict[str, Any]) -> dict[tuple[str, str, str], dict[str, Any]]:
    return {(p["codec"], p["route"], p["setting"]): p for p in res["summary"]}


def model_table(res: dict[str, Any]) -> list[str]:
    lines = ["| codec | kind | input | parameters | file | steps | training | threads, load at start | "
             "val bpp (bytes / estimate) | val MS-SSIM |", "|" + "---|" * 10]
    for m in res["models"]:
        aug = m.get("augment") or {}
        route = "noisy + gaps → clean" if aug.get("flux") or aug.get("gaps", "none") != "none" else "clean → clean"
        load = m.get("train_load_average_start") or [None]
        v = m.get("val") or {}
        lines.append(f"| {m['name']} | {m['spec']['kind']} | {route} | {m['parameters']:,} | "
                     f"{m['file_bytes'] / 1e6:.2f} MB | {m['steps']:,} | {m['train_seconds'] / 60:.1f} min | "
                     f"{m.get('torch_threads')}, {f(load[0], 3)} | {f(v.get('bpp'))} / {f(v.get('bpp_estimated'))} | "
                     f"{f(v.get('ms_ssim'))} |")
    return lines


def rd_table(res: dict[str, Any]) -> list[str]:
    pts = points(res)
    lines = ["| codec | route | setting | bpp (bytes) | PSNR log (dB) | MS-SSIM | max error log10 I | "
             "encode + decode (ms) |", "|" + "---|" * 8]
    keyed = sorted(pts.items(), key=lambda kv: (kv[0][1] != "clean", kv[0][0], kv[0][2]))
    for (codec, route, setting), p in keyed:
        if setting in ("lossless", "inpaint") or "psnr_log" not in p:
            continue
        ms = 1e3 * (p["encode_s"] + p["decode_s"]) if "encode_s" in p else None
        lines.append(f"| {codec} | {route} | {setting} | {f(p.get('bpp'))} | {f(p.get('psnr_log'), 4)} | "
                     f"{f(p.get('ms_ssim'), 5)} | {f(p.get('max_abs_error_log10'), 3)} | {f(ms, 3)} |")
    return lines


def per_image(res: dict[str, Any], codec: str, route: str, setting: str, key: str) -> np.ndarray:
    return np.array([r[key] for r in res["rows"]
                     if (r["codec"], r["route"], r["setting"]) == (codec, route, setting) and key in r])


def noise_table(res: dict[str, Any]) -> list[str]:
    """The noisy route per decade of flux: the denoising codec against the noisy image with biharmonic fill."""
    rows = [r for r in res["rows"] if r["route"] == "noisy" and "flux" in r]
    if not rows:
        return []
    edges = 10.0 ** np.arange(np.floor(np.log10(min(r["flux"] for r in rows))),
                              np.ceil(np.log10(max(r["flux"] for r in rows))) + 1)
    parts = sorted({k for r in rows for k in r if k.startswith("rmse_") and k != "rmse_missing"})
    lines = ["| method | flux (photons per image) | images | MS-SSIM | PSNR log (dB) | RMSE on missing pixels | "
             + " | ".join(f"RMSE {k[5:].replace('_', ' ')}" for k in parts) + " | bpp |",
             "|" + "---|" * (7 + len(parts))]
    keys = sorted({(r["codec"], r["setting"]) for r in rows})
    for codec, setting in keys:
        for lo, hi in pairwise(edges):
            sel = [r for r in rows if (r["codec"], r["setting"]) == (codec, setting) and lo <= r["flux"] < hi]
            if not sel:
                continue

            def mean(k: str, sel: list[dict[str, Any]] = sel) -> float | None:
                v = [r[k] for r in sel if k in r]
                return float(np.mean(v)) if v else None

            name = "noisy + biharmonic fill (no coding)" if codec == "biharmonic" else f"{codec} ({setting})"
            lines.append(f"| {name} | {lo:.0e}–{hi:.0e} | {len(sel)} | {f(mean('ms_ssim'), 5)} | "
                         f"{f(mean('psnr_log'), 4)} | {f(mean('rmse_missing'))} | "
                         + "".join(f"{f(mean(k))} | " for k in parts) + f"{f(mean('bpp'))} |")
    return lines


def cut_range(res: dict[str, Any]) -> str:
    """How the science rows chose their cut points (older JSON: the log floor ε)."""
    kinds = {r.get("cut_range", "epsilon") for r in res["science"] if r.get("setting") != "fit"}
    text = {"epsilon": "cut points with I ≥ ε, the log floor"}
    return "; ".join(text.get(k, "cut points with " + k.replace(">=", " ≥ ")
                              + " expected counts summed over the band at the image's own flux") for k in sorted(kinds))


def science_table(res: dict[str, Any]) -> tuple[list[str], dict[str, dict[str, float]]]:
    groups: dict[tuple[str, str, str], list[dict[str, Any]]] = defaultdict(list)
    for r in res["science"]:
        if r["codec"] != "original":
            groups[(r["codec"], r["route"], r["setting"])].append(r)
    lines = ["| codec | route | setting | images | images with measured cut points (points) | "
             "cut max rel. dev. (median / worst) | cut median rel. dev. | "
             "|ΔR|/R (median / worst) | |ΔD|/D (median / worst) | |Δσ/R| worst | |Δω/D| worst |",
             "|" + "---|" * 11]
    worst: dict[str, dict[str, float]] = {}
    for (codec, route, setting), rs in sorted(groups.items()):
        # images with no measured cut point (too few counts at their flux) have no cut deviation
        measured = [r for r in rs if r["cut_points"] > 0]
        cm = np.array([r["cut_max_rel"] for r in measured]) if measured else np.array([np.nan])
        med = np.median([r["cut_median_rel"] for r in measured]) if measured else np.nan
        points = sum(r["cut_points"] for r in measured)
        dr = np.abs([r["radius_rel"] for r in rs])
        dd = np.abs([r["distance_rel"] for r in rs])
        ds = np.abs([r["sigma_r_abs"] for r in rs])
        dw = np.abs([r["omega_d_abs"] for r in rs])
        lines.append(f"| {codec} | {route} | {setting} | {len(rs)} | {len(measured)} ({points}) | "
                     f"{100 * np.median(cm):.2f} % / "
                     f"{100 * cm.max():.2f} % | {100 * med:.3f} % | {100 * np.median(dr):.3f} % / "
                     f"{100 * dr.max():.3f} % | {100 * np.median(dd):.3f} % / {100 * dd.max():.3f} % | "
                     f"{ds.max():.4f} | {dw.max():.4f} |")
        worst[f"{codec}|{route}|{setting}"] = {"cut": float(cm.max()), "cut_median": float(np.median(cm)),
                                               "cut_images": len(measured),
                                               "radius": float(dr.max()), "distance": float(dd.max())}
    return lines, worst


def latent_lines(res: dict[str, Any]) -> tuple[list[str], dict[str, float]]:
    lines = ["| codec | features | dim | PCA | k-means ARI / NMI | GMM ARI / NMI | HDBSCAN ARI (clusters, noise) | "
             "probe R² log R | log D | σ/R | ω/D |", "|" + "---|" * 11]
    best = {"ari": -1.0, "r2_radius": -np.inf}
    for lat in res.get("latents", []):
        for name, ft in lat["features"].items():
            c, p = ft["clusters"], ft["probe_r2"]
            h = c["hdbscan"]
            lines.append(f"| {lat['codec']} | {name} | {ft['dimension']} | {c['pca_components']} | "
                         f"{c['kmeans']['ari']:.3f} / {c['kmeans']['nmi']:.3f} | {c['gmm']['ari']:.3f} / "
                         f"{c['gmm']['nmi']:.3f} | {h['ari']:.3f} ({h['clusters']}, "
                         f"{100 * h['noise_fraction']:.0f} %) | "
                         f"{p['log_radius']:.3f} | {p['log_distance']:.3f} | {p['sigma_r']:.3f} | {p['omega_d']:.3f} |")
            best["ari"] = max(best["ari"], c["kmeans"]["ari"], c["gmm"]["ari"], h["ari"])
            best["r2_radius"] = max(best["r2_radius"], p["log_radius"])
    return lines, best


def targets(res: dict[str, Any], worst: dict[str, dict[str, float]], best_lat: dict[str, float],
            main: str, denoise: str | None, speed_sweep: dict[str, Any] | None = None) -> list[str]:
    pts = points(res)
    rows = []
    m = pts.get((main, "clean", "model"), {})
    j2k = pts.get(("jpeg2000", "clean", f"at={main}"), {})
    rows.append(("clean → clean, MS-SSIM at ≤ 0.05 bpp (bytes)", "≥ 0.990",
                 f"{f(m.get('ms_ssim'), 5)} at {f(m.get('bpp'))} bpp",
                 m.get("ms_ssim", 0) >= 0.99 and m.get("bpp", 1) <= 0.05))
    gain = m.get("psnr_log", np.nan) - j2k.get("psnr_log", np.nan)
    rows.append(("PSNR (log) above JPEG 2000 at the same bpp", "≥ 3 dB", f"{gain:+.2f} dB", gain >= 3))
    if denoise:
        d = pts.get((denoise, "noisy", "model"), {})
        rows.append(("gaps + noise → clean, MS-SSIM at ≤ 0.06 bpp", "≥ 0.985",
                     f"{f(d.get('ms_ssim'), 5)} at {f(d.get('bpp'))} bpp",
                     d.get("ms_ssim", 0) >= 0.985 and d.get("bpp", 1) <= 0.06))
        bh = pts.get(("biharmonic", "noisy", "inpaint"), {})
        rows.append(("error on gap pixels (RMSE, normalised log) below biharmonic", "< biharmonic",
                     f"{f(d.get('rmse_missing'))} vs {f(bh.get('rmse_missing'))}",
                     d.get("rmse_missing", np.inf) < bh.get("rmse_missing", -np.inf)))
    for codec in ("sz3", "zfp"):
        b = pts.get((codec, "clean", f"at={main}"), {})
        if b:
            saving = 1 - m.get("bpp", np.nan) / b["bpp"]
            rows.append((f"bits saved against {codec.upper()} at the same max error of log10 I", "≥ 20 %",
                         f"{100 * saving:.0f} % ({f(m.get('bpp'))} vs {f(b['bpp'])} bpp)", saving >= 0.2))
    w = worst.get(f"{main}|clean|model")
    if w:
        rows.append(("cuts of decoded images within 1 % of the original's (worst image)", "≤ 1 %",
                     f"{100 * w['cut']:.2f} % (median image {100 * w['cut_median']:.2f} %; "
                     f"{w.get('cut_images', '?')} images with measured points)", w["cut"] <= 0.01))
        rows.append(("fitted R and D within 0.5 % of the original's fit (worst image)", "≤ 0.5 %",
                     f"R {100 * w['radius']:.3f} %, D {100 * w['distance']:.3f} %",
                     max(w["radius"], w["distance"]) <= 0.005))
    if best_lat["ari"] > -1:
        rows.append(("latent clusters against (D, ω/D) classes, best ARI", "≥ 0.6", f"{best_lat['ari']:.3f}",
                     best_lat["ari"] >= 0.6))
        rows.append(("linear probe latent → log R, held-out R²", "≥ 0.95", f"{best_lat['r2_radius']:.3f}",
                     best_lat["r2_radius"] >= 0.95))
    speed = 1.0 / (m.get("encode_s", np.nan) + m.get("decode_s", np.nan))
    threads = res.get("torch_threads", 1)  # the benchmark's --threads (1 before it was recorded)
    here = f"{speed:.1f} images/s here ({threads} torch thread{'s' * (threads > 1)}, one image at a time)"
    sweep = [r for r in (speed_sweep or {}).get("rows", []) if r["model"] == main]
    if sweep:
        # the target is on this CPU (2 cores): the dedicated sweep's best setting, the one to run the codec at
        b = max(sweep, key=lambda r: r["images_per_s"])
        rows.append((f"encode + decode on this CPU, best setting of image_codec_speed.md ({b['threads']} torch "
                     f"threads, batch {b['batch']}, load {speed_sweep['load_average_start'][0]:.2f} at start)",
                     "≥ 50 images/s", f"{b['images_per_s']:.1f} images/s; {here}", b["images_per_s"] >= 50))
    else:
        rows.append(("encode + decode (thread and batch sweep: image_codec_speed.md)", "≥ 50 images/s", here,
                     speed >= 50))
    for mod in res["models"]:
        rows.append((f"training of {mod['name']}", "≤ 60 min, alone", f"{mod['train_seconds'] / 60:.1f} min",
                     mod["train_seconds"] <= 3600))
        rows.append((f"weights of {mod['name']}", "≤ 10 MB", f"{mod['file_bytes'] / 1e6:.2f} MB",
                     mod["file_bytes"] <= 10e6))
    out = ["| target | required | measured | met |", "|---|---|---|---|"]
    out += [f"| {a} | {b} | {c} | {yes(bool(d))} |" for a, b, c, d in rows]
    return out


def plots(res: dict[str, Any], out_dir: Path) -> list[str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = []
    pts = res["summary"]
    learned = {m["name"] for m in res["models"]}
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    for ax, key, label in ((axes[0], "psnr_log", "PSNR of the normalised log image (dB)"),
                           (axes[1], "ms_ssim", "MS-SSIM")):
        for codec, colour in BASELINE_COLOURS.items():
            grid = sorted((p["bpp"], p[key]) for p in pts if p["codec"] == codec and p["route"] == "clean"
                          and not p["setting"].startswith("at=") and key in p)
            if grid:
                ax.plot(*zip(*grid, strict=True), "o-", color=colour, label=codec, ms=3)
        for p in pts:
            if p["codec"] in learned and key in p:
                ax.plot(p["bpp"], p[key], "k*" if p["route"] == "clean" else "m^", ms=10)
                ax.annotate(f"{p['codec']} ({p['route']})", (p["bpp"], p[key]), fontsize=7,
                            xytext=(4, -10), textcoords="offset points")
        ax.set_xscale("log")
        ax.set_xlabel("bits per pixel (from bytes)")
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out_dir / "image_codecs_rd.png", dpi=110)
    plt.close(fig)
    names.append("image_codecs_rd.png")

    sci = [r for r in res["science"] if r["codec"] != "original"]
    if sci:
        bpp = {(p["codec"], p["route"], p["setting"]): p.get("bpp") for p in pts}
        fig, ax = plt.subplots(figsize=(6.5, 4.2))
        groups: dict[tuple[str, str, str], list[dict[str, Any]]] = defaultdict(list)
        for r in sci:
            groups[(r["codec"], r["route"], r["setting"])].append(r)
        for key, rs in groups.items():
            x = bpp.get(key)
            if x is None:
                continue
            for param, marker in (("radius_rel", "o"), ("distance_rel", "s")):
                ax.plot([x] * len(rs), 100 * np.abs([r[param] for r in rs]), marker, ms=4, alpha=0.6,
                        color=BASELINE_COLOURS.get(key[0], "k"))
            ax.annotate(f"{key[0]} {key[2]}", (x, 100 * max(abs(r["radius_rel"]) for r in rs)), fontsize=6)
        ax.axhline(0.5, color="grey", ls="--", lw=1)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("bits per pixel")
        ax.set_ylabel("|fitted − original fit| (%): R (o), D (s)")
        ax.grid(alpha=0.3)
        fig.tight_layout()
        fig.savefig(out_dir / "image_codecs_rate_bias.png", dpi=110)
        plt.close(fig)
        names.append("image_codecs_rate_bias.png")

    lats = res.get("latents", [])
    if lats:
        fig, axes = plt.subplots(1, len(lats), figsize=(4.2 * len(lats), 4), squeeze=False)
        for ax, lat in zip(axes[0], lats, strict=True):
            xy = np.array(lat["map"]["xy"])
            sc = ax.scatter(xy[:, 0], xy[:, 1], c=lat["map"]["classes"], cmap="tab10", s=12, vmin=0, vmax=9)
            ax.set_title(f"{lat['codec']}: t-SNE of y stats", fontsize=9)
            ax.set_xticks([])
            ax.set_yticks([])
        fig.colorbar(sc, ax=axes[0].tolist(), label="class: 2·(D tercile) + (ω/D ≥ 0.25)")
        fig.savefig(out_dir / "image_codecs_latents.png", dpi=110)
        plt.close(fig)
        names.append("image_codecs_latents.png")
    return names


def main(argv: list[str] | None = None) -> Path:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--json", type=Path, default=RESULTS / "image_codecs.json")
    p.add_argument("--out", type=Path, default=RESULTS / "image_codecs.md")
    p.add_argument("--main", default="msh", help="the codec the targets are read for (clean route)")
    p.add_argument("--denoise", default="msh_denoise", help="the denoising codec (noisy route)")
    p.add_argument("--speed", type=Path, default=RESULTS / "image_codec_speed.json",
                   help="the thread and batch sweep of benchmarks/image_codec_speed.py (skipped when missing)")
    a = p.parse_args(argv)
    res = json.loads(a.json.read_text())
    speed_sweep = json.loads(a.speed.read_text()) if a.speed.exists() else None
    names = {m["name"] for m in res["models"]}
    main_codec = a.main if a.main in names else sorted(names)[0]
    denoise = a.denoise if a.denoise in names else None
    sci_lines, worst = science_table(res)
    lat_lines, best_lat = latent_lines(res)
    la, lb = res["load_average_start"], res["load_average_end"]
    lossless = points(res)
    ll = [f"{k[0]} {f(v['bpp'], 4)} bpp" for k, v in lossless.items() if k[2] == "lossless"]
    pics = plots(res, a.out.parent)
    md = [
        "# Learned compression, denoising and gap filling of GISAXS images (issue 15)", "",
        f"Written by `python benchmarks/image_codecs_report.py` from `{a.json.name}`, made by "
        f"`python benchmarks/{res['command']}` on {res['date']} (commit {res['commit']}), "
        f"{res['seconds'] / 60:.1f} min, load average {la[0]:.2f} at start and {lb[0]:.2f} at the end. "
        f"{res['images']} held-out `{res['split']}` images of `{res['dataset']}` "
        f"({res['reference_scale']['size'][0]}×{res['reference_scale']['size'][1]} pixels, log10(I + ε) with "
        f"ε = {res['reference_scale']['epsilon']:.3g} 1/sr, log10 range [{res['reference_scale']['lo']:.2f}, "
        f"{res['reference_scale']['hi']:.2f}] mapped to [0, 1]). Every bpp is counted from the bytes written, "
        "headers included.", "",
        "## Targets", "", *targets(res, worst, best_lat, main_codec, denoise, speed_sweep), "",
        "## The codecs", "", *model_table(res), "",
        "## Rate and distortion", "",
        "Learned codecs at their one operating point; JPEG 2000 / JPEG XL at the same per-image bpp "
        "(`at=`) and on a bpp grid, on 16-bit log images; SZ3 / ZFP at the learned codec's per-image "
        "maximum error on log10 I (`at=`) and on an error grid. Lossless on the float32 intensities: "
        + ", ".join(ll) + ".", "", *rd_table(res), "",
        *[f"![{n}]({n})" for n in pics if "rd" in n], "",
        "## Gaps + noise → clean, per flux", "",
        "The dataset's own noisy images (Poisson counts at the image's flux, module gaps, dead pixels, beam "
        "stop) into the denoising codec, scored against the clean image; beside it the noisy image itself with "
        "its missing pixels filled by biharmonic inpainting (scikit-image).", "", *noise_table(res), "",
        "## Does compression change the science?", "",
        "For the first held-out images: the Yoneda-band horizontal cut and the vertical cut through its "
        "strongest lateral maximum (3-pixel bands, `hifft.gisaxs.cuts`) of the original clean image; R, σ/R, D, "
        "ω/D and a scale fitted to both cuts with the analytic simulator, started at the labels; the same fit on "
        "the decoded image's cuts, started at the original's fit. Deviations of decoded against original "
        f"over the measured range ({cut_range(res)}).", "", *sci_lines, "",
        *[f"![{n}]({n})" for n in pics if "rate_bias" in n], "",
        "## Latents", "",
        "Features of the quantised latents in each bitstream (`hifft.images.latents`): `y_stats` (each channel's "
        "mean and standard deviation of ŷ) and `z` (ẑ flattened); standardised, PCA to 95 % variance, fitted on "
        "the training split; scored on the whole test split. Classes: D in the training split's terciles × "
        "ω/D below/above 0.25 (6 classes, like seed 000's 3 D × 2 ω/D). Ridge probes fitted on the training "
        "split, R² on the test split.", "", *lat_lines, "",
        *[f"![{n}]({n})" for n in pics if "latents" in n], "",
    ]
    a.out.write_text("\n".join(md) + "\n")
    print(f"wrote {a.out}")
    return a.out


if __name__ == "__main__":
    main()
