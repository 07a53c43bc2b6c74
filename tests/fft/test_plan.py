"""The planner is pure: property tests over shapes, budgets and crops."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hifft.fft.plan import PROCESS_OVERHEAD, PlanError, kept_half_indices, kept_indices, plan_fft, project

GiB = 2**30


@st.composite
def jobs(draw):
    shape = tuple(draw(st.integers(1, 5000)) for _ in range(3))
    workers = draw(st.integers(1, 128))
    budget = draw(st.integers(PROCESS_OVERHEAD + 2**26, 64 * GiB))
    real = draw(st.booleans())
    dtype = draw(st.sampled_from(["float32", "float64"]))
    q_max = draw(st.one_of(st.none(), st.floats(0.01, 4.0)))
    return dict(shape=shape, workers=workers, memory_budget=budget, real=real, dtype=dtype, q_max=q_max)


@settings(max_examples=300, deadline=None)
@given(jobs())
def test_plan_invariants(job):
    try:
        p = plan_fft(**job)
    except PlanError as e:
        msg = str(e)
        assert "raise the memory budget" in msg or "crop q" in msg
        return
    nz, ny, nx = job["shape"]
    # tasks cover the volume exactly
    assert p.n_slabs == math.ceil(nz / p.slab) and (p.n_slabs - 1) * p.slab < nz
    assert p.n_blocks == math.ceil(p.mid_shape[1] / p.block)
    # every task fits the budget
    assert p.pass1_task_bytes + PROCESS_OVERHEAD <= job["memory_budget"]
    assert p.pass2_task_bytes + PROCESS_OVERHEAD <= job["memory_budget"]
    # shapes: half spectrum for real input, crops never grow an axis
    assert p.mid_shape[0] == nz
    assert p.mid_shape[1] <= ny and p.out_shape[0] <= nz
    assert p.mid_shape[2] <= (nx // 2 + 1 if job["real"] else nx)
    if job["q_max"] is None:
        assert p.out_shape == (nz, ny, nx // 2 + 1 if job["real"] else nx)
    assert p.disk_needed == sum(p.bytes_written.values())


@given(st.integers(1, 300), st.one_of(st.none(), st.integers(0, 200)))
def test_kept_indices_are_the_low_frequencies(n, k):
    idx = kept_indices(n, k)
    f = np.rint(np.fft.fftfreq(n) * n)
    assert len(np.unique(idx)) == len(idx)
    if k is not None:
        assert np.all(np.abs(f[idx]) <= k)
        assert np.sum(np.abs(f) <= k) == len(idx)
    h = kept_half_indices(n, k)
    assert h[0] == 0 and np.all(np.diff(h) == 1) and len(h) <= n // 2 + 1


def test_refuses_too_small_budget():
    with pytest.raises(PlanError, match=r"raise the memory budget .* at least"):
        plan_fft(4096, workers=1, memory_budget=PROCESS_OVERHEAD + 2**20)


def test_refuses_when_disk_short():
    with pytest.raises(PlanError, match="GiB of disk"):
        plan_fft(1024, workers=2, memory_budget=8 * GiB, free_disk=GiB)


def test_crop_shrinks_intermediate_by_square():
    full = plan_fft(1024, workers=2, memory_budget=8 * GiB)
    crop = plan_fft(1024, workers=2, memory_budget=8 * GiB, spacing=1.0, q_max=np.pi / 4)
    ratio = crop.bytes_written["pass1 (intermediate)"] / full.bytes_written["pass1 (intermediate)"]
    assert ratio == pytest.approx((1 / 4) ** 2, rel=0.02)


def test_chunks_at_least_1MiB_when_memory_allows():
    p = plan_fft(1024, workers=2, memory_budget=8 * GiB)
    assert p.mid_chunk_bytes >= 2**20


def test_cluster_plan_and_projection():
    p = plan_fft(4096, workers=64, memory_budget=16 * GiB, write_spectrum=False)
    assert p.n_slabs >= 64 and p.n_blocks >= 64
    t = project(p, {"pass1": 200e6, "pass2": 200e6})
    assert t["total_s"] == pytest.approx((256 * GiB + p.bytes_read["pass2 (intermediate)"]) / (200e6 * 64))
