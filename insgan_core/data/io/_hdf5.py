"""Small h5py helpers shared by the NeXus readers: open with clear errors, read scalars, strings and
numeric arrays (dtype and size checked before reading), and map HDF5-level corruption to one message."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

import h5py
import numpy as np

from ...errors import InsganFileError, InsganInputError
from ..limits import check_allocation

__all__ = ["text_name", "open_hdf5", "require", "read_scalar", "read_text", "attr_text", "read_array", "hdf5_errors"]

#: longest text field read (characters); longer ones are refused as corrupt
_MAX_TEXT = 10_000_000


def text_name(value) -> str:
    """An HDF5 object's (or link's) name as text: h5py gives bytes for names that are not valid UTF-8
    (as in a corrupt file)."""
    name = getattr(value, "name", value)
    return name.decode("utf-8", "replace") if isinstance(name, bytes) else str(name)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return (text[0] if text else type(exc).__name__)[:200]


def _raised_in_h5py(exc: BaseException) -> bool:
    """True when the exception passed through h5py (the HDF5 library), not only through insgan code."""
    tb = exc.__traceback__
    while tb is not None:
        name = tb.tb_frame.f_code.co_filename.replace("\\", "/")
        if "/h5py/" in name or name.startswith("h5py/"):  # Python modules, or compiled (.pyx) frames
            return True
        tb = tb.tb_next
    return False


@contextlib.contextmanager
def hdf5_errors(path, *, kind: str = "NXSPE/NeXus"):
    """Turn errors of the HDF5 library while reading ``path`` into one :class:`InsganFileError`.

    A corrupt file makes h5py raise ``OSError`` ("ran off end of input buffer"), ``RuntimeError``
    ("Link iteration failed"), ``KeyError`` or ``ValueError``/``TypeError`` (unreadable datatypes);
    these become ``"PATH: not a readable NXSPE/NeXus file (first line of the reason)"``. Only exceptions
    that passed through h5py are mapped: the same types raised by insgan's own code are bugs and stay
    visible (as "internal error" on the command line). Errors that already name the file
    (:class:`InsganFileError`) pass unchanged; other :class:`InsganInputError` (e.g. from building
    :class:`DetectorData`) get the file name in front.
    """
    try:
        yield
    except InsganFileError:
        raise
    except InsganInputError as exc:
        raise InsganFileError(f"{path}: {exc}") from None
    except (OSError, RuntimeError, KeyError, ValueError, TypeError, IndexError, UnicodeError) as exc:
        if not _raised_in_h5py(exc):
            raise
        raise InsganFileError(f"{path}: not a readable {kind} file ({type(exc).__name__}: {_first_line(exc)})") from None


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
        found = ", ".join(sorted(text_name(k) for k in group.keys())) or "nothing"
        raise InsganFileError(f"{path}: missing {what} '{text_name(group).rstrip('/')}/{name}' (found: {found[:300]})")
    return obj


def read_scalar(dataset: h5py.Dataset, *, path) -> float:
    """A number stored as a scalar or a 1-element array (real numeric dtype)."""
    if dataset.size != 1:
        raise InsganFileError(f"{path}: field '{dataset.name}' should hold one number, has shape {dataset.shape}")
    if dataset.dtype.kind not in "fiub" or dataset.dtype.names:
        raise InsganFileError(
            f"{path}: field '{dataset.name}' should hold a real number, has data type {_dtype_text(dataset.dtype)}"
        )
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
    itemsize = dataset.dtype.itemsize if dataset.dtype.kind in "SU" else 64
    if dataset.size * itemsize > _MAX_TEXT:
        raise InsganInputError(f"field '{dataset.name}': text of {dataset.size} x {itemsize} bytes is implausibly long (corrupt file?)")
    return _to_text(dataset[()]).rstrip("\x00")


def attr_text(obj, name: str, default: str | None = None) -> str | None:
    """A text attribute (bytes, str or 1-element array) or ``default`` when absent."""
    if name not in obj.attrs:
        return default
    return _to_text(obj.attrs[name]).rstrip("\x00")


def _dtype_text(dtype: np.dtype) -> str:
    if dtype.names:
        return f"compound {dtype} (a table)"
    return {"c": f"complex {dtype}", "S": "text", "U": "text", "O": "text/object", "b": "boolean", "V": f"opaque {dtype}"}.get(
        dtype.kind, str(dtype)
    )


def read_array(dataset: h5py.Dataset, *, path, what: str = "") -> np.ndarray:
    """A real numeric dataset as float64, refusing complex, compound, text and boolean data, and datasets
    too large for memory (checked on the declared shape, before reading).

    ``what`` describes the expected content for the message, e.g. ``"(ndet, ne) intensities"``.
    """
    dtype = dataset.dtype
    if dtype.kind not in "fiu" or dtype.names:
        raise InsganFileError(
            f"{path}: field '{dataset.name}' has data type {_dtype_text(dtype)}, expected real numbers"
            + (f" ({what})" if what else "")
        )
    check_allocation(float(np.prod(dataset.shape, dtype=float)), bytes_per_item=8 * 4,
                     what=f"{path}: field '{dataset.name}' of shape {dataset.shape}")
    return np.asarray(dataset[()], dtype=np.float64)
