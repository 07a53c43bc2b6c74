"""The engine's in-process paths: the intermediate held in memory, overlapped tasks, a
killed process resumed, a complete output returned at once, dask inputs, the API labels."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import dask.array as da
import numpy as np
import pytest
import zarr

from hifft.fft import irfftn, reduce_spectrum, rfftn
from hifft.fft.engine import FFTJob
from hifft.fft.plan import PlanError, plan_fft
from hifft.fft.reducer import Reducer
from hifft.grid import Grid
from hifft.store import Manifest


def rel(a, b) -> float:
    return float(np.linalg.norm(np.asarray(a) - b) / np.linalg.norm(b))


class SumI(Reducer):
    name = "sumI"

    def block(self, blk):
        return np.array([float((blk.wx * np.abs(blk.values) ** 2).sum())])

    def merge(self, a, b):
        return a + b

    def finalize(self, partial, grid):
        return partial


def test_memory_intermediate_matches_numpy_and_writes_no_intermediate(tmp_path, rng):
    x = rng.standard_normal((24, 20, 18))
    job = FFTJob(x, real=True, store=tmp_path / "F.zarr", progress=False, slab=5, block=3)
    assert job.plan.mid_in_memory and job.runner.concurrency == 2
    assert "pass1 (intermediate)" not in job.plan.bytes_written  # disk traffic only
    F, out = job.execute()
    assert rel(np.asarray(F), np.fft.rfftn(x)) < 1e-12
    assert not (tmp_path / "F.zarr.work" / "mid.zarr").exists()
    assert out["meta"]["bytes"]["intermediate_in_memory"] is True
    phases = out["meta"]["task_phases_s"]
    assert set(phases["pass1"]) >= {"read_s", "fft_s", "write_s"} and phases["pass2"]["write_s"] > 0


def test_memory_and_disk_intermediate_give_identical_bytes(tmp_path, rng):
    x = rng.standard_normal((20, 16, 14)).astype(np.float32)
    kw = dict(progress=False, slab=4, block=3, backend="numpy")
    a = rfftn(x, store=tmp_path / "a.zarr", intermediate="memory", **kw)
    b = rfftn(x, store=tmp_path / "b.zarr", intermediate="disk", **kw)
    np.testing.assert_array_equal(np.asarray(a), np.asarray(b))  # same FFTs, same order: bit-identical


def test_memory_intermediate_with_reducers(tmp_path, rng):
    x = rng.standard_normal((18, 22, 16))
    out = reduce_spectrum(x, [SumI()], in_core=False, workdir=tmp_path / "w", progress=False, slab=5, block=4)
    assert out["meta"]["plan"]["mid_in_memory"]
    assert out["sumI"][0] == pytest.approx((x**2).sum() * x.size, rel=1e-12)  # Parseval


def test_auto_falls_back_to_disk_when_the_intermediate_does_not_fit():
    GiB = 2**30
    big = plan_fft(1024, memory_budget=2 * GiB, intermediate="auto", concurrency=2)
    assert not big.mid_in_memory and big.bytes_written["pass1 (intermediate)"] == big.mid_bytes
    small = plan_fft(1024, memory_budget=12 * GiB, intermediate="auto", concurrency=2)
    assert small.mid_in_memory and small.disk_needed == 0
    # each of the 2 concurrent tasks fits the budget left after the intermediate
    assert 2 * small.peak_task_bytes <= 12 * GiB - small.mid_bytes
    with pytest.raises(PlanError, match="does not fit the memory budget"):
        plan_fft(1024, memory_budget=2 * GiB, intermediate="memory")
    assert not plan_fft(256, workers=4, memory_budget=12 * GiB, intermediate="auto").mid_in_memory  # one process only


def test_complete_output_is_returned_at_once_on_rerun(tmp_path, rng):
    x = rng.standard_normal((16, 12, 10))
    kw = dict(real=True, store=tmp_path / "F.zarr", progress=False, slab=4, block=3)
    FFTJob(x, **kw).execute()
    job = FFTJob(x, **kw)
    F, _ = job.execute()
    assert job.counts == {"pass1": 0, "pass2": 0}
    assert rel(np.asarray(F), np.fft.rfftn(x)) < 1e-12
    job = FFTJob(x + 1, **kw | {"overwrite": True})  # another job: recomputed
    job.execute()
    assert job.counts["pass1"] == 4


SCRIPT = """
import json, sys
import numpy as np
from hifft.fft.engine import FFTJob
x = np.load(sys.argv[1])
job = FFTJob(x, real=True, store=sys.argv[2], progress=False, slab=4, block=2, intermediate="memory")
job.execute()
print(json.dumps(job.counts))
"""


@pytest.mark.cluster
def test_killed_process_resumes_pass2_with_memory_intermediate(tmp_path, rng):
    """Overlapped in-process tasks, SIGKILLed mid pass 2: the rerun recomputes pass 1 (in
    memory) and only the pass-2 tasks the output's manifest does not record."""
    x = rng.standard_normal((16, 24, 10))
    np.save(tmp_path / "x.npy", x)
    out = tmp_path / "F.zarr"
    env = dict(os.environ, PYTHONUNBUFFERED="1", HIFFT_FAULT_DELAY="0.3")
    proc = subprocess.Popen([sys.executable, "-c", SCRIPT, str(tmp_path / "x.npy"), str(out)], env=env,
                            start_new_session=True)
    man = Manifest(out)
    t0 = time.monotonic()
    while len(man.done()) < 3:
        assert proc.poll() is None, "job ended before it could be killed"
        assert time.monotonic() - t0 < 120
        time.sleep(0.02)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    done_before = man.done()
    assert not man.complete and 0 < len(done_before) < 12  # 24 rows / block 2
    env["HIFFT_FAULT_DELAY"] = "0"
    res = subprocess.run([sys.executable, "-c", SCRIPT, str(tmp_path / "x.npy"), str(out)], env=env,
                         capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr[-2000:]
    counts = json.loads(res.stdout.strip().splitlines()[-1])
    assert counts == {"pass1": 4, "pass2": 12 - len(done_before)}
    assert man.complete
    assert rel(zarr.open_array(str(out), mode="r")[:], np.fft.rfftn(x)) < 1e-6


def test_dask_array_input_read_by_slab(tmp_path, rng):
    x = rng.standard_normal((20, 12, 10)).astype(np.float32)
    d = da.from_array(x, chunks=(5, 12, 10))
    F = rfftn(d, in_core=False, workdir=tmp_path / "w", progress=False, slab=5)
    assert rel(np.asarray(F), np.fft.rfftn(x.astype(np.float64))) < 1e-5


def test_dask_array_input_on_a_cluster(client, tmp_path, rng):
    x = rng.standard_normal((20, 12, 10))
    d = da.from_array(x, chunks=(4, 12, 10))
    F = rfftn(d, client=client, workdir=tmp_path / "w", progress=False, slab=4, block=4)
    assert rel(np.asarray(F), np.fft.rfftn(x)) < 1e-12


def test_bare_arrays_say_q_has_no_unit_and_grids_give_inverse_angstrom(rng):
    x = rng.standard_normal((8, 8, 8))
    F = rfftn(x, progress=False)
    assert F.q_x.attrs["units"] == "1" and "unit spacing" in F.attrs["spacing"]
    np.testing.assert_allclose(F.q_z.values, 2 * np.pi * np.fft.fftfreq(8))
    G = rfftn(x, spacing=2.0, progress=False)
    assert G.q_x.attrs["units"] == "1/angstrom" and G.attrs["spacing"] == "given"
    np.testing.assert_allclose(G.q_z.values, 2 * np.pi * np.fft.fftfreq(8, 2.0))


def test_inverse_returns_a_labelled_real_space_dataarray(tmp_path, rng):
    x = rng.standard_normal((8, 6, 10))
    F = rfftn(x, spacing=1.5, progress=False)
    back = irfftn(F, shape=x.shape, progress=False)
    assert back.dims == ("z", "y", "x") and back.attrs["transform"] == "irfftn"
    np.testing.assert_allclose(back.x.values, Grid(x.shape, 1.5).coords(2))
    np.testing.assert_allclose(back.values, x, atol=1e-12)
    back2 = irfftn(F, shape=x.shape, in_core=False, workdir=tmp_path / "w", progress=False)
    np.testing.assert_allclose(np.asarray(back2), x, atol=1e-12)
