"""Command-line preprocessing shared by every subcommand: Mantid-style binning with a leading minus.

argparse takes ``--e-bins -10,0.5,50`` for two options (``-10,0.5,50`` looks like a flag), so Mantid users
had to write ``--e-bins=-10,0.5,50``. :func:`attach_negative_values` rewrites the first form into the
second for every option whose metavar is ``START,STEP,END`` (or that takes a number), before parsing.
"""

from __future__ import annotations

import argparse
import re

__all__ = ["attach_negative_values", "value_options"]

#: a value that starts with a minus sign and is a number or a comma-separated list of numbers
_NEGATIVE = re.compile(r"^-(\d|\.\d|inf|nan)[^\s]*$", re.IGNORECASE)


def value_options(parser: argparse.ArgumentParser) -> set[str]:
    """Option strings (of the parser and all its subparsers) that take one value that may be negative:
    binning and range options (metavar with ``,`` or ``:``, e.g. ``START,STEP,END``, ``LOW:HIGH``) and
    options of type ``float``/``int``."""
    found: set[str] = set()
    stack = [parser]
    while stack:
        p = stack.pop()
        for action in p._actions:
            if isinstance(action, argparse._SubParsersAction):
                stack.extend(action.choices.values())
                continue
            if not action.option_strings or action.nargs not in (None, 1):
                continue
            metavar = action.metavar if isinstance(action.metavar, str) else ""
            if "," in metavar or ":" in metavar or action.type in (float, int):
                found.update(s for s in action.option_strings if s.startswith("--"))
    return found


def attach_negative_values(argv: list[str], options: set[str]) -> list[str]:
    """``["--e-bins", "-10,0.5,50"]`` -> ``["--e-bins=-10,0.5,50"]`` for the given options; tokens after
    ``--`` are left alone."""
    out: list[str] = []
    i = 0
    while i < len(argv):
        token = argv[i]
        if token == "--":
            out.extend(argv[i:])
            break
        if token in options and i + 1 < len(argv) and _NEGATIVE.match(argv[i + 1]):
            out.append(f"{token}={argv[i + 1]}")
            i += 2
            continue
        out.append(token)
        i += 1
    return out
