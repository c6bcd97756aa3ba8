# SPDX-License-Identifier: GPL-3.0-or-later
"""Synthetic recovery (issue 11): for several library models, maps simulated with known parameters through
the fit's forward model (resolution, backgrounds, elastic line, MERLIN coverage) + Poisson noise; fraction
of realisations whose fitted value lies within 2σ of the truth (target ≥ 90 %), and the ratio of the
scatter of the fitted values to the mean σ (≈ 1 when the covariance is right).

    PYTHONPATH=. python benchmarks/bench_fit_recovery.py [--realisations 20] [--json out.json]
"""

import argparse
import json
import time

import numpy as np

CASES = [  # model, truth, start, bounds, energy windows masked (meV)
    ("square_afm", {"J": 2.3}, {"J": 2.0}, {"J": (1.0, 4.0)}, ()),
    ("triangular_afm", {"J": 3.3}, {"J": 3.0}, {"J": (1.5, 5.0)}, ()),
    # the chain's S(Q, E) diverges as 1/E at its Goldstone modes: a quadrature point close to one dominates
    # the lowest energy bins, so they are masked (as one masks the elastic line)
    ("afm_chain", {"J": 1.7}, {"J": 2.0}, {"J": (1.0, 3.0)}, ((-4.5, 2.5),)),
]


def main(argv=None):
    from insgan_core.fitting import FitProblem, ForwardModel, fit, load_dataset
    from insgan_core.fitting.synthetic import empty_dataset, noisy_map
    from insgan_core.instrument import InstrumentSettings
    from insgan_core.spinwave import load_model

    ap = argparse.ArgumentParser()
    ap.add_argument("--realisations", type=int, default=20)
    ap.add_argument("--accuracy", type=float, default=0.1)
    ap.add_argument("--json", default=None)
    ap.add_argument("--models", default=",".join(c[0] for c in CASES))
    args = ap.parse_args(argv)
    q = np.round(np.arange(0.3, 3.0001, 0.1), 10)
    e = np.round(np.arange(-4.0, 24.0001, 1.0), 10)
    st = InstrumentSettings(instrument="MERLIN", ei_meV=30.0, chopper_frequency_hz=250.0)
    nu = {"scale": 2.0, "bg_flat": 0.05, "bg_q2": 0.01, "elastic_amp": 1.0, "elastic_fwhm": 1.2}
    rows = []
    for name, truth, start, bounds, mask_e in CASES:
        if name not in args.models.split(","):
            continue
        base = empty_dataset(st, q, e, temperature_K=5.0, mask_e=mask_e)
        model = load_model(name).with_parameters(**start)
        fw = ForwardModel(model, base, accuracy=args.accuracy)
        rng = np.random.default_rng(2024)
        vals, errs, t0 = [], [], time.perf_counter()
        for _ in range(args.realisations):
            ds = load_dataset(noisy_map(fw, truth, nu, count_scale=50.0, rng=rng), mask_e=mask_e)
            fw.dataset = ds
            r = fit(FitProblem(model, [ds], list(truth), forwards=[fw], bounds=bounds, statistic="poisson"),
                    n_starts=4, n_local=1)
            vals.append([r.values[k] for k in truth])
            errs.append([r.uncertainties[k] for k in truth])
        vals, errs = np.array(vals), np.array(errs)
        tv = np.array(list(truth.values()))
        within = float(np.mean(np.all(np.abs(vals - tv) <= 2 * errs, axis=1)))
        ratio = (np.std(vals, axis=0, ddof=1) / np.mean(errs, axis=0)).tolist()
        row = {"model": name, "truth": truth, "within_2sigma": within, "scatter_over_sigma": ratio,
               "mean": vals.mean(axis=0).tolist(), "mean_sigma": errs.mean(axis=0).tolist(),
               "seconds_per_fit": (time.perf_counter() - t0) / args.realisations}
        rows.append(row)
        print(f"{name}: truth {truth}, within 2 sigma {within:.0%}, scatter/sigma {ratio[0]:.2f}, "
              f"mean {row['mean'][0]:.4f} ± {row['mean_sigma'][0]:.4f}, {row['seconds_per_fit']:.1f} s/fit", flush=True)
    if args.json:
        open(args.json, "w").write(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
