"""``.npz`` interchange for INS maps: arrays plus a JSON header (no pickle)."""

from __future__ import annotations

import json
import os
import zipfile
import zlib
from pathlib import Path

import numpy as np

from ...errors import InsganFileError, InsganInputError
from ..grid import Axis
from ..ins_map import INSMap, MapMetadata
from ..limits import check_allocation
from ._atomic import atomic_path
from ._checks import check_errors, check_signal

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
                raise InsganFileError(f"{path}: missing array(s) {', '.join(missing)} (found: {', '.join(z.files)[:300]})")
            # uncompressed sizes from the zip directory, before anything is inflated (zip bombs)
            check_allocation(float(sum(i.file_size for i in z.zip.infolist())), bytes_per_item=4,
                             what=f"{path}: arrays of {sum(i.file_size for i in z.zip.infolist()):,} bytes")
            arrays = {k: z[k] for k in ("signal", "error", "x_edges", "e_edges")}
            header = json.loads(str(z["header"]))
    except InsganInputError:
        raise
    except (zipfile.BadZipFile, OSError, ValueError, EOFError, KeyError, NotImplementedError, RecursionError,
            zlib.error) as exc:
        raise InsganFileError(f"{path}: not a readable .npz file ({type(exc).__name__}: {str(exc)[:200]})") from None
    if not isinstance(header, dict) or header.get("format") != _FORMAT:
        found = header.get("format") if isinstance(header, dict) else type(header).__name__
        raise InsganFileError(f"{path}: header format is {found!r:.80}, expected '{_FORMAT}'")
    for name in ("signal", "error", "x_edges", "e_edges"):
        if arrays[name].dtype.kind not in "fiu":
            raise InsganFileError(f"{path}: array '{name}' has data type {arrays[name].dtype}, expected real numbers")
    check_signal(arrays["signal"].astype(np.float64), path=path, field="signal")
    check_errors(arrays["error"].astype(np.float64), path=path, field="error")
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
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise InsganFileError(f"{path}: malformed insgan .npz header ({type(exc).__name__}: {str(exc)[:200]})") from None
