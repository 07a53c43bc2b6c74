"""``hifft diffraction``: labelled droplet-pattern datasets, and the classifier (train, ensemble, evaluate, predict).

torch is imported only by the classifier commands.

Registered by :func:`register` (``"hifft.diffraction.cli"`` in ``_SUBCOMMANDS`` of hifft/cli.py).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

console = Console()
diffraction_app = typer.Typer(
    name="diffraction",
    help="Wide-angle single-shot diffraction of nanodroplets: labelled Ewald-sphere image datasets and a "
    "multi-label image classifier.",
    no_args_is_help=True,
)


@diffraction_app.command("dataset")
def dataset_cmd(
    config: Annotated[Path, typer.Argument(help="YAML job file (pipelines/diffraction_*.yaml).")],
    out: Annotated[Path, typer.Argument(help="Output store (a directory, e.g. droplets.zarr).")],
    overwrite: Annotated[bool, typer.Option(help="Replace a store that holds another job.")] = False,
    client: Annotated[str | None, typer.Option(help="'local' for a LocalCluster, or a scheduler address.")] = None,
    max_chunks: Annotated[int | None, typer.Option(help="Stop after this many new chunks.")] = None,
) -> None:
    """Labelled droplet images (Zarr; resumable Dask batch job): image, labels, geometry per sample."""
    from ..store import StoreError
    from .config import load
    from .dataset import make_dataset, open_dataset
    from .labels import LABELS

    cfg = load(config)
    path = make_dataset(cfg, out, client=client, overwrite=overwrite, max_chunks=max_chunks)
    try:
        ds = open_dataset(path)
    except StoreError:  # an unfinished store (max_chunks) is reported, not raised
        console.print(f"{path}: unfinished; rerun the same command to resume", highlight=False)
        return
    counts = ds["labels"].values.sum(axis=0)
    console.print(f"{path}: {ds.sizes['sample']} images; label counts "
                  + ", ".join(f"{n} {int(c)}" for n, c in zip(LABELS, counts, strict=True)), highlight=False)


@diffraction_app.command("train")
def train_cmd(
    config: Annotated[Path, typer.Argument(help="YAML classifier job (pipelines/diffraction_classifier.yaml).")],
    dataset: Annotated[Path | None, typer.Option(help="Override train.dataset.")] = None,
    out: Annotated[Path | None, typer.Option(help="Override train.out (directory of model.pt).")] = None,
    minutes: Annotated[float | None, typer.Option(help="Override train.minutes (wall-clock budget).")] = None,
    first_activation: Annotated[str | None, typer.Option(help="Override model.first_activation (log|relu).")] = None,
    input_kind: Annotated[str | None, typer.Option("--input", help="Override model.input (image|ccf).")] = None,
) -> None:
    """Train (or resume) the classifier; writes OUT/model.pt and the record OUT/model.json."""
    from ..config import validate
    from .classify import train
    from .config import ClassifierConfig, load_classifier

    cfg = load_classifier(config)
    if cfg.train is None:
        raise typer.BadParameter(f"{config}: no 'train' section")
    data = cfg.model_dump()
    data["train"].update({k: v for k, v in {"dataset": dataset, "out": out, "minutes": minutes}.items()
                          if v is not None})
    data["model"].update({k: v for k, v in {"first_activation": first_activation, "input": input_kind}.items()
                          if v is not None})
    cfg = validate(ClassifierConfig, data, f"{config} (with command-line options)")
    train(cfg, log=lambda s: console.print(s, highlight=False))


@diffraction_app.command("ensemble")
def ensemble_cmd(
    models: Annotated[list[Path], typer.Argument(help="Two or more model.pt files, then the dataset store.")],
    store: Annotated[Path, typer.Argument(help="The dataset the members were trained on (its val split).")],
    out: Annotated[Path, typer.Option(help="Directory of the ensemble's model.pt and model.json.")],
    weights: Annotated[str, typer.Option(help="Member weights: 'val' (best validation macro-F1 on a 0.1 grid) "
                                         "or 'mean' (equal).")] = "val",
) -> None:
    """Weighted mean logits of trained models, weights and thresholds chosen on the validation split; one file."""
    from .ensemble import build

    if weights not in ("mean", "val"):
        raise typer.BadParameter(f"--weights: 'mean' or 'val', got {weights!r}")
    build(models, store, out, log=lambda s: console.print(s, highlight=False), weights=weights)  # type: ignore[arg-type]


@diffraction_app.command("evaluate")
def evaluate_cmd(
    models: Annotated[list[Path], typer.Argument(help="One or more model.pt files, then the dataset store.")],
    store: Annotated[Path, typer.Argument(help="Diffraction dataset store (its test split is used).")],
    json_out: Annotated[Path, typer.Option("--json", help="Write the evaluation here (JSON).")],
    config: Annotated[Path | None, typer.Option(help="Classifier job file whose 'evaluate' section applies.")] = None,
) -> None:
    """Test-split metrics, hierarchy violations, the noise table and throughput of each model, side by side."""
    import json

    from ..atomic import atomic_write
    from .config import ClassifierEvaluateConfig, load_classifier
    from .evaluate import evaluate

    ecfg = load_classifier(config).evaluate if config is not None else ClassifierEvaluateConfig()
    res = evaluate(models, store, ecfg, log=lambda s: console.print(s, highlight=False))
    json_out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(json_out, json.dumps(res, indent=1))
    console.print(f"wrote {json_out}", highlight=False)


@diffraction_app.command("predict")
def predict_cmd(
    model: Annotated[Path, typer.Argument(help="A model.pt from `hifft diffraction train`.")],
    files: Annotated[list[Path], typer.Argument(help=".npy, .tif, .h5/.cxi, .zarr or .nc image files.")],
    dataset: Annotated[str | None, typer.Option(help="HDF5 dataset path (e.g. entry_1/data_1/data).")] = None,
    variable: Annotated[str | None, typer.Option(help="Variable of a .zarr/.nc store (default 'image').")] = None,
    split: Annotated[int | None, typer.Option(help="Only this split of a dataset store (0/1/2).")] = None,
    out: Annotated[Path | None, typer.Option(help="Write probabilities and labels (.csv or .json).")] = None,
    show: Annotated[int, typer.Option(help="Print at most this many images.")] = 20,
) -> None:
    """Labels of every image (hierarchy enforced; thresholds from the validation split), probabilities to --out."""
    from .classify import load, predict_files
    from .labels import LABELS

    if out is not None and out.suffix.lower() not in (".csv", ".json"):
        raise typer.BadParameter(f"{out}: --out must end in .csv or .json")
    res = predict_files(load(model), files, dataset=dataset, variable=variable, split=split)
    ids = [str(i) for i in res["id"].values]
    labels = res["labels"].values
    for i in range(min(show, len(ids))):
        names = [n for n, on in zip(LABELS, labels[i], strict=True) if on]
        console.print(f"{ids[i]}: {', '.join(names)}", highlight=False)
    if len(ids) > show:
        console.print(f"... {len(ids) - show} more", highlight=False)
    if out is not None:
        _write_predictions(res, ids, out)
        console.print(f"wrote {out}", highlight=False)


def _write_predictions(res: Any, ids: list[str], out: Path) -> None:
    import csv
    import io
    import json

    from ..atomic import atomic_write
    from .labels import LABELS

    prob, raw, lab = res["probability"].values, res["raw"].values, res["labels"].values
    if out.suffix.lower() == ".json":
        rows = [{"id": ids[i], "labels": [n for n, on in zip(LABELS, lab[i], strict=True) if on],
                 "raw_labels": [n for n, on in zip(LABELS, raw[i], strict=True) if on],
                 "probability": dict(zip(LABELS, map(float, prob[i]), strict=True))} for i in range(len(ids))]
        atomic_write(out, json.dumps({"model": res.attrs.get("model"), "images": rows}, indent=1))
        return
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(["id", *(f"p_{n}" for n in LABELS), *LABELS])
    for i in range(len(ids)):
        w.writerow([ids[i], *(f"{p:.6g}" for p in prob[i]), *(int(v) for v in lab[i])])
    atomic_write(out, buf.getvalue())


def register(app: typer.Typer) -> None:
    """Add the ``diffraction`` sub-app to the ``hifft`` command."""
    app.add_typer(diffraction_app, name="diffraction")
