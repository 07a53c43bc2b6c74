"""``hifft ml``: dataset → train → evaluate → predict.

Each command reads the section it needs from one YAML job file
(``pipelines/ml_default.yaml``; see :mod:`hifft.ml.config`). torch is
imported only by the commands that need it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

console = Console()
ml_app = typer.Typer(
    name="ml",
    help="Inverse problem on 1D curves: labelled datasets, deep-ensemble CNN, least squares.",
    no_args_is_help=True,
)

ConfigArg = Annotated[Path, typer.Argument(help="YAML job file (pipelines/ml_*.yaml).")]
Workers = Annotated[
    int | None,
    typer.Option("--workers", help="Dask workers of the LocalCluster (default: one per core)."),
]


def _client_kwargs(cfg: Any, workers: int | None) -> dict[str, Any]:
    # the job's whole cluster section (address, TLS, jobqueue, dashboard); --workers overrides its size
    return {"config": cfg.cluster, "n_workers": workers}


@ml_app.command("dataset")
def dataset_cmd(
    config: ConfigArg,
    out: Annotated[Path, typer.Argument(help="Output store (a directory, e.g. curves.zarr).")],
    overwrite: Annotated[bool, typer.Option(help="Replace a store that holds another job.")] = False,
    workers: Workers = None,
) -> None:
    """Generate labelled sasmodels curves with noise (resumable Dask job)."""
    from ..cluster import get_client
    from .config import load
    from .dataset import make_dataset

    cfg = load(config)
    d = cfg.dataset
    console.print(f"{d.n_samples} curves of {', '.join(d.classes)} in {d.n_chunks} chunks → {out}")
    with get_client(**_client_kwargs(cfg, workers)) as client:
        make_dataset(d, out, client=client, overwrite=overwrite)
    _print_dataset(out)


def _print_dataset(path: Path) -> None:
    from ..store import Manifest

    s = Manifest(path).summary()
    console.print(f"[green]complete[/]: {path} {json.dumps(s.get('per_class', {}))}")


@ml_app.command("fft-subset")
def fft_subset_cmd(
    config: ConfigArg,
    out: Annotated[Path, typer.Argument(help="Output store for the FFT-pipeline curves.")],
    overwrite: Annotated[bool, typer.Option(help="Replace a store that holds another job.")] = False,
) -> None:
    """Validation curves from hifft's pipeline (Scene → volume → FFT → saxs), same noise."""
    from .config import load
    from .fft_subset import make_fft_subset

    cfg = load(config)
    make_fft_subset(
        cfg.fft_subset,
        cfg.dataset,
        out,
        overwrite=overwrite,
        log=lambda s: console.print(s, highlight=False),
    )
    _print_dataset(out)


@ml_app.command("train")
def train_cmd(
    config: ConfigArg,
    dataset: Annotated[Path | None, typer.Option(help="Override train.dataset.")] = None,
    out: Annotated[Path | None, typer.Option(help="Override train.out (checkpoint directory).")] = None,
    epochs: Annotated[int | None, typer.Option(help="Override train.epochs.")] = None,
    ensemble: Annotated[int | None, typer.Option(help="Override train.ensemble.")] = None,
    workers: Annotated[int | None, typer.Option(help="Override train.workers (members trained at once).")] = None,
) -> None:
    """Train (or resume) the deep ensemble; writes OUT/model.pt and OUT/metrics.json."""
    from .config import load

    cfg = load(config)
    if cfg.train is None:
        raise typer.BadParameter(f"{config}: no 'train' section")
    tc = cfg.train
    upd = {
        k: v
        for k, v in {
            "dataset": dataset,
            "out": out,
            "epochs": epochs,
            "ensemble": ensemble,
            "workers": workers,
        }.items()
        if v is not None
    }
    if upd:
        tc = tc.model_copy(update=upd)
        tc = type(tc).model_validate(tc.model_dump())
    from .train import train

    train(tc, log=lambda s: console.print(s, highlight=False))


@ml_app.command("evaluate")
def evaluate_cmd(
    checkpoint: Annotated[Path, typer.Argument(help="model.pt (or its directory).")],
    dataset: Annotated[Path, typer.Argument(help="Dataset store; its test split is scored.")],
    config: Annotated[Path | None, typer.Option(help="Job file: its 'evaluate' and 'cluster' sections.")] = None,
    fft: Annotated[Path | None, typer.Option(help="FFT-pipeline subset store to score as well.")] = None,
    baseline_per_class: Annotated[
        int | None, typer.Option(help="Curves per class for least squares (0: skip).")
    ] = None,
    max_samples: Annotated[int | None, typer.Option(help="Score at most this many test curves.")] = None,
    baseline: Annotated[Path | None, typer.Option(help="Least-squares fits from `hifft ml baseline`.")] = None,
    json_out: Annotated[Path | None, typer.Option("--json", help="Write the metrics as JSON here.")] = None,
    report: Annotated[Path | None, typer.Option(help="Write a markdown report here.")] = None,
    workers: Workers = None,
) -> None:
    """Score a checkpoint: accuracy, parameter errors, interval coverage, speed vs least squares."""
    from ..cluster import get_client
    from .config import MLConfig, load
    from .evaluate import evaluate, markdown, write

    cfg = load(config) if config else MLConfig()
    ev = cfg.evaluate
    nb = ev.baseline_per_class if baseline_per_class is None else baseline_per_class
    log = lambda s: console.print(s, highlight=False)  # noqa: E731
    if baseline is not None:
        res = evaluate(
            checkpoint,
            dataset,
            fft_dataset=fft,
            baseline=baseline,
            log=log,
            max_samples=max_samples,
        )
    elif nb > 0:
        with get_client(**_client_kwargs(cfg, workers)) as client:
            res = evaluate(
                checkpoint,
                dataset,
                fft_dataset=fft,
                baseline_per_class=nb,
                baseline_starts=ev.baseline_starts,
                baseline_scan=ev.baseline_scan,
                client=client,
                log=log,
                max_samples=max_samples,
            )
    else:
        res = evaluate(checkpoint, dataset, fft_dataset=fft, log=log, max_samples=max_samples)
    write(res, json_out, report)
    console.print(markdown(res))


@ml_app.command("baseline")
def baseline_cmd(
    dataset: Annotated[Path, typer.Argument(help="Dataset store; test curves are fitted.")],
    out: Annotated[Path, typer.Argument(help="JSON file for the fits (`evaluate --baseline`).")],
    config: Annotated[Path | None, typer.Option(help="Job file: its 'evaluate' and 'cluster' sections.")] = None,
    per_class: Annotated[
        int | None, typer.Option(help="Curves per class (default: evaluate.baseline_per_class).")
    ] = None,
    allow_incomplete: Annotated[
        bool, typer.Option(help="Use finished chunks of a dataset still being written.")
    ] = False,
    workers: Workers = None,
) -> None:
    """Least-squares fits (sasmodels + scipy) of test curves, every class, best by AIC."""
    from ..cluster import get_client
    from .config import MLConfig, load
    from .evaluate import run_baseline

    cfg = load(config) if config else MLConfig()
    ev = cfg.evaluate
    n = ev.baseline_per_class if per_class is None else per_class
    log = lambda s: console.print(s, highlight=False)  # noqa: E731
    with get_client(**_client_kwargs(cfg, workers)) as client:
        res = run_baseline(dataset, n, ev.baseline_scan, ev.baseline_starts, client, log, out, allow_incomplete)
    secs = [f["cpu_seconds"] for f in res["fits"]]
    ok = sum(f["best"] == t for f, t in zip(res["fits"], res["true_shape"], strict=True))
    console.print(f"wrote {out}: {ok}/{len(secs)} classes right, {sum(secs) / len(secs):.2f} CPU s per curve")


@ml_app.command("predict")
def predict_cmd(
    checkpoint: Annotated[Path, typer.Argument(help="model.pt (or its directory).")],
    file: Annotated[
        Path,
        typer.Argument(help="Curve: .h5/.nxs NXcanSAS, .xml canSAS 1D, .nc, .zarr, .csv/.dat."),
    ],
    out: Annotated[Path | None, typer.Option(help="Write the predictions (xarray) to this .nc file.")] = None,
    entry: Annotated[
        str | None, typer.Option(help="Which curve of a file holding several (index or name; NXcanSAS, canSAS XML).")
    ] = None,
    q_unit: Annotated[str | None, typer.Option(help="q unit of a text file without one, e.g. 1/nm.")] = None,
    i_unit: Annotated[str | None, typer.Option(help="Intensity unit of a text file, e.g. 1/m or counts.")] = None,
    negative: Annotated[str, typer.Option(help="Negative intensities: 'error' or 'mask' (leave them out).")] = "error",
) -> None:
    """Predict shape class and parameters (with intervals) for the curve(s) in FILE."""
    from .inference import load
    from .readers import read_curve

    pred = load(checkpoint)
    curves = read_curve(file, entry=entry, q_unit=q_unit, i_unit=i_unit, negative=negative)
    res = pred.predict(curves)
    if out:
        from ..atomic import atomic_path

        with atomic_path(out) as tmp:
            res.to_netcdf(tmp)
        console.print(f"wrote {out}")
    n = res.sizes["sample"]
    for k in range(min(n, 20)):
        r = res.isel(sample=k)
        t = Table(
            title=f"{file.name}" + (f" [{k}]" if n > 1 else "") + f": {r['shape'].item()} "
            f"(p = {float(r['prob'].max()):.3f})"
        )
        t.add_column("parameter")
        t.add_column("value")
        t.add_column(f"{int(100 * res.attrs['coverage'])}% interval")
        for p in res["param"].values:
            v = float(r["value"].sel(param=p))
            if v == v:  # not NaN
                unit = " Å" if p in ("radius", "length", "thickness", "radius_polar", "radius_equatorial") else ""
                t.add_row(
                    str(p),
                    f"{v:.4g}{unit}",
                    f"[{float(r['lower'].sel(param=p)):.4g}, {float(r['upper'].sel(param=p)):.4g}]{unit}",
                )
        probs = ", ".join(f"{c} {float(pv):.3f}" for c, pv in zip(res["class"].values, r["prob"].values, strict=True))
        console.print(t)
        console.print(f"class probabilities: {probs}", highlight=False)
    if n > 20:
        console.print(f"... {n - 20} more (use --out)")


def register(app: typer.Typer) -> None:
    """Add the ``ml`` sub-app to the ``hifft`` command."""
    app.add_typer(ml_app, name="ml")
