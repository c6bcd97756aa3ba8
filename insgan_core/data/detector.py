"""Detector-space INS data: one spectrum per detector (or detector group) against energy transfer.

This is what an NXSPE file holds before the powder conversion to S(|Q|,E) (see
:mod:`insgan_core.data.reduction`).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field, replace

import numpy as np

from ..errors import InsganInputError
from .grid import Axis
from .ins_map import MapMetadata

__all__ = ["DetectorData"]


@dataclass
class DetectorData:
    """Signal per detector and energy-transfer bin, with the detector geometry.

    Parameters
    ----------
    signal : ndarray, shape (ndet, ne)
        Intensity (as in the source file, usually per meV); a row of NaN marks a masked detector.
    error : ndarray, shape (ndet, ne)
        One standard deviation of ``signal``.
    energy_edges : ndarray, shape (ne + 1,)
        Energy-transfer bin edges in meV, strictly increasing.
    polar_deg : ndarray, shape (ndet,)
        Scattering angle 2θ of each detector, degrees.
    azimuthal_deg : ndarray, shape (ndet,)
        Azimuthal angle φ, degrees.
    polar_width_deg : ndarray, shape (ndet,)
        Full angular width in 2θ, degrees (used by the polygon reduction).
    azimuthal_width_deg : ndarray, shape (ndet,)
        Full angular width in φ, degrees.
    distance_m : ndarray, shape (ndet,)
        Sample-to-detector distance, metres.
    ei_meV : float
        Incident energy, meV (> 0).
    psi_deg : float
        Sample rotation ψ, degrees (NaN for powders).
    ki_over_kf_scaling : bool
        True when the intensities already carry the ki/kf factor (as NXSPE's ``ki_over_kf_scaling``).
    metadata : MapMetadata
    """

    signal: np.ndarray
    error: np.ndarray
    energy_edges: np.ndarray
    polar_deg: np.ndarray
    azimuthal_deg: np.ndarray
    polar_width_deg: np.ndarray
    azimuthal_width_deg: np.ndarray
    distance_m: np.ndarray
    ei_meV: float
    psi_deg: float = float("nan")
    ki_over_kf_scaling: bool = True
    metadata: MapMetadata = field(default_factory=MapMetadata)

    def __post_init__(self):
        self.signal = np.asarray(self.signal, dtype=np.float64)
        if self.signal.ndim != 2:
            raise InsganInputError(f"DetectorData: signal must have shape (ndet, ne), got {self.signal.shape}")
        ndet, ne = self.signal.shape
        self.error = np.zeros_like(self.signal) if self.error is None else np.asarray(self.error, dtype=np.float64)
        if self.error.shape != self.signal.shape:
            raise InsganInputError(
                f"DetectorData: error has shape {self.error.shape}, expected {self.signal.shape} like signal"
            )
        self.energy_edges = Axis(self.energy_edges, "DeltaE").edges
        if self.energy_edges.size != ne + 1:
            raise InsganInputError(
                f"DetectorData: energy_edges has {self.energy_edges.size} values, expected ne + 1 = {ne + 1}"
            )
        for name in ("polar_deg", "azimuthal_deg", "polar_width_deg", "azimuthal_width_deg", "distance_m"):
            value = np.asarray(getattr(self, name), dtype=np.float64)
            if value.ndim == 0:
                value = np.full(ndet, float(value))
            if value.shape != (ndet,):
                raise InsganInputError(f"DetectorData: {name} has shape {value.shape}, expected ({ndet},) (one per detector)")
            setattr(self, name, value)
        if not np.all(np.isfinite(self.polar_deg)):
            raise InsganInputError("DetectorData: polar_deg contains NaN or inf; every detector needs a 2θ angle")
        if np.any(self.polar_width_deg < 0):
            raise InsganInputError("DetectorData: polar_width_deg must be >= 0")
        try:
            self.ei_meV = float(self.ei_meV)
        except (TypeError, ValueError):
            raise InsganInputError(f"DetectorData: ei_meV must be a number, got {self.ei_meV!r}") from None
        if not np.isfinite(self.ei_meV) or self.ei_meV <= 0:
            raise InsganInputError(f"DetectorData: ei_meV must be > 0 meV, got {self.ei_meV}")
        self.psi_deg = float(self.psi_deg)
        self.ki_over_kf_scaling = bool(self.ki_over_kf_scaling)

    @property
    def shape(self) -> tuple[int, int]:
        """(ndet, ne)."""
        return self.signal.shape

    @property
    def e_axis(self) -> Axis:
        """Energy-transfer axis (``DeltaE``, meV)."""
        return Axis(self.energy_edges, "DeltaE")

    @property
    def masked_detectors(self) -> np.ndarray:
        """Boolean array, shape (ndet,): True where the whole row is NaN (masked detector)."""
        return np.isnan(self.signal).all(axis=1)

    def with_signal(self, signal: np.ndarray, error: np.ndarray | None = None) -> "DetectorData":
        """A copy with other intensities (same geometry, energies and metadata)."""
        return replace(
            self,
            signal=np.asarray(signal, dtype=np.float64),
            error=np.zeros_like(signal, dtype=np.float64) if error is None else error,
            metadata=copy.deepcopy(self.metadata),
        )
