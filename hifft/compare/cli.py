"""``hifft validate``: the physics validation suite against sasmodels."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from pydantic import Field

from ..config import StrictModel, load_yaml, validate


class ValidateConfig(StrictModel):
    """``validate:`` section of a pipelines/validate*.yaml file."""

    sizes: list[int] = Field(default_factory=lambda: [256])
    spacing: float = 2.0
    cases: list[str] = Field(default_factory=list)
    seed: int = 1
    realizations: int = 1
    out: str = "benchmarks/results/validation"
    tag: str = ""
    qd_max: float = 1.0
    log_step: float = 0.04
    backend: str = "auto"
    plots: bool = True
    chi2_max: float | None = None
    i0_max: float | None = None
    workdir: str | None = None
    via_store: bool = False
    discussion: str = ""


class _File(StrictModel):
    section: ValidateConfig = Field(alias="validate")


def load_validate_config(path: str | Path) -> ValidateConfig:
    """The ``validate:`` section of a YAML file (unknown keys are errors naming the file)."""
    data = load_yaml(path)
    return validate(_File, data, str(path)).section


def register(app: typer.Typer) -> None:
    @app.command("validate")
    def validate_cmd(
        config: Annotated[
            Path | None, typer.Option("--config", "-c", help="YAML with a validate: section.")
        ] = None,
        n: Annotated[
            list[int] | None, typer.Option("--n", "-n", help="Grid size N (repeat for several).")
        ] = None,
        case: Annotated[
            list[str] | None,
            typer.Option("--case", help="Case key (repeat); default: the dilute set."),
        ] = None,
        ci: Annotated[
            bool,
            typer.Option(
                "--ci",
                help="CI preset (= pipelines/validate_ci.yaml): N = 128, 5 cases, 2 realizations, "
                "looser thresholds.",
            ),
        ] = False,
        spacing: Annotated[float | None, typer.Option(help="Voxel size d in Å.")] = None,
        realizations: Annotated[
            int | None, typer.Option(help="Independent scenes averaged per case.")
        ] = None,
        seed: Annotated[
            int | None, typer.Option(help="Random seed of the first realization.")
        ] = None,
        out: Annotated[Path | None, typer.Option("--out", "-o", help="Report directory.")] = None,
        tag: Annotated[
            str | None, typer.Option(help="Suffix of report_<tag>.md / results_<tag>.json.")
        ] = None,
        backend: Annotated[str | None, typer.Option(help="FFT backend.")] = None,
        no_plots: Annotated[bool, typer.Option("--no-plots", help="Skip the PNG plots.")] = False,
        store: Annotated[
            bool,
            typer.Option(
                "--store", help="Write each volume to Zarr (hifft.build_volume) under --workdir."
            ),
        ] = False,
        workdir: Annotated[
            Path | None, typer.Option(help="Scratch directory for --store volumes.")
        ] = None,
        list_cases: Annotated[
            bool, typer.Option("--list", help="List the case catalogue and exit.")
        ] = False,
    ) -> None:
        """Build, transform, reduce and compare known scenes with sasmodels on absolute scale.

        Writes report_<tag>.md, results_<tag>.json and plots/ under --out. Exits 1
        when a dilute case misses its threshold (χ²_red, I(q→0)).
        """
        from rich.console import Console

        from .validate import CI, DILUTE, THRESHOLDS, default_cases, run_suite

        console = Console()
        catalogue = default_cases()
        if list_cases:
            for k, c in catalogue.items():
                console.print(f"[bold]{k}[/]: {c.description} ({c.kind})")
            raise typer.Exit()
        cfg = load_validate_config(config) if config else ValidateConfig()
        if ci:
            cfg.sizes = [128]
            cfg.cases = list(CI)
            cfg.realizations = 2
            cfg.tag = cfg.tag or "ci"
        if n:
            cfg.sizes = list(n)
        if case:
            cfg.cases = list(case)
        for name, val in (
            ("spacing", spacing),
            ("realizations", realizations),
            ("seed", seed),
            ("tag", tag),
            ("backend", backend),
        ):
            if val is not None:
                setattr(cfg, name, val)
        if out is not None:
            cfg.out = str(out)
        if no_plots:
            cfg.plots = False
        if store:
            cfg.via_store = True
        if workdir is not None:
            cfg.workdir = str(workdir)
        keys = cfg.cases or list(DILUTE)
        thresholds: dict[str, Any] | None = None
        if cfg.chi2_max is not None or cfg.i0_max is not None:
            base = THRESHOLDS["ci" if max(cfg.sizes) <= 128 else "full"]
            thresholds = {
                "chi2": cfg.chi2_max if cfg.chi2_max is not None else base["chi2"],
                "i0": cfg.i0_max if cfg.i0_max is not None else base["i0"],
            }
        tag_ = cfg.tag or "N" + "-".join(map(str, cfg.sizes))

        def show(r: Any) -> None:
            a = r.analysis
            console.print(
                f"{r.case.key:>18} N={r.n:<4} χ²_red={a.chi2:7.2f}  I0 {100 * a.i0_error:+6.2f}% "
                f"± {100 * a.i0_error_sigma:.1f}%  q·d {a.qd_range[0]:.2f}–{a.qd_range[1]:.2f}  "
                f"{r.timings['total']:6.0f} s  {r.verdict}",
                highlight=False,
            )

        results, path = run_suite(
            keys,
            cfg.sizes,
            cfg.spacing,
            out=cfg.out,
            tag=tag_,
            seed=cfg.seed,
            realizations=cfg.realizations,
            workdir=cfg.workdir,
            via_store=cfg.via_store,
            thresholds=thresholds,
            qd_max=cfg.qd_max,
            log_step=cfg.log_step,
            backend=cfg.backend,
            plots=cfg.plots,
            command="hifft " + " ".join(sys.argv[1:]),
            on_result=show,
            discussion=cfg.discussion,
        )
        if path is not None:
            console.print(f"report: {path}")
        if not all(r.passed for r in results):
            raise typer.Exit(1)


def main() -> None:
    """``python -m hifft.compare.cli validate ...``: the command without the rest of the CLI."""
    app = typer.Typer(add_completion=False, pretty_exceptions_enable=False)

    @app.callback()
    def _root() -> None:
        """hifft's validation suite (standalone entry point)."""

    register(app)
    app()


if __name__ == "__main__":
    main()
