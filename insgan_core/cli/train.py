"""``insgan train``: train a clean-simulation → experiment-like translation model (.safetensors)."""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path

from ..data.grid import parse_binning
from ..data.ins_map import INSMap, MapStack
from ..errors import InsganInputError
from ..gan.config import TrainConfig, default_generator
from ..gan.training import train
from ._maps import MAP_SUFFIXES, load_map_on_grid, map_files

__all__ = ["add_parser", "run", "collect_maps"]

log = logging.getLogger("insgan")

#: file endings read from folders given as --source / --target
#: file that marks a folder written by ``insgan make-dataset``
DATASET_MANIFEST = "manifest.json"

EPILOG = """\
example: insgan train --mode paired --source dataset_dir -o merlin_pix2pix.safetensors --steps 2000
example: insgan train --mode unpaired --source sims/ --target bi2fe4o9_Ei62_5K.nxspe \\
             --patch-size 32 -o merlin_cut.safetensors

--source / --target take map files (.nxs processed NeXus, .npz, or detector-space NXSPE, which is
reduced to S(|Q|,E) on the source grid or on --q-bins/--e-bins), folders of such files, or a folder
written by 'insgan make-dataset' (paired: its clean maps are the sources and its artefact maps the
targets, so --target may be left out). Checkpoints go to --checkpoint-dir (default
<OUTPUT stem>_checkpoints/) with a CSV log; --resume continues an interrupted run exactly.
Run on several GPUs / nodes with torchrun:  torchrun --nproc_per_node 4 -m insgan_core.cli.main train ...
"""


def add_parser(subparsers) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "train",
        help="train a GAN that turns clean simulated maps into experiment-like maps",
        description="Train a translation model: paired (pix2pix: adversarial + L1) on (clean, artefact) pairs, "
        "or unpaired (CUT: adversarial + PatchNCE on random patches) on clean simulations and a few real maps.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--mode", required=True, choices=("paired", "unpaired"), help="paired (pix2pix) or unpaired (CUT)")
    p.add_argument("--source", required=True, nargs="+", metavar="PATH", help="clean maps: files, folders or a dataset folder")
    p.add_argument("--target", nargs="+", metavar="PATH", help="experiment-like maps: files or folders")
    p.add_argument("-o", "--output", required=True, metavar="MODEL", help="output model file (.safetensors)")
    p.add_argument("--config", metavar="FILE", help="JSON or YAML file of TrainConfig fields; options below override it")
    p.add_argument("--steps", type=int, help="training steps (default 1000)")
    p.add_argument("--batch-size", type=int, help="maps or patches per step and process (default 4)")
    p.add_argument("--lr", type=float, help="Adam learning rate (default 2e-4)")
    p.add_argument("--seed", type=int, help="random seed; same seed, same weights (default 0)")
    p.add_argument("--patch-size", type=int, metavar="BINS", help="train on random square patches of this size (recommended for unpaired training from a few maps)")
    p.add_argument("--generator", choices=("unet", "resnet"), help="generator network (default unet)")
    p.add_argument("--width", type=int, help="generator width (channels of the first layer)")
    p.add_argument("--checkpoint-dir", metavar="DIR", help="checkpoint and log folder (default <OUTPUT stem>_checkpoints)")
    p.add_argument("--checkpoint-every", type=int, metavar="N", help="steps between checkpoints (default 200)")
    p.add_argument("--resume", action="store_true", help="continue from the latest checkpoint in --checkpoint-dir")
    p.add_argument("--device", default=None, metavar="DEV", help="auto (default), cpu, cuda or cuda:N")
    p.add_argument("--no-amp", action="store_true", help="no mixed precision on GPU")
    p.add_argument("--q-bins", metavar="START,STEP,END", help="|Q| binning (Å⁻¹) for reducing NXSPE inputs")
    p.add_argument("--e-bins", metavar="START,STEP,END", help="energy binning (meV) for reducing NXSPE inputs")
    p.set_defaults(func=run)
    return p


def _files_of(path: Path, what: str) -> list[Path]:
    if path.is_dir():
        files = map_files(path)
        if not files:
            raise InsganInputError(
                f"{what}: folder {path} holds no map files (expected {', '.join(MAP_SUFFIXES)}) and is not a "
                f"dataset folder (no {DATASET_MANIFEST})"
            )
        return files
    if not path.exists():
        raise InsganInputError(f"{what}: {path} does not exist")
    return [path]


def collect_maps(paths, *, what: str, grid: tuple | None = None) -> list[INSMap]:
    """Read every map named by ``paths`` (files or folders); detector-space data is reduced to S(|Q|,E).

    ``grid`` = (q_edges, e_edges) for the reduction of NXSPE / detector-space files (e_edges may be None).
    """
    maps: list[INSMap] = []
    for p in paths:
        for f in _files_of(Path(p), what):
            q_edges, e_edges = (None, None) if grid is None else grid
            maps.append(load_map_on_grid(
                f, q_edges=q_edges, e_edges=e_edges,
                no_grid_hint=f"give {what} as maps on a |Q| grid, or --q-bins (and --e-bins) to reduce it to S(|Q|,E)",
            ))
    if not maps:
        raise InsganInputError(f"{what}: no maps given")
    return maps


def _is_dataset(paths) -> bool:
    return len(paths) == 1 and (Path(paths[0]) / DATASET_MANIFEST).is_file()


def _stack(maps: list[INSMap], what: str) -> MapStack:
    try:
        return MapStack.from_maps(maps)
    except InsganInputError as exc:
        raise InsganInputError(f"{what}: {exc}") from None


def _load_config(args) -> TrainConfig:
    d: dict = {}
    if args.config:
        path = Path(args.config)
        if not path.is_file():
            raise InsganInputError(f"--config: {path} not found")
        text = path.read_text()
        try:
            if path.suffix.lower() in (".yaml", ".yml"):
                import yaml

                d = yaml.safe_load(text) or {}
            else:
                d = json.loads(text)
        except Exception as exc:
            raise InsganInputError(f"--config: cannot parse {path}: {exc}") from None
        if not isinstance(d, dict):
            raise InsganInputError(f"--config: {path} must hold a mapping of TrainConfig fields")
    d["mode"] = args.mode
    for opt, key in (("steps", "steps"), ("batch_size", "batch_size"), ("lr", "lr"), ("seed", "seed"),
                     ("patch_size", "patch_size"), ("checkpoint_every", "checkpoint_every"), ("device", "device")):
        v = getattr(args, opt)
        if v is not None:
            d[key] = v
    if args.no_amp:
        d["amp"] = False
    if args.generator or args.width:
        gen = dict(d.get("generator") or default_generator())
        if args.generator and args.generator != gen.get("name"):
            gen = {"name": args.generator}
        if args.width:
            gen["width"] = args.width
        d["generator"] = gen
    return TrainConfig.from_dict(d)


def run(args) -> int:
    config = _load_config(args)
    out = Path(args.output)
    if out.suffix.lower() != ".safetensors":
        raise InsganInputError(f"--output: '{out}' must end in .safetensors")
    manifest = None
    grid = None
    if args.q_bins:
        grid = (parse_binning(args.q_bins, name="--q-bins"), parse_binning(args.e_bins, name="--e-bins") if args.e_bins else None)
    targets = None
    if _is_dataset(args.source):
        from ..instrument import load_dataset

        clean, artefact, manifest = load_dataset(args.source[0])
        sources = clean
        if args.mode == "paired" and not args.target:
            targets = artefact
    else:
        sources = _stack(collect_maps(args.source, what="--source", grid=grid), "--source")
    if grid is None and sources.x_axis.unit == "MomentumTransfer":
        grid = (sources.x_axis.edges, sources.e_axis.edges)  # reduce detector-space targets onto the source grid
    if targets is None:
        if not args.target:
            raise InsganInputError("--target: give the experiment-like maps (files or folders)")
        targets = _stack(collect_maps(args.target, what="--target", grid=grid), "--target")
    if not args.quiet:
        log.info(
            "insgan train: %s, %d source and %d target maps (%d x %d bins), %d steps -> %s",
            config.mode, len(sources), len(targets), sources.x_axis.size, sources.e_axis.size, config.steps, out,
        )
    result = train(
        sources,
        targets,
        config,
        output_path=out,
        checkpoint_dir=args.checkpoint_dir,
        resume=args.resume,
        progress=not args.quiet,
        manifest=manifest,
    )
    if not args.quiet and result.model_path is not None:
        last = result.history[-1] if result.history else {}
        log.info("insgan train: wrote %s (final losses: %s)", result.model_path,
                 ", ".join(f"{k}={v:.4g}" for k, v in last.items() if k.startswith("loss")))
    return 0
