"""``hifft bcdi``: simulate a Bragg coherent diffraction pattern, phase it, inpaint its detector gaps
(``train-inpaint``, ``inpaint``, ``evaluate-inpaint``; torch only for the models).

Registered by :func:`register` (``"hifft.bcdi.cli"`` in ``_SUBCOMMANDS`` of hifft/cli.py).
Patterns and reconstructions are Zarr stores written by :func:`hifft.bcdi.write`.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.table import Table

if TYPE_CHECKING:
    import numpy as np

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
    guide: Annotated[Path | None, typer.Option(help="A fill of the gaps (`hifft bcdi inpaint` output: Zarr store "
                                                     "with 'inpainted', or .npy) that holds the gap voxels through "
                                                     "HIO; they are free through ER.")] = None,
    release_fill: Annotated[int | None, typer.Option(min=0, help="Iterations --guide holds the gap voxels "
                                                                 "(default: all of HIO).")] = None,
    overwrite: Annotated[bool, typer.Option(help="Replace an existing store.")] = False,
) -> None:
    """HIO + ER with shrink-wrap; gap voxels (variable 'mask') are left free (or guided by --guide through HIO);
    compared with the truth if stored."""
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
    fill = None
    if guide is not None:
        if mask is None:
            raise typer.BadParameter(f"--guide: {pattern} has no 'mask' (gap voxels) to guide")
        fill = _read_array(guide, "inpainted", "guide")
    try:
        recipe = phasing.Recipe(hio=hio, er=er, release_fill=release_fill)
        res = phasing.phase_retrieval(counts, mask, recipe=recipe, starts=starts, seed=seed, backend=backend,
                                      fill=fill)
    except phasing.PhasingError as exc:
        raise typer.BadParameter(f"{guide or pattern}: {exc}") from exc
    rec = xr.Dataset(
        {"modulus": (("r_z", "r_y", "r_x"), np.abs(res.obj)), "phase": (("r_z", "r_y", "r_x"), np.angle(res.obj)),
         "support": (("r_z", "r_y", "r_x"), res.support)},
        attrs={"pattern": str(pattern), "error": res.error, "llk_free": res.llk_free, "selected_by": res.selected_by,
               "hio": hio, "er": er, "starts": starts, "backend": backend, "guide": str(guide or ""),
               "release_fill": -1 if release_fill is None else release_fill},
    )
    line = f"error {res.error:.4g}, free LLK {res.llk_free:.4g}"
    if "modulus" in ds:
        cmp = evaluate.compare(res.obj, simulate.object_of(ds))
        rec.attrs.update(modulus_error=cmp.modulus_error, phase_rmse=cmp.phase_rmse, twin=cmp.twin)
        line += f"; against the truth: modulus error {cmp.modulus_error:.4f}, phase RMSE {cmp.phase_rmse:.4f} rad"
    simulate.write(rec, out)
    console.print(f"wrote {out}: {line}", highlight=False)


# ---------------------------------------------------------------------------
# detector-gap inpainting
# ---------------------------------------------------------------------------


@bcdi_app.command("train-inpaint")
def train_inpaint_cmd(
    config: Annotated[Path, typer.Argument(help="YAML job (pipelines/bcdi_inpaint_3d.yaml or _2d.yaml).")],
    out: Annotated[Path | None, typer.Option(help="Override train.out (model directory).")] = None,
    minutes: Annotated[float | None, typer.Option(help="Override train.minutes (wall-clock budget).")] = None,
    threads: Annotated[int | None, typer.Option(help="Override train.threads (torch threads).")] = None,
) -> None:
    """Train (or resume) an inpainting model; writes OUT/model.pt and its record OUT/model.json."""
    from .inpaint_config import load
    from .inpaint_train import train_inpaint

    job = load(config)
    upd = {k: v for k, v in {"out": out, "minutes": minutes, "threads": threads}.items() if v is not None}
    cfg = type(job.train).model_validate(job.train.model_dump() | upd)
    train_inpaint(cfg, log=lambda s: console.print(s, highlight=False))


def _read_array(path: Path, variable: str, what: str) -> np.ndarray:
    import numpy as np
    import xarray as xr

    if not path.exists():
        raise typer.BadParameter(f"{path}: {what} not found")
    if path.suffix == ".npy":
        return np.load(path, allow_pickle=False)
    try:
        ds = xr.open_zarr(path, consolidated=False)
    except Exception as exc:  # not a Zarr store: say which file and what was expected
        raise typer.BadParameter(f"{path}: {what} must be a .npy file or a Zarr store ({exc})") from exc
    if variable not in ds:
        raise typer.BadParameter(f"{path}: no variable {variable!r} (has {sorted(ds.data_vars)})")
    return ds[variable].values


def _gap_mask(specs: list[str], shape: tuple[int, ...]) -> np.ndarray:
    import numpy as np

    from .gaps import MaskError, cross_gap, line_gap

    mask = np.zeros(shape, dtype=bool)
    for spec in specs:
        kind, _, rest = spec.partition(":")
        try:
            a, b, w = (int(v) for v in rest.split(","))
            if kind == "line":
                mask |= line_gap(shape, a, b, w)
            elif kind == "cross":
                mask |= cross_gap(shape, (a, b), w)
            else:
                raise ValueError(f"unknown kind {kind!r}")
        except (ValueError, MaskError) as exc:
            raise typer.BadParameter(f"--gap {spec!r}: expected line:AXIS,START,WIDTH or cross:ROW,COL,WIDTH "
                                     f"(pixels; detector axes are the last two) ({exc})") from exc
    return mask


@bcdi_app.command("inpaint")
def inpaint_cmd(
    pattern: Annotated[Path, typer.Argument(help="Pattern: Zarr store (variable --variable) or .npy counts.")],
    out: Annotated[Path, typer.Option(help="Output: Zarr store (inpainted counts + mask) or .npy.")],
    mask: Annotated[Path | None, typer.Argument(help="Gap mask (True = gap): .npy, or a Zarr store with 'mask'; "
                                                    "default: --gap, else the pattern store's 'mask'.")] = None,
    gap: Annotated[list[str] | None, typer.Option(help="line:AXIS,START,WIDTH or cross:ROW,COL,WIDTH (repeatable).")
                   ] = None,
    model: Annotated[Path | None, typer.Option(help="Model file (model.pt) for --method model (default: the "
                                                    "3D model shipped in the package).")] = None,
    method: Annotated[str, typer.Option(help="model, biharmonic, line or zero.")] = "model",
    plot: Annotated[Path | None, typer.Option(help="PNG of central slices (log scale), gap before/after.")] = None,
    variable: Annotated[str, typer.Option(help="Variable of the counts in a Zarr pattern.")] = "counts",
    axis: Annotated[int, typer.Option(help="Biharmonic: slice a 3D pattern along this axis.")] = 0,
    rescale: Annotated[bool, typer.Option(help="Model: scale the pattern's peak to the model's reference.")] = True,
    threads: Annotated[int | None, typer.Option(help="torch threads for the model.")] = None,
    batch_size: Annotated[int, typer.Option(help="Patches per model call.")] = 16,
    device: Annotated[str, typer.Option(help="torch device of the model (cpu, cuda).")] = "cpu",
    overwrite: Annotated[bool, typer.Option(help="Replace an existing output.")] = False,
) -> None:
    """Fill the detector gaps of a pattern; only gap voxels change."""
    import time

    import numpy as np
    import xarray as xr

    from ..atomic import atomic_path
    from . import inpaint as ip
    from .gaps import MaskError, as_mask
    from .patches import PlanError, gap_width
    from .simulate import PATTERN_DIMS, write

    if method not in ip.METHODS:
        raise typer.BadParameter(f"--method: expected one of {ip.METHODS}, got {method!r}")
    if out.exists() and not overwrite:
        raise typer.BadParameter(f"{out}: exists (pass --overwrite to replace it)")
    if method == "model" and model is None:
        from .inpaint import DEFAULT_MODEL

        if not DEFAULT_MODEL.is_file():
            raise typer.BadParameter(f"--model: no model file given and none shipped at {DEFAULT_MODEL} "
                                     "(train one: make bcdi-model; or use --method biharmonic)")
        model = DEFAULT_MODEL
    data = _read_array(pattern, variable, "pattern")
    if mask is not None:
        m_raw = _read_array(mask, "mask", "mask")
        m_name = str(mask)
    elif gap:
        m_raw, m_name = _gap_mask(gap, tuple(data.shape)), "--gap"
    elif pattern.suffix != ".npy" and "mask" in xr.open_zarr(pattern, consolidated=False):
        m_raw, m_name = _read_array(pattern, "mask", "pattern"), f"{pattern}:mask"
    else:
        raise typer.BadParameter("no gap given: pass MASK, --gap, or a pattern store with a 'mask' variable")
    net = None
    if method == "model":
        from .unet import load_model

        try:
            net = load_model(model)  # type: ignore[arg-type]
        except (FileNotFoundError, ValueError) as exc:
            raise typer.BadParameter(str(exc)) from exc
    t = time.perf_counter()
    try:
        m = as_mask(m_raw, data.shape, m_name)
        result = ip.inpaint(data, m, method, net, axis=axis, rescale=rescale, batch_size=batch_size,
                            threads=threads, device=device, name=str(pattern), mask_name=m_name)
    except (ip.InpaintError, MaskError, PlanError) as exc:
        raise typer.BadParameter(str(exc)) from exc
    seconds = time.perf_counter() - t
    attrs = {"pattern": str(pattern), "method": method, "model": str(model) if model else "", "seconds": seconds,
             "gap_voxels": int(m.sum()), "gap_width": gap_width(m), "units": "counts"}
    if out.suffix == ".npy":
        with atomic_path(out) as tmp, open(tmp, "wb") as fh:
            np.save(fh, result)
    else:
        dims = PATTERN_DIMS if result.ndim == 3 else PATTERN_DIMS[1:]
        ds = xr.Dataset({"inpainted": (dims, result, {"units": "counts"}),  # float64 for integer counts: exact
                         "mask": (dims, m, {"long_name": "inpainted voxels (True = gap)"})}, attrs=attrs)
        write(ds, out)
    if plot is not None:
        from .inpaint_plot import plot_inpaint

        plot_inpaint(data, result, m, plot, title=f"{pattern.name}: {method}")
    console.print(f"wrote {out}: {method}, {attrs['gap_voxels']} gap voxels ({attrs['gap_width']} px wide) in "
                  f"{seconds:.1f} s" + (f"; plot {plot}" if plot else ""), highlight=False)


@bcdi_app.command("evaluate-inpaint")
def evaluate_inpaint_cmd(
    config: Annotated[Path, typer.Argument(help="YAML job (its 'evaluate' section and the held-out families).")],
    json_out: Annotated[Path, typer.Option("--json", help="Output JSON of the evaluation.")],
    model: Annotated[list[str] | None, typer.Option(help="NAME=PATH or PATH of a model (repeatable); "
                                                         "default: train.out/model.pt.")] = None,
    n_patterns: Annotated[int | None, typer.Option(help="Override evaluate.n_patterns.")] = None,
    timing_size: Annotated[int | None, typer.Option(help="Override evaluate.timing_size (0: no timing).")] = None,
    threads: Annotated[int | None, typer.Option(help="Override evaluate.threads.")] = None,
    overwrite: Annotated[bool, typer.Option(help="Replace an existing JSON.")] = False,
) -> None:
    """Held-out patterns: gap PCC per width of the models, biharmonic and zero fill; accuracy per intensity."""
    import json

    from ..atomic import atomic_write
    from .inpaint_config import load
    from .inpaint_eval import evaluate_inpaint
    from .unet import load_model

    if json_out.exists() and not overwrite:
        raise typer.BadParameter(f"{json_out}: exists (pass --overwrite to replace it)")
    job = load(config)
    upd = {k: v for k, v in {"n_patterns": n_patterns, "timing_size": timing_size, "threads": threads}.items()
           if v is not None}
    job = job.model_copy(update={"evaluate": type(job.evaluate).model_validate(job.evaluate.model_dump() | upd)})
    specs = model or [str(Path(job.train.out) / "model.pt")]
    models, paths, records = {}, {}, {}
    for spec in specs:
        name, _, path = spec.partition("=") if "=" in spec else ("", "", spec)
        name = name or Path(path).parent.name or "model"
        if name in models:
            raise typer.BadParameter(f"--model {spec}: the name {name!r} is given twice (use NAME=PATH)")
        try:
            models[name] = load_model(path)
        except (FileNotFoundError, ValueError) as exc:
            raise typer.BadParameter(f"--model {spec}: {exc}") from exc
        paths[name] = path
        rec = Path(path).with_name("model.json")
        if rec.is_file():  # the training record beside the weights, less its step-by-step history
            records[name] = {k: v for k, v in json.loads(rec.read_text()).items() if k != "history"}
    res = evaluate_inpaint(job, models, log=lambda s: console.print(s, highlight=False))
    res["models"] = paths
    res["records"] = records
    json_out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(json_out, json.dumps(res, indent=1))
    table = Table(title=f"gap PCC (log counts), mean over {res['n_patterns']} held-out patterns")
    table.add_column("width (px)")
    for meth in res["methods"]:
        table.add_column(meth)
    for w, per in res["widths"].items():
        table.add_row(w, *("–" if per[m]["pcc_log_mean"] is None else f"{per[m]['pcc_log_mean']:.4f}"
                           for m in res["methods"]))
    console.print(table)
    console.print(f"wrote {json_out}", highlight=False)


def register(app: typer.Typer) -> None:
    """Add the ``bcdi`` sub-app to the ``hifft`` command."""
    app.add_typer(bcdi_app, name="bcdi")
