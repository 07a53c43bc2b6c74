"""Write benchmarks/results/bcdi.md (and bcdi_accuracy.png) from the inpainting evaluation JSON files.

    python benchmarks/bcdi_report.py [--results DIR] [--out FILE]

Reads ``bcdi_inpaint_3d.json`` and ``bcdi_inpaint_2d.json`` in the results directory (written by
``hifft bcdi evaluate-inpaint pipelines/bcdi_inpaint_{3d,2d}.yaml --json ...``; either may be
missing). Every figure in the report comes from those files, which also carry each model's
training record; the prose around them is fixed text.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
FILES = {"3D patch model (32³)": "bcdi_inpaint_3d.json", "2D patch model (frames)": "bcdi_inpaint_2d.json"}


def f4(v: float | None) -> str:
    return "–" if v is None else f"{v:.4f}"


def pct(v: float | None) -> str:
    return "–" if v is None else f"{100 * v:.1f} %"


def yes(v: bool | None) -> str:
    return "–" if v is None else ("yes" if v else "**no**")


def model_section(res: dict[str, Any]) -> list[str]:
    out = []
    for name, rec in res.get("records", {}).items():
        tc = rec["config"]
        pc = tc["patterns"]
        val = rec.get("validation", {})
        out += [
            f"- `{name}` (`{res['models'].get(name, '?')}`): {rec['parameters']:,} parameters, "
            f"{rec['file_bytes'] / 1e6:.2f} MB; widths {tc['model']['widths']}, dilations "
            f"{tc['model']['dilations']}, patch {tc['model']['patch']} px, margin {tc['model']['margin']} px, "
            f"inference stride {rec.get('stride', tc['model']['stride'])} px. Trained {rec['steps']:,} steps "
            f"({rec['patches_seen']:,} patches) in {rec['train_seconds'] / 60:.1f} min of training "
            f"+ {rec['simulate_seconds'] / 60:.1f} min simulating {tc['n_patterns']} patterns of "
            f"{pc['size']}³ ({', '.join(pc['shapes'])}; strains {', '.join(pc['strains'])}), "
            f"{rec['threads']} torch threads, load average at start {rec['load_average_start'][0]:.2f}. "
            f"Validation (fixed patches, scaled log intensity): PCC {f4(val.get('pcc_log_model'))} "
            f"against biharmonic {f4(val.get('pcc_log_biharmonic'))}"
            + (f", line fill {f4(val['pcc_log_line'])}" if "pcc_log_line" in val else "")
            + (" (residual: the network corrects the line fill)" if tc["model"].get("residual") else "") + ".",
        ]
    return out


def width_table(res: dict[str, Any]) -> list[str]:
    methods = res["methods"]
    cols = [*methods, "ceiling"]
    head = "| gap (px) | " + " | ".join(f"{m} PCC log (median)" for m in cols) + " | " + " | ".join(
        f"{m} PCC lin / accuracy" for m in cols) + " |"
    lines = [head, "|" + "---|" * (1 + 2 * len(cols))]
    for w, per in res["widths"].items():
        cells = [f"{f4(per[m]['pcc_log_mean'])} ({f4(per[m]['pcc_log_median'])})" for m in cols]
        cells += [f"{f4(per[m]['pcc_mean'])} / {pct(per[m]['accuracy_mean'])}" for m in cols]
        lines.append(f"| {w} | " + " | ".join(cells) + " |")
    return lines


def expected_table(res: dict[str, Any]) -> list[str]:
    methods = [m for m in res["methods"] if m != "zero"]
    lines = ["| gap (px) | " + " | ".join(f"{m} PCC log vs expected" for m in methods) + " |",
             "|" + "---|" * (1 + len(methods))]
    for w, per in res["widths"].items():
        lines.append(f"| {w} | " + " | ".join(f4(per[m].get("pcc_log_expected_mean")) for m in methods) + " |")
    return lines


def phasing_section(path: Path) -> list[str]:
    ph = json.loads(path.read_text())
    lines = [f"`{ph['command']}` ({ph['size']}³ held-out patterns, {len({r['pattern'] for r in ph['rows']})} of "
             f"them; {ph['gap']}; HIO {ph['recipe']['hio']} + ER {ph['recipe']['er']}, shrink-wrap every "
             f"{ph['recipe']['shrinkwrap_every']}, {ph['starts']} starts chosen by free log-likelihood; "
             f"load average {ph['load_average_start'][0]:.2f} at start, {ph['seconds'] / 60:.1f} min):", "",
             "| phased from | modulus error | phase RMSE in support (rad) | density outside the support (halo) |",
             "|---|---|---|---|"]
    for m, v in ph["mean"].items():
        lines.append(f"| {m} | {v['modulus_error']:.4f} | {v['phase_rmse']:.4f} | {v['halo']:.4f} |")
    verdict = ph["model_better_than_masked_zero_biharmonic"]
    lines += ["", "Model inpainting (as data) better than masked phasing, zero fill and biharmonic fill on every "
              "mean: " + ", ".join(f"{k} {yes(v)}" for k, v in verdict.items()) + "."]
    guided = ph.get("model_guided_better_than_masked_zero_biharmonic_and_biharmonic_guided")
    if guided is not None:
        hold = ph["recipe"].get("release_fill")
        held = ("through HIO" if hold is None else f"for the first {hold} iterations (chosen over 100–700 on a "
                "validation draw of 12 other patterns: [bcdi_phasing_val/](bcdi_phasing_val/sweep_release.sh))")
        lines += ["", f"*_guided*: the gapped pattern, gap voxels held at the fill {held} and free after "
                  "(`phase_retrieval(fill=...)`, `hifft bcdi phase --guide --release-fill`). Model-guided better than "
                  "masked, zero, biharmonic and biharmonic-guided on every mean: "
                  + ", ".join(f"{k} {yes(v)}" for k, v in guided.items()) + "."]
    lines += paired_lines(ph["rows"])
    return [*lines, ""]


def paired_lines(rows: list[dict[str, Any]]) -> list[str]:
    """Per pattern against masked phasing: how often each fill method is closer, and the median difference."""
    by = {(r["pattern"], r["method"]): r for r in rows}
    pats = sorted({r["pattern"] for r in rows})
    out = []
    for m in ("model", "model_guided", "biharmonic_guided"):
        pairs = [(by[p, m], by[p, "masked"]) for p in pats if (p, m) in by and (p, "masked") in by]
        if not pairs:
            continue
        cells = []
        for k in ("modulus_error", "phase_rmse"):
            d = np.array([a[k] - b[k] for a, b in pairs])
            cells.append(f"{k} lower in {int((d < 0).sum())} of {len(d)} (median difference {np.median(d):+.4f})")
        out.append(f"- {m} against masked, pattern by pattern: " + "; ".join(cells) + ".")
    return ["", *out] if out else []


def target_table(res: dict[str, Any]) -> list[str]:
    lines = ["| model | gap (px) | target PCC (log) | model | biharmonic | meets target | beats biharmonic |",
             "|---|---|---|---|---|---|---|"]
    for name, per in res["targets"].items():
        for w, t in per.items():
            lines.append(f"| {name} | {w} | {f4(t['target'])} | {f4(t['pcc_log_mean'])} | {f4(t['biharmonic'])} | "
                         f"{yes(t['meets_target'])} | {yes(t['beats_biharmonic'])} |")
    return lines


def bins_table(res: dict[str, Any]) -> list[str]:
    methods = res["methods"]
    lines = ["| gap (px) | expected counts | voxels | " + " | ".join(f"{m} accuracy / PCC log" for m in methods)
             + " |", "|" + "---|" * (3 + len(methods))]
    for w, per in res["bins"]["by_width"].items():
        for i, row in enumerate(per[methods[0]]):
            rng = f"{row['low']:g}–{row['high']:g}" if row["high"] is not None else f"≥ {row['low']:g}"
            cells = [f"{pct(per[m][i]['accuracy'])} / {f4(per[m][i]['pcc_log'])}" for m in methods]
            lines.append(f"| {w} | {rng} | {row['n']:,} | " + " | ".join(cells) + " |")
    return lines


def plot_bins(all_res: dict[str, dict[str, Any]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(all_res), figsize=(6 * len(all_res), 4.2), squeeze=False)
    for ax, (title, res) in zip(axes[0], all_res.items(), strict=True):
        for w, per in res["bins"]["by_width"].items():
            for m, style in zip(res["methods"], ["k:", "C0--", "C5-.", "C1-", "C2-", "C3-", "C4-"], strict=False):
                rows = [r for r in per[m] if r["n"] and r["accuracy"] is not None]
                x = [r["low"] if r["high"] is None else (max(r["low"], 0.3) * r["high"]) ** 0.5 for r in rows]
                ax.plot(x, [r["accuracy"] for r in rows], style, marker="o", ms=3, alpha=0.4 + 0.15 * int(w) / 6,
                        label=f"{m}, {w} px")
        ax.set_xscale("log")
        ax.set_xlabel("expected counts in the gap voxel")
        ax.set_ylabel("accuracy 1 − Σ|t − p| / Σ t")
        ax.set_title(title)
        ax.legend(fontsize=6, ncol=2)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--results", type=Path, default=RESULTS, help="folder of the evaluation JSON files")
    ap.add_argument("--out", type=Path, default=None, help="markdown file (default: RESULTS/bcdi.md)")
    args = ap.parse_args(argv)
    out = args.out or args.results / "bcdi.md"
    found = {t: json.loads((args.results / f).read_text()) for t, f in FILES.items() if (args.results / f).exists()}
    if not found:
        raise SystemExit(f"{args.results}: none of {sorted(FILES.values())}; run `hifft bcdi evaluate-inpaint` first")
    L = [
        "# BCDI detector-gap inpainting (issue 16)",
        "",
        "Written by `python benchmarks/bcdi_report.py` from "
        + ", ".join(f"`{FILES[t]}`" for t in found)
        + " (`hifft bcdi evaluate-inpaint`); every figure below is read from those files.",
        "",
        "Held-out patterns are simulated (`hifft.bcdi.simulate_pattern`: the DFT of a voxelized "
        "ρ·exp(iG·u), not the atomistic kinematic sum of the seeds' PyNX data, no detector geometry) "
        "from crystal families and displacement fields on a separate seed stream; the families listed as "
        "held out and absent from training were never seen. Each pattern gets one gap of every width, "
        "a band or a cross through every frame, crossing the central half. Truth is the Poisson counts "
        "the detector would have measured; PCC is over gap voxels, on log1p(counts) (the seeds' network "
        "works in log space; the seeds do not state the scale of their PCC) and on linear counts; "
        "accuracy is the seeds' 1 − Σ|truth − prediction| / Σ truth. Zero fill has no correlation (–). "
        "*line* interpolates log1p(counts) linearly across the gap along the detector axes (the starting "
        "estimate a residual model corrects). "
        "*ceiling* scores the noise-free expected counts against the Poisson counts: the best any method can "
        "reach on average, since the counts' noise cannot be predicted.",
        "",
    ]
    for title, res in found.items():
        L += [f"## {title}", "", f"{res['n_patterns']} held-out patterns of {res['size']}³ "
              f"(shapes {', '.join(res['held_out']['shapes'])}; strains {', '.join(res['held_out']['strains'])}; "
              f"trained on {', '.join(res['held_out']['trained_shapes'])} with "
              f"{', '.join(res['held_out']['trained_strains'])}); evaluation took {res['seconds'] / 60:.1f} min, "
              f"load average {res['load_average_start'][0]:.2f} at start.", ""]
        L += ["### Models", "", *model_section(res), ""]
        L += ["### Gap PCC per width (mean over samples)", "", *width_table(res), ""]
        L += ["### Gap PCC against the noise-free expected counts (mean over samples)", "",
              *expected_table(res), ""]
        L += ["### Targets", "", *target_table(res), ""]
        L += ["### Accuracy against local intensity (gap voxels pooled per bin)", "", *bins_table(res), ""]
        if "timing" in res:
            t = res["timing"]
            L += [f"### Time for one {t['size']}³ pattern", "",
                  f"{t['gap']} ({t['gap_voxels']:,} gap voxels), {t['threads']} threads, load average "
                  f"{t['load_average'][0]:.2f}: " + "; ".join(f"{m} {s:.1f} s" for m, s in t["seconds"].items())
                  + " (target ≤ 120 s).", ""]
    for name, title in (("bcdi_phasing.json", "Phase retrieval through a 6-px cross gap"),
                        ("bcdi_phasing_through_peak.json", "Phase retrieval with the cross through the Bragg peak")):
        if (args.results / name).exists():
            L += [f"## {title}", "", *phasing_section(args.results / name)]
    png = out.with_name("bcdi_accuracy.png")
    plot_bins(found, png)
    L += [f"![accuracy against local intensity]({png.name})", ""]
    out.write_text("\n".join(L))
    print(f"wrote {out} and {png}")


if __name__ == "__main__":
    main()
