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
    seed: Annotated[int | None, typer.Option(help="Override fft_subset.seed (a fresh test set: a new seed).")] = None,
    n_per_class: Annotated[int | None, typer.Option(help="Override fft_subset.n_per_class.")] = None,
    realizations: Annotated[int | None, typer.Option(help="Override fft_subset.realizations.")] = None,
) -> None:
    """Curves from hifft's pipeline (Scene → volume → FFT → saxs), same noise: validation or a fresh test set."""
    from .config import load
    from .fft_subset import make_fft_subset

    cfg = load(config)
    upd = {
        k: v
        for k, v in {"seed": seed, "n_per_class": n_per_class, "realizations": realizations}.items()
        if v is not None
    }
    fcfg = type(cfg.fft_subset).model_validate(cfg.fft_subset.model_dump() | upd)
    make_fft_subset(
        fcfg,
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
            refine_top=ev.refine_top,
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
        res = run_baseline(
            dataset, n, ev.baseline_scan, ev.baseline_starts, client, log, out, allow_incomplete,
            library=ev.baseline_library, neighbours=ev.baseline_neighbours,
        )
    secs = [f["cpu_seconds"] for f in res["fits"]]
    ok = sum(f["best"] == t for f, t in zip(res["fits"], res["true_shape"], strict=True))
    console.print(f"wrote {out}: {ok}/{len(secs)} classes right, {sum(secs) / len(secs):.2f} CPU s per curve")


@ml_app.command("predict")
def predict_cmd(
    file: Annotated[
        Path,
        typer.Argument(help="Curve: .h5/.nxs NXcanSAS, .xml canSAS 1D, .nc, .zarr, .csv/.dat/.txt."),
    ],
    model: Annotated[
        Path | None, typer.Option(help="model.pt (or its directory); default: the model shipped with hifft.")
    ] = None,
    refine: Annotated[
        bool, typer.Option(help="Refine the top classes by least squares from the network's estimate.")
    ] = True,
    top: Annotated[int, typer.Option(help="Classes refined (plus any with probability >= 0.05).")] = 2,
    out: Annotated[Path | None, typer.Option(help="Write the network's predictions (xarray) to this .nc file.")] = None,
    json_out: Annotated[Path | None, typer.Option("--json", help="Write the refined answer(s) as JSON.")] = None,
    plot: Annotated[
        Path | None, typer.Option(help="PNG of data, refined model and residuals (one curve; refine only).")
    ] = None,
    entry: Annotated[
        str | None, typer.Option(help="Which curve of a file holding several (index or name; NXcanSAS, canSAS XML).")
    ] = None,
    q_unit: Annotated[str | None, typer.Option(help="q unit of a text file without one, e.g. 1/nm.")] = None,
    i_unit: Annotated[str | None, typer.Option(help="Intensity unit of a text file, e.g. 1/m or counts.")] = None,
    negative: Annotated[str, typer.Option(help="Negative intensities: 'error' or 'mask' (leave them out).")] = "error",
) -> None:
    """Shape class and parameters (with intervals) for the curve(s) in FILE: network, then least squares."""
    from .inference import load
    from .readers import read_curve

    pred = load(model)
    curves = read_curve(file, entry=entry, q_unit=q_unit, i_unit=i_unit, negative=negative)
    if curves.attrs.get("sigma_estimated"):
        console.print(f"[yellow]{file}: no uncertainties in the file; σ estimated from the scatter[/]")
    res = pred.predict(curves)
    if out:
        from ..atomic import atomic_path

        with atomic_path(out) as tmp:
            res.to_netcdf(tmp)
        console.print(f"wrote {out}")
    if not refine:
        _print_network(res, file)
        return
    from .refine import plot as plot_answer
    from .refine import refine as refine_curve

    n = res.sizes["sample"]
    if plot and n > 1:
        raise typer.BadParameter(f"{file}: {n} curves; --plot takes one (pick it with --entry)")
    dcfg, aug = pred.dataset_config(), pred.augment_config()
    answers = []
    for k in range(n):
        curve = curves.isel(sample=k) if "sample" in curves.dims else curves
        name = f"{file.name}" + (f" [{k}]" if n > 1 else "")
        a = refine_curve(pred, curve, dcfg, aug, top=top, source=name)
        answers.append(a.to_dict())
        _print_answer(a)
        if plot:
            console.print(f"wrote {plot_answer(a, curve, dcfg, plot)}")
    if json_out:
        from ..atomic import atomic_write

        atomic_write(json_out, json.dumps(answers if n > 1 else answers[0], indent=1, default=float))
        console.print(f"wrote {json_out}")


def _print_answer(a: Any) -> None:
    b = a.best
    t = Table(
        title=f"{a.source}: {b.model} (network p = {b.probability:.3f}; refined χ²_red = {b.chi2_red:.3g} "
        f"on {b.n_points} points{', dQ smearing' if a.dq_used else ''})"
    )
    t.add_column("parameter")
    t.add_column("network")
    t.add_column("refined")
    t.add_column(f"{round(100 * a.coverage)}% interval")
    for p, v in b.params.items():
        unit = " Å" if p in ("radius", "length", "thickness", "radius_polar", "radius_equatorial") else ""
        t.add_row(p, f"{b.network[p]:.4g}{unit}", f"{v:.4g}{unit}", f"[{b.lower[p]:.4g}, {b.upper[p]:.4g}]{unit}")
    console.print(t)
    probs = ", ".join(f"{c} {p:.3f}" for c, p in a.probabilities.items())
    console.print(f"class probabilities: {probs}", highlight=False)
    others = [f"{c.model} χ²_red {c.chi2_red:.3g} (AIC {c.aic:.1f})" for c in a.candidates if c.model != b.model]
    if others:
        console.print(f"also refined: {'; '.join(others)} — best AIC {b.aic:.1f}", highlight=False)
    if a.network_shape != a.shape:
        console.print(f"[yellow]refinement prefers {a.shape} over the network's {a.network_shape}[/]")
    for f in a.ood:
        console.print(f"[red]out of distribution:[/] {f}", highlight=False)
    if not a.ood:
        console.print("inside the training distribution (fit, priors, q window)")


def _print_network(res: Any, file: Path) -> None:
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


@ml_app.command("export")
def export_cmd(
    checkpoint: Annotated[Path, typer.Argument(help="model.pt written by 'hifft ml train' (or its directory).")],
    out: Annotated[Path, typer.Argument(help="Where to write the slim model (e.g. hifft/ml/models/default.pt).")],
    command: Annotated[str, typer.Option(help="How it was made, recorded beside it.")] = "",
) -> None:
    """Write a slim copy of a trained ensemble (weights, coding, calibration, configs) and its record (.json)."""
    from .inference import export

    path, rec = export(checkpoint, out, command)
    console.print(f"wrote {path} ({path.stat().st_size / 1e6:.2f} MB) and {rec}")


def register(app: typer.Typer) -> None:
    """Add the ``ml`` sub-app to the ``hifft`` command."""
    app.add_typer(ml_app, name="ml")
