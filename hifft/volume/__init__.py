"""Volumes: scenes of particles and imported densities → chunked Zarr density volumes.

Public names (re-exported as ``hifft.<name>``): :class:`Scene`, :mod:`shapes`,
:class:`Volume`, :func:`build_volume`, :func:`open_volume`, :func:`from_array`.
Importers of files (.npy, HDF5, TIFF, CHGCAR), periodic tiling and Fourier
up-sampling are in :mod:`hifft.volume.importers`; the scene YAML models in
:mod:`hifft.volume.config`.
"""

from __future__ import annotations

from . import shapes
from .build import build_volume
from .scene import Scene
from .volume import Volume, from_array, open_volume

__all__ = ["Scene", "shapes", "Volume", "build_volume", "open_volume", "from_array"]
