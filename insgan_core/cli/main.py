"""Entry point of the ``insgan`` command line.

Each subcommand lives in its own module of this package and provides ``add_parser(subparsers)``, which
adds its parser and sets ``func`` (a callable taking the parsed ``argparse.Namespace`` and returning an
exit code or None). Exit codes: 0 ok, 1 runtime error, 2 usage error (bad arguments or bad input).
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys

from .._version import __version__
from ._argv import attach_negative_values, value_options
from ._errors import describe_failure

#: subcommand modules, in the order ``insgan --help`` lists them
SUBCOMMANDS = [
    "demo",
    "convert",
    "plot",
    "simulate",
    "fit",
    "make_dataset",
    "train",
    "apply",
    "evaluate",
    "mantid_setup",
]

log = logging.getLogger("insgan")


def get_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="insgan",
        description="Simulated INS maps that look like ISIS spectrometer data (spin waves, artefacts, GANs).",
    )
    parser.add_argument("--version", action="version", version=f"insgan {__version__}")
    parser.add_argument("--debug", action="store_true", help="show full tracebacks on errors")
    parser.add_argument("--quiet", "-q", action="store_true", help="no progress bars or informational output")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in SUBCOMMANDS:
        try:
            module = importlib.import_module(f"{__package__}.{name}")
        except ModuleNotFoundError as exc:  # subcommand not built in this installation
            if exc.name != f"{__package__}.{name}":
                raise
            continue
        module.add_parser(sub)
    # --debug and --quiet also work after the subcommand ("insgan train ... --quiet").
    for subparser in sub.choices.values():
        subparser.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help="show full tracebacks on errors")
        subparser.add_argument("--quiet", "-q", action="store_true", default=argparse.SUPPRESS,
                               help="no progress bars or informational output")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit code (0 ok, 1 runtime error, 2 usage error)."""
    parser = get_parser()
    argv = sys.argv[1:] if argv is None else list(argv)
    # Mantid-style binning: "--e-bins -10,0.5,50" works like "--e-bins=-10,0.5,50"
    argv = attach_negative_values(argv, value_options(parser))
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse exits 2 on usage errors, 0 on --help
        return int(exc.code or 0) if not isinstance(exc.code, str) else 2
    logging.basicConfig(level=logging.WARNING if args.quiet else logging.INFO, format="%(message)s")
    if not getattr(args, "func", None):
        parser.print_usage(sys.stderr)
        print("insgan: error: give a COMMAND (see 'insgan --help')", file=sys.stderr)
        return 2
    try:
        code = args.func(args)
        return int(code or 0)
    except KeyboardInterrupt:
        print(f"insgan {args.command}: interrupted", file=sys.stderr)
        return 1
    except Exception as exc:  # every failure ends in one line; --debug shows the traceback instead
        if args.debug:
            raise
        code, message = describe_failure(exc)
        print(f"insgan {args.command}: {message}", file=sys.stderr)
        return code


if __name__ == "__main__":
    sys.exit(main())
