"""Random patch sampling and spectrum-safe augmentations (translations and overall intensity only).

Maps are (..., H, W) with H = |Q| (or path) bins and W = energy-transfer bins. There are deliberately no
flips or rotations: the energy axis has a direction (detailed balance, kinematic limit, E-dependent
resolution), and a |Q| flip would invert the magnetic form-factor fall-off.
"""

from __future__ import annotations

import numpy as np
import torch

from ..errors import InsganInputError

__all__ = ["valid_patch_corners", "sample_patches", "intensity_factors"]


def valid_patch_corners(coverage: np.ndarray, patch_hw: tuple[int, int], *, min_coverage: float) -> np.ndarray:
    """Top-left corners (i, j) of every patch of size ``patch_hw`` whose covered fraction ≥ ``min_coverage``.

    Parameters
    ----------
    coverage : ndarray, shape (H, W)
        1 where the map has data, 0 where NaN.
    patch_hw : (int, int)

    Returns
    -------
    ndarray, shape (n, 2), int64. Falls back to the best-covered corner(s) when none reach the threshold.
    """
    h, w = coverage.shape
    ph, pw = patch_hw
    if ph > h or pw > w:
        raise InsganInputError(
            f"patch_size {patch_hw} is larger than the map ({h} x {w} bins); choose a smaller patch_size"
        )
    c = np.pad(np.asarray(coverage, dtype=np.float64), ((1, 0), (1, 0))).cumsum(0).cumsum(1)
    frac = (c[ph:, pw:] - c[:-ph, pw:] - c[ph:, :-pw] + c[:-ph, :-pw]) / (ph * pw)
    ok = np.argwhere(frac >= min_coverage - 1e-12)
    if ok.size == 0:
        ok = np.argwhere(frac >= frac.max() - 1e-12)
    return ok.astype(np.int64)


def sample_patches(
    images: torch.Tensor,
    corners: list[np.ndarray],
    patch_hw: tuple[int, int],
    batch_size: int,
    *,
    generator: torch.Generator,
    companions: tuple[torch.Tensor, ...] = (),
) -> tuple[torch.Tensor, ...]:
    """Draw ``batch_size`` random patches (map index and position uniformly among valid corners).

    Parameters
    ----------
    images : Tensor (N, C, H, W)
    corners : list of N arrays (n_i, 2)
        Valid corners of each map (:func:`valid_patch_corners`).
    companions : tensors (N, C', H, W)
        Cropped at the same positions (e.g. the paired targets).
    generator : torch.Generator
        Source of randomness (reproducible).

    Returns
    -------
    (patches (B, C, ph, pw), *companion patches)
    """
    ph, pw = patch_hw
    n = images.shape[0]
    idx = torch.randint(n, (batch_size,), generator=generator).tolist()
    outs = [[] for _ in range(1 + len(companions))]
    for k in idx:
        cs = corners[k]
        i, j = cs[int(torch.randint(len(cs), (1,), generator=generator))]
        for o, t in zip(outs, (images, *companions)):
            o.append(t[k, :, i : i + ph, j : j + pw])
    return tuple(torch.stack(o) for o in outs)


def intensity_factors(batch_size: int, amplitude: float, *, generator: torch.Generator) -> torch.Tensor:
    """Random overall intensity factors ``1 + U(−a, a)``, shape (B,) (all 1 when ``amplitude`` is 0)."""
    if amplitude <= 0:
        return torch.ones(batch_size, dtype=torch.float64)
    u = torch.rand(batch_size, generator=generator, dtype=torch.float64)
    return 1.0 + amplitude * (2 * u - 1)
