"""Differentiable (torch) energy resolution and detector coverage for fitting spin-wave parameters.

:class:`DifferentiableInstrument` turns a clean torch map S(|Q|, E) (e.g. from
:class:`insgan_core.spinwave.DifferentiablePowder`) into what the instrument records on the same grid, as
a differentiable function:

* energy resolution: the Gaussian redistribution matrix of :func:`.broadening.gaussian_kernel` with
  σ(E) from resins (:func:`.energy_resolution.energy_sigma_meV`) at every energy bin below Ei (bins at or
  above Ei are left unbroadened; coverage masks them anyway);
* coverage: bins that no detector pixel reaches (detector gaps, masks, kinematic limit; the built-in
  detector table of the instrument or a measured one) become NaN, exactly as
  :func:`.coverage.detector_path` marks them.

Both operations are fixed linear maps precomputed once (numpy, float64), so the forward pass is a matrix
product and a mask and gradients flow to the spin-wave parameters. Not included: |Q| resolution,
backgrounds and counting noise of the full artefact pipeline.
"""

from __future__ import annotations

import numpy as np

from ..data.grid import check_edges
from ..errors import InsganInputError
from .broadening import gaussian_kernel
from .energy_resolution import energy_sigma_meV

__all__ = ["DifferentiableInstrument", "masked_squared_error"]


class DifferentiableInstrument:
    """Energy resolution + coverage mask as a torch-differentiable map on one (|Q|, E) grid.

    Parameters
    ----------
    settings : InstrumentSettings
        Instrument, Ei and chopper settings (for σ(E) and the built-in detector table).
    q_edges, e_edges : array_like
        The map's |Q| (Å⁻¹) and energy (meV) bin edges.
    detectors : DetectorData, optional
        A measured detector table; default: the instrument's built-in table.
    resolution, coverage : bool
        Which of the two steps to apply.
    """

    def __init__(self, settings, *, q_edges, e_edges, detectors=None, resolution: bool = True, coverage: bool = True):
        import torch

        self.torch = torch
        q_axis = check_edges(q_edges, name="q_edges", unit="MomentumTransfer", minimum=0.0)
        e_axis = check_edges(e_edges, name="e_edges", unit="DeltaE")
        e = e_axis.centres
        de = np.diff(e_axis.edges)
        if resolution:
            below = e < settings.ei_meV
            sigma = np.full(e.shape, np.nan)
            if np.any(below):
                sigma[below] = energy_sigma_meV(settings, e[below])
            K = gaussian_kernel(e_axis.edges, sigma)  # K[j, i]: content of input bin i landing in output bin j
        else:
            K = np.eye(e.size)
        # per-meV maps: out_j Δ_j = Σ_i K_ji in_i Δ_i
        self._op = torch.as_tensor((K * de[None, :] / de[:, None]).T.copy(), dtype=torch.float64)
        if coverage:
            from ..data.ins_map import INSMap, MapMetadata
            from .coverage import builtin_detectors, detector_path

            det = detectors if detectors is not None else builtin_detectors(settings.instrument, ei_meV=settings.ei_meV,
                                                                            e_edges=e_axis.edges)
            ones = INSMap(np.ones((q_axis.centres.size, e.size)), np.zeros((q_axis.centres.size, e.size)), q_axis, e_axis,
                          MapMetadata(ei_meV=settings.ei_meV), distribution=True)
            covered = np.isfinite(detector_path(ones, det).signal)
        else:
            covered = np.ones((q_axis.centres.size, e.size), dtype=bool)
        if not covered.any():
            raise InsganInputError("DifferentiableInstrument: no bin of the grid is covered by the detectors; check Ei and the grid")
        self.covered = covered
        self._mask = torch.as_tensor(covered)

    def __call__(self, signal):
        """(nq, ne) torch map per meV -> resolution-broadened map with NaN where not covered."""
        torch = self.torch
        if tuple(signal.shape) != tuple(self.covered.shape):
            raise InsganInputError(f"DifferentiableInstrument: map shape {tuple(signal.shape)}, expected {self.covered.shape}")
        out = signal.to(torch.float64) @ self._op
        return torch.where(self._mask, out, torch.full_like(out, float("nan")))


def masked_squared_error(model_map, data, error=None):
    """Σ over covered, finite bins of ((model − data)/error)² (error None: unweighted); a torch scalar."""
    import torch

    data = torch.as_tensor(np.asarray(data, dtype=float))
    ok = torch.isfinite(model_map) & torch.isfinite(data)
    diff = torch.where(ok, model_map - torch.nan_to_num(data), torch.zeros_like(model_map))
    if error is not None:
        err = torch.as_tensor(np.asarray(error, dtype=float))
        ok = ok & (err > 0)
        diff = torch.where(ok, diff / torch.where(ok, err, torch.ones_like(err)), torch.zeros_like(diff))
    return (diff * diff).sum()
