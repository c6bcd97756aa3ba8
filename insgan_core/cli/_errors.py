"""One-line messages for failures that reach the top of the command line (see :func:`describe_failure`)."""

from __future__ import annotations

import re

from ..errors import InsganInputError, SpinWaveInstabilityError

__all__ = ["describe_failure", "INTERNAL_ERROR"]

#: start of the message for an exception no insgan code anticipated (a bug: please report it)
INTERNAL_ERROR = "internal error"

_NUMPY_ALLOC = re.compile(r"Unable to allocate ([\d.]+ [KMGTP]?i?B) for an array with shape (\([^)]*\))")


def _one_line(text: str, limit: int = 300) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def describe_failure(exc: BaseException) -> tuple[int, str]:
    """(exit code, one-line message) for an exception raised by a subcommand.

    Exit code 2 for bad input (:class:`InsganInputError`), 1 for everything else. Known runtime failures
    get a named message: memory exhausted (with numpy's estimate), files that cannot be read or written
    (``OSError`` with a file name), an unstable spin-wave ground state. Anything else is reported as an
    internal error with a hint to rerun with ``--debug`` for the traceback.
    """
    if isinstance(exc, InsganInputError):
        return 2, f"error: {_one_line(exc, 2000)}"
    if isinstance(exc, MemoryError):
        found = _NUMPY_ALLOC.search(str(exc))
        need = f" (an array of shape {found.group(2)} needs {found.group(1)})" if found else ""
        return 1, (
            f"error: not enough memory for this request{need}; use coarser binning, a smaller range or fewer "
            "maps per batch"
        )
    if isinstance(exc, SpinWaveInstabilityError):
        return 1, f"error: {_one_line(exc, 1000)}"
    if isinstance(exc, OSError) and (exc.filename or exc.strerror):
        where = f"{exc.filename}: " if exc.filename else ""
        return 1, f"error: {where}{exc.strerror or _one_line(exc)}"
    return 1, (
        f"{INTERNAL_ERROR} ({type(exc).__name__}: {_one_line(exc)}); please report it, and rerun with --debug "
        "for the traceback"
    )
