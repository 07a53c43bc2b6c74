"""``python -m hifft.ml ...``: the ``hifft ml`` commands on their own (same as ``hifft ml ...``)."""

from __future__ import annotations

import os
import sys


def main() -> None:
    from ..config import ConfigError
    from .cli import console, ml_app

    try:
        ml_app(prog_name="python -m hifft.ml")
    except (ConfigError, FileNotFoundError, FileExistsError, ValueError, RuntimeError) as exc:
        if os.environ.get("HIFFT_DEBUG"):
            raise
        console.print(f"[bold red]error:[/] {exc}", highlight=False)
        sys.exit(2)


if __name__ == "__main__":
    main()
