"""``.npz`` interchange for INS maps: arrays plus a JSON header (no pickle)."""

from __future__ import annotations

import json
import os
import zipfile
from pathlib import Path

import numpy as np

from ...errors import InsganFileError, InsganInputError
from ..grid import Axis
from ..ins_map import INSMap, MapMetadata
from ._atomic import atomic_path

__all__ = ["save_npz", "load_npz"]

_FORMAT = "insgan-map"
_VERSION = 1


def save_npz(ins_map: INSMap, path: str | os.PathLike) -> None:
    """Write a map as ``.npz``: ``signal``, ``error`` (nx, ne), ``x_edges``, ``e_edges`` and ``header``
    (JSON: format, units, tick labels, distribution flag, metadata). Atomic write."""
    if not isinstance(ins_map, INSMap):
        raise InsganInputError(f"save_npz: expected an INSMap, got {type(ins_map).__name__}")
    header = {
        "format": _FORMAT,
        "version": _VERSION,
        "x_unit": ins_map.x_axis.unit,
        "e_unit": ins_map.e_axis.unit,
        "x_tick_labels": [[float(a), str(b)] for a, b in ins_map.x_axis.tick_labels],
        "distribution": bool(ins_map.distribution),
        "metadata": ins_map.metadata.to_dict(),
    }
    path = Path(path)
    with atomic_path(path, suffix=".npz") as tmp:
        with open(tmp, "wb") as fh:
            np.savez_compressed(
                fh,
                signal=ins_map.signal,
                error=ins_map.error,
                x_edges=ins_map.x_axis.edges,
                e_edges=ins_map.e_axis.edges,
                header=np.array(json.dumps(header, allow_nan=True)),
            )


def load_npz(path: str | os.PathLike) -> INSMap:
    """Read a map written by :func:`save_npz`; raises :class:`InsganFileError` naming the missing field."""
    path = Path(path)
    if not path.is_file():
        raise InsganFileError(f"{path}: file not found")
    try:
        with np.load(path, allow_pickle=False) as z:
            missing = [k for k in ("signal", "error", "x_edges", "e_edges", "header") if k not in z.files]
            if missing:
                raise InsganFileError(f"{path}: missing array(s) {', '.join(missing)} (found: {', '.join(z.files)})")
            arrays = {k: z[k] for k in ("signal", "error", "x_edges", "e_edges")}
            header = json.loads(str(z["header"]))
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as exc:
        raise InsganFileError(f"{path}: not a readable .npz file ({exc})") from None
    if header.get("format") != _FORMAT:
        raise InsganFileError(f"{path}: header format is {header.get('format')!r}, expected '{_FORMAT}'")
    try:
        return INSMap(
            arrays["signal"],
            arrays["error"],
            Axis(arrays["x_edges"], header["x_unit"], tuple((float(a), str(b)) for a, b in header.get("x_tick_labels", []))),
            Axis(arrays["e_edges"], header.get("e_unit", "DeltaE")),
            MapMetadata.from_dict(header.get("metadata", {})),
            bool(header.get("distribution", True)),
        )
    except InsganInputError as exc:
        raise InsganFileError(f"{path}: {exc}") from None
