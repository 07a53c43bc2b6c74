"""Training and held-out data for the gap-inpainting models: simulated patterns, random gaps, patches.

Patterns come from :func:`hifft.bcdi.simulate_pattern` (voxelized ρ·exp(iG·u) and its DFT; no
atomistic kinematic sum, see :mod:`hifft.bcdi.simulate`): a random crystal of the configured
families, turned at random, scaled to a random oversampling, with a random displacement field
and Bragg direction, Poisson counts at a random peak (log-uniform). Training and held-out sets
use different seed streams and (:class:`~hifft.bcdi.inpaint_config.PatternConfig`) families.

A training sample is a patch with a random gap inside its interior (a band of a random width,
or a cross), flipped and (3D) transposed at random:

- 3D: a ``patch``³ crop of a pattern; the gap is a plane (or two) containing axis 0, as a
  detector gap is in a rocking scan; log scale gain from the whole pattern's maximum;
- 2D: a ``patch``² crop of one frame (axis-0 slice) holding at least 1 % of the pattern's peak;
  gain from that frame's maximum (as inference on a single frame computes it).

Inputs follow :mod:`hifft.bcdi.inpaint` (channels = masked log-intensity, mask, [line fill]).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..grid import Grid
from ..progress import progress_bar
from . import crystals
from . import strain as strain_mod
from .crystals import Crystal
from .gaps import line_gap
from .inpaint import channels, to_log
from .inpaint_config import GapConfig, PatternConfig
from .simulate import object_of, simulate_pattern

#: Seed streams: training patterns, validation patterns, held-out (evaluation) patterns.
STREAMS = {"train": 0, "val": 1, "test": 2}


def random_crystal(rng: np.random.Generator, shape: str) -> Crystal:
    """A crystal of family ``shape``; Wulff facet distances drawn at random ({100} and {111}, sometimes
    {110} further out), size set later by the oversampling."""
    if shape == "cube":
        return crystals.cube(100.0)
    if shape == "octahedron":
        return crystals.octahedron(100.0)
    if shape == "truncated_octahedron":
        return crystals.truncated_octahedron(100.0)
    if shape == "sphere":
        return crystals.sphere(100.0)
    if shape == "dodecahedron":  # rhombic dodecahedron: {110} facets only
        return crystals.wulff(d110=100.0)
    if shape == "wulff":
        d110 = 100.0 * rng.uniform(0.95, 1.3) if rng.uniform() < 0.5 else None
        return crystals.wulff(100.0, 100.0 * rng.uniform(0.8, 1.15), d110)
    raise ValueError(f"shape: unknown crystal family {shape!r}")


def random_displacement(rng: np.random.Generator, kind: str, grid: Grid, radius: float,
                        misfit: float) -> np.ndarray | None:
    """Displacement (3, *grid.shape) in Å of ``kind`` for a crystal of about ``radius`` Å.

    inclusion: a misfitting sphere (±``misfit``) of 0.3–0.8 radius off centre; uniform: a random
    symmetric strain tensor of entries ~``misfit``; screw: a dislocation along a random line
    near the centre, Burgers vector 2–3 Å; none: None.
    """
    if kind == "none":
        return None
    off = rng.normal(0.0, 0.15 * radius, 3)
    if kind == "inclusion":
        sign = 1.0 if rng.uniform() < 0.5 else -1.0
        return strain_mod.spherical_inclusion(grid, rng.uniform(0.3, 0.8) * radius, sign * misfit, centre=off)
    if kind == "uniform":
        e = rng.normal(0.0, misfit, (3, 3))
        return strain_mod.uniform_strain(grid, (e + e.T) / 2)
    if kind == "screw":
        b = rng.uniform(2.0, 3.0) * (1.0 if rng.uniform() < 0.5 else -1.0)
        return strain_mod.screw_dislocation(grid, rng.normal(size=3), b, point=off)
    raise ValueError(f"strain: unknown displacement kind {kind!r}")


@dataclass
class Patterns:
    """Simulated patterns: ``counts`` (Poisson) and ``expected`` (n, S, S, S) float32 counts; ``info``
    per pattern (family, strain, oversampling, peak, seed); ``objects``: the complex objects
    (:func:`~hifft.bcdi.simulate.object_of`), only when asked for (phasing benchmarks)."""

    counts: np.ndarray
    expected: np.ndarray
    info: list[dict[str, Any]] = field(default_factory=list)
    objects: list[np.ndarray] | None = None

    def __len__(self) -> int:
        return int(self.counts.shape[0])


def simulate_patterns(cfg: PatternConfig, n: int, seed: int, stream: str = "train", size: int | None = None,
                      progress: bool | None = None, keep_objects: bool = False) -> Patterns:
    """``n`` patterns of ``size``³ (default ``cfg.size``) from seed stream ``stream`` (train, val, test);
    the test stream draws the held-out families; ``keep_objects`` also returns the true objects."""
    if stream not in STREAMS:
        raise ValueError(f"stream: expected one of {sorted(STREAMS)}, got {stream!r}")
    s = int(size or cfg.size)
    grid = Grid(shape=s, spacing=cfg.spacing)
    shapes, strains = (cfg.held_out_shapes, cfg.held_out_strains) if stream == "test" else (cfg.shapes, cfg.strains)
    counts = np.empty((n, s, s, s), dtype=np.float32)
    expected = np.empty((n, s, s, s), dtype=np.float32)
    info = []
    objects: list[np.ndarray] | None = [] if keep_objects else None
    with progress_bar(f"simulating {stream} patterns", n, enabled=progress, unit="patterns") as bar:
        for i in range(n):
            rng = np.random.default_rng([seed, STREAMS[stream], i])
            shape = str(rng.choice(shapes))
            kind = str(rng.choice(strains))
            over = cfg.oversampling.sample(rng)
            peak = cfg.peak.sample_log(rng)
            radius = 0.5 * s * cfg.spacing / over
            u = random_displacement(rng, kind, grid, radius, cfg.misfit.sample_log(rng))
            g = rng.normal(size=3)
            bragg = cfg.bragg * g / np.linalg.norm(g)
            ds = simulate_pattern(random_crystal(rng, shape), grid, oversampling=over, rotation="random",
                                  displacement=u, bragg=tuple(bragg), peak_counts=peak,
                                  seed=int(rng.integers(2**31)))
            counts[i] = ds["counts"].values
            expected[i] = ds["intensity"].values
            if objects is not None:
                objects.append(object_of(ds).astype(np.complex64))
            info.append({"shape": shape, "strain": kind, "oversampling": float(ds.attrs["oversampling"]),
                         "peak": float(peak), "bragg": [float(v) for v in bragg]})
            bar.advance()
    return Patterns(counts, expected, info, objects)


def patch_gap(shape: tuple[int, ...], rng: np.random.Generator, gaps: GapConfig, margin: int) -> np.ndarray:
    """A random gap inside the interior of a patch of ``shape``: a band (or a cross) of a width from
    ``gaps.widths``, perpendicular to a detector axis (the last two axes), through every frame in 3D."""
    width = int(rng.choice(gaps.widths))
    axes = (len(shape) - 2, len(shape) - 1)
    cross = rng.uniform() < gaps.cross_fraction
    chosen = axes if cross else (int(rng.choice(axes)),)
    m = np.zeros(shape, dtype=bool)
    for ax in chosen:
        hi = shape[ax] - margin - width
        if hi < margin:
            raise ValueError(f"gaps.widths: a {width}-px gap with {margin} px margins does not fit a patch of "
                             f"{shape[ax]} px")
        m |= line_gap(shape, ax, int(rng.integers(margin, hi + 1)), width)
    return m


def _augment(rng: np.random.Generator, arrays: list[np.ndarray], dims: int) -> list[np.ndarray]:
    flips = [ax for ax in range(dims) if rng.uniform() < 0.5]
    out = [np.flip(a, tuple(flips)) if flips else a for a in arrays]
    if dims == 3 and rng.uniform() < 0.5:
        out = [np.swapaxes(a, 1, 2) for a in out]
    return out


class PatchSampler:
    """Random training patches from ``patterns`` (see the module docstring).

    ``target``: "expected" (the gap is trained towards the expected counts) or "counts"; ``fill``: add
    the line-fill channel (residual models).
    """

    def __init__(self, patterns: Patterns, *, dims: int, patch: int, margin: int, gaps: GapConfig,
                 peak_ref: float, target: str = "expected", fill: bool = False) -> None:
        if dims not in (2, 3):
            raise ValueError(f"dims: expected 2 or 3, got {dims}")
        if target not in ("expected", "counts"):
            raise ValueError(f"target: expected 'expected' or 'counts', got {target!r}")
        self.p = patterns
        self.dims, self.patch, self.margin, self.gaps = dims, patch, margin, gaps
        self.peak_ref, self.target, self.fill = peak_ref, target, fill
        self.peaks = self.p.counts.reshape(len(self.p), -1).max(axis=1)
        if dims == 2:
            frame_max = self.p.counts.max(axis=(2, 3))
            self.frames = [np.flatnonzero(frame_max[i] >= 0.01 * self.peaks[i]) for i in range(len(self.p))]

    def _crop(self, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, float]:
        i = int(rng.integers(len(self.p)))
        truth = self.p.expected[i] if self.target == "expected" else self.p.counts[i]
        if self.dims == 3:
            counts, ref, peak = self.p.counts[i], truth, float(self.peaks[i])
        else:
            k = int(rng.choice(self.frames[i]))
            counts, ref = self.p.counts[i, k], truth[k]
            peak = float(counts.max())
        o = [int(rng.integers(0, n - min(self.patch, n) + 1)) for n in counts.shape]
        sl = tuple(slice(a, a + min(self.patch, n)) for a, n in zip(o, counts.shape, strict=True))
        gain = self.peak_ref / peak if peak > 0 else 1.0
        return counts[sl], ref[sl], gain

    def sample(self, rng: np.random.Generator, batch: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(inputs (B, C, *patch), truth (B, 1, *patch) in network units, mask (B, 1, *patch) bool);
        C = 3 with ``fill`` (the :func:`~hifft.bcdi.inpaint.line_fill` channel of residual models), else 2."""
        xs, ys, ms = [], [], []
        for _ in range(batch):
            counts, ref, gain = self._crop(rng)
            counts, ref = _augment(rng, [counts, ref], self.dims)
            mask = patch_gap(counts.shape, rng, self.gaps, self.margin)
            xs.append(channels(to_log(counts, self.peak_ref, gain), mask, fill=self.fill))
            ys.append(to_log(ref, self.peak_ref, gain)[None])
            ms.append(mask[None])
        return np.stack(xs), np.stack(ys), np.stack(ms)


def peak_centred_gap(shape: tuple[int, ...], rng: np.random.Generator, width: int, kind: str) -> np.ndarray:
    """Evaluation gap: a band (``kind`` "line") or cross of ``width`` px perpendicular to the detector axes
    (last two), through every frame, placed at random in the central half so it crosses the fringes."""
    axes = (len(shape) - 2, len(shape) - 1)
    chosen = axes if kind == "cross" else (int(rng.choice(axes)),)
    m = np.zeros(shape, dtype=bool)
    for ax in chosen:
        n = shape[ax]
        lo, hi = n // 4, max(n // 4, math.ceil(3 * n / 4) - width)
        m |= line_gap(shape, ax, int(rng.integers(lo, hi + 1)), width)
    return m


__all__ = ["STREAMS", "random_crystal", "random_displacement", "Patterns", "simulate_patterns", "patch_gap",
           "PatchSampler", "peak_centred_gap"]
