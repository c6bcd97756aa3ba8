"""``insgan convert``: detector-space INS file (NXSPE or processed NeXus) → S(|Q|,E) map file."""

from __future__ import annotations

import argparse
import logging
import time
from pathlib import Path

from ..data import io
from ..data.detector import DetectorData
from ..data.grid import parse_binning
from ..data.limits import check_rebin_size
from ..data.reduction import METHODS, check_energy_range, explain_empty_map, powder_map
from ..errors import InsganInputError

__all__ = ["add_parser", "run"]

log = logging.getLogger("insgan")

EPILOG = """\
example: insgan convert bi2fe4o9_Ei62_5K.nxspe --q-bins 0,0.05,7 --e-bins=-10,0.5,55 -o bfo_sqw.nxs

Binning strings are Mantid's "start,step,end" (|Q| in inverse angstrom, energy transfer in meV);
a negative start may be written either way: --e-bins -10,0.5,55 or --e-bins=-10,0.5,55. The energy
range must end at or below Ei. A binning that no detector pixel reaches is refused (exit 2), never
written as an empty map.
INPUT may be NXSPE, a Mantid processed NeXus file (detector space or an S(|Q|,E) map, which is then
rebinned) or an insgan .npz map. OUT ends in .nxs (Mantid processed NeXus, loadable with
LoadNexusProcessed) or .npz.
"""


def add_parser(subparsers) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "convert",
        help="convert detector-space data (NXSPE / processed NeXus) to a powder S(|Q|,E) map",
        description="Convert a reduced direct-geometry INS file to S(|Q|,E) (the equivalent of Mantid SofQW) "
        "and write it as Mantid processed NeXus (.nxs) or .npz.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("input", metavar="INPUT", help="input file: NXSPE, Mantid processed NeXus or insgan .npz")
    p.add_argument("--q-bins", required=True, metavar="START,STEP,END", help="|Q| binning in Å⁻¹, e.g. 0,0.05,7")
    p.add_argument(
        "--e-bins",
        metavar="START,STEP,END",
        default=None,
        help="energy-transfer binning in meV, e.g. --e-bins=-10,0.5,55 (default: the input's energy bins)",
    )
    p.add_argument(
        "--method",
        choices=METHODS,
        default="polygon",
        help="polygon: fractional-area rebinning of each detector pixel (default); centre: pixel centres only",
    )
    p.add_argument("-o", "--output", required=True, metavar="OUT", help="output file, .nxs or .npz")
    p.set_defaults(func=run)
    return p


def run(args) -> int:
    q_edges = parse_binning(args.q_bins, name="--q-bins")
    e_edges = None if args.e_bins is None else parse_binning(args.e_bins, name="--e-bins")
    out = Path(args.output)
    if out.suffix.lower() not in (".nxs", ".npz"):
        raise InsganInputError(f"--output: '{out}' must end in .nxs (Mantid processed NeXus) or .npz")
    if str(out.parent) and not out.parent.is_dir():
        raise InsganInputError(f"--output: folder '{out.parent}' does not exist; create it first")
    if out.is_dir():
        raise InsganInputError(f"--output: '{out}' is a folder; give a file name ending in .nxs or .npz")
    t0 = time.perf_counter()
    data = io.load(args.input)
    if isinstance(data, DetectorData):
        if e_edges is not None:
            check_energy_range(e_edges, data.ei_meV, name="--e-bins")
        result = powder_map(data, q_edges=q_edges, e_edges=e_edges, method=args.method)
        what = f"{data.shape[0]} detectors x {data.shape[1]} energies, method {args.method}"
        if not (~result.mask).any():
            raise InsganInputError(
                f"{args.input}: nothing to write: "
                + explain_empty_map(data, q_edges=q_edges, e_edges=e_edges, source="this file")
            )
    elif data.x_axis.unit == "MomentumTransfer":
        ei = data.metadata.ei_meV
        if e_edges is not None and isinstance(ei, (int, float)) and ei > 0:
            check_energy_range(e_edges, float(ei), name="--e-bins")
        check_rebin_size(data.shape, (q_edges.size - 1, data.e_axis.size if e_edges is None else e_edges.size - 1))
        result = data.rebin(x_edges=q_edges, e_edges=e_edges)
        what = "rebinned an S(|Q|,E) map"
        if not (~result.mask).any():
            raise InsganInputError(
                f"{args.input}: nothing to write: the requested bins (|Q| {q_edges[0]:g}–{q_edges[-1]:g} Å⁻¹) do not "
                f"overlap the map's finite bins (|Q| {data.x_axis.edges[0]:g}–{data.x_axis.edges[-1]:g} Å⁻¹, "
                f"E {data.e_axis.edges[0]:g}–{data.e_axis.edges[-1]:g} meV)"
            )
    else:
        raise InsganInputError(
            f"{args.input}: holds a map with a '{data.x_axis.unit}' axis and no detector angles; "
            "cannot convert it to |Q| (save it from Mantid as NXSPE, which keeps the angles)"
        )
    io.save(result, out)
    if not args.quiet:
        covered = 100.0 * (1.0 - result.mask.mean())
        log.info(
            "insgan convert: %s -> %s (%s; %d |Q| x %d E bins, %.1f %% covered, %.2f s)",
            args.input, out, what, result.shape[0], result.shape[1], covered, time.perf_counter() - t0,
        )
    return 0
