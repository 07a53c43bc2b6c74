"""Zarr store layout, job identity, manifests of finished tasks, and locks.

Every store hifft writes is a Zarr v3 array at a local path. Beside the
array's own files, ``<store>/hifft/`` holds hifft's bookkeeping:

- ``job.json``: the job's identity (a fingerprint of what made it). Opening an
  existing store for a *different* job is refused unless ``overwrite=True``.
- ``done/<task>``: one empty marker per finished task, written atomically
  after the task's chunks are written. Zarr does not write all-zero chunks,
  so a missing chunk never means "finished"; only a marker does.
- ``complete``: written when every task of the job is done.
- ``lock``: an OS file lock (``filelock``, flock) held by the one client
  writing the store; the kernel drops it when that process dies, so there is
  no stale lock to race over. ``lock.json`` names the holder (pid, host) for
  the refusal message a second writer gets.

Why by hand: zarr has no notion of a job or a task; rechunker/cubed keep no
resumable manifest either (reference/ecosystem_reliability.md).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import socket
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from .atomic import atomic_write

META_DIR = "hifft"


class StoreError(RuntimeError):
    """A store cannot be used as asked; the message names the store."""


def fingerprint(spec: Any) -> str:
    """Stable hash of a JSON-able job description (any JSON-able value)."""
    blob = json.dumps(spec, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


class DiskFullError(OSError):
    """A write ran out of space; the message names the store and the bytes still needed."""


class Manifest:
    """Finished-task bookkeeping for one store (safe from many processes)."""

    def __init__(self, store: str | os.PathLike[str]) -> None:
        self.store = Path(store)
        self.meta = self.store / META_DIR
        self.done_dir = self.meta / "done"

    # ---- job identity -----------------------------------------------------
    def job(self) -> dict[str, Any] | None:
        p = self.meta / "job.json"
        if not p.exists():
            return None
        try:
            return json.loads(p.read_text())
        except json.JSONDecodeError as exc:
            raise StoreError(f"{p}: job metadata is corrupt ({exc}); remove the store or pass overwrite=True") from exc

    def begin(self, spec: dict[str, Any], overwrite: bool = False) -> bool:
        """Claim the store for job ``spec``. Returns True when resuming the same job.

        A store holding a different job (or foreign data) is refused unless
        ``overwrite``; then it is removed first.
        """
        fp = fingerprint(spec)
        existing = self.job() if self.store.exists() else None
        data = [p for p in self.store.iterdir() if p.name != META_DIR] if self.store.exists() else []
        if existing is not None and existing.get("fingerprint") == fp and not overwrite:
            return True
        if (existing is not None or data) and not overwrite:
            what = "a different hifft job" if existing else "data hifft did not write"
            raise StoreError(
                f"{self.store}: already holds {what}; refusing to overwrite "
                f"(pass overwrite=True / --overwrite, or choose another path)"
            )
        for p in data:  # overwrite: clear everything but our own lock
            shutil.rmtree(p) if p.is_dir() and not p.is_symlink() else p.unlink()
        if self.meta.exists():
            for p in self.meta.iterdir():
                if p.name not in ("lock", "lock.json"):
                    shutil.rmtree(p) if p.is_dir() else p.unlink()
        self.meta.mkdir(parents=True, exist_ok=True)
        self.done_dir.mkdir(exist_ok=True)
        atomic_write(self.meta / "job.json", json.dumps({"fingerprint": fp, "spec": spec}, indent=1, default=str))
        return False

    # ---- tasks ------------------------------------------------------------
    def mark_done(self, task: str, info: dict[str, Any] | None = None) -> None:
        self.done_dir.mkdir(parents=True, exist_ok=True)
        atomic_write(self.done_dir / task, json.dumps(info or {}))

    def is_done(self, task: str) -> bool:
        return (self.done_dir / task).exists()

    def done(self) -> set[str]:
        if not self.done_dir.exists():
            return set()
        return {p.name for p in self.done_dir.iterdir() if not p.name.startswith(".")}

    def info(self, task: str) -> dict[str, Any]:
        return json.loads((self.done_dir / task).read_text())

    def pending(self, tasks: Iterable[str]) -> list[str]:
        done = self.done()
        return [t for t in tasks if t not in done]

    def mark_complete(self, tasks: Iterable[str], summary: dict[str, Any] | None = None) -> None:
        missing = self.pending(tasks)
        self.meta.mkdir(parents=True, exist_ok=True)
        if missing:
            raise StoreError(f"{self.store}: cannot mark complete, {len(missing)} task(s) unfinished: {missing[:5]}")
        atomic_write(self.meta / "complete", json.dumps(summary or {}, default=str))

    @property
    def complete(self) -> bool:
        return (self.meta / "complete").exists()

    def summary(self) -> dict[str, Any]:
        p = self.meta / "complete"
        return json.loads(p.read_text()) if p.exists() else {}

    # ---- exclusive writer -------------------------------------------------
    @contextlib.contextmanager
    def lock(self) -> Iterator[None]:
        """Hold the store's writer lock; a second concurrent writer is refused.

        The lock is the kernel's (flock through ``filelock``): a writer that
        died holds nothing, so its leftover lock file is simply taken.
        """
        from filelock import FileLock, Timeout

        self.meta.mkdir(parents=True, exist_ok=True)
        lock = FileLock(self.meta / "lock", timeout=0, thread_local=False)
        try:
            lock.acquire()
        except Timeout:
            try:
                holder = json.loads((self.meta / "lock.json").read_text() or "{}")
            except (OSError, json.JSONDecodeError):
                holder = {}
            raise StoreError(
                f"{self.store}: another job is writing it (pid {holder.get('pid')} on "
                f"{holder.get('host')}); wait for it to finish"
            ) from None
        try:
            atomic_write(self.meta / "lock.json",
                         json.dumps({"pid": os.getpid(), "host": socket.gethostname(), "since": time.time()}))
            yield
        finally:
            (self.meta / "lock.json").unlink(missing_ok=True)
            lock.release()


def free_bytes(path: str | os.PathLike[str]) -> int:
    """Free bytes on the filesystem that holds ``path`` (or its nearest existing parent)."""
    p = Path(path).absolute()
    while not p.exists():
        p = p.parent
    return shutil.disk_usage(p).free


def check_free_space(path: str | os.PathLike[str], needed: int, what: str = "output", advice: str = "") -> None:
    """Refuse before writing when ``needed`` bytes do not fit at ``path``."""
    free = free_bytes(path)
    if needed > free:
        raise StoreError(
            f"{path}: {what} needs {needed / 2**30:.2f} GiB of disk but only {free / 2**30:.2f} GiB is free "
            f"({(needed - free) / 2**30:.2f} GiB short)" + (f"; {advice}" if advice else "")
        )
