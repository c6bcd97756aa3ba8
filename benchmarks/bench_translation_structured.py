"""Benchmark: the structured translation model on the shared MERLIN Bi2Fe4O9 maps, both directions.

For each direction (train on the 5 K map, test on the 300 K map; and train 300 K, test 5 K), on the
issue's grid (|Q| 0.2–5.5 Å⁻¹ in 0.05, E −10–54 meV in 0.5; MERLIN Ei from the file, chopper G 350 Hz,
the file's detector table), prints for the held-out map:

* inelastic χ²/N (E > 3 meV, measured errors) of the structured model, of the structured least-squares
  baseline of issue 16 (a·P_T + Σ_k (|Q|/6)^{2k} h_k(E), fitted by weighted least squares to the training
  map, implemented here in a few lines) and of the clean simulation P_T best-scaled on the test map itself;
  the same without the bins above 48 meV;
* the elastic-line integral (|E| ≤ 3 meV) relative to the measured;
* noise variance/mean (insgan_core.gan.metrics.noise_variance_to_mean) of a sample against the measured
  map, in the window 3 meV … 0.8 Ei, for the test map and for a fresh sample of the training map;
* the patch distance (insgan_core.gan.metrics.patch_distance) of a sample to the measured map, against the
  best-scaled clean simulation's;
* the magnon band energy (peak of energy cuts, 1–2 and 2–3 Å⁻¹, 8–40 meV) of the translated signal
  against the resolution-broadened simulation;
* fit time.

The spin-wave simulation of Bi2Fe4O9 takes tens of seconds per temperature. Run::

    python benchmarks/bench_translation_structured.py [--data DIR] [--n-directions 600]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "experimental"


def lsq_baseline(p_train, train, p_test, q_centres, *, n_poly=4):
    """Issue 16's structured least-squares baseline: returns its prediction on the test grid."""
    ok = np.isfinite(p_train) & np.isfinite(train.signal) & (train.error > 0)
    i, j = np.nonzero(ok)
    ne = train.shape[1]
    cols = [p_train[i, j]]
    x = np.zeros((i.size, 1 + n_poly * ne))
    x[:, 0] = cols[0]
    for k in range(n_poly):
        x[np.arange(i.size), 1 + k * ne + j] = (q_centres[i] / 6.0) ** (2 * k)
    w = 1.0 / train.error[i, j]
    coef = np.linalg.lstsq(x * w[:, None], train.signal[i, j] * w, rcond=None)[0]
    h = coef[1:].reshape(n_poly, ne)
    bg = sum(((q_centres / 6.0) ** (2 * k))[:, None] * h[k][None, :] for k in range(n_poly))
    return coef[0] * p_test + bg


def chi2(pred, meas, *, e_min=3.0, e_max=np.inf):
    sel = (meas.e_axis.centres > e_min) & (meas.e_axis.centres < e_max)
    ok = np.isfinite(pred) & np.isfinite(meas.signal) & (meas.error > 0) & sel[None, :]
    return float(np.mean(((pred[ok] - meas.signal[ok]) / meas.error[ok]) ** 2)), ok


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--n-directions", type=int, default=600)
    args = ap.parse_args(argv)

    from insgan_core.data import INSMap
    from insgan_core.data.io import load
    from insgan_core.data.reduction import powder_map as reduce
    from insgan_core.gan.metrics import noise_variance_to_mean, patch_distance, peak_energy
    from insgan_core.instrument import ArtefactConfig, InstrumentSettings, apply_artefacts
    from insgan_core.spinwave import load_model, powder_map
    from insgan_core.translation import fit_structured

    q_edges = np.arange(0.2, 5.5 + 1e-9, 0.05)
    e_edges = np.arange(-10.0, 54.0 + 1e-9, 0.5)
    det, meas, clean, p = {}, {}, {}, {}
    model = load_model("bi2fe4o9")
    for t in (5, 300):
        det[t] = load(args.data / f"bi2fe4o9_Ei62_{t}K.nxspe")
        meas[t] = reduce(det[t], q_edges=q_edges, e_edges=e_edges)
        t0 = time.perf_counter()
        clean[t] = powder_map(model, q_edges=q_edges, e_edges=e_edges, temperature_K=float(t), n_directions=args.n_directions)
        print(f"simulated Bi2Fe4O9 at {t} K in {time.perf_counter() - t0:.1f} s")
    inst = InstrumentSettings(instrument="MERLIN", ei_meV=float(det[5].ei_meV), chopper_package="G", chopper_frequency_hz=350.0)
    for t in (5, 300):
        p[t] = apply_artefacts(clean[t], settings=inst, config=ArtefactConfig(steps=("resolution", "coverage")),
                               detectors=det[t]).signal
    qc = meas[5].x_axis.centres
    ec = meas[5].e_axis.centres
    window = ((ec < 3.0) | (ec > 0.8 * inst.ei_meV))[None, :]
    for tr, te in ((5, 300), (300, 5)):
        t0 = time.perf_counter()
        st = fit_structured([clean[tr]], [meas[tr]], temperatures_K=[float(tr)], settings=inst, detectors=det[tr])
        fit_s = time.perf_counter() - t0
        pred = st.predict(clean[te], temperature_K=float(te))
        base = lsq_baseline(p[tr], meas[tr], p[te], qc)
        _, ok = chi2(p[te], meas[te])
        w = 1.0 / meas[te].error[ok] ** 2
        k = np.sum(w * p[te][ok] * meas[te].signal[ok]) / np.sum(w * p[te][ok] ** 2)
        print(f"\ntrain {tr} K -> test {te} K (fit {fit_s:.1f} s; training chi2/N {st.training_record['chi2_per_bin_baseline_start']:.4g}"
              f" -> {st.training_record['chi2_per_bin_final']:.4g})")
        for label, e_max in (("E > 3 meV", np.inf), ("3 < E < 48 meV", 48.0)):
            cs, cb, cc = (chi2(x, meas[te], e_max=e_max)[0] for x in (pred.signal, base, k * p[te]))
            print(f"  inelastic chi2/N ({label}): structured {cs:.4g}, LSQ baseline {cb:.4g}, clean best-scaled {cc:.4g}"
                  f"  -> structured/clean {cs / cc:.3f}, structured/baseline {cs / cb:.3f}")
        el = (np.abs(ec) <= 3.0)[None, :] & np.isfinite(pred.signal) & np.isfinite(meas[te].signal)
        print(f"  elastic integral ratio (|E| <= 3 meV): {np.sum(pred.signal[el]) / np.sum(meas[te].signal[el]):.3f}")
        rng = np.random.default_rng(1)
        for label, t_map in (("test", te), ("training (fresh sample)", tr)):
            smp = st.sample(clean[t_map], temperature_K=float(t_map), rng=rng)
            r = noise_variance_to_mean(np.where(window, np.nan, smp.signal)) / noise_variance_to_mean(
                np.where(window, np.nan, meas[t_map].signal))
            print(f"  noise variance/mean, sample / measured, {label} map: {r:.3f}")
        smp_te = st.sample(clean[te], temperature_K=float(te), rng=np.random.default_rng(2))
        pd_model = patch_distance(smp_te.signal[None], meas[te].signal[None], max_nan_fraction=0.2)
        pd_clean = patch_distance(np.where(np.isfinite(meas[te].signal), k * p[te], np.nan)[None], meas[te].signal[None],
                                  max_nan_fraction=0.2)
        print(f"  patch distance to the measured map: structured sample {pd_model:.4g}, clean best-scaled {pd_clean:.4g}"
              f" (reduced by {1 - pd_model / pd_clean:.1%})")
        bg = st.predict(clean[te].with_data(np.zeros_like(clean[te].signal)), temperature_K=float(te))
        ref = INSMap(p[te], np.zeros_like(p[te]), clean[te].x_axis, clean[te].e_axis)
        for qw in ((1.0, 2.0), (2.0, 3.0)):
            d = peak_energy(pred - bg, q_window=qw, e_range=(8.0, 40.0)) - peak_energy(ref, q_window=qw, e_range=(8.0, 40.0))
            print(f"  magnon peak shift, |Q| {qw[0]}-{qw[1]} 1/A: {d:+.3f} meV")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
