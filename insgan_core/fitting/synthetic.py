"""Synthetic measured maps for testing fits: the forward model at known parameters + counting noise.

The map is the :class:`ForwardModel` prediction (spin waves, resolution, backgrounds, elastic line) on a
grid, NaN where the instrument's detectors do not reach (built-in coverage, or a given table), with
Poisson counts: counts ~ Poisson(I · count_scale), signal = counts / count_scale, error =
√max(counts, 1) / count_scale (what a reduction reports for counting data).
"""

from __future__ import annotations

import numpy as np

from ..data.grid import check_edges
from ..data.ins_map import INSMap, MapMetadata

__all__ = ["coverage_mask", "empty_dataset", "noisy_map"]


def coverage_mask(settings, q_edges, e_edges, detectors=None) -> np.ndarray:
    """Bins (nq, ne) reached by the detectors (built-in table of the instrument unless given)."""
    from ..instrument.coverage import builtin_detectors, detector_path

    qa = check_edges(q_edges, name="q_edges", unit="MomentumTransfer", minimum=0.0)
    ea = check_edges(e_edges, name="e_edges", unit="DeltaE")
    det = detectors if detectors is not None else builtin_detectors(settings.instrument, ei_meV=settings.ei_meV,
                                                                    e_edges=ea.edges)
    ones = INSMap(np.ones((qa.centres.size, ea.centres.size)), np.zeros((qa.centres.size, ea.centres.size)), qa, ea,
                  MapMetadata(ei_meV=settings.ei_meV), distribution=True)
    return np.isfinite(detector_path(ones, det).signal)


def empty_dataset(settings, q_edges, e_edges, *, temperature_K: float, detectors=None, **mask_kwargs):
    """A :class:`FitDataset` on a grid with unit data where covered (to build a forward model on)."""
    from .data import load_dataset

    qa = check_edges(q_edges, name="q_edges", unit="MomentumTransfer", minimum=0.0)
    ea = check_edges(e_edges, name="e_edges", unit="DeltaE")
    cov = coverage_mask(settings, q_edges, e_edges, detectors)
    sig = np.where(cov, 1.0, np.nan)
    md = MapMetadata(instrument=settings.instrument, ei_meV=settings.ei_meV, temperature_K=temperature_K)
    m = INSMap(sig, np.where(cov, 1.0, np.nan), qa, ea, md, distribution=True)
    return load_dataset(m, chopper_frequency_hz=settings.chopper_frequency_hz,
                        chopper_package=settings.chopper_package, **mask_kwargs)


def noisy_map(forward, values: dict, nuisance: dict, *, count_scale: float, rng) -> INSMap:
    """Poisson-noise measurement of ``forward`` at Hamiltonian ``values`` and ``nuisance`` (NaN off coverage)."""
    ds = forward.dataset
    cov = np.isfinite(ds.measured.signal)
    mean = np.clip(forward(values, nuisance), 0.0, None) * float(count_scale)
    counts = rng.poisson(np.where(cov, mean, 0.0)).astype(float)
    sig = np.where(cov, counts / count_scale, np.nan)
    err = np.where(cov, np.sqrt(np.maximum(counts, 1.0)) / count_scale, np.nan)
    return ds.measured.with_data(sig, err)
