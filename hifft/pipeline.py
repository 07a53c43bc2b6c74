"""The end-to-end job: scene → volume → out-of-core FFT + reductions → sasmodels → exports.

``hifft run JOB.yaml`` loads a :class:`JobConfig` (strict YAML, ``HIFFT_``
environment overrides), runs every step on one Dask client and prints a short
summary (χ², output paths). Rerunning the same job resumes: the volume and
the FFT passes skip what their manifests record as finished. Where the tasks
run is the ``cluster`` section (:class:`hifft.cluster.ClusterConfig`): a
LocalCluster by default, an existing (TLS) scheduler, batch jobs, or this process.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Annotated, Any, Literal

import typer
from pydantic import Field, field_validator

from . import units
from .atomic import atomic_write
from .cluster import ClusterConfig
from .config import StrictModel, load_config
from .volume.config import GridSpec, SceneSpec

Format = Literal["nxcansas", "xml", "netcdf", "png"]


def _q_or_none(v: Any) -> float | None:
    return None if v is None else units.q(v, "q")


class FFTSpec(StrictModel):
    """How the transform runs."""

    backend: Literal["auto", "numpy", "pyfftw", "torch", "cupy"] = "auto"
    dtype: Literal["float32", "float64"] = "float32"
    q_max: float | None = Field(None, description="crop |q_i| ≤ q_max after pass 1 (1/Å or with units)")
    memory_budget: str | None = Field(None, description="per worker, e.g. '4GiB' (default: from the cluster)")

    _q = field_validator("q_max", mode="before")(_q_or_none)

    @field_validator("q_max")
    @classmethod
    def _pos(cls, v: float | None) -> float | None:
        if v is not None and v <= 0:
            raise ValueError("q_max must be positive")
        return v


class ReduceSpec(StrictModel):
    """The radial I(q) reduction."""

    bins: Annotated[int, Field(gt=1)] = 100
    spacing: Literal["log", "linear"] = "log"
    q_min: float | None = None
    q_max: float | None = None
    sinc_correction: bool = True
    e_min: Annotated[float, Field(ge=0)] = 0.01

    _q = field_validator("q_min", "q_max", mode="before")(_q_or_none)


class DetectorSpec(StrictModel):
    """The small-angle detector image (q_z = 0 plane, by the projection-slice theorem)."""

    enabled: bool = True


class CompareSpec(StrictModel):
    """Comparison with sasmodels, mapped from the scene."""

    enabled: bool = True
    fit_scale: bool = False
    fit_background: bool = False


def _all_formats() -> list[Format]:
    return ["nxcansas", "xml", "netcdf", "png"]


class OutputSpec(StrictModel):
    dir: Path
    overwrite: bool = False
    formats: list[Format] = Field(default_factory=_all_formats)


class JobConfig(StrictModel):
    name: str
    grid: GridSpec
    scene: SceneSpec
    fft: FFTSpec = FFTSpec()
    reduce: ReduceSpec = ReduceSpec()
    detector: DetectorSpec = DetectorSpec()
    compare: CompareSpec = CompareSpec()
    output: OutputSpec
    cluster: ClusterConfig = ClusterConfig()


def run(cfg: JobConfig, progress: bool = True, echo: Any = print) -> dict[str, Any]:
    """Run a job; returns a summary dict (paths, χ², timings)."""
    from .cluster import get_client
    from .compare import compare_scene
    from .io import to_cansas_xml, to_netcdf, to_nxcansas
    from .reduce import detector_image, saxs
    from .volume import build_volume
    from .volume.config import scene_from_spec

    out = Path(cfg.output.dir)
    out.mkdir(parents=True, exist_ok=True)
    times: dict[str, float] = {}
    summary: dict[str, Any] = {"name": cfg.name, "outputs": {}}
    scene = scene_from_spec(cfg.grid, cfg.scene)
    with get_client(config=cfg.cluster) as client:
        if cfg.cluster.dashboard and client is not None:
            echo(f"Dask dashboard: {client.dashboard_link}")
        t = time.perf_counter()
        vol = build_volume(scene, out / "density.zarr", client=client, overwrite=cfg.output.overwrite,
                           dtype=cfg.fft.dtype, progress=progress)
        times["build"] = time.perf_counter() - t
        t = time.perf_counter()
        r = cfg.reduce
        ds = saxs(vol, bins=r.bins, q_min=r.q_min, q_max=r.q_max, bin_spacing=r.spacing,
                  sinc_correction=r.sinc_correction, e_min=r.e_min, client=client, backend=cfg.fft.backend,
                  memory_budget=cfg.fft.memory_budget, dtype=cfg.fft.dtype, progress=progress)
        times["fft+reduce"] = time.perf_counter() - t
        img = None
        if cfg.detector.enabled:
            t = time.perf_counter()
            img = detector_image(vol, client=client, backend=cfg.fft.backend, dtype=cfg.fft.dtype,
                                 progress=progress)
            times["detector"] = time.perf_counter() - t
    cmp = None
    if cfg.compare.enabled:
        t = time.perf_counter()
        cmp = compare_scene(ds, scene, fit_scale=cfg.compare.fit_scale, fit_background=cfg.compare.fit_background)
        times["compare"] = time.perf_counter() - t
        summary["chi2_red"] = float(cmp.chi2)
        summary["model"] = getattr(cmp, "model_name", None) or cmp.attrs.get("model")
        summary["q_range"] = [float(v) for v in cmp.q_range]
        summary["qd_range"] = [float(v) for v in cmp.qd_range]
    fm = set(cfg.output.formats)
    o = summary["outputs"]
    o["density"] = str(out / "density.zarr")
    if "nxcansas" in fm:
        o["nxcansas"] = str(to_nxcansas(ds, out / f"{cfg.name}.h5") or out / f"{cfg.name}.h5")
    if "xml" in fm:
        o["xml"] = str(to_cansas_xml(ds, out / f"{cfg.name}.xml") or out / f"{cfg.name}.xml")
    if "netcdf" in fm:
        o["netcdf"] = str(to_netcdf(ds, out / f"{cfg.name}_iq.nc") or out / f"{cfg.name}_iq.nc")
    if "png" in fm:
        from .io import plot_image, plot_iq

        model = cmp.model if cmp is not None else None
        plot_iq(ds, out / f"{cfg.name}_iq.png", model=model)
        o["plot_iq"] = str(out / f"{cfg.name}_iq.png")
        if img is not None:
            plot_image(img, out / f"{cfg.name}_detector.png")
            o["plot_detector"] = str(out / f"{cfg.name}_detector.png")
    summary["times_s"] = {k: round(v, 2) for k, v in times.items()}
    summary["n_bins"] = int(ds.sizes["q"])
    atomic_write(out / "summary.json", json.dumps(summary, indent=1, default=str))
    return summary


def register(app: Any) -> None:
    @app.command("run")
    def run_cmd(
        config: Annotated[Path, typer.Argument(help="job YAML (see pipelines/)")],
        overwrite: Annotated[bool, typer.Option(help="replace outputs of a different job")] = False,
        quiet: Annotated[bool, typer.Option(help="no progress bars")] = False,
        dashboard: Annotated[bool, typer.Option(help="Dask dashboard on 127.0.0.1:8787 (needs bokeh)")] = False,
    ) -> None:
        """Run a whole job: build the scene, FFT out of core, reduce, compare, export, plot."""
        from rich.console import Console
        from rich.table import Table

        cfg = load_config(config, JobConfig)
        if overwrite:
            cfg.output.overwrite = True
        if dashboard:
            cfg.cluster.dashboard = True
        console = Console()
        t0 = time.perf_counter()
        s = run(cfg, progress=not quiet, echo=console.print)
        tab = Table(title=f"hifft run {config} — {time.perf_counter() - t0:.1f} s", show_header=False)
        if "chi2_red" in s:
            tab.add_row("model", str(s.get("model")))
            tab.add_row("χ²_red (absolute scale)" if not cfg.compare.fit_scale else "χ²_red", f"{s['chi2_red']:.3g}")
            tab.add_row("q range (1/Å)", "{:.4g} – {:.4g}".format(*s["q_range"]))
            tab.add_row("q·d range", "{:.3g} – {:.3g}".format(*s["qd_range"]))
        for k, v in s["times_s"].items():
            tab.add_row(f"time {k}", f"{v:.1f} s")
        for k, v in s["outputs"].items():
            tab.add_row(k, v)
        console.print(tab)
