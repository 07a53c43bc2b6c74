"""The one resumable task runner every batch job uses.

A batch job (volume build, FFT passes, dataset jobs, baselines) is a list of
named, idempotent tasks. :class:`Runner` runs them in this process or on a
Dask client, skips those its store's :class:`~hifft.store.Manifest` records as
done, records each as done (with the small JSON ``info`` the task returns)
right after its writes, shows one progress bar, and turns the two failures a
user can act on into advice: a lost worker (memory) and a full disk (how much
is still needed). :func:`resumable` is the begin → lock → resume frame
around it.

Why by hand: Dask gives futures and retries but no notion of a finished task
that survives the client (reference/ecosystem_reliability.md).
"""

from __future__ import annotations

import contextlib
import os
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Any, Protocol

from .progress import progress_bar
from .store import DiskFullError, Manifest


class TaskSpec(Protocol):
    """A task's arguments: a frozen dataclass with a unique ``name``."""

    @property
    def name(self) -> str: ...


@dataclass(frozen=True)
class Outcome:
    """A task's return: ``info`` (JSON-able, small) goes into the manifest, ``value`` to the caller."""

    info: dict[str, Any] = field(default_factory=dict)
    value: Any = None


def fault_delay() -> None:
    """Test hook: ``HIFFT_FAULT_DELAY`` seconds of sleep after each task's writes and
    before its manifest marker, so reliability tests can kill workers mid-pass."""
    delay = float(os.environ.get("HIFFT_FAULT_DELAY", "0") or 0)
    if delay > 0:
        time.sleep(delay)


def run_task(fn: Callable[..., Any], spec: Any, manifest: str | None, shared: Any = None) -> Outcome:
    """Run one task (in a worker or in process) and record it as done."""
    out = fn(spec) if shared is None else fn(spec, shared)
    if not isinstance(out, Outcome):
        out = Outcome(value=out)
    fault_delay()
    if manifest is not None:
        Manifest(manifest).mark_done(spec.name, out.info)
    return out


@contextlib.contextmanager
def resumable(store: str | os.PathLike[str], spec: dict[str, Any], *,
              overwrite: bool = False) -> Iterator[tuple[Manifest, bool]]:
    """Hold ``store``'s writer lock and claim it for job ``spec``.

    Yields ``(manifest, resumed)``; ``resumed`` is True when the store already
    belongs to this very job (finished tasks are then skipped). The lock is
    taken before anything is cleared, so a store another process is writing
    is never touched, even with ``overwrite``.
    """
    man = Manifest(store)
    with man.lock():
        yield man, man.begin(spec, overwrite=overwrite)


@contextlib.contextmanager
def client_context(client: Any, n_workers: int | None = None) -> Iterator[Any]:
    """The one rule for ``client=`` everywhere: ``None`` stays in this process (yields None);
    ``"local"`` starts a LocalCluster for the call; another string is a scheduler address;
    a ``distributed.Client`` is used as it is. Closes only what it opened.
    ``n_workers`` sizes the LocalCluster (default: one per CPU)."""
    if not isinstance(client, str):
        yield client
        return
    from .cluster import get_client, local_cluster

    if client == "local":
        from distributed import Client

        with local_cluster(n_workers=n_workers) as cluster, Client(cluster) as c:
            yield c
    else:
        with get_client(address=client) as c:
            yield c


def lost_worker_advice(exc: BaseException) -> RuntimeError:
    return RuntimeError(
        f"a task was lost with its worker repeatedly ({exc}); most often the task exceeded the "
        f"worker memory limit: raise the per-worker memory limit, or lower memory_budget so the "
        f"plan makes smaller tasks (see `hifft plan`)"
    )


class Runner:
    """Runs task functions over specs: in this process (``client=None``) or on a Dask client.

    ``concurrency`` is how many tasks run at once in process (threads: the
    FFT, codec and file I/O release the GIL, so one task's writes overlap the
    next one's compute); the plan must budget memory for that many.
    """

    def __init__(self, client: Any = None, *, progress: bool | None = None, concurrency: int = 1) -> None:
        self.client = client
        self.progress = progress
        self.concurrency = max(1, int(concurrency))
        #: ``{task name: info}`` of the tasks the last :meth:`map` ran (timings, counts)
        self.infos: dict[str, dict[str, Any]] = {}

    @property
    def workers(self) -> int:
        """Tasks that run at once: the cluster's workers, or ``concurrency`` in process."""
        if self.client is None:
            return self.concurrency
        from .cluster import n_workers

        return max(1, n_workers(self.client))

    def memory_limit(self) -> int | None:
        """The smallest worker's memory limit (bytes), None in process."""
        if self.client is None:
            return None
        from .cluster import worker_memory_limit

        return worker_memory_limit(self.client)

    def map(self, fn: Callable[..., Any], specs: Sequence[Any], *, desc: str,
            manifest: Manifest | None = None, done: set[str] | None = None, shared: Any = None,
            bytes_per_task: int = 0, unit: str = "tasks") -> dict[str, Any]:
        """Run ``fn(spec)`` (or ``fn(spec, shared)``) for each spec not yet done.

        Returns ``{spec.name: value}`` for the tasks that ran now. With a
        ``manifest``, tasks it records as done are skipped (``done`` overrides
        what counts as done) and each finished task is recorded. On a full
        disk the error says how many tasks and bytes are still needed.
        """
        if done is None:
            done = manifest.done() if manifest is not None else set()
        todo = [s for s in specs if s.name not in done]
        mpath = None if manifest is None else str(manifest.store)
        self.infos = {}
        try:
            with progress_bar(desc, len(specs), done=len(specs) - len(todo), enabled=self.progress,
                              unit=unit) as bar:
                if not todo:
                    return {}
                run = self._local if self.client is None else self._distributed
                outcomes = run(fn, todo, mpath, shared, bar.advance)
                self.infos = {k: o.info for k, o in outcomes.items()}
                return {k: o.value for k, o in outcomes.items()}
        except DiskFullError as exc:
            if manifest is None:
                raise
            left = len(manifest.pending([s.name for s in specs]))
            raise DiskFullError(
                exc.errno, f"{exc.strerror}. {left} of {len(specs)} tasks are unfinished: about "
                f"{left * bytes_per_task / 2**30:.2f} GiB ({left * bytes_per_task} bytes) still needed "
                f"at {manifest.store}"
            ) from exc

    def _local(self, fn: Callable[..., Any], todo: list[Any], mpath: str | None, shared: Any,
               tick: Callable[[], None]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.concurrency == 1 or len(todo) == 1:
            for s in todo:
                out[s.name] = run_task(fn, s, mpath, shared)
                tick()
            return out
        with ThreadPoolExecutor(self.concurrency, thread_name_prefix="hifft-task") as pool:
            pending = {pool.submit(run_task, fn, s, mpath, shared): s.name for s in todo}
            while pending:
                finished, _ = wait(pending, return_when=FIRST_EXCEPTION)
                for f in finished:
                    name = pending.pop(f)
                    if f.exception() is not None:
                        for other in pending:
                            other.cancel()
                        raise f.exception()  # type: ignore[misc]
                    out[name] = f.result()
                    tick()
        return out

    def _distributed(self, fn: Callable[..., Any], todo: list[Any], mpath: str | None, shared: Any,
                     tick: Callable[[], None]) -> dict[str, Any]:
        from distributed import KilledWorker, as_completed

        run_id = uuid.uuid4().hex[:8]
        extra = () if shared is None else (self.client.scatter(shared, broadcast=True, hash=False),)
        futs = {self.client.submit(run_task, fn, s, mpath, *extra, key=f"hifft-{run_id}-{s.name}",
                                   pure=False, retries=0): s.name for s in todo}
        out: dict[str, Any] = {}
        try:
            for fut in as_completed(futs):
                try:
                    out[futs[fut]] = fut.result()
                except KilledWorker as exc:
                    raise lost_worker_advice(exc) from exc
                tick()
        finally:
            for f in futs:
                f.cancel()
        return out

    def tree_merge(self, merge: Callable[[Any, Any], Any], items: list[Any]) -> Any:
        """Pairwise-merge ``items`` as a tree (on the workers when distributed)."""
        if self.client is None or len(items) <= 2:
            while len(items) > 1:
                items = [merge(items[i], items[i + 1]) if i + 1 < len(items) else items[i]
                         for i in range(0, len(items), 2)]
            return items[0]
        futs = self.client.scatter(items)
        while len(futs) > 1:
            futs = [self.client.submit(merge, futs[i], futs[i + 1], pure=False) if i + 1 < len(futs)
                    else futs[i] for i in range(0, len(futs), 2)]
        return futs[0].result()


__all__ = ["Outcome", "Runner", "TaskSpec", "client_context", "fault_delay", "lost_worker_advice", "resumable",
           "run_task"]
