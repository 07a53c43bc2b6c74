"""Figures of an inpainted pattern: central slices in log scale, gap before (zeros) and after."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from ..atomic import atomic_path


def central_slices(a: np.ndarray) -> list[tuple[str, np.ndarray]]:
    """(label, 2D array): the frame itself for 2D; the three central planes of a 3D array."""
    if a.ndim == 2:
        return [("frame", a)]
    c = [n // 2 for n in a.shape]
    return [(f"frame {c[0]} (axis 0)", a[c[0]]), (f"y = {c[1]} (axis 1)", a[:, c[1]]),
            (f"x = {c[2]} (axis 2)", a[:, :, c[2]])]


def plot_inpaint(data: Any, result: Any, mask: Any, path: str | os.PathLike[str], title: str = "") -> Path:
    """PNG at ``path``: rows "gap (before)" (gap voxels shown as 0) and "inpainted (after)", columns
    the central slices, colour log10(1 + counts) on one scale for all panels."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    m = np.asarray(mask, dtype=bool)
    before = np.where(m, 0.0, np.asarray(data, dtype=np.float64))
    after = np.asarray(result, dtype=np.float64)
    rows = [("gap (before)", central_slices(before)), ("inpainted (after)", central_slices(after))]
    vmax = float(np.log10(1 + max(after.max(), before.max(), 1.0)))
    ncol = len(rows[0][1])
    fig, axes = plt.subplots(2, ncol, figsize=(3.6 * ncol, 7.0), squeeze=False, constrained_layout=True)
    im = None
    for r, (label, panels) in enumerate(rows):
        for c, (name, img) in enumerate(panels):
            ax = axes[r, c]
            im = ax.imshow(np.log10(1 + np.maximum(img, 0)), origin="lower", cmap="magma", vmin=0, vmax=vmax)
            ax.set_title(f"{label}: {name}", fontsize=9)
            ax.set_xticks([])
            ax.set_yticks([])
    if im is not None:
        fig.colorbar(im, ax=axes, shrink=0.8, label="log10(1 + counts)")
    if title:
        fig.suptitle(title, fontsize=10)
    p = Path(path)
    with atomic_path(p) as tmp:
        fig.savefig(tmp, dpi=110, format="png")
    plt.close(fig)
    return p


__all__ = ["central_slices", "plot_inpaint"]
