"""Detector coverage and kinematics through the real MERLIN Bi2Fe4O9 detector table."""

import numpy as np
import pytest

from insgan_core.data import Axis, INSMap
from insgan_core.data.detector import DetectorData
from insgan_core.data.io import load_nxspe
from insgan_core.data.kinematics import q_limits
from insgan_core.data.reduction import powder_map
from insgan_core.errors import InsganInputError
from insgan_core.instrument import ArtefactConfig, InstrumentSettings, apply_artefacts, builtin_detectors, energy_fwhm_meV
from insgan_core.instrument.coverage import BUILTIN_COVERAGE, check_detector_table, sample_at_pixels

MERLIN62 = InstrumentSettings(instrument="MERLIN", ei_meV=62.0, chopper_package="G", chopper_frequency_hz=250)


def _map(q_edges, e_edges, fn):
    qc = 0.5 * (q_edges[1:] + q_edges[:-1])
    ec = 0.5 * (e_edges[1:] + e_edges[:-1])
    return INSMap(fn(qc[:, None], ec[None, :]) * np.ones((qc.size, ec.size)), None,
                  Axis(q_edges, "MomentumTransfer"), Axis(e_edges, "DeltaE"))


@pytest.fixture(scope="module")
def bi2fe4o9_table(bi2fe4o9_5k):
    return load_nxspe(bi2fe4o9_5k)


def test_nan_pattern_matches_real_reduced_data(bi2fe4o9_table):
    q_edges = np.arange(0.2, 8.0 + 1e-9, 0.05)
    e_edges = np.arange(-10.0, 55.0 + 1e-9, 0.5)
    real = powder_map(bi2fe4o9_table, q_edges=q_edges, e_edges=e_edges)
    clean = _map(q_edges, e_edges, lambda q, e: np.exp(-((e - 20) ** 2) / 8) + 0.1)
    sim = apply_artefacts(clean, settings=MERLIN62, detectors=bi2fe4o9_table, seed=3)
    agreement = np.mean(np.isnan(sim.signal) == np.isnan(real.signal))
    assert 0.1 < np.isnan(real.signal).mean() < 0.5  # the real map has a kinematic limit and gaps to match
    assert agreement >= 0.98
    # the built-in MERLIN coverage alone (no file) comes close to the real pattern as well (98.3 %)
    builtin = apply_artefacts(clean, settings=MERLIN62, seed=3)
    assert np.mean(np.isnan(builtin.signal) == np.isnan(real.signal)) >= 0.98


def test_builtin_mari_coverage_matches_real_pdcro2_pattern(experimental_dir):
    det = load_nxspe(experimental_dir / "pdcro2_Ei60_5K.nxspe")
    q_edges = np.arange(0.2, 9.0 + 1e-9, 0.05)
    e_edges = np.arange(-20.0, 55.0 + 1e-9, 0.5)
    real = powder_map(det, q_edges=q_edges, e_edges=e_edges)
    mari = InstrumentSettings(instrument="MARI", ei_meV=det.ei_meV, chopper_package="S", chopper_frequency_hz=250)
    clean = _map(q_edges, e_edges, lambda q, e: 1.0 + 0 * q * e)
    cfg = ArtefactConfig(steps=("coverage",))
    with_table = apply_artefacts(clean, settings=mari, config=cfg, detectors=det)
    builtin = apply_artefacts(clean, settings=mari, config=cfg)
    assert np.array_equal(np.isnan(with_table.signal), np.isnan(real.signal))
    assert np.mean(np.isnan(builtin.signal) == np.isnan(real.signal)) >= 0.98  # measured 98.8 %


def test_flat_mode_through_detector_path_has_resins_fwhm(bi2fe4o9_table):
    de = 0.05
    e_edges = np.arange(-5.0, 45.0 + 1e-9, de)
    q_edges = np.arange(0.5, 5.0 + 1e-9, 0.05)
    ec = 0.5 * (e_edges[1:] + e_edges[:-1])
    for e0 in (8.0, 20.0, 32.0):
        j = int(np.argmin(np.abs(ec - e0)))
        clean = _map(q_edges, e_edges, lambda q, e: np.where(np.abs(e - ec[j]) < de / 2, 1.0 / de, 0.0))
        cfg = ArtefactConfig(steps=("resolution", "coverage"))
        for detectors in (bi2fe4o9_table, None):
            out = apply_artefacts(clean, settings=MERLIN62, config=cfg, detectors=detectors)
            row = out.signal[40]  # |Q| = 2.5 Å⁻¹, inside the coverage at all these energies
            assert np.isfinite(row[np.abs(ec - e0) < 6]).all()
            y = np.nan_to_num(row)
            mu = np.sum(y * ec) / np.sum(y)
            var = np.sum(y * (ec - mu) ** 2) / np.sum(y) - de**2 / 12  # remove the stick's own bin width
            fwhm = np.sqrt(var) * 2 * np.sqrt(2 * np.log(2))
            np.testing.assert_allclose(fwhm, energy_fwhm_meV(MERLIN62, ec[j]), rtol=0.02)
            np.testing.assert_allclose(np.sum(y) * de, 1.0, rtol=0.01)  # spectral weight conserved


def test_kinematic_limit_of_builtin_coverage():
    e_edges = np.arange(-10.0, 60.0 + 1e-9, 1.0)
    q_edges = np.arange(0.0, 10.0 + 1e-9, 0.1)
    clean = _map(q_edges, e_edges, lambda q, e: 1.0 + 0 * q * e)
    out = apply_artefacts(clean, settings=MERLIN62, config=ArtefactConfig(steps=("coverage",)))
    ec = 0.5 * (e_edges[1:] + e_edges[:-1])
    qc = 0.5 * (q_edges[1:] + q_edges[:-1])
    lo, hi = q_limits(ei_meV=62.0, energy_transfer_meV=ec, two_theta_min_deg=2.9, two_theta_max_deg=135.6)
    # bins well inside the limits are measured, bins well outside are NaN
    inside = (qc[:, None] > lo[None, :] + 0.15) & (qc[:, None] < hi[None, :] - 0.15)
    outside = (qc[:, None] < lo[None, :] - 0.15) | (qc[:, None] > hi[None, :] + 0.15)
    assert np.isfinite(out.signal[inside]).mean() > 0.97  # built-in MERLIN gaps may empty a few bins
    assert np.isnan(out.signal[outside]).all()
    np.testing.assert_allclose(out.signal[np.isfinite(out.signal)], 1.0, rtol=1e-9)  # flat stays flat


def test_builtin_detectors_cover_published_ranges():
    for name, (banks, width, _) in BUILTIN_COVERAGE.items():
        det = builtin_detectors(name, ei_meV=20.0, e_edges=np.linspace(-5, 15, 11))
        lo = det.polar_deg - det.polar_width_deg / 2
        hi = det.polar_deg + det.polar_width_deg / 2
        np.testing.assert_allclose([lo.min(), hi.max()], [banks[0][0], banks[-1][1]], atol=1e-9)
        np.testing.assert_allclose(det.polar_width_deg, width, rtol=0.1)  # rings of about the nominal width
        covered = np.sum(det.polar_width_deg)
        np.testing.assert_allclose(covered, sum(b - a for a, b in banks), rtol=1e-9)  # gaps stay gaps
        assert det.signal.shape == (det.polar_deg.size, 10)
    with pytest.raises(InsganInputError, match="known instruments"):
        builtin_detectors("IN4", ei_meV=20.0, e_edges=[0, 1, 2])


def test_masked_pixels_stay_masked(bi2fe4o9_table):
    clean = _map(np.arange(0, 9, 0.1), np.arange(-15, 55, 0.5), lambda q, e: 1.0 + 0 * q * e)
    pix = sample_at_pixels(clean, bi2fe4o9_table)
    assert np.array_equal(pix.masked_detectors, bi2fe4o9_table.masked_detectors)
    assert pix.masked_detectors.sum() == 5


def test_detector_tables_without_angles_refused(bi2fe4o9_table):
    det = bi2fe4o9_table
    no_angles = DetectorData(signal=det.signal, error=det.error, energy_edges=det.energy_edges,
                             polar_deg=np.zeros(det.shape[0]), azimuthal_deg=det.azimuthal_deg,
                             polar_width_deg=det.polar_width_deg, azimuthal_width_deg=det.azimuthal_width_deg,
                             distance_m=det.distance_m, ei_meV=det.ei_meV)
    with pytest.raises(InsganInputError, match="no detector angles"):
        check_detector_table(no_angles)
    clean = _map(np.arange(0, 5, 0.1), np.arange(-5, 40, 1.0), lambda q, e: 1.0 + 0 * q * e)
    with pytest.raises(InsganInputError, match="no detector angles"):
        apply_artefacts(clean, settings=MERLIN62, detectors=no_angles)
    other_ei = InstrumentSettings(instrument="MERLIN", ei_meV=30.0, chopper_package="G", chopper_frequency_hz=250)
    with pytest.raises(InsganInputError, match="same incident energy"):
        apply_artefacts(clean, settings=other_ei, detectors=det)
