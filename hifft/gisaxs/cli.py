"""``hifft gisaxs``: the image dataset job and single images.

Registered by :func:`register` (add ``"hifft.gisaxs.cli"`` to ``_SUBCOMMANDS`` in hifft/cli.py).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

console = Console()
gisaxs_app = typer.Typer(
    name="gisaxs",
    help="Grazing-incidence SAXS of island layers: Born/DWBA images and labelled image datasets.",
    no_args_is_help=True,
)

ConfigArg = Annotated[Path, typer.Argument(help="YAML job file (pipelines/gisaxs_*.yaml).")]


@gisaxs_app.command("dataset")
def dataset_cmd(
    config: ConfigArg,
    out: Annotated[Path, typer.Argument(help="Output store (a directory, e.g. gisaxs.zarr).")],
    overwrite: Annotated[bool, typer.Option(help="Replace a store that holds another job.")] = False,
    client: Annotated[str | None, typer.Option(help="'local' for a LocalCluster, or a scheduler address.")] = None,
    max_chunks: Annotated[int | None, typer.Option(help="Stop after this many new chunks.")] = None,
) -> None:
    """Labelled GISAXS images (clean and with gaps/noise) in Zarr (resumable Dask batch job)."""
    from ..store import StoreError
    from .config import load
    from .dataset import make_dataset, open_dataset

    cfg = load(config)
    d = cfg.dataset
    console.print(f"{d.n_samples} images of {cfg.detector.shape[0]}×{cfg.detector.shape[1]} pixels in "
                  f"{d.n_chunks} chunks → {out}", highlight=False)
    path = make_dataset(cfg, out, client=client, overwrite=overwrite, max_chunks=max_chunks)
    try:
        ds = open_dataset(path)
    except StoreError:  # an unfinished store (max_chunks) is reported, not raised
        console.print(f"{path}: unfinished; rerun the same command to resume", highlight=False)
        return
    console.print(f"{path}: {ds.sizes['sample']} images, voxel route: {int(ds['route'].sum())}", highlight=False)


@gisaxs_app.command("image")
def image_cmd(
    config: ConfigArg,
    out: Annotated[Path, typer.Argument(help="Output NeXus/HDF5 file (.h5); a PNG plot is written beside it.")],
    radius: Annotated[str, typer.Option(help="Island radius (Å or with units).")] = "4 nm",
    distance: Annotated[str, typer.Option(help="Nearest-neighbour distance (0: dilute).")] = "10 nm",
    sigma_r: Annotated[float, typer.Option(help="Relative radius spread.")] = 0.3,
    omega_d: Annotated[float, typer.Option(help="Relative distance spread.")] = 0.1,
) -> None:
    """One analytic island image from a job file's beam, detector and sample sections."""
    import math

    from .. import units
    from .config import load
    from .detector import plot, to_nexus, to_xarray
    from .dwba import Sample, contrast, yoneda_angle
    from .simulate import Islands, islands_image

    cfg = load(config)
    geo = cfg.geometry()
    sample = Sample.create(geo.beam.wavelength, cfg.sample.substrate, cfg.sample.ambient, cfg.sample.roughness)
    isl = Islands(radius=units.length(radius, "radius"), sigma_r=sigma_r,
                  distance=units.length(distance, "distance"), omega_d=omega_d, shape=cfg.islands.shape,
                  aspect=cfg.islands.aspect)
    img = islands_image(isl, geo, sample, contrast(cfg.sample.particle, sample, geo.beam.wavelength),
                        approximation=cfg.dataset.approximation, ensemble=cfg.islands.ensemble)
    da = to_xarray(img, geo)
    to_nexus(da, out)
    plot(da, out.with_suffix(".png"), yoneda=math.degrees(yoneda_angle(sample)))
    console.print(f"{out} and {out.with_suffix('.png')}", highlight=False)


def register(app: typer.Typer) -> None:
    """Add the ``gisaxs`` sub-app to the ``hifft`` command."""
    app.add_typer(gisaxs_app, name="gisaxs")
