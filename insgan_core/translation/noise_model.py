"""Counting-noise model learnt from measured errors: counts per unit intensity c(|Q|,E).

A measured map S = N / c from N Poisson counts has σ = √N / c, so c = S / σ² in every bin with S > 0 and
σ > 0. The per-bin estimate is itself noisy (relative scatter ≈ 1/√N), so it is smoothed in log space
with a NaN-aware Gaussian; bins without an estimate take a wider smoothing, then the median.
Sampling draws N ~ Poisson(c·μ) and returns N / c with errors √N / c (zero counts: zero error, as
Mantid histograms).

**Coverage-edge scatter.** The bins next to the edge of the detector coverage (on a MERLIN powder map, the
low-angle kinematic edge) scatter far more than their counting errors and the model's expectation allow: on
the shared Bi2Fe4O9 maps (0.05 Å⁻¹ × 0.5 meV, 10–45 meV) the 70 bins adjacent to an uncovered bin (1.1 % of
the covered bins) hold 42 % (5 K) and 57 % (300 K) of the small-scale variance that
:func:`insgan_core.gan.metrics.noise_variance_to_mean` measures, and their measured intensity is 2.3× (5 K) and
2.2× (300 K) the structured model's expectation (the next ring 2.0× and 1.7×; bins further in 1.04×): a
property of the setup, the same in both runs whatever their exposure. :func:`estimate_edge_scatter` learns
its size per edge class (1 and 2 bins from the edge, :func:`coverage_edge_classes`) from the training map
alone, and :func:`sample_counts` draws it as exposure-independent relative scatter (μ·(1 ± ε): variance ε²μ²,
mean unchanged) on top of the counting noise.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.ndimage import gaussian_filter

from ..data.counting import poisson_counts

__all__ = ["estimate_count_scale_map", "sample_counts", "coverage_edge_classes", "estimate_edge_scatter", "EDGE_RINGS"]


def _nan_smooth(values: np.ndarray, sigma_bins: float) -> np.ndarray:
    valid = np.isfinite(values)
    num = gaussian_filter(np.where(valid, values, 0.0), sigma_bins, mode="nearest")
    den = gaussian_filter(valid.astype(np.float64), sigma_bins, mode="nearest")
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 1e-3, num / den, np.nan)


def estimate_count_scale_map(signals, errors, *, sigma_bins: float = 2.0) -> np.ndarray | None:
    """Smoothed counts per unit intensity c(x, E) from measured maps of one setup.

    Parameters
    ----------
    signals, errors : sequence of ndarray, each shape (nx, ne)
        Measured intensities and their standard deviations (NaN = no data).
    sigma_bins : float
        Width (bins) of the Gaussian smoothing of log c.

    Returns
    -------
    ndarray, shape (nx, ne), or None
        c > 0 everywhere (counts per unit intensity in a bin), the geometric mean over the maps; None when
        no bin of any map has S > 0 and σ > 0 (noise-free maps).
    """
    logs = []
    for s, e in zip(signals, errors):
        s, e = np.asarray(s, float), np.asarray(e, float)
        ok = np.isfinite(s) & np.isfinite(e) & (s > 0) & (e > 0)
        if ok.sum() < 10:
            continue
        with np.errstate(divide="ignore", invalid="ignore"):
            logc = np.where(ok, np.log(s / np.where(ok, e, 1.0) ** 2), np.nan)
        logs.append(logc)
    if not logs:
        return None
    with np.errstate(invalid="ignore"):
        stacked = np.array(logs)
        count = np.isfinite(stacked).sum(0)
        mean = np.where(count > 0, np.nansum(stacked, 0) / np.maximum(count, 1), np.nan)
    smooth = _nan_smooth(mean, sigma_bins)
    wide = _nan_smooth(mean, 4.0 * sigma_bins)
    fill = float(np.nanmedian(mean))
    out = np.where(np.isfinite(smooth), smooth, np.where(np.isfinite(wide), wide, fill))
    return np.exp(out)


def sample_counts(mean: np.ndarray, count_scale: np.ndarray, *, rng: np.random.Generator,
                  relative_scatter: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """One Poisson realisation of an expected map.

    Parameters
    ----------
    mean : ndarray, shape (..., nx, ne)
        Expected intensity (NaN = no coverage; negative values count as 0).
    count_scale : ndarray, broadcastable to ``mean``
        Counts per unit intensity c.
    relative_scatter : ndarray broadcastable to ``mean``, optional
        ε² in [0, 1) per bin: the expected intensity of each bin is first multiplied by 1 ± ε, each sign with
        probability ½ (exposure-independent scatter of mean 1 and variance ε²: the expectation is unchanged, the
        variance becomes μ/c + ε²μ²). A fixed size and a random sign, because what it stands for, the
        coverage-edge excess, is systematic: its size barely varies from bin to bin or run to run, and a
        heavier-tailed draw would add a realisation spread the measured maps do not have. Bins with ε² = 0 draw
        nothing (None or all zero: the plain Poisson sample, the same random numbers as without it).

    Returns
    -------
    (signal, error) : ndarrays like ``mean``
        N / c and √N / c (the counting error, as a measured map's), NaN where ``mean`` is NaN.
    """
    if relative_scatter is not None and np.any(np.asarray(relative_scatter) > 0):
        eps2 = np.broadcast_to(np.asarray(relative_scatter, np.float64), np.shape(mean))
        if np.any(eps2 >= 1.0):
            raise ValueError(f"relative_scatter must be < 1 (intensities stay >= 0), got max {float(eps2.max())}")
        on = eps2 > 0
        factor = np.ones(np.shape(mean))
        factor[on] = 1.0 + np.sqrt(eps2[on]) * np.where(rng.random(int(on.sum())) < 0.5, -1.0, 1.0)
        mean = mean * factor
    counts = poisson_counts(mean * count_scale, rng=rng)
    return counts / count_scale, np.sqrt(counts) / count_scale


# --- relative scatter at the edge of the detector coverage -------------------------------------------------
#: number of coverage-edge classes (bins 1 and 2 bins from the nearest uncovered bin)
EDGE_RINGS = 2
#: a direct estimate of a class's scatter counts as identified when it exceeds this many standard errors
EDGE_IDENTIFIED_SE = 2.0
#: largest relative scatter ε² used (the ±ε draw of :func:`sample_counts` keeps intensities ≥ 0.1 μ)
EDGE_MAX_EPS2 = 0.81


def coverage_edge_classes(covered: np.ndarray, *, rings: int = EDGE_RINGS) -> np.ndarray:
    """Distance class of every bin to the edge of the coverage, shape like ``covered`` (int).

    k = 1 … ``rings`` for covered bins whose nearest uncovered bin (4-neighbour steps; the grid border does not
    count) is k bins away, 0 for covered bins further in and for uncovered bins.
    """
    from scipy.ndimage import binary_dilation

    covered = np.asarray(covered, bool)
    out = np.zeros(covered.shape, np.int64)
    if covered.all() or not covered.any():
        return out
    inside = ~covered
    for k in range(1, int(rings) + 1):
        grown = binary_dilation(inside)
        out[covered & grown & ~inside] = k
        inside = grown
    return out


def _small_scale(x: np.ndarray, sigma_bins: float = 2.0) -> np.ndarray:
    """x minus its NaN-aware Gaussian smoothing (the residual :func:`insgan_core.gan.metrics.noise_variance_to_mean`
    takes), NaN where x is NaN."""
    valid = np.isfinite(x)
    with np.errstate(invalid="ignore", divide="ignore"):
        smooth = (gaussian_filter(np.where(valid, x, 0.0), sigma_bins, mode="constant", truncate=3.5)
                  / gaussian_filter(valid.astype(np.float64), sigma_bins, mode="constant", truncate=3.5))
    return np.where(valid, x - smooth, np.nan)


def _white_fraction(valid: np.ndarray, sigma_bins: float = 2.0) -> np.ndarray:
    """κ_b: the fraction of white-noise variance (unit variance in every valid bin) left in bin b of
    :func:`_small_scale`'s residual, for the NaN pattern ``valid`` (smaller next to missing bins, where the
    smoothing leans on the bin itself). r_b = x_b − Σ_j G_bj x_j with G_bj = g_{b−j} / Σ_k g_{b−k} over valid j, k,
    so κ_b = 1 − 2 G_bb + Σ_j G_bj²."""
    from scipy.ndimage import convolve

    delta = np.zeros((41, 41))
    delta[20, 20] = 1.0
    g = gaussian_filter(delta, sigma_bins, mode="constant", truncate=3.5)
    v = np.asarray(valid, np.float64)
    norm = convolve(v, g, mode="constant")
    sq = convolve(v, g * g, mode="constant")
    with np.errstate(invalid="ignore", divide="ignore"):
        kappa = 1.0 - 2.0 * g[20, 20] / norm + sq / norm**2
    return np.where(valid, kappa, np.nan)


def estimate_edge_scatter(signals, errors, means, classes, *, rings: int = EDGE_RINGS) -> list[dict]:
    """Exposure-independent relative scatter ε_k² of the coverage-edge classes k = 1 … ``rings``, from measured maps.

    Parameters
    ----------
    signals, errors : sequence of ndarray, each shape (nq, ne)
        Measured maps and their errors (NaN outside the bins to use).
    means : sequence of ndarray, each shape (nq, ne)
        The model's expectation for each map (at that map's exposure).
    classes : ndarray of int, shape (nq, ne)
        :func:`coverage_edge_classes`.

    Returns
    -------
    list of dict, one per class
        ``eps2`` (the value to use, ≥ 0), ``direct`` and ``direct_se``, ``offset`` and ``offset_se``,
        ``offset_eps2``, ``method`` ("direct" or "offset"), ``n_bins``.

    Notes
    -----
    Direct: ε² = Σ (r² − κσ²) / Σ κμ² over the class, r the small-scale residual of (measured − expected) (the
    part :func:`insgan_core.gan.metrics.noise_variance_to_mean` sees), κ the fraction of a bin's white-noise
    variance left in it (per bin: smaller next to the edge, where the smoothing leans on the bin itself); standard
    error √(Σ 2κ²(σ² + ε²μ²)²) / Σ κμ². It is quadratic in the data, so at low exposure (σ ≫ εμ) it is not
    identified. It is used when it exceeds :data:`EDGE_IDENTIFIED_SE` standard errors; otherwise (the prior) the
    class's mean relative offset δ = Σ (y − μ) / Σ μ (linear in the data, standard error √Σσ² / Σ μ) gives ε² as
    the small-scale variance that offset shows (its residual after the same smoothing, per Σ κμ²): the edge excess
    is taken as what it is on the shared MERLIN runs, a systematic offset of the edge bins, the same at any
    exposure, that the smoothing sees as scatter.
    """
    out = []
    for k in range(1, int(rings) + 1):
        num = den = var = off = sumy = off_num = 0.0
        n = 0
        parts = []
        for y, e, mu in zip(signals, errors, means):
            y, e, mu = (np.asarray(a, np.float64) for a in (y, e, mu))
            ok = np.isfinite(y) & np.isfinite(e) & np.isfinite(mu)
            cls = ok & (classes == k)
            if not cls.any():
                continue
            kappa = _white_fraction(ok)
            r = _small_scale(np.where(ok, y, np.nan)) - _small_scale(np.where(ok, mu, np.nan))
            num += float(np.sum(r[cls] ** 2 - kappa[cls] * e[cls] ** 2))
            den += float(np.sum(kappa[cls] * mu[cls] ** 2))
            var += float(np.sum(e[cls] ** 2))
            off += float(np.sum(mu[cls]))
            sumy += float(np.sum(y[cls]))
            n += int(cls.sum())
            parts.append((kappa[cls], e[cls] ** 2, mu[cls] ** 2))
            # the small-scale footprint of a relative offset δ = 1 of the class (scaled by δ² below)
            shifted = np.where(ok, np.where(cls, 2.0 * mu, mu), np.nan)
            off_num += float(np.sum((_small_scale(shifted) - _small_scale(np.where(ok, mu, np.nan)))[cls] ** 2))
        if n == 0 or den <= 0 or off <= 0:
            out.append({"eps2": 0.0, "direct": None, "direct_se": None, "offset": None, "offset_se": None,
                        "offset_eps2": None, "method": "none", "n_bins": n})
            continue
        direct = num / den
        # r² of a bin scatters like (its variance)²·2 (Gaussian approximation), with the estimated scatter included
        direct_se = math.sqrt(sum(float(np.sum(2.0 * (kb * (v + max(direct, 0.0) * m2)) ** 2)) for kb, v, m2 in parts)) / den
        delta, delta_se = (sumy - off) / off, math.sqrt(var) / off
        offset_eps2 = delta**2 * off_num / den
        identified = direct > EDGE_IDENTIFIED_SE * direct_se
        out.append({"eps2": float(np.clip(direct if identified else offset_eps2, 0.0, EDGE_MAX_EPS2)), "direct": direct,
                    "direct_se": direct_se, "offset": delta, "offset_se": delta_se, "offset_eps2": offset_eps2,
                    "method": "direct" if identified else "offset", "n_bins": n})
    return out
