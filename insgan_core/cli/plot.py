"""``insgan plot``: colour map of an INS file (detector space or S(|Q|,E)) written to an image file."""

from __future__ import annotations

import argparse
import logging
import math
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


#: largest --dpi accepted (a 6.4 x 4.8 inch figure at 2400 dpi is already 177 megapixels)
MAX_DPI = 2400


def check_plot_options(args) -> None:
    """Refuse colour limits and resolutions that cannot give a meaningful image (one line each)."""
    for name in ("vmin", "vmax"):
        value = getattr(args, name)
        if value is not None and not math.isfinite(value):
            raise InsganInputError(f"--{name}: must be a finite number, got {value}")
    if args.vmin is not None and args.vmax is not None and args.vmin >= args.vmax:
        raise InsganInputError(f"--vmin ({args.vmin:g}) must be smaller than --vmax ({args.vmax:g})")
    if args.log and args.vmin is not None and args.vmin <= 0:
        raise InsganInputError(f"--vmin: must be > 0 with --log (a logarithmic scale starts above zero), got {args.vmin:g}")
    if args.log and args.vmax is not None and args.vmax <= 0:
        raise InsganInputError(f"--vmax: must be > 0 with --log, got {args.vmax:g}")
    if not 0 < args.dpi <= MAX_DPI:
        raise InsganInputError(f"--dpi: must be between 1 and {MAX_DPI}, got {args.dpi}")
    if args.title is not None and len(args.title) > 500:
        raise InsganInputError(f"--title: at most 500 characters, got {len(args.title)}")


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
    if out.is_dir():
        raise InsganInputError(f"--output: '{out}' is a folder; give an image file name (.png, .pdf, .svg)")
    check_plot_options(args)
    if args.e_bins is not None and args.q_bins is None:
        raise InsganInputError("--e-bins: only used with --q-bins (conversion to S(|Q|,E) before plotting); give both")
    q_edges = parse_binning(args.q_bins, name="--q-bins") if args.q_bins is not None else None
    e_edges = parse_binning(args.e_bins, name="--e-bins") if args.e_bins is not None else None
    data = io.load(args.input)
    if q_edges is not None:
        from ..data.limits import check_rebin_size
        from ..data.reduction import check_energy_range, explain_empty_map, powder_map

        if isinstance(data, DetectorData):
            if e_edges is not None:
                check_energy_range(e_edges, data.ei_meV, name="--e-bins")
            reduced = powder_map(data, q_edges=q_edges, e_edges=e_edges)
            if reduced.mask.all():
                raise InsganInputError(f"{args.input}: nothing to plot: " + explain_empty_map(data, q_edges=q_edges, e_edges=e_edges))
            data = reduced
        else:
            if data.x_axis.unit != "MomentumTransfer":
                raise InsganInputError(
                    f"{args.input}: --q-bins needs detector data or an S(|Q|,E) map; this map's x axis is '{data.x_axis.unit}'"
                )
            check_rebin_size(data.shape, (q_edges.size - 1, data.e_axis.size if e_edges is None else e_edges.size - 1))
            data = data.rebin(x_edges=q_edges, e_edges=e_edges)
            if data.mask.all():
                raise InsganInputError(f"{args.input}: nothing to plot: the requested bins do not overlap the map's finite bins")
    fig, ax = plt.subplots(figsize=(6.4, 4.8), constrained_layout=True)
    try:
        try:
            plot_map(data, ax=ax, log=args.log, vmin=args.vmin, vmax=args.vmax, cmap=args.cmap, title=args.title)
        except InsganInputError as exc:
            raise InsganInputError(f"{args.input}: {str(exc).removeprefix('plot_map: ')}") from None
        from ..data.io._atomic import atomic_path

        with atomic_path(out, suffix=out.suffix) as tmp:
            fig.savefig(tmp, dpi=args.dpi, format=out.suffix.lstrip(".").lower().replace("jpg", "jpeg"))
    finally:
        plt.close(fig)
    if not args.quiet:
        log.info("insgan plot: %s -> %s", args.input, out)
    return 0
