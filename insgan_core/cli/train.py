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
example: insgan train --source sim_5K.nxs sim_300K.nxs --target meas_5K.nxspe meas_300K.nxspe \\
             --temperature 5 300 --q-bins 0.2,0.05,5.5 --chopper-frequency 350 -o bfo.safetensors
example: insgan train --mode paired --source dataset_dir -o merlin_pix2pix.safetensors --steps 2000
example: insgan train --mode unpaired --source sims/ --target bi2fe4o9_Ei62_5K.nxspe \\
             --patch-size 32 -o merlin_cut.safetensors

The default mode, structured, fits the physics-structured model (insgan_core.translation): one scale on
a learnt resolution kernel, elastic line, backgrounds, rise towards Ei, coverage and counting noise, by
weighted least squares against the targets' errors (seconds to a minute on a CPU). --source and --target
are then pairs in the same order (clean simulation, measurement of the same sample), each with its
temperature (--temperature, or the maps' metadata). paired / unpaired train the black-box GANs.

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
        help="train a model that turns clean simulated maps into experiment-like maps (structured by default, or a GAN)",
        description="Train a translation model: structured (default; physics-structured, fitted by weighted least "
        "squares to (clean, measured) pairs), paired GAN (pix2pix: adversarial + L1) on (clean, artefact) pairs, "
        "or unpaired GAN (CUT: adversarial + PatchNCE on random patches) on clean simulations and a few real maps.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--mode", default="structured", choices=("structured", "paired", "unpaired"),
                   help="structured (default: physics-structured model), paired (pix2pix GAN) or unpaired (CUT GAN)")
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
    g = p.add_argument_group("structured mode")
    g.add_argument("--temperature", type=float, nargs="+", metavar="K",
                   help="sample temperature of each source/target pair in K (default: the maps' metadata)")
    g.add_argument("--instrument", help="instrument (default: the targets' metadata)")
    g.add_argument("--ei", type=float, metavar="MEV", help="incident energy in meV (default: the targets' metadata)")
    g.add_argument("--chopper-package", help="chopper package for the starting resolution (default: the instrument's)")
    g.add_argument("--chopper-frequency", type=float, metavar="HZ", help="chopper frequency in Hz (default 250)")
    g.add_argument("--phonon", choices=("auto", "on", "off"), default="auto",
                   help="phonon-like term with its Bose factor: auto (when the pairs span two temperatures), on, off")
    g.add_argument("--count-background", choices=("on", "off"), default="on",
                   help="near-Ei background fixed in counts, scaled by 1/exposure when applied to another run "
                        "(default on; with one training run its split from the intensity terms is a prior, see "
                        "insgan_core.translation.exposure)")
    g.add_argument("--weighting", choices=("errors", "model"), default="errors",
                   help="fit weights: the targets' errors (default), or the Poisson variance of the model's own "
                        "expectation with per-map scaling -- for pairs spanning a large dynamic range (several "
                        "spin-wave families, intense zone-centre or elastic intensity)")
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
        if path.suffix.lower() in (".yaml", ".yml"):
            from insgan_core.data.io.yaml_file import load_yaml

            d = load_yaml(path, what="--config") or {}
        else:
            try:
                d = json.loads(path.read_text())
            except (UnicodeDecodeError, ValueError) as exc:
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


def _run_structured(args) -> int:
    from ..instrument.settings import InstrumentSettings
    from ..translation import fit_structured

    out = Path(args.output)
    if out.suffix.lower() != ".safetensors":
        raise InsganInputError(f"--output: '{out}' must end in .safetensors")
    if not args.target:
        raise InsganInputError("--target: give the measured (or artefact) maps, one per --source map in the same order")
    grid = None
    if args.q_bins:
        grid = (parse_binning(args.q_bins, name="--q-bins"), parse_binning(args.e_bins, name="--e-bins") if args.e_bins else None)
    sources = collect_maps(args.source, what="--source", grid=grid)
    if grid is None and sources[0].x_axis.unit == "MomentumTransfer":
        grid = (sources[0].x_axis.edges, sources[0].e_axis.edges)
    targets = collect_maps(args.target, what="--target", grid=grid)
    if len(sources) != len(targets):
        raise InsganInputError(f"--source/--target: structured training needs pairs; got {len(sources)} sources and "
                               f"{len(targets)} targets")
    if args.temperature:
        temps = list(args.temperature)
        if len(temps) == 1:
            temps = temps * len(sources)
    else:
        temps = [t.metadata.temperature_K if t.metadata.temperature_K is not None else s.metadata.temperature_K
                 for s, t in zip(sources, targets)]
    if len(temps) != len(sources) or any(t is None for t in temps):
        raise InsganInputError(
            f"--temperature: give one temperature (K) per pair ({len(sources)}), or maps whose metadata hold temperature_K"
        )
    md = targets[0].metadata
    instrument = args.instrument or md.instrument
    ei = args.ei or md.ei_meV
    if not instrument or not ei:
        raise InsganInputError("--instrument/--ei: the targets' metadata lack the instrument or Ei; give them")
    kw = {"instrument": str(instrument).upper(), "ei_meV": float(ei)}
    if args.chopper_package:
        kw["chopper_package"] = args.chopper_package
    if args.chopper_frequency:
        kw["chopper_frequency_hz"] = args.chopper_frequency
    phonon = {"auto": "auto", "on": True, "off": False}[args.phonon]
    if not args.quiet:
        log.info("insgan train: structured model, %d pair(s) (%d x %d bins) -> %s", len(sources),
                 sources[0].x_axis.size, sources[0].e_axis.size, out)
    model = fit_structured(sources, targets, temperatures_K=[float(t) for t in temps],
                           settings=InstrumentSettings(**kw), phonon=phonon, seed=args.seed or 0,
                           count_background=args.count_background == "on", weighting=args.weighting)
    model.save(out)
    if not args.quiet:
        rec = model.training_record
        log.info("insgan train: wrote %s (chi2/N %.4g -> %.4g, %.1f s)", out, rec["chi2_per_bin_baseline_start"],
                 rec["chi2_per_bin_final"], rec["seconds"])
        if model.training_exposure is not None:
            log.info("insgan train: training exposure %.4g counts per unit intensity (median S/sigma^2 on the model grid)",
                     model.training_exposure)
        edge = next((h["classes"] for h in rec["history"] if h.get("stage") == "edge_scatter"), None)
        if edge:
            log.info("insgan train: coverage-edge scatter eps^2 (1, 2 bins from the edge) %s, in samples only",
                     ", ".join(f"{c['eps2']:.3g} ({c['method']})" for c in edge))
    return 0


def run(args) -> int:
    if args.mode == "structured":
        return _run_structured(args)
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
