# SPDX-License-Identifier: GPL-3.0-or-later
"""Benchmark: powder reduction of a real MERLIN file, fractional-area polygon vs centre-point binning.

Reduces the MERLIN Bi2Fe4O9 Ei = 62 meV, 5 K NXSPE file (212 detector groups x 220 energy bins) to
S(|Q|,E) with :func:`insgan_core.data.reduction.powder_map`, timing ``method="polygon"`` (as Mantid's
``SofQWNormalisedPolygon``) against the baseline ``method="centre"`` (as ``SofQWCentre``) in the same
process. Each timing is the best of ``--repeats`` runs after one warm-up; the ratio is polygon time /
centre time (the price of the exact overlap areas). The file is read once and is not part of the timing.

Run::

    python benchmarks/bench_reduction.py [--file PATH] [--q-binning 0,0.05,7] [--repeats 5] [--quick] [--json PATH]

The default file is ``../shared/data/experimental/bi2fe4o9_Ei62_5K.nxspe`` relative to the repository root.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
from timing import best_time

REPO = Path(__file__).resolve().parents[1]
DEFAULT_FILE = REPO.parent / "shared" / "data" / "experimental" / "bi2fe4o9_Ei62_5K.nxspe"



def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--file", type=Path, default=DEFAULT_FILE, help="NXSPE file (default: the MERLIN Bi2Fe4O9 5 K file)")
    parser.add_argument("--q-binning", default="0,0.05,7", help="|Q| binning 'start,step,end' in 1/Angstrom")
    parser.add_argument("--repeats", type=int, default=5, help="timed runs per method (best is kept)")
    parser.add_argument("--quick", action="store_true", help="smoke-test: 1 repeat")
    parser.add_argument("--json", type=Path, default=None, metavar="PATH",
                        help="also write the measured numbers to PATH as JSON (atomically)")
    args = parser.parse_args(argv)
    if args.quick:
        args.repeats = 1
    if not args.file.is_file():
        print(f"bench_reduction: data file not found: {args.file}\n"
              "  the real MERLIN file lives in ../shared/data/experimental next to the repository; "
              "pass another NXSPE file with --file PATH", file=sys.stderr)
        return 2

    from insgan_core.data.grid import parse_binning
    from insgan_core.data.io import load_nxspe
    from insgan_core.data.reduction import powder_map

    det = load_nxspe(args.file)
    q_edges = parse_binning(args.q_binning, name="q_binning")
    times = {method: best_time(lambda m=method: powder_map(det, q_edges=q_edges, method=m), repeats=args.repeats)
             for method in ("centre", "polygon")}
    maps = {method: powder_map(det, q_edges=q_edges, method=method) for method in ("centre", "polygon")}
    filled = {method: float(np.mean(~np.isnan(m.signal))) for method, m in maps.items()}
    ratio = times["polygon"] / times["centre"]

    n_det, n_e = det.signal.shape
    print(f"powder reduction of {args.file.name}: {n_det} detectors x {n_e} energy bins -> "
          f"{q_edges.size - 1} |Q| x {n_e} E bins; best of {args.repeats}")
    for method in ("centre", "polygon"):
        print(f"  {method:8s}: {1e3 * times[method]:9.1f} ms per map ({100 * filled[method]:.0f} % of bins filled)")
    print(f"  ratio polygon / centre time: {ratio:.2f}")
    if args.json is not None:
        from results_json import write_json

        write_json(args.json, {
            "benchmark": "reduction", "file": args.file.name, "detectors": n_det, "energy_bins": n_e,
            "q_bins": q_edges.size - 1, "repeats": args.repeats,
            "centre_best_ms_per_map": 1e3 * times["centre"], "polygon_best_ms_per_map": 1e3 * times["polygon"],
            "ratio_polygon_over_centre": ratio,
            "filled_fraction_centre": filled["centre"], "filled_fraction_polygon": filled["polygon"]})
    return 0


if __name__ == "__main__":
    sys.exit(main())
