# SPDX-License-Identifier: GPL-3.0-or-later
"""Benchmark insgan's spin-wave engine against pySpinW 1.1.0b2 on the same jobs, in one process.

Jobs (the targets of issue 3, on 2 CPU cores):

1. single crystal, 2-site cell (square-lattice Neel AFM, sqrt2 x sqrt2 cell): Q points per second,
   target >= 2x pySpinW;
2. single crystal, 16-site cell (the same AFM in a 4x4 supercell): Q per second, target >= 2x pySpinW;
3. powder map, 2-site cell: 100 |Q| shells x 1597 directions (Fibonacci sphere) x 150 energy bins,
   target >= 4x faster than pySpinW (``pyspinw.Powder.spectrum``).  1597 is a Fibonacci number, so
   pySpinW uses exactly that many directions (it rounds any other request up to the next Fibonacci
   number: 1600 would become 2584).

The models are the shared plain-data definitions of ``tests/reference/pyspinw/reference_models.py``,
built in each code from the same dict.  pySpinW is optional: without it the script prints insgan's
numbers and says pySpinW is absent.  pySpinW pulls a GUI stack, so it normally lives in its own
virtual environment; to compare in one process, run this script with that environment's Python and
insgan on the path, e.g. ``PYTHONPATH=. /path/to/pyspinw-venv/bin/python benchmarks/bench_spinwave.py``
(insgan needs only numpy/scipy/h5py/pyyaml there; the torch backend is timed when torch is importable).

Each timing is the best of ``--repeats`` runs (after one warm-up), so background load on a shared
machine inflates it as little as possible; ratios are pySpinW time / insgan time for the same work.
``--threads N`` sets the BLAS/OpenMP/Rayon thread counts (OMP_NUM_THREADS, OPENBLAS_NUM_THREADS,
MKL_NUM_THREADS, RAYON_NUM_THREADS, torch) before numpy is imported; the batched eigen-solves of
small matrices are sensitive to it (multi-threaded OpenBLAS can be much slower for 32x32 matrices
on a loaded machine), so report the setting with the numbers.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import platform
from pathlib import Path

from timing import best_time

THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "RAYON_NUM_THREADS")
REPO_ROOT = Path(__file__).resolve().parents[1]
REFERENCE_MODELS = REPO_ROOT / "tests" / "reference" / "pyspinw" / "reference_models.py"


def _reference_models():
    spec = importlib.util.spec_from_file_location("pyspinw_reference_models", REFERENCE_MODELS)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module



def _pyspinw_available() -> bool:
    return importlib.util.find_spec("pyspinw") is not None


def _torch_available() -> bool:
    return importlib.util.find_spec("torch") is not None


def single_crystal_jobs(refmodels, *, n_q_two: int, n_q_sixteen: int, repeats: int, backends: list[str],
                        with_pyspinw: bool, workers: int | None = None) -> list[dict]:
    """Q/s of insgan (each backend) and pySpinW for the 2-site and 16-site cells."""
    import numpy as np

    from insgan_core.spinwave import SpinWaveCalculator

    rows = []
    rng = np.random.default_rng(0)
    for label, n_q in (("two_site", n_q_two), ("sixteen_site", n_q_sixteen)):
        model_dict = refmodels.benchmark_models()[label]
        q = rng.uniform(-1.0, 1.0, size=(n_q, 3))
        row = {"job": f"single crystal, {len(model_dict['sites'])}-site cell, {n_q} Q"}
        for backend in backends:
            calc = SpinWaveCalculator(refmodels.build_insgan(model_dict), backend=backend, workers=workers)
            row[f"insgan_{backend}_s"] = best_time(lambda: calc.dispersion(q), repeats=repeats)
        if with_pyspinw:
            ham = refmodels.build_pyspinw(model_dict)
            row["pyspinw_s"] = best_time(lambda: ham._energies_and_intensities(q, intensity_unit="spin"),
                                          repeats=repeats)
        row["n_q"] = n_q
        rows.append(row)
    return rows


def powder_job(refmodels, *, n_q: int, n_directions: int, n_e: int, repeats: int, backends: list[str],
               with_pyspinw: bool, workers: int | None = None) -> dict:
    """Wall time of one powder map on the 2-site cell in insgan (each backend) and pySpinW."""
    import numpy as np

    from insgan_core.spinwave import powder_map

    model_dict = refmodels.benchmark_models()["two_site"]
    q_edges = np.linspace(0.05, 5.05, n_q + 1)          # |Q| in 1/Angstrom
    e_edges = np.linspace(0.0, 30.0, n_e + 1)           # meV; the 2-site AFM band reaches 4JS = 20 meV
    q_centres = 0.5 * (q_edges[1:] + q_edges[:-1])
    row = {"job": f"powder, 2-site cell, {n_q} |Q| x {n_directions} directions x {n_e} E bins"}
    model = refmodels.build_insgan(model_dict)
    for backend in backends:
        row[f"insgan_{backend}_s"] = best_time(
            lambda: powder_map(model, q_edges=q_edges, e_edges=e_edges, n_directions=n_directions,
                               form_factor=False, backend=backend, workers=workers), repeats=repeats)
    if with_pyspinw:
        from pyspinw import Powder

        from pyspinw.calculations.spherical_integration import point_generator

        actual = point_generator("fibonacci")(n_directions, seed=None).actual_n_points
        if actual != n_directions:
            row["job"] += f" (pySpinW uses {actual} directions)"
        powder = Powder(refmodels.build_pyspinw(model_dict))
        row["pyspinw_s"] = best_time(
            lambda: powder.spectrum(q_centres, n_samples=n_directions, min_energy=float(e_edges[0]),
                                    max_energy=float(e_edges[-1]), n_energy_bins=n_e), repeats=repeats)
    return row


def _print_rows(rows: list[dict], backends: list[str], with_pyspinw: bool) -> None:
    for row in rows:
        print(row["job"])
        for backend in backends:
            t = row[f"insgan_{backend}_s"]
            extra = f", {row['n_q'] / t:,.0f} Q/s" if "n_q" in row else ""
            ratio = f", pySpinW/insgan time ratio {row['pyspinw_s'] / t:.2f}x" if with_pyspinw else ""
            print(f"  insgan ({backend:5s}): {t * 1e3:9.1f} ms{extra}{ratio}")
        if with_pyspinw:
            t = row["pyspinw_s"]
            extra = f", {row['n_q'] / t:,.0f} Q/s" if "n_q" in row else ""
            print(f"  pySpinW        : {t * 1e3:9.1f} ms{extra}")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=3, help="timed runs per job (best is kept)")
    parser.add_argument("--n-q-two", type=int, default=20000, help="Q points for the 2-site cell")
    parser.add_argument("--n-q-sixteen", type=int, default=2000, help="Q points for the 16-site cell")
    parser.add_argument("--powder-q", type=int, default=100)
    parser.add_argument("--powder-directions", type=int, default=1597,
                        help="a Fibonacci number: pySpinW rounds a request up to the next one (1600 -> 2584)")
    parser.add_argument("--powder-e", type=int, default=150)
    parser.add_argument("--backends", default="numpy,torch", help="insgan backends to time (if importable)")
    parser.add_argument("--skip-pyspinw", action="store_true", help="time insgan only")
    parser.add_argument("--threads", type=int, default=None,
                        help="BLAS/OpenMP/Rayon/torch threads (default: leave the environment as it is)")
    parser.add_argument("--quick", action="store_true",
                        help="smoke-test sizes (1 repeat, 2000/200 Q, powder 20 |Q| x 233 directions x 50 E)")
    parser.add_argument("--json", type=Path, default=None, metavar="PATH",
                        help="also write the measured numbers to PATH as JSON (atomically)")
    parser.add_argument("--workers", type=int, default=None,
                        help="insgan solver threads (default: automatic, see insgan_core.spinwave.parallel)")
    args = parser.parse_args(argv)
    if args.quick:
        args.repeats, args.n_q_two, args.n_q_sixteen = 1, 2000, 200
        args.powder_q, args.powder_directions, args.powder_e = 20, 233, 50
    if args.threads is not None:  # must happen before numpy (and its BLAS) is imported
        for variable in THREAD_VARIABLES:
            os.environ[variable] = str(args.threads)

    refmodels = _reference_models()
    backends = [b for b in args.backends.split(",") if b and (b != "torch" or _torch_available())]
    if "torch" in backends and args.threads is not None:
        import torch

        torch.set_num_threads(args.threads)
    with_pyspinw = _pyspinw_available() and not args.skip_pyspinw
    if with_pyspinw:
        from pyspinw.versions import get_version
        peer = f"pySpinW {get_version()} (Rust core)"
    else:
        peer = "pySpinW absent (not importable): insgan numbers only"
    threads = ", ".join(f"{v}={os.environ.get(v, 'unset')}" for v in THREAD_VARIABLES)
    from insgan_core.spinwave.parallel import resolve_workers

    print(f"bench_spinwave: {platform.machine()}, {os.cpu_count()} CPUs visible, {threads}; "
          f"insgan workers={resolve_workers(args.workers)} (BLAS limited to 1 thread inside the solver); {peer}")

    rows = single_crystal_jobs(refmodels, n_q_two=args.n_q_two, n_q_sixteen=args.n_q_sixteen,
                               repeats=args.repeats, backends=backends, with_pyspinw=with_pyspinw,
                               workers=args.workers)
    rows.append(powder_job(refmodels, n_q=args.powder_q, n_directions=args.powder_directions,
                           n_e=args.powder_e, repeats=args.repeats, backends=backends,
                           with_pyspinw=with_pyspinw, workers=args.workers))
    _print_rows(rows, backends, with_pyspinw)
    if with_pyspinw:
        print("targets: single crystal >= 2x pySpinW's Q/s (2- and 16-site); powder >= 4x faster")
    if args.json is not None:
        from results_json import write_json

        write_json(args.json, _json_results(rows, backends, peer=peer if with_pyspinw else None,
                                            threads={v: os.environ.get(v) for v in THREAD_VARIABLES},
                                            repeats=args.repeats))
    return 0


def _json_results(rows: list[dict], backends: list[str], *, peer: str | None, threads: dict, repeats: int) -> dict:
    """The rows as JSON: per job, seconds and Q/s per code, and pySpinW time / insgan time per backend."""
    jobs = {}
    for key, row in zip(("single_crystal_two_site", "single_crystal_sixteen_site", "powder_two_site"), rows):
        out = {"job": row["job"]}
        if "n_q" in row:
            out["n_q"] = row["n_q"]
        for code in [f"insgan_{b}" for b in backends] + (["pyspinw"] if "pyspinw_s" in row else []):
            t = row[f"{code}_s"]
            out[f"{code}_best_s"] = t
            if "n_q" in row:
                out[f"{code}_q_per_s"] = row["n_q"] / t
        if "pyspinw_s" in row:
            for b in backends:
                out[f"ratio_pyspinw_time_over_insgan_{b}_time"] = row["pyspinw_s"] / row[f"insgan_{b}_s"]
        jobs[key] = out
    return {"benchmark": "spinwave", "pyspinw": peer, "backends": backends, "repeats": repeats,
            "threads": threads, "targets": {"single_crystal_min_ratio": 2.0, "powder_min_ratio": 4.0},
            "jobs": jobs}


if __name__ == "__main__":
    raise SystemExit(main())
