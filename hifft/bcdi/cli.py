"""``hifft bcdi``: simulate a Bragg coherent diffraction pattern, phase it.

Registered by :func:`register` (``"hifft.bcdi.cli"`` in ``_SUBCOMMANDS`` of hifft/cli.py).
Patterns and reconstructions are Zarr stores written by :func:`hifft.bcdi.write`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

console = Console()
bcdi_app = typer.Typer(
    name="bcdi",
    help="Bragg coherent diffraction: simulated patterns with strain, detector gaps, phase retrieval.",
    no_args_is_help=True,
)

SHAPES = ("cube", "octahedron", "truncated_octahedron", "wulff", "sphere")


@bcdi_app.command("simulate")
def simulate_cmd(
    out: Annotated[Path, typer.Argument(help="Output Zarr store of the pattern and its object.")],
    shape: Annotated[str, typer.Option(help=f"Crystal: one of {', '.join(SHAPES)}.")] = "truncated_octahedron",
    size: Annotated[int, typer.Option(help="Pattern size n (n³ voxels).")] = 128,
    oversampling: Annotated[float, typer.Option(help="Oversampling ratio (2-5).")] = 3.0,
    spacing: Annotated[str, typer.Option(help="Voxel size of the object grid (Å or with units).")] = "10 Å",
    peak: Annotated[float, typer.Option(help="Counts at the Bragg peak.")] = 1e5,
    strain: Annotated[float, typer.Option(help="Misfit of a centred spherical inclusion (0: none).")] = 0.0,
    bragg: Annotated[float, typer.Option(help="|G| along z in 1/Å (e.g. 2π/2.26 Å for Pt 111).")] = 2.78,
    seed: Annotated[int, typer.Option(help="Seed of the rotation and the Poisson counts.")] = 0,
    gap: Annotated[int, typer.Option(help="Width of a cross gap through the peak (0: none), pixels.")] = 0,
    overwrite: Annotated[bool, typer.Option(help="Replace an existing store.")] = False,
) -> None:
    """One pattern: a randomly rotated crystal, optional strain, Poisson counts, optional cross gap."""
    import numpy as np

    from .. import units
    from ..grid import Grid
    from . import crystals, gaps, simulate
    from . import strain as strain_mod

    if shape not in SHAPES:
        raise typer.BadParameter(f"shape: expected one of {SHAPES}, got {shape!r}")
    if out.exists() and not overwrite:
        raise typer.BadParameter(f"{out}: exists (pass --overwrite to replace it)")
    grid = Grid(shape=size, spacing=units.length(spacing, "spacing"))
    make = {"cube": crystals.cube, "octahedron": crystals.octahedron, "wulff": lambda s: crystals.wulff(s, s * 0.9),
            "truncated_octahedron": crystals.truncated_octahedron, "sphere": crystals.sphere}[shape]
    crystal = make(100.0)
    disp = None
    if strain:
        disp = strain_mod.spherical_inclusion(grid, radius=0.3 * size * grid.spacing[0] / oversampling,
                                              misfit=strain)
    ds = simulate.simulate_pattern(crystal, grid, oversampling=oversampling, rotation="random", displacement=disp,
                                   bragg=(bragg, 0.0, 0.0), peak_counts=peak, seed=seed)
    if gap:
        frame = gaps.cross_gap((size, size), (size // 2, size // 2), gap)
        ds["mask"] = (("frame", "y", "x"), gaps.extend(frame, size))
        ds.attrs["gap"] = f"cross of {gap} px through the peak, every frame"
    path = simulate.write(ds, out)
    console.print(f"wrote {path}: {shape}, {size}³, peak {int(np.max(ds['counts'].values))} counts", highlight=False)


@bcdi_app.command("phase")
def phase_cmd(
    pattern: Annotated[Path, typer.Argument(help="Zarr store from `hifft bcdi simulate` (or with 'counts').")],
    out: Annotated[Path, typer.Argument(help="Output Zarr store of the reconstruction.")],
    hio: Annotated[int, typer.Option(help="Hybrid input-output iterations.")] = 600,
    er: Annotated[int, typer.Option(help="Error-reduction iterations after HIO.")] = 200,
    starts: Annotated[int, typer.Option(help="Random starts; the best by free log-likelihood is kept.")] = 4,
    backend: Annotated[str, typer.Option(help="numpy (scipy.fft), torch or cupy.")] = "numpy",
    seed: Annotated[int, typer.Option(help="Seed of the starts and the free voxel set.")] = 0,
    overwrite: Annotated[bool, typer.Option(help="Replace an existing store.")] = False,
) -> None:
    """HIO + ER with shrink-wrap; gap voxels (variable 'mask') are left free; compared with the truth if stored."""
    import numpy as np
    import xarray as xr

    from . import evaluate, phasing, simulate

    if out.exists() and not overwrite:
        raise typer.BadParameter(f"{out}: exists (pass --overwrite to replace it)")
    ds = xr.open_zarr(pattern, consolidated=False)
    if "counts" not in ds:
        raise typer.BadParameter(f"{pattern}: no variable 'counts'")
    counts = ds["counts"].values
    mask = ds["mask"].values if "mask" in ds else None
    res = phasing.phase_retrieval(counts, mask, recipe=phasing.Recipe(hio=hio, er=er), starts=starts, seed=seed,
                                  backend=backend)
    rec = xr.Dataset(
        {"modulus": (("r_z", "r_y", "r_x"), np.abs(res.obj)), "phase": (("r_z", "r_y", "r_x"), np.angle(res.obj)),
         "support": (("r_z", "r_y", "r_x"), res.support)},
        attrs={"pattern": str(pattern), "error": res.error, "llk_free": res.llk_free, "selected_by": res.selected_by,
               "hio": hio, "er": er, "starts": starts, "backend": backend},
    )
    line = f"error {res.error:.4g}, free LLK {res.llk_free:.4g}"
    if "modulus" in ds:
        cmp = evaluate.compare(res.obj, simulate.object_of(ds))
        rec.attrs.update(modulus_error=cmp.modulus_error, phase_rmse=cmp.phase_rmse, twin=cmp.twin)
        line += f"; against the truth: modulus error {cmp.modulus_error:.4f}, phase RMSE {cmp.phase_rmse:.4f} rad"
    simulate.write(rec, out)
    console.print(f"wrote {out}: {line}", highlight=False)


def register(app: typer.Typer) -> None:
    """Add the ``bcdi`` sub-app to the ``hifft`` command."""
    app.add_typer(bcdi_app, name="bcdi")
