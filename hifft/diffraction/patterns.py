"""Wide-angle diffraction images of droplets on a flat MCP, with the detector's nuisances.

Route: droplet bodies → voxel density (:class:`hifft.volume.Scene`, antialiased,
``clip`` union) → 3D FFT and the Ewald-sphere reducer
(:func:`hifft.reduce.detector_image` with a wavelength and a
:class:`hifft.reduce.Detector`): each pixel reads |F|² trilinearly at
q = k(X/R, Y/R, D/R − 1). A central slice |F(q_x, q_y, 0)|² (Fourier slice
of the projected density) would be wrong here: at 2θ = 30° the sphere's
q_z = k(1 − cos 2θ) is a quarter of q_⊥ = k sin 2θ, which is what bends
streaks and makes patterns asymmetric.

Grid per image (:func:`grid_for`): spacing per axis so the Nyquist q is
``q_oversampling`` × the largest q component the detector needs (up to
``z_stretch`` × coarser along the beam, where q_z is small), and a box
``real_oversampling`` × the droplet's extent per axis: the reducer
interpolates |F|² linearly, so a fringe needs ~5–6 samples (at 3 the
first sphere minimum moved from qR = 4.49 to 4.85; at 5–8 it stays within
the 0.14 profile bin).
Intensities are Born-approximation |F|² (no absorption or refraction);
their absolute scale does not matter, images are normalised to a photon flux.

Detector (:func:`detector_counts`), in this order: expected photons = I ×
polarization × pixel solid angle, scaled so the pixels between the MCP hole
and 2θ_max receive ``flux`` photons; + straylight (exp(−(2θ − hole)/width),
relative to the mean signal per pixel); Poisson counting; × MCP gain;
+ uniform noise U(0, b); clipped at the saturation level and at the ADC's
largest value; the hole and the corners beyond 2θ_max read 0. Images are
float32 in detector units, not log-scaled.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np
from scipy.fft import next_fast_len

from ..grid import Grid
from ..reduce import Detector, detector_image
from ..units import HC_EV_ANGSTROM, wavelength_from_energy
from .config import DetectorConfig, GridConfig, NoiseConfig
from .droplets import Droplets


class PatternError(ValueError):
    """Bad input to the pattern generator (wrong size, non-finite values, bad geometry)."""


def wavelength_of(energy_ev: float) -> float:
    """Photon wavelength in Å for an energy in eV."""
    e = float(energy_ev)
    if not (math.isfinite(e) and e > 0):
        raise PatternError(f"energy: must be a positive number of eV, got {energy_ev!r}")
    return wavelength_from_energy(e)


def spacings(wavelength: float, two_theta_max: float, q_oversampling: float,
             z_stretch: float = 2.0) -> tuple[float, float]:
    """Voxel sizes (across, along the beam) in Å putting Nyquist at ``q_oversampling`` × the q reached.

    q_⊥ ≤ k sin 2θ_max, |q_z| ≤ k (1 − cos 2θ_max) on the Ewald sphere. Along
    the beam the voxels are coarser, but at most ``z_stretch`` × the others:
    the alias of a pixel's q along q_z sits at (q_⊥, 2π/d_z − q_z), about as far
    from the origin as q itself when d_z follows from q_z alone, so it would
    not be damped by the droplet's q⁻⁴ fall-off (a 1244 Å z-voxel put +40 %
    into a sphere's 20–30° band; 2× the transverse spacing stays within 5 %).
    """
    k = 2 * math.pi / wavelength
    tt = math.radians(two_theta_max)
    q_perp, q_z = k * math.sin(tt), k * (1 - math.cos(tt))
    d_xy = math.pi / (q_oversampling * q_perp)
    return d_xy, min(math.pi / (q_oversampling * q_z), z_stretch * d_xy)


def grid_for(extent: np.ndarray, wavelength: float, cfg: GridConfig, two_theta_max: float) -> Grid:
    """The voxel grid of one image: spacings from :func:`spacings`, sizes from the extent (x, y, z; Å)."""
    ext = np.asarray(extent, dtype=np.float64)
    if ext.shape != (3,) or not np.isfinite(ext).all() or (ext < 0).any():
        raise PatternError(f"extent: expected 3 finite non-negative widths (x, y, z) in Å, got {extent!r}")
    d_xy, d_z = spacings(wavelength, two_theta_max, cfg.q_oversampling, cfg.z_stretch)
    d = (d_z, d_xy, d_xy)
    sizes = []
    for e, dd in zip(ext[::-1], d, strict=True):  # (z, y, x)
        need = max(cfg.min_size, math.ceil(cfg.real_oversampling * e / dd))
        n = min(2 * next_fast_len(-(-need // 2), real=True), cfg.max_size - cfg.max_size % 2)  # even, fast
        if n * dd < cfg.min_oversampling * e * (1 - 1e-9):
            raise PatternError(
                f"grid.max_size: {n} voxels of {dd:.4g} Å hold {n * dd / max(e, 1e-300):.3g}× a droplet "
                f"{e:.4g} Å wide, below grid.min_oversampling ({cfg.min_oversampling})")
        sizes.append(n)
    return Grid(tuple(sizes), d)


def make_detector(cfg: DetectorConfig) -> Detector:
    """The flat square detector whose half-width subtends ``two_theta_max``."""
    return Detector.from_angle(cfg.shape, cfg.two_theta_max, distance=cfg.distance)


def two_theta(det: Detector) -> np.ndarray:
    """Scattering angle 2θ per pixel in degrees."""
    y, x = det.positions()
    return np.degrees(np.arctan2(np.hypot(x, y), det.distance))


def geometry_factor(det: Detector, cfg: DetectorConfig) -> np.ndarray:
    """Polarization × relative pixel solid angle per pixel (1 at the centre)."""
    y, x = det.positions()
    r = np.sqrt(x * x + y * y + det.distance**2)
    f = np.ones(det.shape)
    if cfg.solid_angle:
        f = f * (det.distance / r) ** 3
    if cfg.polarization != "none":
        u = (x if cfg.polarization == "x" else y) / r  # sin 2θ · cos φ along the polarization
        f = f * (1 - u * u)
    return f


def ewald_intensity(rho: np.ndarray, grid: Grid, wavelength: float, det: Detector,
                    two_theta_max: float) -> np.ndarray:
    """I(q) in 1/cm per pixel on the Ewald sphere (float64); 0 beyond ``two_theta_max``.

    ``rho`` is the contrast per voxel (nz, ny, nx) on ``grid``.
    """
    arr = np.asarray(rho)
    if arr.shape != grid.shape:
        raise PatternError(f"rho: shape {arr.shape} does not match the grid {grid.shape}")
    if arr.dtype.kind not in "fiu":
        raise PatternError(f"rho: expected a real density, got dtype {arr.dtype}")
    if not np.isfinite(arr).all():
        raise PatternError("rho: non-finite voxel values")
    img = detector_image(arr, wavelength=wavelength, detector=det, spacing=grid.spacing, progress=False)
    out = np.asarray(img.values, dtype=np.float64)
    outside = two_theta(det) > two_theta_max
    if np.isnan(out[~outside]).any():
        raise PatternError("grid: pixels inside 2θ_max fall outside the spectrum; raise grid.q_oversampling")
    out[outside] = 0.0
    return out


@dataclass(frozen=True)
class Nuisance:
    """Per-image detector draws (see :class:`~hifft.diffraction.config.NoiseConfig`)."""

    flux: float
    gain: float
    hole_radius: float
    straylight: float
    straylight_width: float
    uniform: float
    saturation: float

    @classmethod
    def draw(cls, cfg: NoiseConfig, rng: np.random.Generator) -> Nuisance:
        return cls(flux=cfg.flux.sample_log(rng), gain=cfg.gain.sample_log(rng),
                   hole_radius=cfg.hole_radius.sample(rng), straylight=cfg.straylight.sample(rng),
                   straylight_width=cfg.straylight_width.sample(rng), uniform=cfg.uniform.sample(rng),
                   saturation=cfg.saturation.sample(rng))

    def to_dict(self) -> dict[str, float]:
        return asdict(self)


def active_pixels(det: Detector, hole_radius: float, two_theta_max: float) -> np.ndarray:
    """Pixels of the MCP: outside the central hole and within ``two_theta_max`` (bool)."""
    tt = two_theta(det)
    return (tt >= hole_radius) & (tt <= two_theta_max)


def expected_signal(intensity: np.ndarray, det: Detector, cfg: DetectorConfig, flux: float,
                    active: np.ndarray) -> np.ndarray:
    """Expected photons per pixel: I × polarization × solid angle, ``flux`` photons over the active pixels."""
    inten = np.asarray(intensity, dtype=np.float64)
    if inten.shape != det.shape:
        raise PatternError(f"intensity: shape {inten.shape} does not match the detector {det.shape}")
    if not np.isfinite(inten).all() or (inten < 0).any():
        raise PatternError("intensity: values must be finite and >= 0")
    s = inten * geometry_factor(det, cfg) * active
    total = s.sum()
    return s * (flux / total) if total > 0 else s


def detector_counts(signal: np.ndarray, det: Detector, cfg: DetectorConfig, nz: Nuisance, adc_max: float,
                    rng: np.random.Generator) -> tuple[np.ndarray, dict[str, float]]:
    """A detector image (float32) from expected photons ``signal``, and the levels used.

    ``signal`` is 0 for an empty frame. Returns the image and
    ``{"saturation_level": ...}`` (the clip level in detector units).
    """
    sig = np.asarray(signal, dtype=np.float64)
    if sig.shape != det.shape:
        raise PatternError(f"signal: shape {sig.shape} does not match the detector {det.shape}")
    if not np.isfinite(sig).all() or (sig < 0).any():
        raise PatternError("signal: expected photons must be finite and >= 0")
    active = active_pixels(det, nz.hole_radius, cfg.two_theta_max)
    n_act = max(int(active.sum()), 1)
    ref = nz.flux / n_act  # mean signal photons per active pixel
    tt = two_theta(det)
    stray = nz.straylight * ref * np.exp(-(tt - nz.hole_radius) / nz.straylight_width) * active
    mean = sig + stray
    counts = rng.poisson(mean).astype(np.float64)
    img = nz.gain * counts + rng.uniform(0.0, nz.uniform * nz.gain * ref, size=det.shape)
    level = min(nz.saturation * nz.gain * float(mean.max()), adc_max)
    if level > 0:
        np.minimum(img, level, out=img)
    img[~active] = 0.0
    return img.astype(np.float32), {"saturation_level": level}


def render(drop: Droplets, wavelength: float, det: Detector, det_cfg: DetectorConfig,
           grid_cfg: GridConfig) -> tuple[np.ndarray, Grid | None, np.ndarray | None]:
    """The noise-free intensity (1/cm per pixel; zeros for an empty frame), the grid and the density."""
    if drop.empty:
        return np.zeros(det.shape), None, None
    grid = grid_for(drop.extent(), wavelength, grid_cfg, det_cfg.two_theta_max)
    rho = drop.density(grid)
    return ewald_intensity(rho, grid, wavelength, det, det_cfg.two_theta_max), grid, rho


__all__ = ["HC_EV_ANGSTROM", "Nuisance", "PatternError", "active_pixels", "detector_counts", "ewald_intensity",
           "expected_signal", "geometry_factor", "grid_for", "make_detector", "render", "spacings",
           "two_theta", "wavelength_of"]
