"""Fitting spin-wave parameters: synthetic recovery, uncertainties, model comparison, bad input."""

import numpy as np
import pytest

from insgan_core.errors import InsganInputError
from insgan_core.fitting import FitProblem, ForwardModel, compare_models, fit, load_dataset
from insgan_core.fitting.synthetic import empty_dataset, noisy_map
from insgan_core.instrument import InstrumentSettings
from insgan_core.spinwave import load_model

Q = np.round(np.arange(0.3, 3.0001, 0.1), 10)
E = np.round(np.arange(-4.0, 20.0001, 1.0), 10)
TRUTH = {"J": 2.3}
NUIS = {"scale": 2.0, "bg_flat": 0.05, "bg_q2": 0.01, "elastic_amp": 1.0, "elastic_fwhm": 1.0}


@pytest.fixture(scope="module")
def setup():
    st = InstrumentSettings(instrument="MERLIN", ei_meV=25.0, chopper_frequency_hz=250.0)
    base = empty_dataset(st, Q, E, temperature_K=5.0)
    model = load_model("square_afm")
    fw = ForwardModel(model, base, accuracy=0.1)
    return model, base, fw


def _fit(model, fw, meas, vary=("J",), **kw):
    ds = load_dataset(meas)
    fw.dataset = ds  # same grid and coverage: reuse the plan and the cached modes
    problem = FitProblem(model, [ds], list(vary), forwards=[fw], statistic="poisson",
                         bounds={"J": (1.0, 4.0)} if "J" in vary else None)
    return fit(problem, n_starts=kw.pop("n_starts", 2), n_local=1, **kw)


def test_synthetic_recovery_and_calibrated_errors(setup):
    """6 noise realisations: truth within 2σ in ≥ 5, errors match the scatter within a factor 2."""
    model, base, fw = setup
    rng = np.random.default_rng(11)
    vals, errs, pulls = [], [], []
    for k in range(6):
        meas = noisy_map(fw, TRUTH, NUIS, count_scale=50.0, rng=rng)
        r = _fit(model, fw, meas, profile=(k == 0))
        j = r.names.index("J")
        vals.append(r.x[j])
        errs.append(r.errors[j])
        pulls.append((r.x[j] - TRUTH["J"]) / r.errors[j])
        assert r.reduced_chi2 < 1.3
        s = r.names.index("scale")
        assert abs(r.x[s] - NUIS["scale"]) < 4 * r.errors[s]
        if k == 0:
            # profile check: chi2 rises by about chi2/dof at best +- sigma
            a, b = r.profile["J"]
            assert 0.5 < a < 2.0 and 0.5 < b < 2.0, r.profile
    pulls = np.array(pulls)
    assert np.sum(np.abs(pulls) < 2) >= 5, pulls
    ratio = np.std(vals, ddof=1) / np.mean(errs)
    assert 0.4 < ratio < 2.5, (ratio, vals, errs)


def test_global_stage_escapes_a_bad_start(setup):
    model, base, fw = setup
    meas = noisy_map(fw, TRUTH, NUIS, count_scale=50.0, rng=np.random.default_rng(5))
    start = load_model("square_afm").with_parameters(J=3.6)
    ds = load_dataset(meas)
    fw.dataset = ds
    fw2 = ForwardModel(start, ds, accuracy=0.1)
    problem = FitProblem(start, [ds], ["J"], forwards=[fw2], statistic="poisson", bounds={"J": (1.0, 4.0)})
    r = fit(problem, n_starts=6, n_local=1)
    assert abs(r.values["J"] - TRUTH["J"]) < 3 * r.errors[0]
    assert len(r.global_table) == 7


def test_joint_fit_two_temperatures(setup):
    """Shared J, per-dataset nuisances named scale[i]."""
    model, base, fw = setup
    st = base.settings
    base2 = empty_dataset(st, Q, E, temperature_K=100.0)
    fw2 = ForwardModel(model, base2, accuracy=0.1)
    rng = np.random.default_rng(3)
    nu2 = dict(NUIS, scale=1.0, bg_flat=0.1)
    m1 = noisy_map(fw, TRUTH, NUIS, count_scale=50.0, rng=rng)
    m2 = noisy_map(fw2, TRUTH, nu2, count_scale=50.0, rng=rng)
    d1, d2 = load_dataset(m1), load_dataset(m2)
    fw.dataset, fw2.dataset = d1, d2
    problem = FitProblem(model, [d1, d2], ["J"], forwards=[fw, fw2], statistic="poisson", bounds={"J": (1.0, 4.0)})
    r = fit(problem, n_starts=2, n_local=1)
    assert "scale[1]" in r.names and "bg_flat[0]" in r.names
    assert abs(r.values["J"] - TRUTH["J"]) < 3 * r.errors[0]
    assert abs(r.values["scale[1]"] - 1.0) < 4 * r.uncertainties["scale[1]"]
    assert r.n_data == d1.n_fitted + d2.n_fitted


def test_model_comparison_prefers_the_true_model(setup):
    model, base, fw = setup
    meas = noisy_map(fw, TRUTH, NUIS, count_scale=50.0, rng=np.random.default_rng(7))
    good = _fit(model, fw, meas)
    ds = load_dataset(meas)
    wrong_model = load_model("square_afm").with_parameters(J=2.0)  # a fixed, wrong hypothesis
    wrong = fit(FitProblem(wrong_model, [ds], [], forwards=[ForwardModel(wrong_model, ds, accuracy=0.1)],
                           statistic="poisson"), n_starts=0, n_local=1)
    table = compare_models([wrong, good], labels=["J=2.0 fixed", "J fitted"])
    assert table["preferred"] == "J fitted"
    row = table["ranking"][1]
    assert row["delta_aic"] > 10 and row["delta_chi2"] > 0 and row["likelihood_ratio"] < 1e-3


def test_fitted_outputs(setup, tmp_path):
    model, base, fw = setup
    meas = noisy_map(fw, TRUTH, NUIS, count_scale=50.0, rng=np.random.default_rng(9))
    r = _fit(model, fw, meas, n_starts=0)
    paths = r.write(tmp_path)
    import json

    from insgan_core.data.io import load

    d = json.loads((tmp_path / "parameters.json").read_text())
    names = [p["name"] for p in d["parameters"]]
    assert names[0] == "J" and d["parameters"][0]["error"] > 0 and d["statistic"] == "poisson"
    assert len(d["correlation"]["matrix"]) == len(names)
    fm = load(tmp_path / "fitted_0.nxs")
    assert fm.signal.shape == meas.signal.shape
    assert np.array_equal(np.isfinite(fm.signal), load_dataset(meas).mask)  # unfitted bins are NaN
    assert (tmp_path / "residuals_0.png").stat().st_size > 1000
    assert len(paths) == 3


# --- bad input -------------------------------------------------------------------------------------
def test_bad_inputs(setup):
    model, base, fw = setup
    meas = noisy_map(fw, TRUTH, NUIS, count_scale=50.0, rng=np.random.default_rng(1))
    ds = load_dataset(meas)
    with pytest.raises(InsganInputError, match="unknown parameter.*J2.*its parameters are: J, S"):
        FitProblem(model, [ds], ["J2"], forwards=[fw])
    with pytest.raises(InsganInputError, match="start lies outside the bounds: J=2 outside"):
        FitProblem(model, [ds], ["J"], forwards=[fw], bounds={"J": (2.5, 4.0)})
    with pytest.raises(InsganInputError, match="--bounds names 'S'"):
        FitProblem(model, [ds], ["J"], forwards=[fw], bounds={"S": (1, 3)})
    with pytest.raises(InsganInputError, match="--mask-q 9:10: the window contains no"):
        load_dataset(meas, mask_q=[(9.0, 10.0)])
    with pytest.raises(InsganInputError, match="masks remove every finite bin"):
        load_dataset(meas, mask_q=[(0.0, 5.0)])
    with pytest.raises(InsganInputError, match="no finite bin"):
        load_dataset(meas.with_data(np.full(meas.signal.shape, np.nan), meas.error))
    with pytest.raises(InsganInputError, match="poisson needs data >= 0"):
        neg = meas.with_data(meas.signal - 10.0, meas.error)
        FitProblem(model, [load_dataset(neg)], ["J"], forwards=[fw], statistic="poisson")


def test_chopper_frequency_from_the_elastic_line():
    """A synthetic elastic line with the resins width of 350 Hz is recognised as 350 Hz, not the 250 Hz default."""
    from insgan_core.fitting.chopper import elastic_half_max
    from insgan_core.instrument.energy_resolution import energy_fwhm_meV

    e = np.round(np.arange(-10.0, 20.0001, 0.31), 10)
    st350 = InstrumentSettings(instrument="MERLIN", ei_meV=62.0, chopper_frequency_hz=350.0)
    st250 = InstrumentSettings(instrument="MERLIN", ei_meV=62.0, chopper_frequency_hz=250.0)
    base = empty_dataset(st250, Q, e, temperature_K=5.0)
    fw = ForwardModel(load_model("square_afm"), base, accuracy=0.2, q_resolution=False)
    nu = {"scale": 0.0, "bg_flat": 0.02, "bg_q2": 0.0, "elastic_amp": 5.0, "elastic_fwhm": energy_fwhm_meV(st350, 0.0)}
    meas = noisy_map(fw, TRUTH, nu, count_scale=200.0, rng=np.random.default_rng(0))
    r = elastic_half_max(load_dataset(meas, chopper_frequency_hz=250.0))
    assert r["frequency_hz"] == 350.0, r
