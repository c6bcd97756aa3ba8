"""Amortised estimator: trained on forward-model simulations, it locates J and gives usable intervals."""

import numpy as np

from insgan_core.fitting import ForwardModel
from insgan_core.fitting.amortised import AmortisedEstimator, coverage_68, simulate_training_set
from insgan_core.fitting.synthetic import empty_dataset
from insgan_core.instrument import InstrumentSettings
from insgan_core.spinwave import load_model


def test_amortised_estimator_small():
    import torch

    torch.set_num_threads(1)
    q = np.round(np.arange(0.3, 3.0001, 0.2), 10)
    e = np.round(np.arange(2.0, 20.0001, 1.0), 10)
    st = InstrumentSettings(instrument="MERLIN", ei_meV=25.0, chopper_frequency_hz=250.0)
    fw = ForwardModel(load_model("square_afm"), empty_dataset(st, q, e, temperature_K=5.0), accuracy=0.2)
    X, T = simulate_training_set(fw, {"J": (1.0, 4.0)}, 300, seed=3)
    est = AmortisedEstimator(["J"], {"J": (1.0, 4.0)}, X.shape[1], hidden=64)
    est.train(X[:200], T[:200], epochs=80)
    factor = est.calibrate(X[200:240], T[200:240])
    assert factor.shape == (1,) and factor[0] > 0
    mean, sigma = est.predict_features(X[240:])
    err = np.abs(mean[:, 0] - T[240:, 0])
    assert np.median(err) < 0.15  # prior width 3 meV
    assert np.all(sigma > 0)
    cov = coverage_68(est, X[240:], T[240:])[0]
    assert 0.3 < cov < 0.98, cov  # loose: 60 held-out maps, small training set
