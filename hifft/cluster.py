"""Where tasks run: one cluster configuration and the Dask client it gives.

:class:`ClusterConfig` is the one description of a cluster, the ``cluster:``
section of every job file (``hifft run``, ``hifft ml``). Its kinds:

- ``local`` (the default): a LocalCluster of process workers on 127.0.0.1 only.
- ``address``: an existing scheduler, ``cluster.address`` or ``HIFFT_SCHEDULER``
  (``tcp://`` or ``tls://HOST:PORT``).
- ``jobqueue``: batch jobs through dask-jobqueue (SLURM, PBS, SGE, LSF).
- ``process``: no cluster; tasks run in this process on all its CPUs (``client=None``).

TLS comes from ``cluster.tls`` (CA file, certificate, key; PEM) or, when that
is absent, from Dask's own configuration, which ``distributed.Security`` reads:
``DASK_DISTRIBUTED__COMM__TLS__CA_FILE``, ``DASK_DISTRIBUTED__COMM__TLS__CLIENT__CERT``
and ``DASK_DISTRIBUTED__COMM__TLS__CLIENT__KEY`` (or the same keys in a Dask YAML file).

There is no dashboard unless ``dashboard: true``; then it listens on
127.0.0.1:8787 only (needs bokeh). :func:`get_client` is a context manager
that closes only what it opened.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

import psutil
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from .config import StrictModel

#: Fraction of physical memory the default LocalCluster gives its workers in all.
MEMORY_FRACTION = 0.8
#: Where a requested dashboard listens: this host only (reach it through an SSH tunnel).
DASHBOARD_ADDRESS = "127.0.0.1:8787"
#: Where the scheduler's HTTP endpoint listens when no dashboard is asked for. Distributed
#: always starts one (health and metrics routes, no dashboard); a free port on this host keeps
#: it off 8787 and off other interfaces.
NO_DASHBOARD_ADDRESS = "127.0.0.1:0"
#: dask-jobqueue cluster class per ``jobqueue.kind``.
JOBQUEUE_CLASSES = {"slurm": "SLURMCluster", "pbs": "PBSCluster", "sge": "SGECluster", "lsf": "LSFCluster"}
#: Environment variable naming a scheduler address when the config gives none.
SCHEDULER_ENV = "HIFFT_SCHEDULER"

Kind = Literal["local", "address", "jobqueue", "process"]


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


# ---------------------------------------------------------------------------
# configuration
# ---------------------------------------------------------------------------


class TLSConfig(StrictModel):
    """PEM files for mutual TLS: the CA that signed every endpoint, and this endpoint's certificate and key.

    Relative paths resolve against the working directory. ``key`` may be left
    out when the key is appended to ``cert``. On a LocalCluster or a jobqueue
    cluster the same certificate serves the scheduler and the workers too.
    """

    ca_file: Path
    cert: Path
    key: Path | None = None

    @field_validator("ca_file", "cert", "key")
    @classmethod
    def _expand(cls, v: Path | None) -> Path | None:
        return None if v is None else v.expanduser()

    def security(self, all_roles: bool = False) -> Any:
        """A ``distributed.Security`` requiring encryption (client role, or every role)."""
        from distributed import Security

        files = {"ca_file": self.ca_file, "cert": self.cert, "key": self.key}
        missing = [f"cluster.tls.{k}: {p}" for k, p in files.items() if p is not None and not p.is_file()]
        if missing:
            raise FileNotFoundError("TLS file(s) not found: " + "; ".join(missing))
        kw: dict[str, str] = {"tls_ca_file": str(self.ca_file)}
        for role in ("client", "scheduler", "worker") if all_roles else ("client",):
            kw[f"tls_{role}_cert"] = str(self.cert)
            if self.key is not None:
                kw[f"tls_{role}_key"] = str(self.key)
        return Security(require_encryption=True, **kw)


class JobqueueConfig(BaseModel):
    """A dask-jobqueue cluster: ``kind``, the number of batch ``jobs``, and any keyword argument of
    the cluster class (``cores``, ``memory``, ``processes``, ``queue``, ``walltime``, ...)."""

    model_config = ConfigDict(extra="allow")

    kind: Literal["slurm", "pbs", "sge", "lsf"]
    jobs: Annotated[int, Field(ge=1)] = 1

    def options(self) -> dict[str, Any]:
        """The keyword arguments for the dask-jobqueue class (everything but ``kind`` and ``jobs``)."""
        return dict(self.model_extra or {})


class ClusterConfig(StrictModel):
    """Where tasks run (the ``cluster:`` section of a job file).

    ``kind`` may be left out: ``jobqueue`` when that section is given,
    ``address`` when an address is (or ``HIFFT_SCHEDULER`` is set), else ``local``.
    ``n_workers`` sizes a LocalCluster (default: one per CPU); with an address
    it is the number of workers to wait for. ``memory_limit`` is per worker
    (``"4GiB"``; default: 80 % of RAM split over the workers).
    """

    kind: Kind | None = None
    address: str | None = Field(None, description="scheduler address, e.g. tls://host:8786")
    n_workers: Annotated[int, Field(ge=1)] | None = None
    threads_per_worker: Annotated[int, Field(ge=1)] | None = None
    memory_limit: int | str | None = None
    dashboard: bool = Field(False, description="serve the Dask dashboard on 127.0.0.1:8787 (needs bokeh)")
    tls: TLSConfig | None = None
    jobqueue: JobqueueConfig | None = Field(
        None, description="dask-jobqueue settings, e.g. {kind: slurm, jobs: 8, cores: 32, memory: 128GB}"
    )
    timeout: float = Field(60.0, gt=0, description="seconds to connect, and to wait for n_workers")

    @field_validator("memory_limit")
    @classmethod
    def _bytes(cls, v: int | str | None) -> int | str | None:
        if isinstance(v, str):
            try:
                parse_bytes(v)
            except ValueError as exc:
                raise ValueError(f"not a size in bytes (e.g. '4GiB'): {v!r}") from exc
        elif v is not None and v <= 0:
            raise ValueError("must be positive")
        return v

    @field_validator("address")
    @classmethod
    def _scheme(cls, v: str | None) -> str | None:
        if v and "://" in v and v.split("://", 1)[0] not in ("tcp", "tls", "ucx", "inproc", "ws", "wss"):
            raise ValueError(f"unknown protocol in scheduler address {v!r} (tcp://, tls://, ucx://)")
        return v

    @model_validator(mode="after")
    def _consistent(self) -> ClusterConfig:
        kind = self.resolved_kind(environ={})
        if self.address and self.jobqueue:
            raise ValueError("give either 'address' (an existing scheduler) or 'jobqueue', not both")
        if self.kind in ("local", "process") and (self.address or self.jobqueue):
            raise ValueError(f"kind '{self.kind}' takes no 'address' or 'jobqueue'")
        if kind == "jobqueue" and not self.jobqueue:
            raise ValueError("kind 'jobqueue' needs a 'jobqueue' section ({kind: slurm, jobs: N, ...})")
        unused = {
            "address": ("threads_per_worker", "memory_limit"),  # set where the workers were started
            "jobqueue": ("n_workers", "threads_per_worker", "memory_limit"),  # jobqueue: jobs, cores, memory
            "process": ("n_workers", "threads_per_worker", "memory_limit", "dashboard", "tls"),
        }.get(kind, ())
        given = [f for f in unused if f in self.model_fields_set and getattr(self, f) not in (None, False)]
        if given:
            verb = "does" if len(given) == 1 else "do"
            raise ValueError(f"{', '.join(given)} {verb} not apply to cluster kind '{kind}'")
        if self.tls is not None and self.address and self.address.startswith("tcp://"):
            raise ValueError("'tls' is set but the address is tcp://; use tls://HOST:PORT")
        return self

    def resolved_kind(self, environ: Mapping[str, str] | None = None) -> Kind:
        """The kind, inferred where not given (``HIFFT_SCHEDULER`` in ``environ`` counts as an address)."""
        env: Mapping[str, str] = os.environ if environ is None else environ
        if self.kind is not None:
            return self.kind
        if self.jobqueue is not None:
            return "jobqueue"
        if self.address or env.get(SCHEDULER_ENV):
            return "address"
        return "local"

    def with_overrides(self, **values: Any) -> ClusterConfig:
        """A validated copy with the non-None ``values`` replacing this config's."""
        data = self.model_dump(exclude_unset=True)
        data.update({k: v for k, v in values.items() if v is not None})
        return ClusterConfig.model_validate(data)


# ---------------------------------------------------------------------------
# clusters and clients
# ---------------------------------------------------------------------------


def _require_bokeh() -> None:
    if importlib.util.find_spec("bokeh") is None:
        raise RuntimeError("the Dask dashboard needs bokeh: pip install 'bokeh>=3.1' (or run without dashboard)")


def local_cluster(
    n_workers: int | None = None,
    threads_per_worker: int = 1,
    memory_limit: int | str | None = None,
    *,
    dashboard: bool = False,
    security: Any = None,
    **kwargs: Any,
):
    """A LocalCluster with process workers listening on 127.0.0.1 only.

    No dashboard unless ``dashboard``; then on :data:`DASHBOARD_ADDRESS`. A
    ``distributed.Security`` (``security``) switches every connection to TLS.
    """
    from distributed import LocalCluster

    if dashboard:
        _require_bokeh()
    n = n_workers or default_workers()
    mem = parse_bytes(memory_limit) or default_memory_limit(n)
    kwargs.setdefault("dashboard_address", DASHBOARD_ADDRESS if dashboard else NO_DASHBOARD_ADDRESS)
    kwargs["scheduler_kwargs"] = {"dashboard": dashboard, **(kwargs.get("scheduler_kwargs") or {})}
    if security is not None:
        kwargs.setdefault("protocol", "tls://")
        kwargs["security"] = security
    return LocalCluster(
        n_workers=n,
        threads_per_worker=threads_per_worker,
        processes=True,
        memory_limit=mem,
        host="127.0.0.1",
        **kwargs,
    )


def jobqueue_cluster(kind: str, jobs: int, *, dashboard: bool = False, security: Any = None, **kwargs: Any):
    """A dask-jobqueue cluster (``kind``: slurm, pbs, sge, lsf) scaled to ``jobs`` batch jobs.

    The scheduler runs in this process; its dashboard (only if ``dashboard``)
    listens on :data:`DASHBOARD_ADDRESS`. ``security`` (every role) makes the
    scheduler and the workers speak TLS; the certificate files must be readable
    on the compute nodes (a shared filesystem).
    """
    try:
        import dask_jobqueue
    except ImportError as exc:
        raise RuntimeError(f"cluster kind {kind!r} needs dask-jobqueue: pip install 'hifft[cluster]'") from exc
    if kind not in JOBQUEUE_CLASSES:
        raise ValueError(f"jobqueue kind must be one of {sorted(JOBQUEUE_CLASSES)}, got {kind!r}")
    if dashboard:
        _require_bokeh()
    options = dict(kwargs.pop("scheduler_options", None) or {})
    options.setdefault("dashboard_address", DASHBOARD_ADDRESS if dashboard else NO_DASHBOARD_ADDRESS)
    options.setdefault("dashboard", dashboard)
    if security is not None:
        kwargs.setdefault("security", security)
        kwargs.setdefault("protocol", "tls://")
    cluster = getattr(dask_jobqueue, JOBQUEUE_CLASSES[kind])(scheduler_options=options, **kwargs)
    cluster.scale(jobs=jobs)
    return cluster


def _dask_tls_configured() -> bool:
    """Whether Dask's own config supplies TLS settings (or a security loader) for a client."""
    import dask

    return bool(dask.config.get("distributed.comm.tls.ca-file", None)
                or dask.config.get("distributed.client.security-loader", None))


@contextlib.contextmanager
def get_client(
    client: Any = None,
    address: str | None = None,
    n_workers: int | None = None,
    memory_limit: int | str | None = None,
    jobqueue: dict[str, Any] | None = None,
    *,
    config: ClusterConfig | None = None,
    threads_per_worker: int | None = None,
    dashboard: bool | None = None,
    tls: TLSConfig | dict[str, Any] | None = None,
    **cluster_kwargs: Any,
) -> Iterator[Any]:
    """Yield a ``distributed.Client`` for ``config`` (default: a LocalCluster); close only what this opened.

    A ``client`` passed in is yielded as it is. The other arguments override
    the same fields of ``config``; ``jobqueue={"kind": "slurm", "jobs": 4, ...}``
    starts batch jobs. Without an address in either, ``HIFFT_SCHEDULER`` names
    one. Kind ``process`` yields None: run in this process. ``cluster_kwargs``
    go to the LocalCluster or dask-jobqueue class.
    """
    if client is not None:
        yield client
        return
    cfg = (config or ClusterConfig()).with_overrides(
        address=address, n_workers=n_workers, memory_limit=memory_limit, jobqueue=jobqueue,
        threads_per_worker=threads_per_worker, dashboard=dashboard, tls=tls,
    )
    kind = cfg.resolved_kind()
    if kind == "process":
        yield None
        return
    from distributed import Client

    cluster = None
    if kind == "jobqueue":
        jq = cfg.jobqueue
        assert jq is not None  # the model validator guarantees it
        security = cfg.tls.security(all_roles=True) if cfg.tls else None
        cluster = jobqueue_cluster(jq.kind, jq.jobs, dashboard=cfg.dashboard, security=security,
                                   **jq.options(), **cluster_kwargs)
        target: Any = cluster
    elif kind == "local":
        security = cfg.tls.security(all_roles=True) if cfg.tls else None
        cluster = local_cluster(n_workers=cfg.n_workers, threads_per_worker=cfg.threads_per_worker or 1,
                                memory_limit=cfg.memory_limit, dashboard=cfg.dashboard, security=security,
                                **cluster_kwargs)
        target = cluster
    else:
        target = cfg.address or os.environ.get(SCHEDULER_ENV)
        if not target:
            raise ValueError(f"cluster kind 'address' needs cluster.address or {SCHEDULER_ENV}")
        security = cfg.tls.security() if cfg.tls else None
        if target.startswith("tls://") and security is None and not _dask_tls_configured():
            raise ValueError(
                f"{target} needs TLS settings: cluster.tls {{ca_file, cert, key}}, or Dask's "
                "DASK_DISTRIBUTED__COMM__TLS__CA_FILE, ..._CLIENT__CERT and ..._CLIENT__KEY"
            )
    try:
        if cluster is not None:
            c = Client(cluster)
        else:
            c = Client(target, security=security, timeout=cfg.timeout)
    except BaseException:
        if cluster is not None:
            cluster.close()
        raise
    try:
        if cluster is None and cfg.n_workers:
            c.wait_for_workers(cfg.n_workers, timeout=cfg.timeout)
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
