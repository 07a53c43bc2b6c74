"""Placeholder; replaced by the planner (in progress)."""

from __future__ import annotations


def plan_fft(*args, **kwargs):
    raise NotImplementedError("planner in progress")
