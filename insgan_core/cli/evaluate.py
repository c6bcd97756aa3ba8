"""``insgan evaluate``: metrics of GAN outputs against references, next to the identity baseline; or, with
``--baselines``, fit the baseline translators (and a translation model) on measured maps and judge them on
other measured maps (:mod:`insgan_core.translation`)."""

from __future__ import annotations

import argparse
import json
import logging
import math
from pathlib import Path

from ..data.io._atomic import atomic_path
from ..data.ins_map import MapStack
from ..errors import InsganInputError
from ._maps import load_map_on_grid
from .apply import list_map_files

__all__ = ["add_parser", "run", "parse_window"]

log = logging.getLogger("insgan")

EPILOG = """\
example: insgan evaluate --output translated/ --reference targets/ --baseline clean/ -o metrics.json
         insgan evaluate --output gan_bfo.nxs --reference bfo_5K_sqw.nxs --baseline clean_bfo.nxs \\
             --q-window 1.0,1.6 --e-range 5,40

Each of --output, --reference and --baseline is one or more map files (.nxs, .npz) or folders of them
(read in name order); all maps must share one grid (a detector-space reference, e.g. NXSPE, is converted
to S(|Q|,E) on the outputs' grid). The baseline is the clean input the outputs were made from: every
metric is reported for the output and for the baseline, with the fraction of the baseline's gap closed.
When there are as many references as outputs they are paired (relative L1, SSIM, cut comparisons);
otherwise only the set metrics (patch distance, noise statistics, peak preservation) are computed.
Windows are "lo,hi" (|Q| in inverse angstrom, energy in meV).

With --baselines the command fits translators instead of reading their outputs:
         insgan evaluate --baselines clean,blur,analytic,structured \\
             --train-measured bfo_5K.nxspe --train-temperature 5 \\
             --test-measured bfo_300K.nxspe --test-temperature 300 \\
             --spin-model bi2fe4o9 --q-binning 0,0.05,6 --e-binning=-15.5,0.5,52.5 \\
             --chopper-frequency 350 --model structured.safetensors -o translators.json
Each baseline (clean: clean simulation x least-squares scale + coverage mask; blur: Gaussian blur in E and
|Q| + mask + scale; analytic: insgan's analytic pipeline x scale; structured: a*P_T + sum_k (|Q|/6)^2k h_k(E)
by weighted least squares) is fitted on the --train-measured maps and applied unchanged to the
--test-measured maps; --model adds a saved translation model. The clean simulations come from
--spin-model (simulated once per temperature on the grid) or from --train-sim/--test-sim map files.
Detector-space files (NXSPE) give their own coverage; temperatures come from the files or the options.
"""


def parse_window(text: str, *, name: str) -> tuple[float, float]:
    """``"lo,hi"`` → (lo, hi) with hi > lo."""
    try:
        lo, hi = (float(v) for v in text.split(","))
    except ValueError:
        raise InsganInputError(f"{name}: expected 'lo,hi' (two numbers separated by a comma), got {text!r}") from None
    if not hi > lo:
        raise InsganInputError(f"{name}: hi must be greater than lo, got {text!r}")
    return lo, hi


def add_parser(subparsers) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "evaluate",
        help="compare GAN outputs with reference maps (relative L1, SSIM, patch distance, cuts)",
        description="Metrics of translated maps against references, each also for the identity baseline "
        "(the clean simulation) so the gap the GAN closes is explicit.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--output", nargs="+", default=None, metavar="PATH", help="GAN output map files or folders")
    p.add_argument("--reference", nargs="+", default=None, metavar="PATH", help="reference maps (targets or real data)")
    p.add_argument("--baseline", nargs="+", default=None, metavar="PATH", help="the clean inputs of the outputs")
    p.add_argument("-o", "--metrics", default=None, metavar="JSON", help="write all metrics to this JSON file")
    p.add_argument("--q-window", action="append", default=None, metavar="LO,HI", help="|Q| window (Å⁻¹) of an energy cut; repeatable")
    p.add_argument("--e-window", action="append", default=None, metavar="LO,HI", help="energy window (meV) of a |Q| cut; repeatable")
    p.add_argument("--e-range", default=None, metavar="LO,HI", help="energy range (meV) searched for peaks in energy cuts")
    p.add_argument("--patch-size", type=int, default=16, help="patch side in bins for the patch distance (default 16)")
    p.add_argument("--n-patches", type=int, default=512, help="patches drawn per set (default 512)")
    p.add_argument("--seed", type=int, default=0, help="seed of the patch sampling and features (default 0)")
    from ._evaluate_translators import add_translator_arguments

    add_translator_arguments(p)
    p.set_defaults(func=run)
    return p


def _gather(paths, *, name: str, grid=None) -> MapStack:
    files: list[Path] = []
    for text in paths:
        path = Path(text)
        if path.is_dir():
            files.extend(list_map_files(path))
        elif path.is_file():
            files.append(path)
        else:
            raise InsganInputError(f"--{name}: '{path}' is neither a file nor a folder")
    q_edges, e_edges = (None, None) if grid is None else grid
    maps = [load_map_on_grid(f, q_edges=q_edges, e_edges=e_edges) for f in files]
    try:
        return MapStack.from_maps(maps)
    except InsganInputError as exc:
        raise InsganInputError(f"--{name}: {exc}") from None


def _json_safe(obj):
    if isinstance(obj, dict):
        return {k: _json_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_json_safe(v) for v in obj]
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj


def _fmt(v) -> str:
    return "n/a" if v is None or (isinstance(v, float) and not math.isfinite(v)) else f"{v:.4g}"


def run(args) -> int:
    from ..gan.metrics import evaluate

    if getattr(args, "baselines", None) is not None:
        from ._evaluate_translators import run_translators

        return run_translators(args)
    missing = [f"--{n}" for n in ("output", "reference", "baseline") if getattr(args, n) is None]
    if missing:
        raise InsganInputError(
            f"{', '.join(missing)}: required to compare GAN outputs (or use --baselines to fit and judge baseline translators)"
        )
    outputs = _gather(args.output, name="output")
    grid = (outputs.x_axis.edges, outputs.e_axis.edges) if outputs.x_axis.unit == "MomentumTransfer" else None
    references = _gather(args.reference, name="reference", grid=grid)
    baseline = _gather(args.baseline, name="baseline", grid=grid)
    result = evaluate(
        outputs,
        references,
        baseline,
        q_windows=None if args.q_window is None else [parse_window(w, name="--q-window") for w in args.q_window],
        e_windows=None if args.e_window is None else [parse_window(w, name="--e-window") for w in args.e_window],
        e_range=None if args.e_range is None else parse_window(args.e_range, name="--e-range"),
        patch_size=args.patch_size,
        n_patches=args.n_patches,
        seed=args.seed,
    )
    result = _json_safe(result)
    if args.metrics:
        with atomic_path(args.metrics, suffix=".json") as tmp:
            Path(tmp).write_text(json.dumps(result, indent=2) + "\n")
    if not args.quiet:
        lines = [f"{'metric':<24}{'output':>12}{'baseline':>12}{'gap closed':>12}"]
        for key in ("relative_l1", "ssim"):
            if key in result:
                r = result[key]
                lines.append(f"{key:<24}{_fmt(r['output']['mean']):>12}{_fmt(r['baseline']['mean']):>12}{_fmt(r['gap_closed']):>12}")
        r = result["patch_distance"]
        lines.append(f"{'patch_distance':<24}{_fmt(r['output']):>12}{_fmt(r['baseline']):>12}{_fmt(r['gap_closed']):>12}")
        v = result["variance_to_mean"]
        lines.append(f"{'variance/mean':<24}{_fmt(v['output']):>12}{_fmt(v['baseline']):>12}   reference {_fmt(v['reference'])}")
        for c in result["cuts"]["energy_cuts"]:
            lo, hi = c["q_window"]
            lines.append(
                f"E-cut |Q| {lo:.3g}-{hi:.3g}: peak shift from input {_fmt(c['shift_from_baseline_meV']['mean'])} meV"
                + (f", from reference {_fmt(c['shift_from_reference_meV']['mean'])} meV" if "shift_from_reference_meV" in c else "")
            )
        print("\n".join(lines))
    return 0
