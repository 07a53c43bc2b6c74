"""Small geometries and detectors shared by the diffraction tests."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from hifft.diffraction.config import DetectorConfig, GridConfig
from hifft.diffraction.droplets import Body, Droplets
from hifft.diffraction.patterns import make_detector
from hifft.volume import shapes

#: 500 Å (24.8 eV), inside the seed's 19–35 eV
WAVELENGTH = 500.0


def one_body(shape: shapes.Shape, rot: np.ndarray | None = None, family: str = "spheroid") -> Droplets:
    r = np.eye(3) if rot is None else rot
    return Droplets(family, (Body(shape, np.zeros(3), r),), rotation=r)


def turn(axis: str, degrees: float) -> np.ndarray:
    return Rotation.from_euler(axis, degrees, degrees=True).as_matrix()


@pytest.fixture(scope="module")
def det_cfg() -> DetectorConfig:
    return DetectorConfig(shape=96, polarization="none", solid_angle=False)


@pytest.fixture(scope="module")
def det(det_cfg):
    return make_detector(det_cfg)


@pytest.fixture(scope="module")
def grid_cfg() -> GridConfig:
    return GridConfig(real_oversampling=3.0)
