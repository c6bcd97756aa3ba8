"""``insgan plot``: colour map of an INS file (detector space or S(|Q|,E)) written to an image file."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from ..data import io
from ..data.detector import DetectorData
from ..data.grid import parse_binning
from ..errors import InsganInputError

__all__ = ["add_parser", "run"]

log = logging.getLogger("insgan")

EPILOG = """\
example: insgan plot bi2fe4o9_Ei62_5K.nxspe -o bfo.png --log
         insgan plot bfo_sqw.nxs -o bfo_sqw.png --vmin 0 --vmax 300

Detector-space files are drawn against 2θ (or converted first with --q-bins); maps against |Q| or a
reciprocal-lattice path. NaN (masked or inaccessible) bins are blank. The image format follows the
extension of FIG (.png, .pdf, .svg).
"""


def add_parser(subparsers) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "plot",
        help="plot an INS file (detector space or S(|Q|,E)) as a colour map",
        description="Draw an NXSPE, Mantid processed NeXus or insgan .npz file as a colour map with labelled "
        "axes and units.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("input", metavar="INPUT", help="input file: NXSPE, Mantid processed NeXus or insgan .npz")
    p.add_argument("-o", "--output", required=True, metavar="FIG", help="image file (.png, .pdf, .svg)")
    p.add_argument("--log", action="store_true", help="logarithmic colour scale")
    p.add_argument("--vmin", type=float, default=None, help="lower colour limit (default: 1st percentile)")
    p.add_argument("--vmax", type=float, default=None, help="upper colour limit (default: 99.5th percentile)")
    p.add_argument("--cmap", default="viridis", help="matplotlib colour map (default viridis)")
    p.add_argument("--title", default=None, help="plot title (default: from the file's metadata)")
    p.add_argument("--q-bins", default=None, metavar="START,STEP,END", help="convert detector data to S(|Q|,E) first")
    p.add_argument("--e-bins", default=None, metavar="START,STEP,END", help="energy binning for --q-bins (meV)")
    p.add_argument("--dpi", type=int, default=120, help="resolution of raster images (default 120)")
    p.set_defaults(func=run)
    return p


def run(args) -> int:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from ..data.plotting import plot_map

    out = Path(args.output)
    if out.suffix.lower() not in (".png", ".pdf", ".svg", ".jpg", ".jpeg"):
        raise InsganInputError(f"--output: '{out}' should end in .png, .pdf, .svg or .jpg")
    if not out.parent.is_dir() and str(out.parent):
        raise InsganInputError(f"--output: folder '{out.parent}' does not exist")
    if args.dpi <= 0:
        raise InsganInputError(f"--dpi must be > 0, got {args.dpi}")
    data = io.load(args.input)
    if args.q_bins is not None:
        q_edges = parse_binning(args.q_bins, name="--q-bins")
        e_edges = None if args.e_bins is None else parse_binning(args.e_bins, name="--e-bins")
        if isinstance(data, DetectorData):
            from ..data.reduction import powder_map

            data = powder_map(data, q_edges=q_edges, e_edges=e_edges)
        else:
            data = data.rebin(x_edges=q_edges, e_edges=e_edges)
    fig, ax = plt.subplots(figsize=(6.4, 4.8), constrained_layout=True)
    try:
        plot_map(data, ax=ax, log=args.log, vmin=args.vmin, vmax=args.vmax, cmap=args.cmap, title=args.title)
        from ..data.io._atomic import atomic_path

        with atomic_path(out, suffix=out.suffix) as tmp:
            fig.savefig(tmp, dpi=args.dpi, format=out.suffix.lstrip(".").lower().replace("jpg", "jpeg"))
    finally:
        plt.close(fig)
    if not args.quiet:
        log.info("insgan plot: %s -> %s", args.input, out)
    return 0
