"""A small reader for VASP CHGCAR / CHG / PARCHG / LOCPOT files (first volumetric block).

Why our own parser: pymatgen (``Chgcar.from_file``) and mp-pyrho (which
builds on pymatgen) are large optional dependencies that are not installed
here, while hifft needs only the lattice and the first (total) data block of
a documented text format:

    comment
    scale                         (negative: target cell volume in Å³)
    a1 / a2 / a3                  lattice vectors (Å, times scale)
    [species names]               (VASP ≥ 5)
    counts per species
    [Selective dynamics]
    Direct | Cartesian
    one line per atom
    (blank line)
    NGX NGY NGZ
    NGX·NGY·NGZ values, x fastest, then y, then z

For CHGCAR the values are ρ·V_cell (electrons); later blocks (augmentation
occupancies, magnetization) are ignored.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .validate import VolumeError


@dataclass
class ChgcarData:
    comment: str
    lattice: np.ndarray  # (3, 3) rows a1, a2, a3 in Å
    species: list[str]
    counts: list[int]
    data: np.ndarray  # (NGZ, NGY, NGX) raw values as written

    @property
    def cell_volume(self) -> float:
        """Cell volume in Å³."""
        return float(abs(np.linalg.det(self.lattice)))


def read_chgcar_file(path: str | os.PathLike[str]) -> ChgcarData:
    """Parse the structure and the first volumetric block of a CHGCAR-format file."""
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"{p}: CHGCAR file not found")
    with p.open("r", encoding="ascii", errors="replace") as f:
        lines = f.readlines()

    def fail(msg: str, line: int | None = None) -> VolumeError:
        at = f" (line {line + 1})" if line is not None else ""
        return VolumeError(f"{p}: not a readable CHGCAR{at}: {msg}")

    if len(lines) < 9:
        raise fail("file too short")
    try:
        scale = float(lines[1].split()[0])
        vecs = np.array([[float(v) for v in lines[i].split()[:3]] for i in (2, 3, 4)])
    except (ValueError, IndexError) as exc:
        raise fail(f"bad scale or lattice vectors ({exc})", 1) from exc
    if vecs.shape != (3, 3):
        raise fail("lattice vectors need 3 components", 2)
    if scale < 0:  # VASP: a negative scale is the cell volume
        vecs = vecs * (abs(scale) / abs(np.linalg.det(vecs))) ** (1.0 / 3.0)
    else:
        vecs = vecs * scale
    i = 5
    tokens = lines[i].split()
    species: list[str] = []
    if tokens and not tokens[0].lstrip("-").isdigit():
        species = tokens
        i += 1
    try:
        counts = [int(v) for v in lines[i].split()]
    except ValueError as exc:
        raise fail(f"bad atom counts ({exc})", i) from exc
    i += 1
    if lines[i].strip()[:1].lower() == "s":  # Selective dynamics
        i += 1
    if lines[i].strip()[:1].lower() not in ("d", "c", "k"):
        raise fail(f"expected 'Direct' or 'Cartesian', got {lines[i].strip()!r}", i)
    i += 1 + sum(counts)
    while i < len(lines) and not lines[i].strip():
        i += 1
    if i >= len(lines):
        raise fail("no volumetric data block")
    try:
        ng = [int(v) for v in lines[i].split()]
    except ValueError as exc:
        raise fail(f"bad grid line {lines[i].strip()!r}", i) from exc
    if len(ng) != 3 or min(ng) < 1:
        raise fail(f"grid line must hold 3 positive ints, got {lines[i].strip()!r}", i)
    n = ng[0] * ng[1] * ng[2]
    i += 1
    per_line = len(lines[i].split()) if i < len(lines) else 0
    if per_line == 0:
        raise fail("empty volumetric data", i)
    nlines = -(-n // per_line)
    block = " ".join(lines[i : i + nlines]).split()
    if len(block) < n:
        raise fail(
            f"volumetric data truncated: {len(block)} of {n} values",
            i + len(lines[i : i + nlines]) - 1,
        )
    try:
        values = np.array(block[:n], dtype=np.float64)
    except ValueError as exc:
        raise fail(f"non-numeric value in the data block ({exc})", i) from exc
    data = values.reshape(ng[2], ng[1], ng[0])  # x fastest → C order (z, y, x)
    return ChgcarData(lines[0].strip(), vecs, species, counts, data)
