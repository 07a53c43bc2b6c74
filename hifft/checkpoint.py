"""Reading torch model files: one place for the checks every model loader needs (torch imported on call).

Each subsystem writes its own dict with a ``format`` key; :func:`read_checkpoint`
opens the file with ``weights_only=True`` (no arbitrary pickles), names the file in
every error, and refuses anything but a dict of the expected format.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any


def read_checkpoint(path: str | os.PathLike[str], what: str, fmt: str | None = None) -> dict[str, Any]:
    """The dict saved in ``path``; ``what`` names the kind of file in errors, with its article
    ("a codec model file").

    ``fmt``: the required value of its ``format`` key (None: any dict).
    Raises FileNotFoundError for a missing file and ValueError, naming the file, for
    one torch cannot read, one that holds no dict, or one of another format.
    """
    import torch

    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"{p}: no such file ({what} expected)")
    try:
        ck = torch.load(p, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises several unrelated types for a file it cannot read
        raise ValueError(f"{p}: not {what} ({exc.__class__.__name__}: {exc})") from None
    if not isinstance(ck, dict):
        raise ValueError(f"{p}: not {what} (holds a {type(ck).__name__}, expected a dict)")
    if fmt is not None and ck.get("format") != fmt:
        raise ValueError(f"{p}: not {what} of format {fmt} (format: {ck.get('format')!r})")
    return ck


__all__ = ["read_checkpoint"]
