"""The one progress bar: rich on stderr, shown when stderr is a terminal unless told.

Every batch job (volume build, FFT passes, dataset jobs, baselines) reports
progress through :func:`progress_bar`; callers never import rich themselves.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from typing import Any


class Bar:
    """Handle given to the code inside :func:`progress_bar`."""

    def __init__(self, prog: Any, task: Any) -> None:
        self._prog, self._task = prog, task

    def advance(self, n: int = 1) -> None:
        if self._prog is not None:
            self._prog.advance(self._task, n)

    def update(self, done: int, total: int | None = None) -> None:
        if self._prog is not None:
            self._prog.update(self._task, completed=done, total=total)


@contextlib.contextmanager
def progress_bar(desc: str, total: int, *, done: int = 0, enabled: bool | None = None,
                 unit: str = "tasks") -> Iterator[Bar]:
    """A bar for ``total`` steps of which ``done`` are already finished (resumed jobs).

    ``enabled=None`` shows it only when stderr is a terminal (so logs and
    tests stay clean); a bar over fewer than two steps is never shown.
    """
    show = sys.stderr.isatty() if enabled is None else bool(enabled)
    if not show or total < 2:
        yield Bar(None, None)
        return
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    prog = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TextColumn(unit),
                    TimeElapsedColumn(), TimeRemainingColumn(), console=Console(stderr=True))
    with prog:
        yield Bar(prog, prog.add_task(desc, total=total, completed=done))
