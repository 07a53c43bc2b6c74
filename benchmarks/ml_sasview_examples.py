"""Predict + refine with the shipped 1D model on measured curves from SasView's example data.

    python benchmarks/ml_sasview_examples.py [--model PATH] [--out benchmarks/results/ml_examples]

The example files ship inside the ``sasview`` wheel (``sas/example_data/1d_data``);
the script downloads that wheel with pip into ``bench_work/`` (no install)
once, then runs :func:`hifft.ml.refine.refine` on each curve below and writes
one PNG (data, refined model, residuals) per curve and ``examples.json``
(every figure the README quotes). Negative intensities (background
subtracted at high q) are left out, as ``hifft ml predict --negative mask``
does; the files' own dQ smears the refined model where they have one.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
WORK = ROOT / "bench_work" / "sasview"
WHEEL_SPEC = "sasview==6.1.3"

#: (file, entry, what the SasView documentation says the sample is)
CURVES = [
    ("Ludox_silica.xml", None, "Ludox colloidal silica, SANS"),
    ("apoferritin.txt", None, "apoferritin (protein shell, iron-free core), SANS2D"),
    ("AOT_Microemulsion-Core_Contrast.xml", None, "AOT water-in-oil microemulsion, core contrast, SANS"),
    ("33837rear_1D_1.75_16.5_NXcanSAS.h5", None, "ISIS SANS2D rear detector, NXcanSAS"),
    ("100nmPinholeSphere.txt", None, "100 nm spheres, pinhole smeared (SasView test data)"),
]

#: files the readers must refuse, with the reason recorded (bad input as users have it)
REFUSED = [
    ("latex_smeared.xml", 0),  # two instrument configurations merged: q repeats
    ("../2d_data/33837rear_2D_1.75_16.5_NIST.dat", None),  # Qx Qy I err: 2D, not a curve
]


def example_dir() -> Path:
    """The extracted ``1d_data`` folder (downloading the wheel once)."""
    dest = WORK / "1d_data"
    if dest.is_dir() and any(dest.iterdir()):
        return dest
    WORK.mkdir(parents=True, exist_ok=True)
    wheels = sorted(WORK.glob("sasview-*.whl"))
    if not wheels:
        subprocess.run(
            [sys.executable, "-m", "pip", "download", WHEEL_SPEC, "--no-deps", "-d", str(WORK), "-q"], check=True
        )
        wheels = sorted(WORK.glob("sasview-*.whl"))
    with zipfile.ZipFile(wheels[-1]) as z:
        prefix = "sas/example_data/1d_data/"
        dest.mkdir(exist_ok=True)
        for name in z.namelist():
            if name.startswith(prefix) and not name.endswith("/"):
                (dest / name[len(prefix) :]).write_bytes(z.read(name))
        two_d = "sas/example_data/2d_data/33837rear_2D_1.75_16.5_NIST.dat"
        (WORK / "2d_data").mkdir(exist_ok=True)
        (WORK / "2d_data" / Path(two_d).name).write_bytes(z.read(two_d))
    return dest


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", type=Path, default=None, help="model.pt (default: the shipped model)")
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "ml_examples")
    args = ap.parse_args()

    from hifft.ml.inference import load
    from hifft.ml.readers import read_curve
    from hifft.ml.refine import plot, refine

    pred = load(args.model)
    cfg, aug = pred.dataset_config(), pred.augment_config()
    src = example_dir()
    args.out.mkdir(parents=True, exist_ok=True)
    results = []
    for name, entry, what in CURVES:
        curve = read_curve(src / name, entry=entry, negative="mask")
        ans = refine(pred, curve, cfg, aug, top=2, source=name)
        png = args.out / (Path(name).stem + ".png")
        plot(ans, curve, cfg, png)
        d = ans.to_dict()
        d.update(file=name, entry=entry, sample=what, plot=str(png.relative_to(ROOT)))
        results.append(d)
        b = ans.best
        print(
            f"{name}: {b.model} (p = {b.probability:.3f}), "
            + ", ".join(f"{k} = {v:.4g}" for k, v in b.params.items())
            + f", χ²_red = {b.chi2_red:.3g}; OOD: {ans.ood or 'none'}"
        )
    refused = []
    for name, entry in REFUSED:
        try:
            read_curve(src / name, entry=entry, negative="mask")
        except ValueError as e:
            refused.append({"file": name, "error": str(e).replace(str(ROOT) + "/", "")})
            print(f"refused, as it should be: {refused[-1]['error']}")
        else:
            raise SystemExit(f"{name}: read without error; the reader should refuse it")
    record = {
        "command": "python benchmarks/ml_sasview_examples.py",
        "data": f"{WHEEL_SPEC} wheel, sas/example_data/1d_data",
        "model": str(args.model or "shipped (hifft/ml/models/default.pt)"),
        "curves": results,
        "refused": refused,
    }
    (args.out / "examples.json").write_text(json.dumps(record, indent=1, default=float))
    print(f"wrote {args.out / 'examples.json'}")


if __name__ == "__main__":
    main()
