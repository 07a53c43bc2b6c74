"""``hifft diffraction``: the labelled wide-angle droplet-pattern dataset job.

Registered by :func:`register` (``"hifft.diffraction.cli"`` in ``_SUBCOMMANDS`` of hifft/cli.py).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

console = Console()
diffraction_app = typer.Typer(
    name="diffraction",
    help="Wide-angle single-shot diffraction of nanodroplets: labelled Ewald-sphere image datasets.",
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


def register(app: typer.Typer) -> None:
    """Add the ``diffraction`` sub-app to the ``hifft`` command."""
    app.add_typer(diffraction_app, name="diffraction")
