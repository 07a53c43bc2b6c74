"""Atomic file writes: a reader sees the old file or the new one, never a torn one.

Every file hifft writes outside Zarr's own store code (manifest markers, job
metadata, raw chunks, reducer partials, checkpoints) goes through here: write
to a temporary name in the same directory, flush, then ``os.replace``.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Iterator
from pathlib import Path


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success it replaces ``path``.

    For writers that want a file name (``torch.save``, ``np.save``). On an
    exception the temporary file is removed and ``path`` is left as it was.
    """
    dst = Path(path)
    tmp = dst.with_name(f".{dst.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        yield tmp
        os.replace(tmp, dst)
    finally:
        tmp.unlink(missing_ok=True)


def atomic_write(path: str | os.PathLike[str], data: bytes | str | memoryview) -> None:
    """Write ``data`` (bytes or text, UTF-8) to ``path`` atomically."""
    blob = data.encode() if isinstance(data, str) else data
    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        f.write(blob)
