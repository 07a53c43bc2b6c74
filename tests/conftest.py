"""Shared fixtures: a real LocalCluster with process workers, temp stores, GPU skip."""

from __future__ import annotations

import pytest


def gpu_present() -> bool:
    try:
        import torch

        if torch.cuda.is_available():
            return True
    except ImportError:
        pass
    from hifft.fft.backends import backend_class

    return backend_class("cupy").available()


requires_gpu = pytest.mark.skipif(not gpu_present(), reason="no CUDA GPU on this machine")


@pytest.fixture(scope="session")
def cluster():
    """One LocalCluster (2 process workers, 1 thread each, 3 GiB each) for the session."""
    from hifft.cluster import local_cluster

    c = local_cluster(n_workers=2, threads_per_worker=1, memory_limit="3GiB")
    yield c
    c.close()


@pytest.fixture(scope="session")
def client(cluster):
    from distributed import Client

    with Client(cluster) as c:
        yield c


@pytest.fixture
def rng():
    import numpy as np

    return np.random.default_rng(12345)
