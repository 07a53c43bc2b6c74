"""hifft: X-ray and neutron scattering from voxelized densities larger than memory.

Public names are imported lazily so that ``import hifft`` stays fast and
optional stacks (torch, cupy) load only when used.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

from ._version import __version__

_LAZY: dict[str, str] = {
    "Grid": "hifft.grid",
    "units": "hifft.units",
    "Scene": "hifft.volume",
    "shapes": "hifft.volume",
    "Volume": "hifft.volume",
    "build_volume": "hifft.volume",
    "open_volume": "hifft.volume",
    "from_array": "hifft.volume",
    "rfftn": "hifft.fft",
    "fftn": "hifft.fft",
    "irfftn": "hifft.fft",
    "ifftn": "hifft.fft",
    "plan_fft": "hifft.fft",
    "saxs": "hifft.reduce",
    "detector_image": "hifft.reduce",
    "azimuthal": "hifft.reduce",
    "compare_sasmodels": "hifft.compare",
    "compare_scene": "hifft.compare",
    "to_nxcansas": "hifft.io",
    "to_cansas_xml": "hifft.io",
    "get_client": "hifft.cluster",
}

__all__ = ["__version__", *_LAZY]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'hifft' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
