"""Machine-readable output of the benchmark scripts: ``--json PATH`` writes the measured numbers here.

Every ``bench_*.py`` script prints its results for a person and, with ``--json PATH``, also writes them as
one JSON object (timings and ratios, the unit in each key name: ``median_ms_per_map``, ``q_per_s``, …)
that ``run_all.py`` turns into ``REPORT.md``. The file is written atomically (temporary file in the same
folder, then ``os.replace``), so a crashed benchmark never leaves half a result behind.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

__all__ = ["write_json"]


def _plain(value):
    """JSON-safe copy: numpy scalars/arrays to Python, non-finite floats to None, paths to str."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, (str, bool)) or value is None:
        return value
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    if hasattr(value, "tolist"):  # numpy scalar or array
        return _plain(value.tolist())
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    return str(value)


def write_json(path: str | os.PathLike, data: dict) -> Path:
    """Write ``data`` (a dict of measured numbers) as indented JSON to ``path``, atomically.

    Non-finite floats become ``null`` (strict JSON). Returns the path written.
    """
    from insgan_core.data.io import atomic_path

    path = Path(path)
    with atomic_path(path, suffix=".json") as tmp:
        tmp.write_text(json.dumps(_plain(data), indent=2, allow_nan=False) + "\n", encoding="utf-8")
        tmp.chmod(0o666 & ~_umask())  # the temporary file is private (0600); give it the usual mode
    return path


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
