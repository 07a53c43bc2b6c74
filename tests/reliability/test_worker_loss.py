"""SIGKILL a worker mid-pass: the job completes and equals an undisturbed run."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from hifft.fft import rfftn
from hifft.store import Manifest

from .conftest import kill, worker_pids

pytestmark = pytest.mark.cluster


def _run_in_thread(fn):
    box: dict = {}

    def target():
        try:
            box["value"] = fn()
        except BaseException as e:  # reported by the test
            box["error"] = e

    t = threading.Thread(target=target)
    t.start()
    return t, box


def _wait_for(pred, timeout=60.0):
    t0 = time.monotonic()
    while not pred():
        if time.monotonic() - t0 > timeout:
            raise TimeoutError("condition not reached")
        time.sleep(0.05)


@pytest.mark.parametrize("which_pass", ["pass1", "pass2"])
def test_worker_killed_mid_pass(slow_cluster, volume_path, tmp_path, which_pass):
    path, x = volume_path
    ref = rfftn(x, in_core=True, backend="numpy", progress=False).values
    out = tmp_path / "F.zarr"
    mid = Manifest(tmp_path / "F.zarr.work" / "mid.zarr")
    t, box = _run_in_thread(lambda: rfftn(str(path), store=out, client=slow_cluster, backend="numpy",
                                          progress=False, slab=4, block=4))
    if which_pass == "pass1":
        _wait_for(lambda: len([d for d in mid.done() if d.startswith("p1-")]) >= 2)
        assert not mid.complete
    else:
        _wait_for(lambda: len(Manifest(out).done()) >= 1)
        assert not Manifest(out).complete
    kill(worker_pids(slow_cluster)[0])
    t.join(timeout=120)
    assert "error" not in box, box.get("error")
    np.testing.assert_allclose(box["value"].values, ref, rtol=0, atol=1e-5 * np.abs(ref).max())
    assert Manifest(out).complete


def test_worker_killed_mid_volume_build(slow_cluster, tmp_path):
    import hifft

    def scene():
        s = hifft.Scene(hifft.Grid(48, 2.0), seed=3)
        s.add(hifft.shapes.Sphere(radius=8.0, sld=1.0), volume_fraction=0.02, polydispersity=0.1)
        return s

    ref = hifft.build_volume(scene(), tmp_path / "ref.zarr", client=None, slab_depth=4, progress=False)
    out = tmp_path / "rho.zarr"
    t, box = _run_in_thread(lambda: hifft.build_volume(scene(), out, client=slow_cluster, slab_depth=4,
                                                       progress=False))
    _wait_for(lambda: len(Manifest(out).done()) >= 2)
    assert not Manifest(out).complete
    kill(worker_pids(slow_cluster)[1])
    t.join(timeout=120)
    assert "error" not in box, box.get("error")
    np.testing.assert_array_equal(box["value"].slab(0, 48), ref.slab(0, 48))
    assert Manifest(out).complete
