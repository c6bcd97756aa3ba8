"""Data model and I/O: INS maps, grids, detector-space data, file readers/writers, powder reduction."""

from .grid import Axis, parse_binning
from .ins_map import INSMap, MapMetadata, MapStack

__all__ = ["Axis", "parse_binning", "INSMap", "MapMetadata", "MapStack"]
