"""Monte-Carlo resolution convolution against resins' widths and the analytic path."""

import numpy as np
import pytest

from insgan_core.data import Axis, INSMap
from insgan_core.errors import InsganInputError
from insgan_core.instrument import ArtefactConfig, InstrumentSettings, apply_artefacts, energy_fwhm_meV, q_fwhm_invA
from insgan_core.instrument.montecarlo import mc_resolution_map, timing_model
from insgan_core.instrument.pipeline import ResolutionConfig

FWHM = 2 * np.sqrt(2 * np.log(2))


def _stick_in_energy(e0, de, q_edges, e_edges):
    ec = 0.5 * (e_edges[1:] + e_edges[:-1])
    j = int(np.argmin(np.abs(ec - e0)))
    sig = np.zeros((q_edges.size - 1, ec.size))
    sig[:, j] = 1.0 / de
    return INSMap(sig, None, Axis(q_edges, "MomentumTransfer"), Axis(e_edges, "DeltaE")), ec, ec[j]


@pytest.mark.parametrize(
    "settings, e0",
    [
        (InstrumentSettings(instrument="MERLIN", ei_meV=62.0, chopper_package="G", chopper_frequency_hz=250), 20.0),
        (InstrumentSettings(instrument="MERLIN", ei_meV=62.0, chopper_package="G", chopper_frequency_hz=250), 40.0),
        (InstrumentSettings(instrument="MAPS", ei_meV=100.0, chopper_package="A", chopper_frequency_hz=400), 50.0),
        (InstrumentSettings(instrument="LET", ei_meV=10.0, chopper_package=None, chopper_frequency_hz=240), 3.0),
    ],
)
def test_mc_energy_width_follows_resins(settings, e0):
    fwhm = energy_fwhm_meV(settings, e0)
    de = fwhm / 25
    e_edges = np.arange(e0 - 3 * fwhm, e0 + 3 * fwhm, de)
    ki = np.sqrt(settings.ei_meV / 2.0721)
    q_edges = np.linspace(ki, ki * 1.2, 5)  # reachable at every energy here
    clean, ec, e_stick = _stick_in_energy(e0, de, q_edges, e_edges)
    out = mc_resolution_map(clean, settings, n_samples=500, seed=2)
    y = out.signal.mean(axis=0)
    mu = np.sum(y * ec) / np.sum(y)
    sd = np.sqrt(np.sum(y * (ec - mu) ** 2) / np.sum(y))
    np.testing.assert_allclose(sd * FWHM, energy_fwhm_meV(settings, e_stick), rtol=0.06)
    assert abs(mu - e_stick) < 0.1 * fwhm
    np.testing.assert_allclose(np.sum(y) * de, 1.0, rtol=0.02)  # weight conserved (tails inside ±3 FWHM)


def test_mc_q_width_close_to_analytic_and_reproducible():
    s = InstrumentSettings()
    dq = 0.004
    q_edges = np.arange(1.6, 2.4, dq)
    e_edges = np.array([-0.5, 0.5, 9.5, 10.5])
    qc = 0.5 * (q_edges[1:] + q_edges[:-1])
    sig = np.zeros((qc.size, 3))
    sig[np.argmin(np.abs(qc - 2.0)), :] = 1.0 / dq  # a line at |Q| = 2 Å⁻¹ at every energy
    clean = INSMap(sig, None, Axis(q_edges, "MomentumTransfer"), Axis(e_edges, "DeltaE"))
    res = ArtefactConfig(steps=("resolution",)).resolution
    out = mc_resolution_map(clean, s, n_samples=400, seed=5)
    for j, e in ((0, 0.0), (2, 10.0)):
        y = out.signal[:, j]
        mu = np.sum(y * qc) / np.sum(y)
        sd = np.sqrt(np.sum(y * (qc - mu) ** 2) / np.sum(y))
        # the MC adds the energy-resolution part of the |Q| width that the analytic model leaves out
        analytic = q_fwhm_invA(s, q_invA=2.0, energy_transfer_meV=e)
        assert 0.9 * analytic < sd * FWHM < 2.0 * analytic
    again = mc_resolution_map(clean, s, n_samples=400, seed=5)
    np.testing.assert_array_equal(again.signal, out.signal)
    assert res.mc_samples == 64


def test_mc_and_analytic_paths_agree_on_a_smooth_map():
    s = InstrumentSettings()
    q_edges = np.arange(1.0, 4.0, 0.05)
    e_edges = np.arange(-5.0, 40.0, 0.25)
    qc = 0.5 * (q_edges[1:] + q_edges[:-1])
    ec = 0.5 * (e_edges[1:] + e_edges[:-1])
    dispersion = 10 + 8 * np.sin(2 * qc)
    sig = np.exp(-((ec[None, :] - dispersion[:, None]) ** 2) / (2 * 0.8**2))
    clean = INSMap(sig, None, Axis(q_edges, "MomentumTransfer"), Axis(e_edges, "DeltaE"))
    cfg = ArtefactConfig(steps=("resolution",), resolution=ResolutionConfig(mc_samples=256))
    fast = apply_artefacts(clean, settings=s, config=cfg, method="analytic")
    slow = apply_artefacts(clean, settings=s, config=cfg, method="montecarlo", seed=1)
    interior = (qc[:, None] > 1.3) & (qc[:, None] < 3.7) & (ec[None, :] > 0) & (ec[None, :] < 35)
    diff = np.abs(fast.signal - slow.signal)[interior].mean() / np.abs(fast.signal[interior]).mean()
    # measured: 8.5 % at 256 histories, 7 % at 1024 (the |Q|-E correlation the analytic path omits)
    assert diff < 0.10
    ratio = np.sum(fast.signal[interior]) / np.sum(slow.signal[interior])
    assert abs(ratio - 1) < 0.01  # same integrated intensity
    assert slow.metadata.provenance["artefacts"]["method"] == "montecarlo"


def test_timing_model_from_resins_and_bad_input():
    tm = timing_model(InstrumentSettings())
    assert tm.chopper_triangular and tm.x2_m == 2.5 and tm.moderator_sigma_s > 0 and tm.chopper_sigma_s > 0
    let = timing_model(InstrumentSettings(instrument="LET", ei_meV=10, chopper_package=None, chopper_frequency_hz=240))
    assert not let.chopper_triangular
    clean = INSMap(np.ones((3, 3)), None, Axis([0, 1, 2, 3], "rlu_path"), Axis([0, 1, 2, 3], "DeltaE"))
    with pytest.raises(InsganInputError, match="MomentumTransfer"):
        mc_resolution_map(clean, InstrumentSettings())
