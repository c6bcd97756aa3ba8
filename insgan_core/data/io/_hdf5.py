"""Small h5py helpers shared by the NeXus readers: open with clear errors, read scalars and strings."""

from __future__ import annotations

import os
from pathlib import Path

import h5py
import numpy as np

from ...errors import InsganFileError

__all__ = ["open_hdf5", "require", "read_scalar", "read_text", "attr_text"]


def open_hdf5(path: str | os.PathLike) -> h5py.File:
    """Open an HDF5 file for reading; raises :class:`InsganFileError` naming the file when it is
    missing, not HDF5 or truncated."""
    path = Path(path)
    if not path.exists():
        raise InsganFileError(f"{path}: file not found")
    if not path.is_file():
        raise InsganFileError(f"{path}: not a file")
    try:
        return h5py.File(path, "r")
    except OSError as exc:
        raise InsganFileError(
            f"{path}: cannot be read as HDF5 (NeXus) - the file is truncated, corrupt or in another format ({exc})"
        ) from None


def require(group: h5py.Group, name: str, *, path, what: str = "dataset", kind=h5py.Dataset):
    """``group[name]``, or an :class:`InsganFileError` naming the file and the missing field."""
    obj = group.get(name)
    if obj is None or not isinstance(obj, kind):
        found = ", ".join(sorted(group.keys())) or "nothing"
        raise InsganFileError(f"{path}: missing {what} '{group.name.rstrip('/')}/{name}' (found: {found})")
    return obj


def read_scalar(dataset: h5py.Dataset, *, path) -> float:
    """A number stored as a scalar or a 1-element array."""
    value = np.asarray(dataset[()])
    if value.size != 1:
        raise InsganFileError(f"{path}: field '{dataset.name}' should hold one number, has shape {value.shape}")
    try:
        return float(value.reshape(()))
    except (TypeError, ValueError):
        raise InsganFileError(f"{path}: field '{dataset.name}' should hold a number, got {value!r}") from None


def _to_text(value) -> str:
    value = np.asarray(value)
    if value.size == 0:
        return ""
    if value.ndim:
        value = value.reshape(-1)
        if value.dtype.kind in "SU" and value.dtype.itemsize == (1 if value.dtype.kind == "S" else 4) and value.size > 1:
            # an array of single characters (old NeXus char datasets)
            return "".join(v.decode() if isinstance(v, bytes) else str(v) for v in value)
        value = value[0]
    value = value.item() if hasattr(value, "item") else value
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    return str(value)


def read_text(dataset: h5py.Dataset) -> str:
    """A string stored as a scalar, a 1-element array of bytes, or an array of characters."""
    return _to_text(dataset[()]).rstrip("\x00")


def attr_text(obj, name: str, default: str | None = None) -> str | None:
    """A text attribute (bytes, str or 1-element array) or ``default`` when absent."""
    if name not in obj.attrs:
        return default
    return _to_text(obj.attrs[name]).rstrip("\x00")
