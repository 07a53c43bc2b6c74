"""Getting a Dask client.

Order: a client passed in; else a scheduler address (argument or
``HIFFT_SCHEDULER``); else a LocalCluster with process workers on
localhost only, sized to the machine, with a per-worker memory limit.
:func:`get_client` is a context manager that closes only what it opened.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from typing import Any

import psutil

#: Fraction of physical memory the default LocalCluster gives its workers in all.
MEMORY_FRACTION = 0.8


def parse_bytes(value: int | str | None) -> int | None:
    """Bytes from ``"16GiB"``, ``"2 GB"`` or an int (None passes through)."""
    if value is None or isinstance(value, int):
        return value
    from dask.utils import parse_bytes as _pb

    return int(_pb(str(value).replace(" ", "")))


def default_workers() -> int:
    return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1)


def default_memory_limit(n_workers: int) -> int:
    """Per-worker limit: MEMORY_FRACTION of physical memory split evenly."""
    return int(psutil.virtual_memory().total * MEMORY_FRACTION / max(1, n_workers))


def local_cluster(
    n_workers: int | None = None,
    threads_per_worker: int = 1,
    memory_limit: int | str | None = None,
    **kwargs: Any,
):
    """A LocalCluster with process workers listening on 127.0.0.1 only."""
    from distributed import LocalCluster

    n = n_workers or default_workers()
    mem = parse_bytes(memory_limit) or default_memory_limit(n)
    kwargs.setdefault("dashboard_address", None)
    return LocalCluster(
        n_workers=n,
        threads_per_worker=threads_per_worker,
        processes=True,
        memory_limit=mem,
        host="127.0.0.1",
        **kwargs,
    )


def jobqueue_cluster(kind: str, jobs: int, **kwargs: Any):
    """A dask-jobqueue cluster (``kind``: slurm, pbs, sge, lsf) scaled to ``jobs`` batch jobs."""
    try:
        import dask_jobqueue
    except ImportError as exc:
        raise RuntimeError(f"cluster kind {kind!r} needs dask-jobqueue: pip install 'hifft[cluster]'") from exc
    classes = {"slurm": "SLURMCluster", "pbs": "PBSCluster", "sge": "SGECluster", "lsf": "LSFCluster"}
    if kind not in classes:
        raise ValueError(f"cluster kind must be one of {sorted(classes)} or 'local', got {kind!r}")
    cluster = getattr(dask_jobqueue, classes[kind])(**kwargs)
    cluster.scale(jobs=jobs)
    return cluster


@contextlib.contextmanager
def get_client(
    client: Any = None,
    address: str | None = None,
    n_workers: int | None = None,
    memory_limit: int | str | None = None,
    jobqueue: dict[str, Any] | None = None,
    **cluster_kwargs: Any,
) -> Iterator[Any]:
    """Yield a ``distributed.Client``; close only what this call opened.

    ``jobqueue={"kind": "slurm", "jobs": 4, **SLURMCluster kwargs}`` starts a
    batch-system cluster instead of a LocalCluster.
    """
    if client is not None:
        yield client
        return
    from distributed import Client

    address = address or os.environ.get("HIFFT_SCHEDULER")
    cluster = None
    if jobqueue:
        opts = dict(jobqueue)
        cluster = jobqueue_cluster(opts.pop("kind"), int(opts.pop("jobs", 1)), **opts)
    elif not address:
        cluster = local_cluster(n_workers=n_workers, memory_limit=memory_limit, **cluster_kwargs)
    c = Client(cluster if cluster is not None else address)
    try:
        yield c
    finally:
        c.close()
        if cluster is not None:
            cluster.close()


def worker_memory_limit(client: Any) -> int | None:
    """Smallest per-worker memory limit on the cluster (None when unlimited)."""
    info = client.scheduler_info(n_workers=-1) if _takes_n_workers(client) else client.scheduler_info()
    limits = [w.get("memory_limit") or 0 for w in info["workers"].values()]
    limits = [x for x in limits if x]
    return min(limits) if limits else None


def n_workers(client: Any) -> int:
    info = client.scheduler_info(n_workers=-1) if _takes_n_workers(client) else client.scheduler_info()
    return len(info["workers"])


def _takes_n_workers(client: Any) -> bool:
    import inspect

    return "n_workers" in inspect.signature(client.scheduler_info).parameters
