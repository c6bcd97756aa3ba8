"""File readers and writers (h5py): NXSPE, Mantid processed NeXus, npz.

:func:`load` recognises the format from the content (not the extension: ISIS files named ``.nxspe``
may be processed NeXus); :func:`save` picks the format from the extension.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ...errors import InsganFileError, InsganInputError
from ..detector import DetectorData
from ..ins_map import INSMap
from ._atomic import atomic_path
from ._checks import check_errors, check_signal
from ._hdf5 import hdf5_errors, open_hdf5
from .nexus_processed import is_nexus_processed, load_nexus_processed, save_nexus_processed
from .npz import load_npz, save_npz
from .nxspe import is_nxspe, load_nxspe, save_nxspe

__all__ = [
    "load",
    "save",
    "load_nxspe",
    "save_nxspe",
    "load_nexus_processed",
    "save_nexus_processed",
    "load_npz",
    "save_npz",
    "atomic_path",
]

_HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"
_ZIP_MAGIC = b"PK"


def load(path: str | os.PathLike) -> INSMap | DetectorData:
    """Read an INS file, recognising its format from the content.

    Parameters
    ----------
    path : str or path-like
        NXSPE (-> :class:`DetectorData`), Mantid processed NeXus (-> :class:`INSMap` or
        :class:`DetectorData` for detector space with angles), or insgan ``.npz`` (-> :class:`INSMap`).

    Raises
    ------
    InsganFileError
        Missing, truncated or unrecognised file, with the reason.
    """
    path = Path(path)
    if not path.exists():
        raise InsganFileError(f"{path}: file not found")
    if not path.is_file():
        raise InsganFileError(f"{path}: not a file")
    with open(path, "rb") as fh:
        head = fh.read(8)
    if head.startswith(_ZIP_MAGIC):
        return load_npz(path)
    if not head.startswith(_HDF5_MAGIC):
        raise InsganFileError(
            f"{path}: not an HDF5/NeXus or .npz file (expected an NXSPE, Mantid processed NeXus or insgan .npz file)"
        )
    with open_hdf5(path) as f, hdf5_errors(path):
        nxspe = is_nxspe(f)
        processed = not nxspe and is_nexus_processed(f)
    if nxspe:
        return load_nxspe(path)
    if processed:
        return load_nexus_processed(path)
    raise InsganFileError(
        f"{path}: HDF5 file is neither NXSPE (first NXentry with definition 'NXSPE') nor Mantid processed NeXus "
        "('mantid_workspace_1/workspace')"
    )


def save(ins_map: INSMap, path: str | os.PathLike) -> None:
    """Write a map; the format follows the extension: ``.nxs`` (Mantid processed NeXus) or ``.npz``."""
    path = Path(path)
    ext = path.suffix.lower()
    if isinstance(ins_map, INSMap):  # never write a file that insgan's own readers would refuse
        if not np.isfinite(ins_map.signal).any():
            raise InsganInputError(f"{path}: refusing to write a map without a single finite bin (everything is NaN)")
        for field, check in (("signal", check_signal), ("error", check_errors)):
            try:
                check(getattr(ins_map, field), path=path, field=field)
            except InsganFileError as exc:
                raise InsganInputError(f"refusing to write {exc}") from None
    if ext in (".nxs", ".nx5", ".h5", ".hdf5"):
        save_nexus_processed(ins_map, path)
    elif ext == ".npz":
        save_npz(ins_map, path)
    else:
        raise InsganInputError(f"{path}: unknown output extension '{path.suffix}'; use .nxs (Mantid processed NeXus) or .npz")
