"""The ``hifft`` command.

Core commands live here; subsystems add theirs through a ``register(app)``
function in their own ``cli.py`` (listed in ``_SUBCOMMANDS``), so each
command sits next to the code it drives. Every listed module is part of the
package: one that fails to import, or has no ``register``, fails loudly.
"""

from __future__ import annotations

import importlib
import os
import platform
import shutil
import sys
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from ._version import __version__

app = typer.Typer(
    name="hifft",
    help="Scattering from voxelized densities larger than memory: build, FFT, reduce, compare.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
console = Console()


def _show_version(value: bool) -> None:
    if value:
        console.print(f"hifft {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool, typer.Option("--version", callback=_show_version, is_eager=True, help="Print the version.")
    ] = False,
) -> None:
    """Scattering from voxelized densities larger than memory."""


_SUBCOMMANDS = ("hifft.fft.cli", "hifft.volume.cli", "hifft.compare.cli", "hifft.ml.cli", "hifft.gisaxs.cli",
                "hifft.bcdi.cli", "hifft.diffraction.cli", "hifft.images.cli",
                "hifft.pipeline")

_STACK = (
    "numpy", "scipy", "dask", "distributed", "zarr", "xarray", "numba", "pint", "pydantic",
    "sasmodels", "h5py", "matplotlib", "pyfftw", "torch", "cupy", "pyFAI", "sasdata",
)


def _version_of(name: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(name)
    except PackageNotFoundError:
        return "-"


def gpu_summary() -> str:
    """One line saying whether a CUDA GPU is usable here, and through what."""
    try:
        import torch

        if torch.cuda.is_available():
            return f"yes: {torch.cuda.get_device_name(0)} (torch)"
    except ImportError:
        pass
    from .fft.backends import backend_class

    if backend_class("cupy").available():
        return "yes (cupy)"
    return "no"


@app.command()
def info() -> None:
    """Versions of the stack, FFT backends present, CPUs, GPU, free disk."""
    from .cluster import default_workers
    from .fft.backends import NAMES, auto_name, available

    t = Table(title=f"hifft {__version__}", show_header=False)
    t.add_row("python", platform.python_version())
    for name in _STACK:
        t.add_row(name, _version_of(name))
    present = available()
    t.add_row("FFT backends", ", ".join(f"{n}{'' if n in present else ' (missing)'}" for n in NAMES))
    t.add_row("auto backend", auto_name())
    t.add_row("CPUs", str(default_workers()))
    import psutil

    t.add_row("memory", f"{psutil.virtual_memory().total / 2**30:.1f} GiB")
    t.add_row("GPU", gpu_summary())
    du = shutil.disk_usage(os.getcwd())
    t.add_row("free disk (cwd)", f"{du.free / 2**30:.1f} GiB of {du.total / 2**30:.1f} GiB")
    console.print(t)


def _register_subcommands() -> None:
    for mod in _SUBCOMMANDS:
        importlib.import_module(mod).register(app)


_register_subcommands()


def main() -> None:
    """Entry point: turn hifft's own errors into a one-line message and exit 2."""
    from .config import ConfigError

    try:
        app()
    except (ConfigError, FileNotFoundError, FileExistsError, ValueError, RuntimeError) as exc:
        if os.environ.get("HIFFT_DEBUG"):
            raise
        console.print(f"[bold red]error:[/] {exc}", highlight=False)
        sys.exit(2)


__all__ = ["app", "main"]


if __name__ == "__main__":
    main()
