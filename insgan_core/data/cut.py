"""One-dimensional cuts through INS maps."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .grid import Axis

__all__ = ["Cut1D"]


@dataclass
class Cut1D:
    """A 1-D cut: intensity along one axis, integrated over a window of the other.

    Attributes
    ----------
    axis : Axis
        The axis kept (|Q| in Å⁻¹, path coordinate, or energy transfer in meV); n bins.
    signal : ndarray, shape (n,)
        Integral of the map over the window (or the mean over the covered part when the cut was
        made with ``average=True``); NaN where no valid bin lies in the window.
    error : ndarray, shape (n,)
        One standard deviation of ``signal``.
    window : tuple of float
        (lo, hi) of the integration window, in the unit of ``window_unit``.
    window_unit : str
        Mantid unit ID of the integrated axis.
    coverage : ndarray, shape (n,)
        Fraction of the window covered by valid (non-NaN) bins.
    metadata : dict
        Metadata of the source map (``MapMetadata.to_dict()``).
    """

    axis: Axis
    signal: np.ndarray
    error: np.ndarray
    window: tuple
    window_unit: str
    coverage: np.ndarray
    metadata: dict = field(default_factory=dict)

    @property
    def centres(self) -> np.ndarray:
        """Bin centres of the kept axis, shape (n,)."""
        return self.axis.centres
