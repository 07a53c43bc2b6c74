"""Fixtures for fault tests: clusters whose tasks are slowed so faults land mid-pass."""

from __future__ import annotations

import numpy as np
import psutil
import pytest
import zarr


@pytest.fixture
def slow_cluster():
    """2 process workers whose engine tasks sleep 0.3 s each (HIFFT_FAULT_DELAY)."""
    from distributed import Client

    from hifft.cluster import local_cluster

    cluster = local_cluster(n_workers=2, threads_per_worker=1, memory_limit="2GiB",
                            env={"HIFFT_FAULT_DELAY": "0.3"})
    client = Client(cluster)
    yield client
    client.close()
    cluster.close()


def worker_pids(client) -> list[int]:
    """PIDs of the worker processes (children of the nannies)."""
    import os

    return list(client.run(os.getpid).values())


def kill(pid: int) -> None:
    psutil.Process(pid).kill()


@pytest.fixture
def volume_path(tmp_path):
    """A (48, 40, 36) float32 random volume in a Zarr array chunked by 4 z-planes."""
    rng = np.random.default_rng(7)
    x = rng.standard_normal((48, 40, 36)).astype(np.float32)
    p = tmp_path / "vol.zarr"
    zarr.create_array(store=str(p), data=x, chunks=(4, 40, 36), zarr_format=3)
    return p, x
