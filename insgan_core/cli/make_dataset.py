"""``insgan make-dataset``: paired (clean, with-artefacts) training sets from a YAML config."""

from __future__ import annotations

import argparse

__all__ = ["add_parser", "run"]

DESCRIPTION = """\
Sweep spin-wave model parameters and instrument-artefact parameters, and write paired clean and
with-artefacts maps on one grid to sharded HDF5 files with a JSON manifest (parameters, seeds, grid,
instrument settings, versions) from which the set can be regenerated exactly.

Runs on the local cores by default, or on a dask.distributed cluster with --scheduler. Rerunning the
same command in the same folder resumes: finished shards are kept, unfinished ones recomputed.
See insgan_core/instrument/dataset.py for the config keys (examples/dataset_dask.yaml is one)."""


def add_parser(subparsers) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "make-dataset",
        help="generate a paired training set (spin waves + instrument artefacts)",
        description=DESCRIPTION,
        epilog="example: insgan make-dataset examples/dataset_dask.yaml -o training_set --scheduler tcp://127.0.0.1:8786",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("config", metavar="CONFIG.yaml", help="dataset config (YAML)")
    p.add_argument("-o", "--output", required=True, metavar="DIR", help="output folder (created; resumed if it exists)")
    p.add_argument("--scheduler", default=None, metavar="ADDRESS",
                   help="dask.distributed scheduler address, e.g. tcp://host:8786, or local-cluster to start a dask "
                        "LocalCluster here (default: the config's scheduler key, else local processes)")
    p.add_argument("--workers", type=int, default=None, metavar="N",
                   help="local worker processes without --scheduler (default: all cores)")
    p.add_argument("--retries", type=int, default=2, metavar="N", help="retries of a failed shard (default 2)")
    p.set_defaults(func=run)
    return p


def run(args: argparse.Namespace) -> int:
    from ..errors import InsganInputError
    from ..instrument.dataset import generate_dataset

    if args.workers is not None and args.workers < 1:
        raise InsganInputError(f"--workers: must be >= 1, got {args.workers}")
    if args.retries < 0:
        raise InsganInputError(f"--retries: must be >= 0, got {args.retries}")
    from pathlib import Path

    from ..data.io.yaml_file import load_yaml

    config = Path(args.config)
    if not config.is_file():
        raise InsganInputError(f"{config}: dataset config file not found" + (" (it is a folder)" if config.is_dir() else ""))
    # size, nesting and alias expansion checked before the dataset code parses it
    if not isinstance(load_yaml(config, what="dataset config"), dict):
        raise InsganInputError(f"{config}: expected a mapping of config keys at the top level (see examples/dataset_dask.yaml)")
    output = Path(args.output)
    if output.exists() and not output.is_dir():
        raise InsganInputError(f"-o/--output: '{output}' exists and is not a folder")
    manifest = generate_dataset(
        args.config,
        args.output,
        scheduler=args.scheduler,
        progress=not getattr(args, "quiet", False),
        workers=args.workers,
        retries=args.retries,
    )
    if not getattr(args, "quiet", False):
        print(
            f"{args.output}: {len(manifest['samples'])} map pairs in {len(manifest['shards'])} shard(s) "
            f"({len(manifest['done'])} written now); manifest.json describes them"
        )
    return 0
