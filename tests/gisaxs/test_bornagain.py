"""Cross-checks against BornAgain 25 (test extra): single islands on Si (Born and DWBA), a paracrystal.

Both sides compute photons per pixel for a beam of intensity 1: hifft's
``expected_counts`` (flux · I · ΔΩ / sin α_i) and BornAgain's ScatteringSimulation,
so absolute scales are compared, with no fitted factor. Average-material slicing is
off in BornAgain (``setUseAvgMaterials(False)``): hifft's ambient is vacuum.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from hifft.gisaxs import (
    VACUUM,
    Beam,
    Cylinder,
    Detector,
    Geometry,
    Hemisphere,
    Islands,
    Material,
    Sample,
    TruncatedSphere,
    dwba_terms,
    expected_counts,
    islands_image,
    particle_cross_section,
)

ba = pytest.importorskip("bornagain", reason="BornAgain (test extra) is not installed")

DEG = math.pi / 180
SI = Material("Si", 3.168e-6, 3.108e-8)  # reference/bornagain25.md, λ = 1 Å
AU = Material("Au", 1.861e-5, 2.5e-6)
N = 60
WINDOW = {"alpha": (0.0, 2.0), "two_theta": (-2.0, 2.0)}
DENSITY_NM2 = 0.01


def _ba_materials():
    return (ba.RefractiveMaterial("Si", (0.5, 0.5, 0.5), SI.delta, SI.beta),
            ba.RefractiveMaterial("Au", (1.0, 0.8, 0.0), AU.delta, AU.beta))


def _ba_image(struct_of, dwba: bool) -> np.ndarray:
    si, au = _ba_materials()
    top = ba.Layer(ba.Vacuum())
    top.deposit2D(struct_of(au))
    sample = ba.Sample()
    sample.addLayer(top)
    sample.addLayer(ba.Layer(si if dwba else ba.Vacuum()))
    a0, a1 = WINDOW["alpha"]
    t0, t1 = WINDOW["two_theta"]
    det = ba.SphericalDetector(N, t0 * DEG, t1 * DEG, N, a0 * DEG, a1 * DEG)
    sim = ba.ScatteringSimulation(ba.Beam(1.0, 0.1, 0.2 * DEG), sample, det)
    sim.options().setUseAvgMaterials(False)
    sim.options().setNumberOfThreads(1)
    return np.array(sim.simulate().intensities())


def _geometry() -> Geometry:
    return Geometry(Beam(1.0, 0.2 * DEG), Detector.angular(WINDOW["alpha"], WINDOW["two_theta"], (N, N)))


def _compare(ours: np.ndarray, theirs: np.ndarray) -> float:
    m = theirs > 1e-4 * theirs.max()
    return float(np.median(np.abs(ours[m] - theirs[m]) / theirs[m]))


CASES = [
    ("hemisphere", lambda: Hemisphere(50.0), lambda: ba.SpheroidalSegment(5.0, 5.0, 0.0, 5.0)),
    ("cylinder", lambda: Cylinder(radius=50.0, length=50.0), lambda: ba.Cylinder(5.0, 5.0)),
    ("truncated_sphere", lambda: TruncatedSphere(50.0, 70.0), lambda: ba.SphericalSegment(5.0, 0.0, 3.0)),
]


@pytest.mark.parametrize("approximation", ["born", "dwba"])
@pytest.mark.parametrize(("name", "ours", "theirs"), CASES, ids=[c[0] for c in CASES])
def test_single_island_on_si_matches_bornagain(name, ours, theirs, approximation):
    dwba = approximation == "dwba"
    ref = _ba_image(lambda au: ba.Dilute2D(DENSITY_NM2, ba.Particle(au, theirs())), dwba)
    g = _geometry()
    sample = Sample(SI if dwba else VACUUM)
    xs = particle_cross_section(ours().amplitude, dwba_terms(g, sample, approximation), AU.sld(1.0))
    img = expected_counts(xs * DENSITY_NM2 / 100.0, g)  # 0.01 per nm² = 1e-4 per Å²
    assert _compare(img, ref) <= 0.02
    # the Yoneda maximum (DWBA) / the specular-side maximum (Born) at the same α_f pixel
    assert np.argmax(img.max(axis=1)) == np.argmax(ref.max(axis=1))
    col = N // 2
    assert np.argmax(img[:, col]) == np.argmax(ref[:, col])
    if dwba:
        assert np.argmax(ref[:, col]) > 0  # a real Yoneda peak above the horizon, not the edge


def test_radial_paracrystal_matches_bornagain():
    def struct(au):
        s = ba.RadialParacrystal(ba.Particle(au, ba.Cylinder(3.0, 3.0)), 10.0, 0.0)
        s.setProbabilityDistribution(ba.Profile1DGauss(1.0))
        return s

    ref = _ba_image(struct, True)
    g = _geometry()
    isl = Islands(radius=30.0, distance=100.0, omega_d=0.1, shape="cylinder", aspect=1.0)
    img = expected_counts(islands_image(isl, g, Sample(SI), AU.sld(1.0)), g)
    assert _compare(img, ref) <= 0.02
    # peak positions along 2θ_f at the Yoneda row: same pixels
    row = int(np.argmax(ref.max(axis=1)))
    peaks = [int(np.argmax(x[row, : N // 2])) for x in (img, ref)]
    assert peaks[0] == peaks[1]


def _lattice_ba(decay_nm: float, n_phi: int, window: tuple[float, float]) -> np.ndarray:
    si, au = _ba_materials()
    st = ba.Crystal2D(ba.Particle(au, ba.Cylinder(2.0, 2.0)), ba.SquareLattice2D(10.0, 0.0))
    st.setDecayFunction(ba.Profile2DGauss(decay_nm, decay_nm, 0.0))
    top = ba.Layer(ba.Vacuum())
    top.deposit2D(st)
    sample = ba.Sample()
    sample.addLayer(top)
    sample.addLayer(ba.Layer(si))
    det = ba.SphericalDetector(n_phi, window[0] * DEG, window[1] * DEG, 10, 0.1 * DEG, 0.5 * DEG)
    sim = ba.ScatteringSimulation(ba.Beam(1.0, 0.1, 0.2 * DEG), sample, det)
    sim.options().setUseAvgMaterials(False)
    sim.options().setNumberOfThreads(1)
    return np.array(sim.simulate().intensities())


def _peaks(cut: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    from scipy.signal import find_peaks, peak_widths

    p, _ = find_peaks(cut, prominence=0.05 * cut.max())
    return p, peak_widths(cut, p)[0]


def test_2d_lattice_interference_matches_bornagain_crystal2d():
    from hifft.gisaxs import ensemble_intensity, lattice_2d

    n = 200
    ref = _lattice_ba(30.0, n, (-3.0, 3.0))
    g = Geometry(Beam(1.0, 0.2 * DEG), Detector.angular((0.1, 0.5), (-3, 3), (10, n)))
    t = dwba_terms(g, Sample(SI))
    s = lattice_2d(100.0, 100.0, math.pi / 2, domain=300.0)
    img = expected_counts(ensemble_intensity(Cylinder(radius=20.0, length=20.0), t, AU.sld(1.0), 1e-4,
                                             interference=s), g)
    pa, wa = _peaks(ref[5])
    pb, wb = _peaks(img[5])
    assert len(pa) >= 3 and len(pa) == len(pb)
    assert np.max(np.abs(pa - pb)) <= 1  # peak positions within one pixel
    np.testing.assert_allclose(wb, wa, rtol=0.10)  # peak widths within 10 %
    np.testing.assert_allclose(img[5][pb], ref[5][pa], rtol=0.05)  # and the heights, on absolute scale


def test_explicit_finite_lattice_matches_bornagain_crystal2d_on_a_cut():
    from hifft.gisaxs import coherent_intensity, place

    # 10 × 10 islands placed explicitly (coherent sum) against BornAgain's infinite lattice with a
    # Gaussian decay of the same peak width: FWHM 0.886·2π/L ↔ 2.355/ω, i.e. ω = 0.4231 L
    n, cells, a = 400, 10, 100.0
    ref = _lattice_ba(0.4231 * cells * a / 10.0, n, (-1.5, 1.5))
    g = Geometry(Beam(1.0, 0.2 * DEG), Detector.angular((0.1, 0.5), (-1.5, 1.5), (10, n)))
    t = dwba_terms(g, Sample(SI))
    pos = place("square", cells * a, np.random.default_rng(0), distance=a)
    img = expected_counts(coherent_intensity([Cylinder(radius=20.0, length=20.0)] * len(pos), pos, t,
                                             AU.sld(1.0), (cells * a) ** 2), g)
    pa, wa = _peaks(ref[5])
    pb, wb = _peaks(img[5])
    assert len(pa) >= 3 and len(pa) == len(pb)
    assert np.max(np.abs(pa - pb)) <= 1
    np.testing.assert_allclose(wb, wa, rtol=0.10)
