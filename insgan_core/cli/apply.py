"""``insgan apply``: translate clean simulated maps into experiment-like maps with a trained model."""

from __future__ import annotations

import argparse
import logging
import time
from pathlib import Path

from tqdm import tqdm

from ..data import io
from ..errors import InsganInputError
from ._maps import MAP_SUFFIXES, load_map_on_grid, map_files

__all__ = ["add_parser", "run", "list_map_files"]

log = logging.getLogger("insgan")

EPILOG = """\
example: insgan apply merlin_bfo.safetensors clean_sqw.nxs -o experiment_like.nxs
         insgan apply merlin_bfo.safetensors clean_maps/ -o translated/ --rebin

MODEL is a .safetensors file written by 'insgan train' (structured model or GAN). INPUT is one map file (.nxs Mantid processed
NeXus or insgan .npz; a detector-space NXSPE is first converted to S(|Q|,E) on the model grid) or a
folder of them; OUTPUT is then a file (.nxs or .npz) or a folder (created if needed; outputs keep the
input names, with --format choosing the extension). Maps on a grid other than the model's are refused
unless --rebin is given (rebinned to the model grid and back, conserving intensity). The output is NaN
where the model's target domain has no coverage; its errors follow the model's error model (see the
provenance record 'gan' in the output metadata). --noise poisson adds counting noise with the count
scale the model learnt from its targets (seed --seed, + the file's index in a folder).
"""


def add_parser(subparsers) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "apply",
        help="apply a trained GAN model to simulated maps (files or folders)",
        description="Translate clean simulated INS maps into experiment-like maps with a trained insgan model.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("model", metavar="MODEL", help="model file (.safetensors) written by 'insgan train'")
    p.add_argument("input", metavar="INPUT", help="map file (.nxs, .npz, .nxspe) or a folder of map files")
    p.add_argument("-o", "--output", required=True, metavar="OUTPUT", help="output file (.nxs/.npz) or folder")
    p.add_argument("--rebin", action="store_true", help="rebin inputs on another grid to the model grid and back")
    p.add_argument("--batch-size", type=int, default=16, metavar="N", help="maps per forward pass (default 16)")
    p.add_argument("--device", default="cpu", help="torch device: cpu (default), cuda or auto")
    p.add_argument(
        "--keep-input-nan", action="store_true", help="also blank output bins where the input is NaN (masked)"
    )
    p.add_argument(
        "--noise",
        choices=("none", "poisson"),
        default="none",
        help="poisson: add counting noise with the model's learnt count scale (default none: the expected map)",
    )
    p.add_argument("--seed", type=int, default=0, help="seed of the counting noise (default 0)")
    g = p.add_mutually_exclusive_group()
    g.add_argument("--exposure", type=float, default=None, metavar="X",
                   help="structured models: exposure of the run to imitate relative to the training run (counts per "
                        "unit intensity ratio, e.g. a proton-charge ratio; default 1 = the training run's)")
    g.add_argument("--like-run", default=None, metavar="FILE",
                   help="structured models: read that exposure from a measured run's error bars (NXSPE or S(|Q|,E) "
                        "file; only its errors are used)")
    p.add_argument("--temperature", type=float, metavar="K",
                   help="sample temperature in K for a structured model's Bose factor (default: each map's metadata)")
    p.add_argument(
        "--format", choices=("nxs", "npz"), default=None, help="output format for a folder (default: as the input, else nxs)"
    )
    p.set_defaults(func=run)
    return p


def list_map_files(folder: Path) -> list[Path]:
    """Map files in ``folder`` (not recursive), sorted by name; raises when there are none."""
    files = map_files(folder)
    if not files:
        raise InsganInputError(f"{folder}: no map files ({', '.join(MAP_SUFFIXES)}) in this folder")
    return files


def _output_path(inp: Path, out_dir: Path, fmt: str | None) -> Path:
    ext = fmt or (inp.suffix.lower().lstrip(".") if inp.suffix.lower() in (".nxs", ".npz") else "nxs")
    return out_dir / f"{inp.stem}.{ext}"


def _exposure(args, model, q_edges) -> float:
    """Relative exposure from --exposure or --like-run (structured models only); 1 by default."""
    from ..data.exposure import check_exposure

    if args.exposure is None and args.like_run is None:
        return 1.0
    if getattr(model, "name", "") != "structured":
        raise InsganInputError("--exposure/--like-run: only structured models have an exposure-dependent part")
    if args.exposure is not None:
        return check_exposure(args.exposure, name="--exposure")
    like = Path(args.like_run)
    if not like.is_file():
        raise InsganInputError(f"--like-run: '{like}': no such file")
    run = load_map_on_grid(like, q_edges=q_edges, e_edges=model.grid.e_axis.edges)
    try:
        x = model.exposure_of(run)
    except InsganInputError as exc:
        raise InsganInputError(f"--like-run {like}: {exc}") from None
    if not args.quiet:
        log.info("insgan apply: exposure of %s relative to the training run, from its errors: %.4g", like, x)
    return x


def run(args) -> int:
    from ..translation import load_translator

    if args.batch_size < 1:
        raise InsganInputError(f"--batch-size must be >= 1, got {args.batch_size}")
    t0 = time.perf_counter()
    model = load_translator(args.model, device=args.device)
    inp, out = Path(args.input), Path(args.output)
    if inp.is_dir():
        files = list_map_files(inp)
        if out.exists() and not out.is_dir():
            raise InsganInputError(f"--output: INPUT is a folder, so OUTPUT '{out}' must be a folder, not a file")
        out.mkdir(parents=True, exist_ok=True)
        jobs = [(f, _output_path(f, out, args.format)) for f in files]
    elif inp.is_file():
        target = _output_path(inp, out, args.format) if out.is_dir() else out
        if target.suffix.lower() not in (".nxs", ".npz"):
            raise InsganInputError(f"--output: '{target}' must end in .nxs (Mantid processed NeXus) or .npz")
        jobs = [(inp, target)]
    else:
        raise InsganInputError(f"INPUT '{inp}': no such file or folder")
    q_edges = model.grid.x_axis.edges if model.grid.x_axis.unit == "MomentumTransfer" else None
    exposure = _exposure(args, model, q_edges)
    for i, (src, dst) in enumerate(tqdm(jobs, desc="insgan apply", unit="map", disable=args.quiet or len(jobs) < 2)):
        m = load_map_on_grid(src, q_edges=q_edges, e_edges=model.grid.e_axis.edges)
        try:
            extra = {"temperature_K": args.temperature, "exposure": exposure} if getattr(model, "name", "") == "structured" else {}
            result = model.apply(
                m, rebin=args.rebin, batch_size=args.batch_size, keep_input_nan=args.keep_input_nan,
                noise=args.noise, seed=args.seed + i, **extra,
            )
        except InsganInputError as exc:
            raise InsganInputError(f"{src}: {exc}") from None
        result.metadata.provenance["gan"]["input_file"] = str(src)
        io.save(result, dst)
    if not args.quiet:
        log.info("insgan apply: %d map(s) translated with %s -> %s (%.2f s)", len(jobs), args.model, out, time.perf_counter() - t0)
    return 0
