"""Map inputs shared by the subcommands that read many maps (``apply``, ``evaluate``, ``train``)."""

from __future__ import annotations

from pathlib import Path

from ..data import io
from ..data.detector import DetectorData
from ..data.ins_map import INSMap
from ..errors import InsganInputError

__all__ = ["MAP_SUFFIXES", "map_files", "load_map_on_grid"]

#: file name endings read from an input folder
MAP_SUFFIXES = (".nxs", ".nxspe", ".npz", ".nx5", ".h5", ".hdf5")


def map_files(folder: Path) -> list[Path]:
    """Map files in ``folder`` (not recursive), sorted by name; possibly none."""
    return sorted(f for f in Path(folder).iterdir() if f.is_file() and f.suffix.lower() in MAP_SUFFIXES)


def load_map_on_grid(
    path: Path,
    *,
    q_edges=None,
    e_edges=None,
    no_grid_hint: str = "convert it to S(|Q|,E) first with 'insgan convert'",
) -> INSMap:
    """Read a map file; detector-space data is reduced to S(|Q|,E) on ``q_edges`` (Å⁻¹) × ``e_edges``
    (meV, None: the file's energy bins). Detector data without ``q_edges`` is an error ending in
    ``no_grid_hint``."""
    data = io.load(path)
    if isinstance(data, DetectorData):
        if q_edges is None:
            raise InsganInputError(f"{path}: detector-space data; {no_grid_hint}")
        from ..data.reduction import explain_empty_map, powder_map

        reduced = powder_map(data, q_edges=q_edges, e_edges=e_edges)
        if reduced.mask.all():  # never pass on (or write) a map without a finite bin
            raise InsganInputError(f"{path}: " + explain_empty_map(data, q_edges=q_edges, e_edges=e_edges))
        return reduced
    return data
