"""``insgan mantid-setup``: show (or, with ``--write``, add) the Mantid setting that loads insgan's algorithms.

Mantid loads external Python algorithms from the folders listed in ``user.python.plugins.directories``
(``;``-separated) of the user's ``Mantid.user.properties``; Workbench offers the same through File →
Manage User Directories → **Extensions** tab (the "Python Directories" tab is ``pythonscripts.directories``,
which does not load algorithms). This command prints the entry pointing at the installed ``plugins``
folder (see :func:`insgan_core.mantid_bridge.mantid_plugins_dir`). With ``--write`` it backs the file up and
rewrites it atomically with the folder added; it never installs anything else. Workbench rewrites
Mantid.user.properties when it exits, so a ``--write`` made while Workbench runs may be lost: close Workbench
first (or add the folder on the Extensions tab). ``--check`` reports what this Python lacks for insgan
(see :mod:`insgan_core.cli._mantid_check`).
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from pathlib import Path

from ..data.io._atomic import atomic_path
from ..errors import InsganFileError, InsganInputError
from ..mantid_bridge import mantid_plugins_dir

__all__ = ["add_parser", "run", "default_properties_file", "read_plugin_dirs", "with_plugin_dir", "KEY"]

#: the Mantid configuration key listing external Python algorithm folders
KEY = "user.python.plugins.directories"

_EPILOG = """\
examples:
  insgan mantid-setup                      # print what to add and where
  insgan mantid-setup --check              # what Mantid's Python lacks for insgan, plugin folder registered?
  insgan mantid-setup --write              # add it to ~/.mantid/Mantid.user.properties (backup kept)
  insgan mantid-setup --properties-file /path/Mantid.user.properties --write

Mantid's Python must be able to import insgan. Install it into Mantid's conda environment without
changing any of Mantid's packages:
  conda activate mantid-env
  python -m pip install --no-deps insgan        (or: --no-deps -e /path/to/insgan)
  insgan mantid-setup --check                   # lists what is still missing, with the command to add it
Close Workbench before --write (Workbench rewrites Mantid.user.properties on exit), then start it again.
In Workbench the same setting is File > Manage User Directories > Extensions tab.
"""


def default_properties_file() -> Path:
    """Where Mantid keeps the user's properties: ``%APPDATA%/mantidproject/mantid`` on Windows, else ``~/.mantid``."""
    if sys.platform.startswith("win") and os.environ.get("APPDATA"):
        return Path(os.environ["APPDATA"]) / "mantidproject" / "mantid" / "Mantid.user.properties"
    return Path.home() / ".mantid" / "Mantid.user.properties"


def _logical_lines(text: str) -> list[list[str]]:
    """Physical lines grouped into logical ones (a trailing backslash continues a line)."""
    groups, current = [], []
    for line in text.splitlines():
        current.append(line)
        if not line.rstrip().endswith("\\") or line.rstrip().endswith("\\\\"):
            groups.append(current)
            current = []
    if current:
        groups.append(current)
    return groups


def _key_value(group: list[str]) -> tuple[str, str] | None:
    joined = "".join(line.rstrip()[:-1] if i < len(group) - 1 else line for i, line in enumerate(group)).strip()
    if not joined or joined.startswith(("#", "!")) or "=" not in joined:
        return None
    key, value = joined.split("=", 1)
    return key.strip(), value.strip()


def read_plugin_dirs(text: str) -> list[str]:
    """The folders currently listed under :data:`KEY` in a properties file's text (last entry wins)."""
    dirs: list[str] = []
    for group in _logical_lines(text):
        kv = _key_value(group)
        if kv and kv[0] == KEY:
            dirs = [d.strip() for d in kv[1].split(";") if d.strip()]
    return dirs


def _same_dir(a: str, b: str) -> bool:
    try:
        return Path(a).expanduser().resolve() == Path(b).expanduser().resolve()
    except OSError:
        return a == b


def with_plugin_dir(text: str, folder: str) -> str:
    """Properties text with ``folder`` added to :data:`KEY` (the existing entry is extended in place)."""
    groups = _logical_lines(text)
    index = None
    for i, group in enumerate(groups):
        kv = _key_value(group)
        if kv and kv[0] == KEY:
            index = i
    dirs = read_plugin_dirs(text)
    if any(_same_dir(d, folder) for d in dirs):
        return text
    line = f"{KEY}={';'.join(dirs + [folder])}"
    lines = ["\n".join(g) for g in groups]
    if index is None:
        lines.append(line)
    else:
        lines[index] = line
    return "\n".join(lines) + "\n"


def add_parser(subparsers) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "mantid-setup",
        help="show or add the Mantid setting that loads insgan's algorithms",
        description=(
            "Print the 'user.python.plugins.directories' entry that makes Mantid load insgan's algorithms "
            "(SimulateINSSpinWave, TrainINSGAN, ApplyINSGAN). Nothing is changed unless --write is given."
        ),
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--properties-file",
        type=Path,
        default=None,
        help=f"Mantid user properties file (default: {default_properties_file()})",
    )
    parser.add_argument(
        "--write",
        action="store_true",
        help="add the entry to the properties file (a backup <file>.insgan-backup is written first); close "
        "Workbench first, it rewrites the file on exit",
    )
    parser.add_argument(
        "--check",
        action="store_true",
        help="report this Python's versions of insgan's requirements (missing / mismatched) and whether the "
        "plugin folder is registered; changes nothing (exit status 1 when something is missing)",
    )
    parser.set_defaults(func=run)
    return parser


def run(args) -> int:
    folder = mantid_plugins_dir().as_posix()  # Mantid reads '/' on every platform; '\' escapes in .properties
    path = Path(args.properties_file) if args.properties_file else default_properties_file()
    if path.exists() and not path.is_file():
        raise InsganInputError(f"--properties-file: {path} is not a file")
    # --write creates one missing folder level (e.g. ~/.mantid); a path deeper than that is a typo
    if args.properties_file and not (path.parent.parent if args.write else path.parent).is_dir():
        raise InsganInputError(
            f"--properties-file: folder '{path.parent}' does not exist; give the path of Mantid.user.properties in "
            "an existing folder (Mantid creates its folder when it first starts)"
        )
    try:
        text = path.read_text(encoding="utf-8") if path.exists() else ""
    except UnicodeDecodeError:
        raise InsganFileError(f"--properties-file: {path} is not a text file (not UTF-8); expected a Mantid .properties file") from None
    except OSError as exc:
        raise InsganFileError(f"--properties-file: cannot read {path}: {exc.strerror or exc}") from None
    if "\x00" in text:
        raise InsganFileError(f"--properties-file: {path} is a binary file (holds NUL bytes); expected a Mantid .properties text file")
    say = (lambda *a: None) if getattr(args, "quiet", False) else print
    registered = any(_same_dir(d, folder) for d in read_plugin_dirs(text))
    if getattr(args, "check", False):
        from ._mantid_check import check_environment, format_report, registered_in_mantid_config

        report = check_environment(plugins_registered=registered)
        report["plugins_in_mantid_config"] = registered_in_mantid_config(folder)
        say(format_report(report, properties_file=path, plugin_dir=folder))
        return 0 if report["ok"] and registered else 1
    if registered:
        say(f"Mantid is already set up: {path} lists {folder} in {KEY}.")
        return 0
    new_text = with_plugin_dir(text, folder)
    entry = f"{KEY}={';'.join(read_plugin_dirs(new_text))}"
    if not args.write:
        say(f"insgan's Mantid algorithms are in:\n  {folder}\n")
        say(f"Add this line to {path} ({'replacing the existing ' + KEY + ' line' if read_plugin_dirs(text) else 'new entry'}):")
        say(f"  {entry}\n")
        say("or run 'insgan mantid-setup --write' to do it (a backup is kept; close Workbench first: it rewrites")
        say("Mantid.user.properties when it exits), or add the folder in Workbench:")
        say("File > Manage User Directories > Extensions tab. Then restart Mantid.\n")
        say("Mantid's Python must be able to import insgan. In Mantid's conda environment, without changing")
        say("any of Mantid's packages:")
        say("  python -m pip install --no-deps insgan      (or: python -m pip install --no-deps -e /path/to/insgan)")
        say("  insgan mantid-setup --check                 # lists what is missing and how to add it")
        return 0
    if path.exists():
        backup = path.with_name(path.name + ".insgan-backup")
        shutil.copy2(path, backup)
        say(f"backup written: {backup}")
    else:
        path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        tmp.write_text(new_text, encoding="utf-8")
    say(f"added to {path}:\n  {entry}\nRestart Mantid to load SimulateINSSpinWave, TrainINSGAN and ApplyINSGAN.")
    say("If Workbench was running while this was written, it may overwrite the file when it exits: close it and")
    say("run this again, or add the folder on File > Manage User Directories > Extensions.")
    return 0
