"""Time per map of the instrument-artefact paths on a realistic ~200 × 200 MERLIN grid.

Prints, side by side, the fast analytic-Gaussian path and the Monte-Carlo path (the slow, faithful
reference the GAN is meant to imitate), each for the resolution step alone and for the full pipeline
(resolution, backgrounds, built-in detector coverage and reduction, Poisson noise), and their ratios
against the analytic path measured in the same process.

Run:  python benchmarks/bench_artefacts.py [--repeats 3] [--mc-samples 64 256] [--quick] [--json PATH]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from insgan_core.data import Axis, INSMap
from insgan_core.instrument import ArtefactConfig, InstrumentSettings, ResolutionConfig, apply_artefacts
from timing import best_time


def clean_map(nq: int = 200, ne: int = 200) -> INSMap:
    """A dispersive powder-like mode on |Q| 0.2–6 Å⁻¹ × E −10–55 meV (Bi2Fe4O9-like MERLIN grid)."""
    q_edges = np.linspace(0.2, 6.0, nq + 1)
    e_edges = np.linspace(-10.0, 55.0, ne + 1)
    qc = 0.5 * (q_edges[1:] + q_edges[:-1])
    ec = 0.5 * (e_edges[1:] + e_edges[:-1])
    disp = 5 + 15 * np.abs(np.sin(1.3 * qc))
    sig = np.exp(-((ec[None, :] - disp[:, None]) ** 2) / (2 * 0.3**2)) / qc[:, None]
    return INSMap(sig, None, Axis(q_edges, "MomentumTransfer"), Axis(e_edges, "DeltaE"))



def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--mc-samples", type=int, nargs="+", default=[64, 256])
    p.add_argument("--size", type=int, default=200, help="grid is SIZE × SIZE bins")
    p.add_argument("--quick", action="store_true", help="smoke-test sizes: 1 repeat, 100 × 100 grid, 16 histories/bin")
    p.add_argument("--json", type=Path, default=None, metavar="PATH",
                   help="also write the measured numbers to PATH as JSON (atomically)")
    args = p.parse_args(argv)
    if args.quick:
        args.repeats, args.size, args.mc_samples = 1, 100, [16]

    settings = InstrumentSettings(instrument="MERLIN", ei_meV=62.0, chopper_package="G", chopper_frequency_hz=250)
    clean = clean_map(args.size, args.size)
    rows = []
    for label, steps in (("resolution only", ("resolution",)), ("full pipeline", None)):
        kw = {} if steps is None else {"steps": steps}
        cfg = ArtefactConfig(**kw)
        t_fast = best_time(lambda: apply_artefacts(clean, settings=settings, config=cfg, method="analytic"), repeats=args.repeats)
        rows.append((label, "analytic Gaussian", t_fast, 1.0))
        for n in args.mc_samples:
            cfg_mc = ArtefactConfig(**kw, resolution=ResolutionConfig(mc_samples=n))
            t_mc = best_time(lambda: apply_artefacts(clean, settings=settings, config=cfg_mc, method="montecarlo"),
                             repeats=args.repeats)
            rows.append((label, f"Monte-Carlo, {n} histories/bin", t_mc, t_mc / t_fast))
    print(f"grid {clean.shape[0]} |Q| x {clean.shape[1]} E bins, MERLIN G 250 Hz, Ei 62 meV; best of {args.repeats}")
    print(f"{'steps':<16} {'path':<32} {'s / map':>10} {'x analytic':>11}")
    for label, path, t, ratio in rows:
        print(f"{label:<16} {path:<32} {t:>10.4f} {ratio:>11.1f}")
    if args.json is not None:
        from results_json import write_json

        write_json(args.json, {
            "benchmark": "artefacts", "grid_bins": list(clean.shape), "repeats": args.repeats,
            "instrument": "MERLIN G 250 Hz, Ei 62 meV",
            "rows": [{"steps": label, "path": path, "best_s_per_map": t, "ratio_to_analytic": ratio}
                     for label, path, t, ratio in rows]})


if __name__ == "__main__":
    main()
