# SPDX-License-Identifier: GPL-3.0-or-later
"""Amortised estimator calibration (issue 11): square_afm, J uniform in 1-4 meV, MERLIN Ei 25 meV grid.

Simulates N maps through the fit's forward model (+ Poisson noise), trains the MLP on 3/4, and reports the
fraction of held-out simulations whose truth lies within the predicted mean ± σ (target 60-76 %), the
median absolute error and σ, and the time of one prediction.

    PYTHONPATH=. python benchmarks/bench_fit_amortised.py [--n 1200] [--epochs 60]
"""

import argparse
import json
import time

import numpy as np


def main(argv=None):
    import torch

    from insgan_core.fitting import ForwardModel
    from insgan_core.fitting.amortised import AmortisedEstimator, coverage_68, simulate_training_set
    from insgan_core.fitting.synthetic import empty_dataset
    from insgan_core.instrument import InstrumentSettings
    from insgan_core.spinwave import load_model

    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=1200)
    ap.add_argument("--epochs", type=int, default=60)
    ap.add_argument("--json", default=None)
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    q = np.round(np.arange(0.3, 3.0001, 0.1), 10)
    e = np.round(np.arange(-4.0, 20.0001, 1.0), 10)
    st = InstrumentSettings(instrument="MERLIN", ei_meV=25.0, chopper_frequency_hz=250.0)
    fw = ForwardModel(load_model("square_afm"), empty_dataset(st, q, e, temperature_K=5.0), accuracy=0.1)
    t = time.perf_counter()
    X, T = simulate_training_set(fw, {"J": (1.0, 4.0)}, args.n, seed=1)
    row = {"simulate_s": time.perf_counter() - t, "n": args.n}
    k = args.n // 2
    c = 3 * args.n // 4  # train on the first half, calibrate sigma on the third quarter, test on the last
    est = AmortisedEstimator(["J"], {"J": (1.0, 4.0)}, X.shape[1])
    row["final_loss"] = est.train(X[:k], T[:k], epochs=args.epochs)
    row["train_s"] = est.train_seconds
    row["coverage_68_uncalibrated"] = float(coverage_68(est, X[c:], T[c:])[0])
    row["sigma_factor"] = float(est.calibrate(X[k:c], T[k:c])[0])
    k = c
    row["coverage_68"] = float(coverage_68(est, X[k:], T[k:])[0])
    row["n_test"] = args.n - k
    m, s = est.predict_features(X[k:])
    row["median_abs_error"] = float(np.median(np.abs(m - T[k:])))
    row["median_sigma"] = float(np.median(s))
    t = time.perf_counter()
    est.predict_features(X[k:k + 1])
    row["predict_ms"] = 1e3 * (time.perf_counter() - t)
    print(json.dumps(row, indent=2))
    if args.json:
        open(args.json, "w").write(json.dumps(row, indent=2))


if __name__ == "__main__":
    main()
