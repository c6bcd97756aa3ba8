"""Direct-geometry kinematics against closed forms and the vector law of cosines."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from insgan_core.data.kinematics import E_TO_K2, k_from_energy, q_from_angle, q_limits
from insgan_core.errors import InsganInputError


def test_energy_wavevector_constant():
    # ħ²/(2 m_n) in meV Å² from CODATA: ħ = 1.054571817e-34 J s, m_n = 1.67492750e-27 kg, 1 meV = 1.602176634e-22 J
    hbar2_over_2m = (1.054571817e-34) ** 2 / (2 * 1.67492750e-27) / 1.602176634e-22 * 1e20
    assert E_TO_K2 == pytest.approx(hbar2_over_2m, rel=2e-4)
    assert k_from_energy(E_TO_K2) == pytest.approx(1.0)
    assert np.isnan(k_from_energy(-1.0))


def test_forward_and_back_scattering_limits():
    ei, e = 62.0, 20.0
    ki, kf = k_from_energy(ei), k_from_energy(ei - e)
    assert q_from_angle(ei_meV=ei, energy_transfer_meV=e, two_theta_deg=0.0) == pytest.approx(ki - kf, rel=1e-12)
    assert q_from_angle(ei_meV=ei, energy_transfer_meV=e, two_theta_deg=180.0) == pytest.approx(ki + kf, rel=1e-12)


def test_elastic_q_is_bragg_law():
    ei, tt = 60.0, 37.0
    k = k_from_energy(ei)
    q = q_from_angle(ei_meV=ei, energy_transfer_meV=0.0, two_theta_deg=tt)
    assert q == pytest.approx(2 * k * np.sin(np.radians(tt / 2)), rel=1e-12)


def test_inaccessible_energy_is_nan_and_broadcasting():
    q = q_from_angle(ei_meV=50.0, energy_transfer_meV=np.array([[0.0], [49.0], [50.0], [60.0]]), two_theta_deg=np.array([10.0, 90.0]))
    assert q.shape == (4, 2)
    assert np.all(np.isfinite(q[:2])) and np.all(np.isnan(q[2:]))


@settings(max_examples=100, deadline=None)
@given(st.floats(1.0, 500.0), st.floats(-0.99, 0.99), st.floats(0.0, 180.0))
def test_matches_vector_difference_of_wavevectors(ei, e_frac, tt):
    e = e_frac * ei
    ki, kf = k_from_energy(ei), k_from_energy(ei - e)
    t = np.radians(tt)
    q_vec = np.array([0.0, 0.0, ki]) - kf * np.array([np.sin(t), 0.0, np.cos(t)])
    assert q_from_angle(ei_meV=ei, energy_transfer_meV=e, two_theta_deg=tt) == pytest.approx(
        np.linalg.norm(q_vec), rel=1e-9, abs=1e-9
    )


def test_q_limits_bracket_all_angles():
    e = np.linspace(-10, 50, 7)
    qmin, qmax = q_limits(ei_meV=62.0, energy_transfer_meV=e, two_theta_min_deg=2.9, two_theta_max_deg=135.6)
    for tt in (2.9, 30.0, 90.0, 135.6):
        q = q_from_angle(ei_meV=62.0, energy_transfer_meV=e, two_theta_deg=tt)
        assert np.all(q >= qmin - 1e-12) and np.all(q <= qmax + 1e-12)


@pytest.mark.parametrize("ei", [0.0, -5.0, float("nan"), "abc"])
def test_bad_incident_energy_raises(ei):
    with pytest.raises(InsganInputError, match="ei_meV"):
        q_from_angle(ei_meV=ei, energy_transfer_meV=0.0, two_theta_deg=10.0)


def test_bad_angle_range_raises():
    with pytest.raises(InsganInputError, match="two_theta"):
        q_limits(ei_meV=10.0, energy_transfer_meV=0.0, two_theta_min_deg=20.0, two_theta_max_deg=10.0)
