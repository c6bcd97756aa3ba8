"""Coarse-to-fine fit schedule (hybrid Jacobian) and the pluggable powder integrator."""

import numpy as np
import pytest

from insgan_core.errors import InsganInputError
from insgan_core.fitting import FitProblem, ForwardModel, fit, load_dataset
from insgan_core.fitting.synthetic import empty_dataset, noisy_map
from insgan_core.instrument import InstrumentSettings
from insgan_core.spinwave import load_model
from insgan_core.spinwave.powder_plan import PowderPlan

Q = np.round(np.arange(0.3, 3.0001, 0.1), 10)
E = np.round(np.arange(2.0, 20.0001, 1.0), 10)
TRUTH = {"J": 2.3}
NUIS = {"scale": 2.0, "bg_flat": 0.05, "bg_q2": 0.01}


@pytest.fixture(scope="module")
def measured():
    st = InstrumentSettings(instrument="MERLIN", ei_meV=25.0, chopper_frequency_hz=250.0)
    base = empty_dataset(st, Q, E, temperature_K=5.0)
    fw = ForwardModel(load_model("square_afm"), base, accuracy=0.1)
    meas = noisy_map(fw, TRUTH, NUIS, count_scale=200.0, rng=np.random.default_rng(3))
    return load_dataset(meas)


def test_coarse_to_fine_matches_the_plain_fit(measured):
    """Same optimum (within 0.2 σ) and σ as the plain fine fit, with fewer fine diagonalisations."""
    model = load_model("square_afm").with_parameters(J=2.1)
    kw = dict(statistic="chi2", bounds={"J": (1.0, 4.0)}, accuracy=0.1)
    plain = fit(FitProblem(model, [measured], ["J"], **kw), n_starts=0, tol=1e-8)
    sched = fit(FitProblem(model, [measured], ["J"], coarse_accuracy=0.4, **kw), n_starts=0, tol=1e-8)
    j = plain.names.index("J")
    assert abs(sched.x[j] - plain.x[j]) < 0.2 * plain.errors[j], (sched.x, plain.x, plain.errors)
    assert abs(sched.errors[j] / plain.errors[j] - 1) < 0.05
    assert abs(sched.chi2 / plain.chi2 - 1) < 1e-4
    assert abs(sched.x[j] - TRUTH["J"]) < 3 * sched.errors[j]
    fine = sched.schedule["fine_diagonalisations"]
    plain_diag = plain.n_diagonalisations
    assert fine < plain_diag, (fine, plain_diag)
    assert sched.schedule["coarse_accuracy"] == 0.4


def test_coarse_accuracy_must_be_coarser(measured):
    with pytest.raises(InsganInputError, match="coarse accuracy"):
        FitProblem(load_model("square_afm"), [measured], ["J"], accuracy=0.1, coarse_accuracy=0.1)


def test_plan_factory_is_used(measured):
    """A user-supplied integrator replaces the PowderPlan (here a counting wrapper around it)."""
    built = []

    def factory(model, **kw):
        built.append(kw["accuracy"])
        return PowderPlan(model, **kw)

    fw = ForwardModel(load_model("square_afm"), measured, accuracy=0.2, plan_factory=factory)
    ref = ForwardModel(load_model("square_afm"), measured, accuracy=0.2)
    nu = fw.default_nuisance()
    assert built == [0.2]
    np.testing.assert_allclose(fw(TRUTH, nu), ref(TRUTH, nu), rtol=1e-12)
