"""Atomic file writing: write to a temporary file in the target directory, then rename."""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

from ...errors import InsganFileError

__all__ = ["atomic_path"]


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, *, suffix: str = ""):
    """Yield a temporary path next to ``path``; on success it replaces ``path`` with ``os.replace``.

    An existing file at ``path`` is never left half-written: on any error the temporary file is removed
    and ``path`` is untouched.
    """
    path = Path(path)
    directory = path.parent if str(path.parent) else Path(".")
    if not directory.is_dir():
        raise InsganFileError(f"{path}: output folder '{directory}' does not exist; create it first")
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=suffix + ".tmp", dir=directory)
    os.close(fd)
    try:
        yield Path(tmp)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
