"""Instrument settings, energy resolution (against resins itself) and |Q| resolution."""

import numpy as np
import pytest
from resins import Instrument

from insgan_core.errors import InsganInputError
from insgan_core.instrument import InstrumentSettings, energy_fwhm_meV, instrument_options, known_instruments, q_fwhm_invA
from insgan_core.instrument.q_resolution import default_detector_width_deg, two_theta_from_q
from insgan_core.data.kinematics import q_from_angle

SIGMA2FWHM = 2 * np.sqrt(2 * np.log(2))


@pytest.mark.parametrize(
    "inst, package, ei, freq, resins_kw",
    [
        ("MERLIN", "G", 62.0, 250, dict(chopper_frequency=250)),
        ("MAPS", "A", 100.0, 400, dict(chopper_frequency=400)),
        ("MARI", "S", 60.0, 250, dict(chopper_frequency=250)),
        ("LET", "High Flux", 10.0, 240, dict(resolution_frequency=240, pulse_remover_frequency=120)),
    ],
)
def test_energy_fwhm_equals_resins(inst, package, ei, freq, resins_kw):
    settings = InstrumentSettings(instrument=inst, ei_meV=ei, chopper_package=package, chopper_frequency_hz=freq)
    e = np.linspace(-0.5 * ei, 0.95 * ei, 37)
    ours = energy_fwhm_meV(settings, e)
    res = Instrument.from_default(inst).get_resolution_function("PyChop_fit", chopper_package=package, e_init=ei, **resins_kw)
    ref = res.get_characteristics(e[:, None])["sigma"] * SIGMA2FWHM
    np.testing.assert_allclose(ours, ref, rtol=1e-6)


def test_energy_fwhm_matches_published_pychop_values():
    # values quoted in docs/DESIGN.md §5 (resins, measured independently)
    maps = InstrumentSettings(instrument="MAPS", ei_meV=100, chopper_package="A", chopper_frequency_hz=400)
    merlin = InstrumentSettings(instrument="MERLIN", ei_meV=100, chopper_package="G", chopper_frequency_hz=400)
    np.testing.assert_allclose(energy_fwhm_meV(maps, [0.0, 50.0]), [2.833, 2.311], atol=2e-3)
    np.testing.assert_allclose(energy_fwhm_meV(merlin, [0.0, 50.0]), [5.438, 3.219], atol=2e-3)


def test_energy_transfer_at_or_above_ei_refused():
    s = InstrumentSettings()
    with pytest.raises(InsganInputError, match="Ei"):
        energy_fwhm_meV(s, [10.0, 62.0])
    with pytest.raises(InsganInputError, match="NaN"):
        energy_fwhm_meV(s, [np.nan])


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(instrument="IN5"), "known instruments are MAPS, MERLIN, MARI, LET"),
        (dict(chopper_package="Z"), "choose one of G, S"),
        (dict(ei_meV=500.0), "outside the range"),
        (dict(ei_meV=-5.0), "outside the range"),
        (dict(chopper_frequency_hz=275.0), "cannot run its chopper at 275 Hz"),
        (dict(instrument="MAPS", chopper_package="A", ei_meV=10.0, chopper_frequency_hz=600.0), "transmits no neutrons"),
    ],
)
def test_bad_settings_raise_clear_errors(kwargs, match):
    with pytest.raises(InsganInputError, match=match):
        InstrumentSettings(**kwargs)


def test_settings_registry_and_round_trip():
    assert known_instruments() == ["MAPS", "MERLIN", "MARI", "LET"]
    opts = instrument_options("merlin")
    assert opts["chopper_packages"] == ["G", "S"] and opts["packages"]["G"]["ei_range_meV"] == (0.0, 181.0)
    s = InstrumentSettings(instrument="mari", ei_meV=60, chopper_package="s", chopper_frequency_hz=250)
    assert s.instrument == "MARI" and s.chopper_package == "S"
    assert InstrumentSettings.from_dict(s.to_dict()) == s
    assert InstrumentSettings(instrument="MAPS", ei_meV=100, chopper_package=None, chopper_frequency_hz=400).chopper_package == "A"
    with pytest.raises(InsganInputError, match="unknown field"):
        InstrumentSettings.from_dict({"instrument": "MERLIN", "frequency": 250})


def test_two_theta_inverts_q_from_angle():
    tt = np.array([3.0, 30.0, 90.0, 135.0])
    e = np.array([-5.0, 0.0, 20.0, 50.0])
    q = q_from_angle(ei_meV=62.0, energy_transfer_meV=e, two_theta_deg=tt)
    np.testing.assert_allclose(two_theta_from_q(ei_meV=62.0, q_invA=q, energy_transfer_meV=e), tt, rtol=1e-9)
    assert np.isnan(two_theta_from_q(ei_meV=62.0, q_invA=0.01, energy_transfer_meV=40.0))  # below |ki - kf|


def test_q_fwhm_matches_numerical_derivative():
    s = InstrumentSettings()
    w = default_detector_width_deg(s)
    q, e = 2.0, 10.0
    tt = two_theta_from_q(ei_meV=62.0, q_invA=q, energy_transfer_meV=e)
    h = 1e-4
    dq_dtt = (q_from_angle(ei_meV=62.0, energy_transfer_meV=e, two_theta_deg=tt + h)
              - q_from_angle(ei_meV=62.0, energy_transfer_meV=e, two_theta_deg=tt - h)) / (2 * h)  # per degree
    sigma_tt = np.sqrt(w**2 / 12 + (0.3 / SIGMA2FWHM) ** 2)
    expected = SIGMA2FWHM * abs(dq_dtt) * sigma_tt
    got = q_fwhm_invA(s, q_invA=q, energy_transfer_meV=e, divergence_deg=0.3)
    np.testing.assert_allclose(got, expected, rtol=1e-6)
    assert np.isnan(q_fwhm_invA(s, q_invA=0.01, energy_transfer_meV=40.0))
    with pytest.raises(InsganInputError):
        q_fwhm_invA(s, q_invA=q, energy_transfer_meV=e, divergence_deg=-1.0)
