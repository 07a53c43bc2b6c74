"""``hifft plan`` and ``hifft fft``."""

from __future__ import annotations

import json
import time
from importlib.resources import files
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Annotated, Any

import typer

# The engine and the cluster module (dask, zarr) are imported inside the commands:
# every `hifft` invocation imports this module to register its verbs.

#: Measured per-worker pass rates (input bytes/s), shipped with the package as
#: package data and refreshed by ``benchmarks/bench_fft.py --update-package-rates``.
#: Keys: ``rates`` (``pass1``, ``pass2``, optional ``disk``), ``date``, ``machine``
#: (``cpus``, ``load``: 1/5/15-min load averages when the measured run started;
#: a top-level ``load`` is read too), ``from``, ``commit``, ``command``.
RATES_FILE: Traversable | Path = files("hifft.fft") / "rates.json"


def load_rates(path: Traversable | Path | None = None) -> dict[str, Any] | None:
    """The measured rates record, or None when none is shipped. A malformed file is an error."""
    path = RATES_FILE if path is None else path
    if not path.is_file():
        return None
    info = json.loads(path.read_text(encoding="utf-8"))
    rates = info.get("rates") if isinstance(info, dict) else None
    if not (isinstance(rates, dict) and all(isinstance(rates.get(k), int | float) for k in ("pass1", "pass2"))):
        raise ValueError(f"{path}: expected {{'rates': {{'pass1': B/s, 'pass2': B/s}}, ...}}")
    return info


def rates_origin(info: dict[str, Any], path: Traversable | Path) -> str:
    """Where measured rates come from: the file, the date, the machine and its load."""
    machine = info.get("machine") or {}
    load = machine.get("load", info.get("load"))
    parts = [f"{path}", f"measured {info.get('date', 'on an unrecorded date')}"]
    if machine.get("cpus"):
        parts.append(f"{machine['cpus']} CPUs")
    if load is not None:
        loads = load if isinstance(load, list | tuple) else [load]
        parts.append("load average " + "/".join(f"{float(v):.1f}" for v in loads))
    else:
        parts.append("machine load not recorded")
    if info.get("from"):
        parts.append(f"from {info['from']}")
    if info.get("commit"):
        parts.append(f"hifft commit {info['commit']}")
    return ", ".join(parts)


def parse_shape(text: str) -> tuple[int, int, int]:
    """``"N"`` or ``"NZ,NY,NX"`` as three ints."""
    try:
        dims = [int(s) for s in text.split(",")]
    except ValueError:
        raise typer.BadParameter(f"expected N or NZ,NY,NX (integers), got {text!r}", param_hint="--shape") from None
    if len(dims) == 1:
        return dims[0], dims[0], dims[0]
    if len(dims) == 3:
        return dims[0], dims[1], dims[2]
    raise typer.BadParameter(f"expected 1 or 3 sizes, got {len(dims)}: {text!r}", param_hint="--shape")


def register(app: typer.Typer) -> None:
    """Add ``plan`` and ``fft`` to the ``hifft`` command."""

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

        budget = parse_bytes(memory)
        assert budget is not None  # a str always parses to bytes
        p = plan_fft(
            parse_shape(shape), real=not complex_input, dtype=dtype, workers=workers, memory_budget=budget,
            spacing=units.length(spacing, "spacing"), q_max=None if q_max is None else units.q(q_max, "q_max"),
            write_spectrum=write_spectrum, free_disk=parse_bytes(free_disk) if free_disk else None,
        )
        typer.echo(p.summary())
        info = load_rates()
        if info is None:
            typer.echo(f"no time projection: no measured rates shipped ({RATES_FILE} is written by "
                       "benchmarks/bench_fft.py from a cluster run)")
            return
        rates = info["rates"]
        t = project(p, rates)
        typer.echo(
            f"projection from measured per-worker rates (pass 1 {rates['pass1'] / 1e6:.0f} MB/s, "
            f"pass 2 {rates['pass2'] / 1e6:.0f} MB/s per worker): "
            f"pass 1 {t['pass1_s']:.0f} s + pass 2 {t['pass2_s']:.0f} s = {t['total_s']:.0f} s "
            f"on {workers} workers (compute-bound; add disk/network limits of the real cluster)"
        )
        typer.echo(f"rates: {rates_origin(info, RATES_FILE)}")

    @app.command("fft")
    def fft_cmd(
        src: Annotated[Path, typer.Argument(help="input Zarr array (a density volume)")],
        out: Annotated[Path, typer.Argument(help="output Zarr array for the spectrum")],
        backend: Annotated[str, typer.Option(help="numpy, pyfftw, torch, cupy or auto")] = "auto",
        workers: Annotated[int | None, typer.Option(help="start a LocalCluster of this many workers")] = None,
        memory: Annotated[str | None, typer.Option(help="memory limit per worker")] = None,
        q_max: Annotated[str | None, typer.Option(help="crop to |q_i| ≤ q_max")] = None,
        complex_out: Annotated[bool, typer.Option("--full", help="full complex fftn instead of rfftn")] = False,
        overwrite: Annotated[bool, typer.Option(help="replace an existing output of another job")] = False,
        scheduler: Annotated[str | None, typer.Option(help="Dask scheduler address")] = None,
    ) -> None:
        """Out-of-core 3D FFT of a Zarr volume into a Zarr spectrum (resumes if rerun).

        Without ``--workers`` or ``--scheduler`` it runs in this process on all
        CPUs (DESIGN.md: ``client=None``).
        """
        from .. import units
        from ..cluster import get_client, parse_bytes
        from .engine import fftn, rfftn

        fn = fftn if complex_out else rfftn
        qm = None if q_max is None else units.q(q_max, "q_max")
        t0 = time.perf_counter()
        if workers is None and scheduler is None:
            F = fn(str(src), store=out, client=None, backend=backend, overwrite=overwrite, q_max=qm,
                   memory_budget=parse_bytes(memory))
        else:
            with get_client(address=scheduler, n_workers=workers, memory_limit=memory) as client:
                F = fn(str(src), store=out, client=client, backend=backend, overwrite=overwrite, q_max=qm)
        typer.echo(f"wrote {out}: {F.shape} {F.dtype} ({F.attrs['backend']}) in {time.perf_counter() - t0:.1f} s")
