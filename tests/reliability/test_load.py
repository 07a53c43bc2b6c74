"""Many jobs on one cluster; a job that exceeds worker memory says which budget to raise."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from hifft import Grid
from hifft.fft import reduce_spectrum
from hifft.fft.reducer import Reducer, reduce_in_memory

pytestmark = pytest.mark.cluster


class Power(Reducer):
    """Σ w|F|² over the spectrum (Parseval check)."""

    name = "power"

    def block(self, blk):
        return float((blk.wx[None, None, :] * np.abs(blk.values) ** 2).sum())

    def merge(self, a, b):
        return a + b

    def finalize(self, partial, grid):
        return partial


def test_fifty_jobs_together(client, tmp_path):
    rng = np.random.default_rng(3)
    vols = [rng.standard_normal((16, 12, 10)) for _ in range(50)]

    def job(i):
        return reduce_spectrum(vols[i], [Power()], client=client, workdir=tmp_path / f"w{i}",
                               progress=False, backend="numpy", slab=4, block=4)["power"]

    with ThreadPoolExecutor(10) as pool:
        got = list(pool.map(job, range(50)))
    for v, g in zip(vols, got, strict=True):
        assert g == pytest.approx((v**2).sum() * v.size, rel=1e-10)
        assert reduce_in_memory(np.fft.rfftn(v), Grid(v.shape), [Power()])["power"] == pytest.approx(g)
    # workers stayed under their memory limit (none was restarted)
    info = client.scheduler_info(n_workers=-1)
    for w in info["workers"].values():
        assert w["metrics"]["memory"] < w["memory_limit"]


def test_task_over_memory_limit_says_which_budget(tmp_path):
    from distributed import Client

    from hifft.cluster import local_cluster
    from hifft.fft import rfftn

    # 256 MiB in, 257 MiB out in one task: well over the 350 MiB worker limit whatever the
    # worker's own footprint (at half this size the task could just fit on a lean worker)
    x = np.random.default_rng(0).standard_normal((256, 512, 512)).astype(np.float32)
    slow = {"HIFFT_FAULT_DELAY": "1"}  # hold the task's memory long enough for the nanny to see it
    with local_cluster(n_workers=1, memory_limit="350MiB", env=slow) as cluster, Client(cluster) as c:
        # a budget far above the worker's real limit makes the plan choose whole-volume slabs
        with pytest.raises(RuntimeError, match="raise the per-worker memory limit"):
            rfftn(x, client=c, workdir=tmp_path / "w", memory_budget="8GiB", progress=False,
                  slab=256, block=512, backend="numpy")
