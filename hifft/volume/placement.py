"""Where particles go: random (overlaps allowed), hard (no overlaps), lattices.

Positions are lab (x, y, z) in Å with the box centred on 0, as
:meth:`hifft.Grid.coords`.

- ``random``: uniform in the box (Poisson; overlaps allowed).
- ``given``: positions passed to ``Scene.add(positions=...)``.
- ``hard``: random sequential addition (RSA). Candidates are drawn uniformly
  and kept only if they overlap no particle placed before (periodic
  minimum-image distances), found through a cell list of cell size ≥ the
  largest diameter, so one try costs O(1). Non-spherical particles use their
  circumscribed sphere (conservative). All ``hard`` components of a scene
  avoid each other; larger particles of a component are placed first.
  RSA of equal spheres jams at φ ≈ 0.38; beyond that use a lattice.
- ``sc`` / ``bcc`` / ``fcc`` / ``hcp``: lattice sites with an integer number
  of cells per box edge (the box is periodic), so the achieved count and φ
  are the nearest the box allows; hcp uses its orthorhombic 4-site cell
  (a, √3·a, √(8/3)·a), stacked along z.

``boundary="wrap"`` lets particles cross the periodic box faces (their
density wraps around); ``"inside"`` keeps every particle's bounding box
inside the box (centres drawn from the shrunken box).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from numba import njit

LATTICES: dict[str, tuple[np.ndarray, tuple[float, float, float]]] = {
    # fractional basis (x, y, z), cell edge ratios (relative to a)
    "sc": (np.array([[0.0, 0.0, 0.0]]), (1.0, 1.0, 1.0)),
    "bcc": (np.array([[0.0, 0.0, 0.0], [0.5, 0.5, 0.5]]), (1.0, 1.0, 1.0)),
    "fcc": (
        np.array([[0.0, 0.0, 0.0], [0.5, 0.5, 0.0], [0.5, 0.0, 0.5], [0.0, 0.5, 0.5]]),
        (1.0, 1.0, 1.0),
    ),
    "hcp": (
        np.array([[0.0, 0.0, 0.0], [0.5, 0.5, 0.0], [0.5, 1.0 / 6.0, 0.5], [0.0, 2.0 / 3.0, 0.5]]),
        (1.0, math.sqrt(3.0), math.sqrt(8.0 / 3.0)),
    ),
}
KINDS = ("random", "hard", "given", *LATTICES)
BOUNDARIES = ("wrap", "inside")


class PlacementError(ValueError):
    """Particles cannot be placed as asked (too dense, too large for the box)."""


@dataclass(frozen=True)
class Placement:
    """Placement rule of one component."""

    kind: str = "random"
    boundary: str = "wrap"
    #: RSA gives up after this many tries per particle asked for (hard only).
    max_tries_per_particle: int = 2000

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"placement: must be one of {list(KINDS)}, got {self.kind!r}")
        if self.boundary not in BOUNDARIES:
            raise ValueError(
                f"placement.boundary: must be 'wrap' or 'inside', got {self.boundary!r}"
            )
        if self.kind in LATTICES and self.boundary != "wrap":
            raise ValueError(
                f"placement: lattice {self.kind!r} fills the periodic box; boundary must be 'wrap'"
            )
        if int(self.max_tries_per_particle) < 1:
            raise ValueError("placement.max_tries_per_particle: must be >= 1")

    @property
    def lattice(self) -> bool:
        return self.kind in LATTICES

    @classmethod
    def parse(cls, spec: Any, boundary: str | None = None) -> Placement:
        if isinstance(spec, Placement):
            p = spec
        elif isinstance(spec, str):
            p = cls(spec)
        elif isinstance(spec, dict):
            unknown = set(spec) - {"kind", "boundary", "max_tries_per_particle"}
            if unknown:
                raise ValueError(f"placement: unknown key(s) {sorted(unknown)}")
            p = cls(**spec)
        else:
            raise ValueError(f"placement: expected a name {list(KINDS)} or a dict, got {spec!r}")
        if boundary is not None and boundary != p.boundary:
            p = cls(p.kind, boundary, p.max_tries_per_particle)
        return p

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


# ---- random ------------------------------------------------------------------
def centre_bounds(
    box: np.ndarray, ext: np.ndarray, boundary: str, what: str
) -> tuple[np.ndarray, np.ndarray]:
    """Lower corner and span (n, 3) of the region each particle's centre may take."""
    half = 0.5 * box
    if np.any(2.0 * ext > box[None, :] * (1 + 1e-12)):
        i = int(np.argmax((2.0 * ext / box[None, :]).max(axis=1)))
        raise PlacementError(
            f"{what}: particle {i} is {2 * ext[i].max():.4g} Å across, larger than the box "
            f"{tuple(float(b) for b in box)} Å (x, y, z)"
        )
    if boundary == "wrap":
        return np.broadcast_to(-half, ext.shape).copy(), np.broadcast_to(box, ext.shape).copy()
    return -half + ext, np.maximum(box - 2.0 * ext, 0.0)


def place_random(rng: np.random.Generator, lo: np.ndarray, span: np.ndarray) -> np.ndarray:
    return lo + rng.random(lo.shape) * span


# ---- hard (RSA with a cell list) ---------------------------------------------
@njit(cache=True)
def _cell_of(p: np.ndarray, box: np.ndarray, ncell: np.ndarray) -> int:
    c = 0
    for a in range(3):
        k = int(math.floor((p[a] + 0.5 * box[a]) / box[a] * ncell[a]))
        k = k % ncell[a]
        c = c * ncell[a] + k
    return c


@njit(cache=True)
def _overlaps(
    p: np.ndarray,
    r: float,
    pos: np.ndarray,
    rad: np.ndarray,
    box: np.ndarray,
    ncell: np.ndarray,
    head: np.ndarray,
    nxt: np.ndarray,
) -> bool:
    cidx = np.empty(3, dtype=np.int64)
    for a in range(3):
        k = int(math.floor((p[a] + 0.5 * box[a]) / box[a] * ncell[a]))
        cidx[a] = k % ncell[a]
    nx_, ny_, nz_ = ncell[0], ncell[1], ncell[2]
    ox = 3 if nx_ >= 3 else nx_
    oy = 3 if ny_ >= 3 else ny_
    oz = 3 if nz_ >= 3 else nz_
    for i in range(ox):
        cx = (cidx[0] + i - 1) % nx_ if nx_ >= 3 else i
        for j in range(oy):
            cy = (cidx[1] + j - 1) % ny_ if ny_ >= 3 else j
            for k in range(oz):
                cz = (cidx[2] + k - 1) % nz_ if nz_ >= 3 else k
                q = head[(cx * ny_ + cy) * nz_ + cz]
                while q >= 0:
                    d2 = 0.0
                    for a in range(3):
                        d = p[a] - pos[q, a]
                        d -= box[a] * round(d / box[a])
                        d2 += d * d
                    rr = r + rad[q]
                    if d2 < rr * rr:
                        return True
                    q = nxt[q]
    return False


@njit(cache=True)
def _rsa_batch(
    order: np.ndarray,
    n_done: int,
    u: np.ndarray,
    lo: np.ndarray,
    span: np.ndarray,
    pos: np.ndarray,
    rad: np.ndarray,
    box: np.ndarray,
    ncell: np.ndarray,
    head: np.ndarray,
    nxt: np.ndarray,
) -> tuple[int, int]:
    """Place ``order[n_done:]`` using the uniforms ``u`` (m, 3). Returns (n_done, uniforms used)."""
    p = np.empty(3)
    k = 0
    m = u.shape[0]
    while n_done < order.shape[0] and k < m:
        i = order[n_done]
        for a in range(3):
            p[a] = lo[i, a] + u[k, a] * span[i, a]
        k += 1
        if not _overlaps(p, rad[i], pos, rad, box, ncell, head, nxt):
            for a in range(3):
                pos[i, a] = p[a]
            c = _cell_of(p, box, ncell)
            nxt[i] = head[c]
            head[c] = i
            n_done += 1
    return n_done, k


class HardPacker:
    """Random sequential addition of spheres into one periodic box, across components."""

    def __init__(self, box: np.ndarray, radii: np.ndarray) -> None:
        self.box = np.asarray(box, dtype=np.float64)
        self.rad = np.ascontiguousarray(radii, dtype=np.float64)
        n = len(self.rad)
        self.pos = np.full((n, 3), np.nan)
        cell = 2.0 * float(self.rad.max()) if n else 1.0
        self.ncell = np.maximum(1, np.floor(self.box / cell)).astype(np.int64)
        # keep the cell list to a sane size when particles are tiny against the box
        while int(np.prod(self.ncell)) > max(8 * n, 1 << 12):
            self.ncell = np.maximum(1, self.ncell // 2)
        self.head = np.full(int(np.prod(self.ncell)), -1, dtype=np.int64)
        self.nxt = np.full(n, -1, dtype=np.int64)
        self.tries = 0

    def place(
        self,
        index: np.ndarray,
        lo: np.ndarray,
        span: np.ndarray,
        rng: np.random.Generator,
        max_tries: int,
        what: str,
    ) -> None:
        """Place particles ``index`` (global arrays), larger first; ``lo``/``span`` per particle."""
        index = np.asarray(index, dtype=np.int64)
        order = index[np.argsort(-self.rad[index], kind="stable")]
        glo = np.zeros((len(self.rad), 3))
        gspan = np.zeros((len(self.rad), 3))
        glo[index], gspan[index] = lo, span
        done, used = 0, 0
        batch = 1 << 16
        while done < len(order):
            if used >= max_tries:
                phi = _sphere_volume(self.rad[order[:done]]).sum() / float(np.prod(self.box))
                raise PlacementError(
                    f"{what}: hard placement stopped after {used} tries with {done} of "
                    f"{len(order)} particles placed (φ ≈ {phi:.3f} of bounding spheres); random "
                    f"sequential addition jams near φ ≈ 0.38 for equal spheres: lower the volume "
                    f"fraction, use a lattice (placement='fcc'), or raise max_tries_per_particle"
                )
            u = rng.random((min(batch, max_tries - used), 3))
            done, k = _rsa_batch(
                order,
                done,
                u,
                glo,
                gspan,
                self.pos,
                self.rad,
                self.box,
                self.ncell,
                self.head,
                self.nxt,
            )
            used += k
            batch = min(batch * 2, 1 << 20)
        self.tries += used


def _sphere_volume(r: np.ndarray) -> np.ndarray:
    return 4.0 / 3.0 * np.pi * r**3


# ---- lattices ----------------------------------------------------------------
def lattice_cells(kind: str, box: np.ndarray, number_density: float) -> np.ndarray:
    """Cells per box edge (x, y, z) giving a number density closest to ``number_density``."""
    basis, ratios = LATTICES[kind]
    a = (len(basis) / (number_density * math.prod(ratios))) ** (1.0 / 3.0)
    return np.maximum(1, np.rint(box / (a * np.array(ratios)))).astype(np.int64)


def lattice_sites(kind: str, box: np.ndarray, cells: np.ndarray) -> np.ndarray:
    """Site positions (n, 3), lab (x, y, z) Å, box centred on 0; cell edges = box/cells."""
    basis, _ = LATTICES[kind]
    edge = box / cells
    idx = np.stack(np.meshgrid(*(np.arange(c) for c in cells), indexing="ij"), axis=-1).reshape(
        -1, 1, 3
    )
    frac = (idx + basis[None, :, :] + 0.25).reshape(-1, 3)  # 1/4-cell offset: no site on a box face
    return frac * edge - 0.5 * box


def nearest_neighbour_distance(pos: np.ndarray, box: np.ndarray) -> float:
    """Smallest periodic centre-to-centre distance (Å)."""
    if len(pos) < 2:
        return math.inf
    from scipy.spatial import cKDTree

    wrapped = np.mod(pos + 0.5 * box, box)
    wrapped = np.where(wrapped >= box, 0.0, wrapped)  # mod can round up to exactly box
    tree = cKDTree(wrapped, boxsize=box)
    d, _ = tree.query(wrapped, k=2)
    return float(d[:, 1].min())
