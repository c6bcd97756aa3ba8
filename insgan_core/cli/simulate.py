"""``insgan simulate``: clean spin-wave S(|Q|, E) of a model on a data grid or explicit binning."""

from __future__ import annotations

import argparse
import logging
import math

import numpy as np

from ..errors import InsganInputError
from ._artefact_args import add_artefact_arguments, artefacts_from_args

__all__ = ["add_parser", "add_simulation_arguments", "grid_from_args", "model_from_args", "run"]

log = logging.getLogger("insgan")

EPILOG = """examples:
  insgan simulate afm_chain --set J=3.5 --q-bins 0,0.02,3 --e-bins 0,0.25,25 --fwhm 1.5 -o afm.nxs
  insgan simulate my_model.yaml --grid reduced_sqw.nxs --temperature 5 -o clean.nxs
  insgan simulate triangular_afm --grid run.nxspe --q-bins 0.2,0.02,4 -o tri.nxs
  insgan simulate square_afm --q-bins 0.1,0.05,6 --e-bins -10,0.5,55 --temperature 5 \
      --instrument MERLIN --ei 62 --chopper-frequency 250 --artefacts all -o merlin_like.nxs
  insgan simulate bi2fe4o9 --grid run.nxspe --q-bins 0.1,0.04,5.7 --detectors run.nxspe \
      --instrument MERLIN --ei 62 --artefacts resolution,background,coverage,noise -o bfo_like.nxs

With --artefacts (default none) the clean map is passed through the physics model of the
spectrometer: resolution (resins), backgrounds, detector coverage and kinematics (built-in, or the
detector table of --detectors), counting noise. Energy broadening then comes from the instrument, so
--fwhm must not be given as well.

library models: see 'insgan simulate --list-models'. Sign convention: H = sum_bonds S_i.J.S_j,
each bond once, J > 0 antiferromagnetic (SpinW/pySpinW)."""


def add_simulation_arguments(parser: argparse.ArgumentParser) -> None:
    """Options shared by commands that simulate a clean spin-wave map (model, grid, physics)."""
    parser.add_argument("model", nargs="?", help="library model name or path to a YAML model file")
    parser.add_argument(
        "--set", dest="overrides", action="append", default=[], metavar="NAME=VALUE[,NAME=VALUE]",
        help="override model parameters, e.g. --set J1=2.5,D=0.1 (repeatable)",
    )
    grid = parser.add_argument_group("grid (give --grid, or --q-bins and --e-bins)")
    grid.add_argument("--grid", metavar="REF", help="reference file (S(|Q|,E) map, or NXSPE for its energy bins)")
    grid.add_argument("--q-bins", metavar="START,STEP,END", help="|Q| binning in 1/angstrom")
    grid.add_argument("--e-bins", metavar="START,STEP,END", help="energy-transfer binning in meV")
    phys = parser.add_argument_group("physics")
    phys.add_argument("--temperature", type=float, default=0.0, metavar="K", help="temperature in K for the Bose factor (default 0)")
    phys.add_argument("--fwhm", type=float, default=None, metavar="MEV", help="constant Gaussian energy FWHM in meV")
    phys.add_argument("--directions", type=int, default=None, metavar="N",
                      help="directions per |Q| shell with the older random-rotation method (default: deterministic "
                           "quadrature sized per shell for --accuracy)")
    phys.add_argument("--accuracy", type=float, default=None, metavar="REL",
                      help="target relative L1 quadrature error of the map (default 0.03, calibrated with 2 meV "
                           "broadening on Bi2Fe4O9): the zone integrator uses (1.58/REL)^2 Brillouin-zone "
                           "points (0.03: 2,774; 0.01: 24,964), the plan integrator sizes its directions per shell")
    phys.add_argument("--integrator", choices=("zone", "plan"), default=None,
                      help="powder integrator without --directions: 'zone' (one diagonalisation per zone-grid point "
                           "serves a Q = k + G in every |Q| bin; bin averages) or 'plan' (deterministic directions "
                           "on the sphere at each bin centre); default: the library default, plan)")
    phys.add_argument("--seed", type=int, default=0, help="seed of the per-shell random rotations (default 0)")
    phys.add_argument("--no-form-factor", action="store_true", help="omit the magnetic form factor")
    phys.add_argument("--units", choices=("spin", "mbarn"), default="spin", help="S_perp per site per meV, or mbarn/sr/meV per site")
    phys.add_argument("--backend", choices=("numpy", "torch"), default="numpy", help="solver backend (default numpy)")
    phys.add_argument("--device", default="cpu", help="torch device for --backend torch (default cpu)")
    phys.add_argument("--workers", type=int, default=None, metavar="N",
                      help="threads for the diagonalisation (default: automatic, from OMP_NUM_THREADS or the CPU count)")


def add_parser(subparsers) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "simulate",
        help="clean spin-wave S(|Q|,E) of a magnetic model on a data grid",
        description="Compute the powder-averaged linear spin-wave S(|Q|,E) of a model (library name or YAML "
        "file) on exactly the grid of a reference map or on explicit binning, and write a Mantid-loadable file.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_simulation_arguments(parser)
    add_artefact_arguments(parser, default_steps="none", include_seed=False)
    parser.add_argument("-o", "--output", metavar="OUT", help="output file (.nxs Mantid processed NeXus, or .npz)")
    parser.add_argument("--list-models", action="store_true", help="list the built-in models and exit")
    parser.set_defaults(func=run)
    return parser


def model_from_args(args):
    from ..spinwave import load_model

    if not args.model:
        raise InsganInputError("simulate: give a MODEL (library name or .yaml file); see --list-models")
    overrides = ",".join(args.overrides) if args.overrides else None
    return load_model(args.model, overrides)


def grid_from_args(args) -> tuple[np.ndarray, np.ndarray, dict]:
    """(q_edges, e_edges, reference metadata dict) from --grid / --q-bins / --e-bins."""
    from ..data.grid import parse_binning

    q_edges = parse_binning(args.q_bins, name="--q-bins") if args.q_bins else None
    e_edges = parse_binning(args.e_bins, name="--e-bins") if args.e_bins else None
    info = {}
    if args.grid:
        from ..data.detector import DetectorData
        from ..data.io import load

        ref = load(args.grid)
        info = {"instrument": ref.metadata.instrument, "ei_meV": ref.metadata.ei_meV, "reference": str(args.grid)}
        if isinstance(ref, DetectorData):
            if e_edges is None:
                e_edges = np.asarray(ref.energy_edges, dtype=float)
            if q_edges is None:
                raise InsganInputError(
                    f"--grid {args.grid}: this is detector-space data (no |Q| axis); add --q-bins START,STEP,END "
                    "or give a reduced S(|Q|,E) map"
                )
        else:
            if ref.x_axis.unit != "MomentumTransfer":
                raise InsganInputError(
                    f"--grid {args.grid}: the map's x axis is '{ref.x_axis.unit}', expected 'MomentumTransfer' (|Q|)"
                )
            q_edges = np.asarray(ref.x_axis.edges) if q_edges is None else q_edges
            e_edges = np.asarray(ref.e_axis.edges) if e_edges is None else e_edges
    if q_edges is None or e_edges is None:
        raise InsganInputError("simulate: give --grid REF, or both --q-bins START,STEP,END and --e-bins START,STEP,END")
    return q_edges, e_edges, info


#: most directions per |Q| shell accepted with --directions (10^5 is already far beyond convergence)
MAX_DIRECTIONS = 100_000


def check_simulation_size(args, q_edges, e_edges) -> None:
    """Refuse physics options and grids that are meaningless or would not fit in memory (before any work)."""
    from ..data.limits import check_allocation

    if args.directions is not None and not 1 <= args.directions <= MAX_DIRECTIONS:
        raise InsganInputError(f"--directions: must be between 1 and {MAX_DIRECTIONS:,}, got {args.directions}")
    if args.accuracy is not None and not (math.isfinite(args.accuracy) and 0.005 <= args.accuracy <= 1):
        raise InsganInputError(f"--accuracy: must be a relative error between 0.005 and 1, got {args.accuracy}")
    if not (math.isfinite(args.temperature) and 0 <= args.temperature <= 1e5):
        raise InsganInputError(f"--temperature: must be a finite temperature >= 0 K, got {args.temperature}")
    if args.fwhm is not None and not (math.isfinite(args.fwhm) and args.fwhm > 0):
        raise InsganInputError(f"--fwhm: must be a finite energy width > 0 meV, got {args.fwhm}")
    if args.workers is not None and not 1 <= args.workers <= 4096:
        raise InsganInputError(f"--workers: must be between 1 and 4096, got {args.workers}")
    nq, ne = len(q_edges) - 1, len(e_edges) - 1
    check_allocation(float(nq) * ne, bytes_per_item=100, what=f"--q-bins x --e-bins: {nq} x {ne} bins",
                     hint="use coarser binning or a smaller range")
    if args.directions is not None:
        check_allocation(float(nq) * args.directions, bytes_per_item=64,
                         what=f"{nq} |Q| shells x {args.directions} directions", hint="use fewer --directions or |Q| bins")


def run(args) -> int:
    from ..data.io import save
    from ..spinwave import list_models, powder_map

    if args.list_models:
        for name in list_models():
            print(name)
        return 0
    if not args.output:
        raise InsganInputError("simulate: give the output file with -o OUT.nxs (or .npz)")
    model = model_from_args(args)
    q_edges, e_edges, info = grid_from_args(args)
    settings, config, detectors = artefacts_from_args(args)
    if config.steps and args.fwhm is not None:
        raise InsganInputError("simulate: --fwhm and --artefacts both broaden in energy; give one of them")
    check_simulation_size(args, q_edges, e_edges)
    if config.steps or args.ei is not None:
        ei = settings.ei_meV
        if e_edges[-1] > ei:
            raise InsganInputError(
                f"--ei: the energy range {e_edges[0]:g}–{e_edges[-1]:g} meV goes beyond Ei = {ei:g} meV; energy transfer "
                f"cannot exceed the incident energy (raise --ei or end --e-bins at or below {ei:g} meV)"
            )
    log.info("simulating %s (%d sites) on %d x %d bins", model.name, model.n_sites, len(q_edges) - 1, len(e_edges) - 1)
    smap = powder_map(
        model,
        q_edges=q_edges,
        e_edges=e_edges,
        temperature_K=args.temperature,
        fwhm_meV=args.fwhm,
        n_directions=args.directions,
        accuracy=args.accuracy,
        method=args.integrator,
        seed=args.seed,
        form_factor=not args.no_form_factor,
        units=args.units,
        backend=args.backend,
        device=args.device,
        workers=args.workers,
    )
    if info.get("instrument"):
        smap.metadata.instrument = info["instrument"]
    if info.get("ei_meV") is not None:
        smap.metadata.ei_meV = info["ei_meV"]
    if info.get("reference"):
        smap.metadata.provenance["grid_reference"] = info["reference"]
    if config.steps:
        from ..instrument import apply_artefacts

        log.info("adding artefacts %s (%s, Ei %g meV, %s resolution)", ",".join(config.steps),
                 settings.instrument, settings.ei_meV, args.method)
        smap = apply_artefacts(smap, settings=settings, config=config, detectors=detectors,
                               seed=args.seed, method=args.method)
    save(smap, args.output)
    log.info("wrote %s", args.output)
    return 0
