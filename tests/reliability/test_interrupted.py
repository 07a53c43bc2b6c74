"""SIGKILL the whole client mid-run; the rerun resumes and recomputes only unfinished tasks."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import zarr

from hifft.store import Manifest

pytestmark = pytest.mark.cluster

SCRIPT = """
import json, sys
from hifft.cluster import get_client
from hifft.fft.engine import FFTJob
src, out = sys.argv[1], sys.argv[2]
with get_client(n_workers=1, memory_limit="2GiB", env={"HIFFT_FAULT_DELAY": sys.argv[3]}) as c:
    job = FFTJob(src, real=True, store=out, client=c, backend="numpy", progress=False, slab=4, block=4)
    job.execute()
print(json.dumps(job.counts))
"""


def test_client_killed_then_rerun_resumes(volume_path, tmp_path):
    path, x = volume_path
    out = tmp_path / "F.zarr"
    mid = Manifest(tmp_path / "F.zarr.work" / "mid.zarr")
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    proc = subprocess.Popen([sys.executable, "-c", SCRIPT, str(path), str(out), "0.25"], env=env,
                            start_new_session=True)
    t0 = time.monotonic()
    while len(mid.done()) < 3:
        assert proc.poll() is None, "job ended before it could be interrupted"
        assert time.monotonic() - t0 < 120
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)  # the client and its LocalCluster, all at once
    proc.wait()
    done_before = {d for d in mid.done() if d.startswith("p1-")}
    assert not mid.complete and not Manifest(out).complete  # half-written output is not complete
    n_slabs = 12  # 48 planes / slab 4
    assert 0 < len(done_before) < n_slabs
    res = subprocess.run([sys.executable, "-c", SCRIPT, str(path), str(out), "0"], env=env,
                         capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr[-2000:]
    counts = json.loads(res.stdout.strip().splitlines()[-1])
    assert counts["pass1"] == n_slabs - len(done_before)
    assert Manifest(out).complete
    ref = np.fft.rfftn(x.astype(np.float64))
    got = zarr.open_array(str(out), mode="r")[:]
    assert np.linalg.norm(got - ref) / np.linalg.norm(ref) < 1e-6
