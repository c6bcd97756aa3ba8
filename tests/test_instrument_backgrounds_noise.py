"""Background steps integrate to their stated parameters; Poisson noise has variance = mean."""

import numpy as np
import pytest

from insgan_core.data import Axis, INSMap
from insgan_core.errors import InsganInputError
from insgan_core.instrument import (
    AluminiumCanLines,
    ArtefactConfig,
    FlatBackground,
    IncoherentElastic,
    InstrumentSettings,
    PhononBackground,
    add_poisson_noise,
    apply_artefacts,
    energy_fwhm_meV,
)
from insgan_core.instrument.backgrounds import background_from_dict, background_to_dict
from insgan_core.spinwave.bose import bose_factor

S = InstrumentSettings()
Q = np.array([0.5, 1.0, 2.0, 4.0])
E_EDGES = np.linspace(-61.0, 61.0, 6101)  # wide and fine: the integrals over E are complete
DE = np.diff(E_EDGES)


def test_elastic_line_integral_width_and_debye_waller():
    step = IncoherentElastic(amplitude=3.0, u2_A2=0.02)
    i = step.intensity(Q, E_EDGES, S)
    np.testing.assert_allclose((i * DE).sum(axis=1), 3.0 * np.exp(-0.02 * Q**2), rtol=1e-9)
    ec = 0.5 * (E_EDGES[1:] + E_EDGES[:-1])
    sd = np.sqrt((i[0] * ec**2 * DE).sum() / (i[0] * DE).sum())
    np.testing.assert_allclose(sd * 2 * np.sqrt(2 * np.log(2)), energy_fwhm_meV(S, 0.0), rtol=1e-3)


@pytest.mark.parametrize("temperature", [0.0, 5.0, 300.0])
def test_phonon_background_integrates_to_amplitude_q2(temperature):
    step = PhononBackground(amplitude=0.2, temperature_K=temperature, debye_energy_meV=25.0, u2_A2=0.01)
    i = step.intensity(Q, E_EDGES, S)
    np.testing.assert_allclose((i * DE).sum(axis=1), 0.2 * Q**2 * np.exp(-0.01 * Q**2), rtol=2e-3)
    # detailed balance S(-E) = exp(-E/kT) S(E)
    if temperature > 0:
        shape = step.energy_shape
        np.testing.assert_allclose(shape(-10.0), np.exp(-10.0 / (0.08617333262 * temperature)) * shape(10.0), rtol=1e-9)
    else:
        assert step.energy_shape(-10.0) == 0.0


def test_flat_background_and_aluminium_lines_integrals():
    flat = FlatBackground(level=0.25).intensity(Q, E_EDGES, S)
    np.testing.assert_allclose((flat * DE).sum(axis=1), 0.25 * 122.0, rtol=1e-12)
    al = AluminiumCanLines(amplitudes=(0.3, 0.1), energies_meV=(20.0, 36.5), temperature_K=150.0)
    i = al.intensity(Q, E_EDGES, S)
    expected = sum(a * (2 * bose_factor(e, temperature_K=150.0) - 1) for a, e in ((0.3, 20.0), (0.1, 36.5)))  # (n+1) + n
    np.testing.assert_allclose((i * DE).sum(axis=1), expected * Q**2, rtol=1e-6)


def test_bose_factor_limits():
    np.testing.assert_allclose(bose_factor(np.array([10.0, -10.0]), temperature_K=0.0), [1.0, 0.0])
    kt = 0.08617333262 * 300
    np.testing.assert_allclose(bose_factor(0.01, temperature_K=300.0), kt / 0.01 + 0.5, rtol=1e-4)


def test_background_errors_and_round_trip():
    with pytest.raises(InsganInputError, match="amplitude"):
        IncoherentElastic(amplitude=-1.0)
    with pytest.raises(InsganInputError, match="unknown kind"):
        background_from_dict({"kind": "magnons"})
    with pytest.raises(InsganInputError, match="unknown parameter"):
        background_from_dict({"kind": "flat", "height": 2})
    with pytest.raises(InsganInputError, match="line energies must be > 0"):
        AluminiumCanLines(amplitudes=(0.1,), energies_meV=(0.0,))
    step = PhononBackground(amplitude=0.3, temperature_K=50.0)
    assert background_from_dict(background_to_dict(step)) == step


def _flat_map(level, shape=(200, 250)):
    return INSMap(np.full(shape, level), None, Axis(np.linspace(0, 5, shape[0] + 1), "MomentumTransfer"),
                  Axis(np.linspace(-10, 50, shape[1] + 1), "DeltaE"))


@pytest.mark.parametrize("level, scale", [(1.0, 20.0), (0.05, 1000.0), (3.0, 2.0)])
def test_poisson_variance_over_mean(level, scale):
    noisy = add_poisson_noise(_flat_map(level), count_scale=scale, seed=7)
    counts = noisy.signal * scale
    np.testing.assert_allclose(counts, np.round(counts), atol=1e-9)  # whole counts
    ratio = counts.var() / counts.mean()
    assert abs(ratio - 1.0) < 0.02
    assert abs(counts.mean() / (level * scale) - 1.0) < 0.01
    np.testing.assert_allclose(noisy.error, np.sqrt(counts) / scale)
    again = add_poisson_noise(_flat_map(level), count_scale=scale, seed=7)
    np.testing.assert_array_equal(again.signal, noisy.signal)


def test_noise_keeps_nan_and_refuses_bad_scale():
    m = _flat_map(1.0, (10, 10))
    m.signal[2, 3] = np.nan
    out = add_poisson_noise(m, count_scale=10.0)
    assert np.isnan(out.signal[2, 3]) and np.isnan(out.signal).sum() == 1
    for bad in (-5.0, 0.0, np.nan):
        with pytest.raises(InsganInputError, match="count_scale"):
            add_poisson_noise(m, count_scale=bad)
    with pytest.raises(InsganInputError, match="count_scale"):
        ArtefactConfig.from_dict({"noise": {"count_scale": -1}})


def test_background_step_adds_exactly_the_configured_backgrounds():
    clean = _flat_map(0.0, (20, 60))
    steps = (IncoherentElastic(amplitude=1.0, u2_A2=0.0), FlatBackground(level=0.5))
    out = apply_artefacts(clean, settings=S, config=ArtefactConfig(steps=("background",), backgrounds=steps))
    dE = np.diff(clean.e_axis.edges)
    np.testing.assert_allclose((out.signal * dE).sum(axis=1), 1.0 + 0.5 * 60.0, rtol=1e-6)
