"""Amortised estimator: trained on forward-model simulations, it locates J, gives usable intervals, flags
inputs unlike its training maps, survives a file round trip, and starts ``insgan fit``."""

import json

import numpy as np
import pytest

from insgan_core.errors import InsganFileError
from insgan_core.fitting import ForwardModel
from insgan_core.fitting.amortised import AmortisedEstimator, coverage_68, simulate_training_set
from insgan_core.fitting.synthetic import empty_dataset, noisy_map
from insgan_core.instrument import InstrumentSettings
from insgan_core.spinwave import load_model

ST = InstrumentSettings(instrument="MERLIN", ei_meV=25.0, chopper_frequency_hz=250.0)
Q = np.round(np.arange(0.3, 3.0001, 0.2), 10)
E = np.round(np.arange(2.0, 20.0001, 1.0), 10)
BOX = {"J": (1.0, 4.0)}


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    import torch

    torch.set_num_threads(1)
    base = empty_dataset(ST, Q, E, temperature_K=5.0)
    fw = ForwardModel(load_model("square_afm"), base, accuracy=0.2)
    X, T, S = simulate_training_set(fw, BOX, 300, seed=3, return_maps=True)
    mask = np.isfinite(base.measured.signal)
    info = {"model": "square_afm", "grid": {"q_edges": Q.tolist(), "e_edges": E.tolist(),
                                            "mask": mask.ravel().tolist()},
            "settings": ST.to_dict(), "temperature_K": 5.0, "accuracy": 0.2}
    est = AmortisedEstimator(["J"], BOX, X.shape[1], hidden=64, info=info)
    est.train(X[:200], T[:200], epochs=80)
    est.calibrate(X[200:240], T[200:240])
    est.fit_ood(X[:200], X[200:240])
    err = lambda s: np.where(np.isfinite(s), np.sqrt(np.maximum(np.nan_to_num(s) * 50, 1)) / 50, np.nan)  # noqa: E731
    est.fit_check([(S[i], err(S[i])) for i in range(200, 240)])
    path = tmp_path_factory.mktemp("est") / "sq.safetensors"
    est.save(path)
    return est, fw, X, T, S, path


def test_amortised_estimator_small(trained):
    est, fw, X, T, S, path = trained
    assert est.sigma_factor.shape == (1,) and est.sigma_factor[0] > 0
    mean, sigma = est.predict_features(X[240:])
    err = np.abs(mean[:, 0] - T[240:, 0])
    assert np.median(err) < 0.15  # prior width 3 meV
    assert np.all(sigma > 0)
    cov = coverage_68(est, X[240:], T[240:])[0]
    assert 0.3 < cov < 0.98, cov  # loose: 60 held-out maps, small training set


def test_estimator_file_round_trip(trained, tmp_path):
    est, fw, X, T, S, path = trained
    back = AmortisedEstimator.load(path)
    np.testing.assert_allclose(back.predict_features(X[240:250])[0], est.predict_features(X[240:250])[0], rtol=1e-6)
    np.testing.assert_allclose(back.ood_scores(X[240:250]), est.ood_scores(X[240:250]), rtol=1e-6)
    assert back.check == est.check and back.names == ["J"]
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(path.read_bytes()[:-16])
    with pytest.raises(InsganFileError, match="bad.safetensors"):
        AmortisedEstimator.load(bad)
    # the shared model-file checks: a truncated tensor block is named as such, and an estimator is not a
    # translation model
    with pytest.raises(InsganFileError, match="truncated"):
        AmortisedEstimator.load(bad)
    from insgan_core.gan.model_file import load_model

    with pytest.raises(InsganFileError, match="amortised parameter estimator"):
        load_model(path)


def test_flags_null_far_and_in_distribution_maps(trained):
    est, fw, X, T, S, path = trained
    m = fw.dataset.measured
    rng = np.random.default_rng(9)
    nu = dict(fw.default_nuisance(), scale=1.2, bg_flat=0.05, bg_q2=0.01)
    ok = [est.estimate(noisy_map(fw, {"J": j}, nu, count_scale=50.0, rng=rng)) for j in (1.5, 2.3, 3.2)]
    assert sum(bool(e.flags) for e in ok) <= 1, [e.flags for e in ok]
    assert all(abs(e.mean["J"] - j) < 0.4 for e, j in zip(ok, (1.5, 2.3, 3.2))), [e.mean for e in ok]
    assert abs(ok[1].mean["J"] - 2.3) < 3 * ok[1].sigma["J"]
    zero = est.estimate(m.with_data(np.where(np.isfinite(m.signal), 0.0, np.nan), m.error))
    assert zero.null and not zero.in_distribution
    far = est.estimate(noisy_map(fw, {"J": 9.0}, nu, count_scale=50.0, rng=rng))  # prior box 1-4 meV
    assert far.flags, far.to_dict()
    assert ok[1].seconds < 1.0


def test_fit_cli_starts_from_the_estimate(trained, tmp_path):
    from insgan_core.cli.main import main
    from insgan_core.data.io import save

    est, fw, X, T, S, path = trained
    nu = dict(fw.default_nuisance(), scale=1.2, bg_flat=0.05, bg_q2=0.01)
    meas = tmp_path / "m.nxs"
    save(noisy_map(fw, {"J": 2.6}, nu, count_scale=50.0, rng=np.random.default_rng(4)), meas)
    out = tmp_path / "fit"
    common = ["fit", "square_afm", str(meas), "--vary", "J", "--bounds", "J=1:4", "--accuracy", "0.2",
              "--start", f"amortised:{path}", "--no-figure"]
    assert main(common + ["--out", str(out)]) == 0
    d = json.loads((out / "parameters.json").read_text())
    assert d["amortised_start"]["in_distribution"], d["amortised_start"]
    assert len(d["global_stage"]) == 1 + 1 + 8  # model's start, the estimate, 8 posterior draws; no Latin hypercube
    j = d["parameters"][0]
    assert abs(j["value"] - 2.6) < 3 * j["error"], j
    # the coarse-to-fine schedule (fine 0.2 as above, coarse 0.3) ends at a minimum of the fine model: a
    # Gauss-Newton step with the fine Jacobian promises less than (0.3 sigma)^2 (square_afm's coarse-quadrature
    # landscape is rough, so which minimum is not asserted here; tests/test_fit_schedule.py checks that)
    assert main(common + ["--coarse-accuracy", "0.3", "--out", str(tmp_path / "fit2")]) == 0
    d2 = json.loads((tmp_path / "fit2" / "parameters.json").read_text())
    assert d2["schedule"]["coarse_accuracy"] == 0.3 and d2["schedule"]["fine_jacobians"] >= 1
    assert d2["chi2"] <= min(d2["schedule"]["fine_start_chi2"]) + 1e-9


def test_predictive_check_through_the_training_translator(trained):
    """An estimator whose training maps went through a translator (its digest in ``info['translation']``): the
    predictive check is skipped until that translator is attached, then runs through it (a map made by the
    translator is described: χ²/N near 1 with its own errors); another translator is refused."""
    import copy

    import torch

    from insgan_core.errors import InsganInputError
    from insgan_core.translation.structured import StructuredTranslator

    est0, fw, X, T, S, path = trained
    tr = StructuredTranslator.from_settings(ST, Q, E)
    with torch.no_grad():
        tr.a.fill_(2.0)
        tr.h[0].fill_(0.3)
        tr.h[2].fill_(20.0)  # (|Q|/6)^4 term: not absorbed by the check's flat and |Q|² backgrounds
    tr.invalidate()
    est = copy.copy(est0)
    est.info = dict(est0.info, translation={"sha256": tr.weights_digest()})
    est._forward, est._translator = None, None
    fw_t = ForwardModel(load_model("square_afm"), fw.dataset, accuracy=0.2, translator=tr)
    rng = np.random.default_rng(4)
    clean = fw_t({"J": 2.5}, fw_t.default_nuisance())
    err = np.full(clean.shape, 0.02)
    m = fw.dataset.measured.with_data(clean + err * rng.standard_normal(clean.shape), err)
    assert np.isnan(est.estimate(m).chi2_per_bin)  # no translator attached: check skipped
    other = StructuredTranslator.from_settings(ST, Q, E)
    with pytest.raises(InsganInputError, match="not the one"):
        est.attach_translator(other)
    est.attach_translator(tr)
    c, _ = est.predictive_check(m.signal, m.error, {"J": 2.5})
    assert 0.5 < c < 1.5
    plain, _ = est0.predictive_check(m.signal, m.error, {"J": 2.5})  # without the translator: far off
    assert plain > 3 * c  # measured 5.6 vs 0.99


def test_fit_cli_attaches_the_training_translator(trained, tmp_path):
    """``insgan fit --start amortised:FILE --translation MODEL``: the estimator's predictive check runs through
    the translator its training maps went through (same weights), and is skipped without it."""
    import torch

    from insgan_core.cli.main import main
    from insgan_core.data.io import save
    from insgan_core.fitting.amortised import AmortisedEstimator
    from insgan_core.translation.structured import StructuredTranslator

    est0, fw, X, T, S, path = trained
    tr = StructuredTranslator.from_settings(ST, Q, E)
    with torch.no_grad():
        tr.a.fill_(2.0)
        tr.h[0].fill_(0.3)
    tr.invalidate()
    tr_path = tmp_path / "tr.safetensors"
    tr.save(tr_path)
    est = AmortisedEstimator.load(path)
    est.info["translation"] = {"sha256": tr.weights_digest()}
    est_path = tmp_path / "est_tr.safetensors"
    est.save(est_path)
    fw_t = ForwardModel(load_model("square_afm"), fw.dataset, accuracy=0.2, translator=tr)
    clean = fw_t({"J": 2.5}, fw_t.default_nuisance())
    err = np.full(clean.shape, 0.02)
    meas = tmp_path / "m.nxs"
    save(fw.dataset.measured.with_data(clean + err * np.random.default_rng(2).standard_normal(clean.shape), err), meas)
    common = ["fit", "square_afm", str(meas), "--vary", "J", "--bounds", "J=1:4", "--accuracy", "0.2",
              "--start", f"amortised:{est_path}", "--no-figure", "--starts", "0"]
    assert main(common + ["--out", str(tmp_path / "a")]) == 0
    d = json.loads((tmp_path / "a" / "parameters.json").read_text())
    assert d["amortised_start"]["chi2_per_bin"] is None  # skipped: translator not given
    assert main(common + ["--translation", str(tr_path), "--out", str(tmp_path / "b")]) == 0
    d = json.loads((tmp_path / "b" / "parameters.json").read_text())
    assert d["amortised_start"]["chi2_per_bin"] is not None and np.isfinite(d["amortised_start"]["chi2_per_bin"])
