"""Data model and I/O: INS maps, grids, detector-space data, file readers/writers, powder reduction."""

from .cut import Cut1D
from .detector import DetectorData
from .grid import Axis, parse_binning
from .ins_map import INSMap, MapMetadata, MapStack
from .kinematics import E_TO_K2, k_from_energy, q_from_angle, q_limits
from .rebin import overlap_matrix, rebin_2d

__all__ = [
    "Axis",
    "parse_binning",
    "INSMap",
    "MapMetadata",
    "MapStack",
    "Cut1D",
    "DetectorData",
    "E_TO_K2",
    "k_from_energy",
    "q_from_angle",
    "q_limits",
    "overlap_matrix",
    "rebin_2d",
]
