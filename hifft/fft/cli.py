"""``hifft plan`` and ``hifft fft``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

#: Per-worker throughput measured by benchmarks/bench_fft.py (input bytes/s).
RATES_FILE = Path(__file__).resolve().parents[2] / "benchmarks" / "results" / "fft_rates.json"


def _rates() -> dict[str, float] | None:
    if RATES_FILE.exists():
        return json.loads(RATES_FILE.read_text()).get("rates")
    return None


def register(app: typer.Typer) -> None:
    @app.command()
    def plan(
        shape: Annotated[str, typer.Option(help="N or NZ,NY,NX")] = "1024",
        workers: Annotated[int, typer.Option(help="Dask workers")] = 1,
        memory: Annotated[str, typer.Option(help="memory budget per worker, e.g. 16GiB")] = "4GiB",
        dtype: Annotated[str, typer.Option(help="float32 or float64")] = "float32",
        spacing: Annotated[str, typer.Option(help="voxel size (Å or with units)")] = "1.0",
        q_max: Annotated[str | None, typer.Option(help="crop to |q_i| ≤ q_max (1/Å or with units)")] = None,
        complex_input: Annotated[bool, typer.Option("--complex", help="complex input (fftn)")] = False,
        write_spectrum: Annotated[bool, typer.Option(help="also write the full spectrum")] = False,
        free_disk: Annotated[str | None, typer.Option(help="free disk to check against, e.g. 2TB")] = None,
    ) -> None:
        """Print the plan (tasks, bytes per pass, memory per task, disk) for a job, here or on a cluster."""
        from .. import units
        from ..cluster import parse_bytes
        from .plan import plan_fft, project

        dims = [int(s) for s in shape.split(",")]
        shp = tuple(dims * 3) if len(dims) == 1 else tuple(dims)
        p = plan_fft(
            shp, real=not complex_input, dtype=dtype, workers=workers, memory_budget=parse_bytes(memory),
            spacing=units.length(spacing, "spacing"), q_max=None if q_max is None else units.q(q_max, "q_max"),
            write_spectrum=write_spectrum, free_disk=parse_bytes(free_disk) if free_disk else None,
        )
        typer.echo(p.summary())
        rates = _rates()
        if rates:
            t = project(p, rates)
            typer.echo(
                f"projection from measured per-worker rates ({RATES_FILE.name}: pass 1 "
                f"{rates['pass1'] / 1e6:.0f} MB/s, pass 2 {rates['pass2'] / 1e6:.0f} MB/s per worker): "
                f"pass 1 {t['pass1_s']:.0f} s + pass 2 {t['pass2_s']:.0f} s = {t['total_s']:.0f} s "
                f"on {workers} workers (compute-bound; add disk/network limits of the real cluster)"
            )

    @app.command("fft")
    def fft_cmd(
        src: Annotated[Path, typer.Argument(help="input Zarr array (a density volume)")],
        out: Annotated[Path, typer.Argument(help="output Zarr array for the spectrum")],
        backend: Annotated[str, typer.Option(help="numpy, pyfftw, torch, cupy or auto")] = "auto",
        workers: Annotated[int | None, typer.Option(help="local workers (default: CPUs)")] = None,
        memory: Annotated[str | None, typer.Option(help="memory limit per worker")] = None,
        q_max: Annotated[str | None, typer.Option(help="crop to |q_i| ≤ q_max")] = None,
        complex_out: Annotated[bool, typer.Option("--full", help="full complex fftn instead of rfftn")] = False,
        overwrite: Annotated[bool, typer.Option(help="replace an existing output of another job")] = False,
        scheduler: Annotated[str | None, typer.Option(help="Dask scheduler address")] = None,
    ) -> None:
        """Out-of-core 3D FFT of a Zarr volume into a Zarr spectrum (resumes if rerun)."""
        import time

        from .. import units
        from ..cluster import get_client
        from .engine import fftn, rfftn

        fn = fftn if complex_out else rfftn
        t0 = time.perf_counter()
        with get_client(address=scheduler, n_workers=workers, memory_limit=memory) as client:
            if client.dashboard_link:
                typer.echo(f"dashboard: {client.dashboard_link}")
            F = fn(str(src), store=out, client=client, backend=backend, overwrite=overwrite,
                   q_max=None if q_max is None else units.q(q_max, "q_max"))
        typer.echo(f"wrote {out}: {F.shape} {F.dtype} ({F.attrs['backend']}) in {time.perf_counter() - t0:.1f} s")
