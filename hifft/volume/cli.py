"""``hifft build SCENE.yaml OUT.zarr``: write a scene (or imported density) to a volume store."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

console = Console()


def build(
    config: Annotated[Path, typer.Argument(help="YAML with 'grid' + 'scene' (or 'source').")],
    out: Annotated[Path, typer.Argument(help="Zarr store to write (a directory).")],
    overwrite: Annotated[
        bool, typer.Option("--overwrite", help="Replace a store holding another job.")
    ] = False,
    workers: Annotated[
        int | None, typer.Option("--workers", min=1, help="LocalCluster workers.")
    ] = None,
    slab_depth: Annotated[
        int | None, typer.Option("--slab-depth", min=1, help="z-planes per chunk/task.")
    ] = None,
    progress: Annotated[
        bool, typer.Option("--progress/--no-progress", help="Show a progress bar.")
    ] = True,
) -> None:
    """Build a density volume from SCENE.yaml into OUT.zarr (resumes an interrupted build)."""
    from ..config import load_config
    from .build import build_volume
    from .config import BuildSpec, source_from_spec
    from .scene import Scene

    spec = load_config(config, BuildSpec)
    source = source_from_spec(spec)
    if isinstance(source, Scene):
        t0 = time.perf_counter()
        plan = source.plan()
        console.print(f"planned {len(plan)} particles in {time.perf_counter() - t0:.2f} s")
    t0 = time.perf_counter()
    vol = build_volume(
        source,
        out,
        overwrite=overwrite,
        n_workers=workers,
        dtype=spec.dtype,
        slab_depth=slab_depth or spec.slab_depth,
        progress=progress,
    )
    elapsed = time.perf_counter() - t0
    stats = vol.attrs.get("stats", {})
    t = Table(title=f"{out}", show_header=False)
    t.add_row("grid", f"{vol.grid.shape} × {vol.grid.spacing} Å")
    t.add_row("dtype", str(vol.dtype))
    t.add_row("slabs", f"{stats.get('slabs')} of depth {vol.chunk_depth}")
    stored = vol.stored_nbytes or 0
    t.add_row("stored", f"{stored / 2**20:.1f} MiB of {vol.nbytes / 2**20:.1f} MiB raw")
    t.add_row("∫Δρ dV", f"{stats.get('integral', float('nan')):.6g} (1e-6/Å²·Å³)")
    t.add_row("non-zero voxels", f"{100 * stats.get('nonzero_fraction', 0):.3f} %")
    scene = vol.attrs.get("scene") or {}
    for i, comp in enumerate(scene.get("components", [])):
        a = comp.get("achieved", {})
        t.add_row(
            f"component {i}",
            f"{comp['shape']}: {a.get('count')} particles, φ = {a.get('volume_fraction', 0):.5g}",
        )
    t.add_row("time", f"{elapsed:.2f} s" + (" (resumed)" if stats.get("resumed") else ""))
    console.print(t)


def register(app: typer.Typer) -> None:
    """Add ``hifft build`` to the main CLI."""
    app.command("build")(build)
