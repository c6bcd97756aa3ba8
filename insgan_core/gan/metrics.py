"""How close are translated maps to real (or artefact-simulated) ones? Metrics for ``insgan evaluate``.

All metrics are NaN-aware: masked or inaccessible bins (NaN) are left out, and paired metrics use only
the bins covered in both maps. Every function accepts :class:`INSMap`, :class:`MapStack`, lists of
INSMaps, or arrays of shape (nx, ne) / (N, nx, ne).

* :func:`relative_l1` — Σ|a − b| / Σ|b| on commonly covered bins.
* :func:`ssim` — structural similarity with a Gaussian window (Wang et al. 2004), NaN-aware.
* :func:`patch_distance` — sliced Wasserstein distance between the distributions of patch features of
  two SETS of maps (an analogue of the latent Wasserstein distance of Exp2SimGAN).
* :func:`peak_energy`, :func:`compare_cuts` — 1-D energy cuts: peak positions and relative L1.
* :func:`peak_centre_fwhm` — position and full width at half maximum of the strongest peak of a 1-D profile.
* :func:`noise_variance_to_mean` — counting-noise statistic (variance/mean of the small-scale residual).
* :func:`evaluate` — all of the above for the GAN output and for the identity baseline (the clean input),
  with the fraction of the baseline's gap that the GAN closes.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from scipy.ndimage import gaussian_filter

from ..data.ins_map import INSMap, MapStack
from ..errors import InsganInputError

__all__ = [
    "relative_l1",
    "ssim",
    "patch_distance",
    "extract_patches",
    "RandomConvFeatures",
    "sliced_wasserstein",
    "peak_energy",
    "compare_cuts",
    "peak_centre_fwhm",
    "noise_variance_to_mean",
    "evaluate",
    "gap_closed",
]


# --- helpers ----------------------------------------------------------------------------------------
def _signals(data, *, name: str = "maps") -> np.ndarray:
    """Signal array (N, nx, ne) float64 of an INSMap / MapStack / list of INSMaps / array."""
    if isinstance(data, INSMap):
        s = data.signal[None]
    elif isinstance(data, MapStack):
        s = data.signal
    elif isinstance(data, (list, tuple)) and data and all(isinstance(m, INSMap) for m in data):
        s = np.stack([m.signal for m in data])
    else:
        s = np.asarray(data, dtype=np.float64)
        if s.ndim == 2:
            s = s[None]
    if s.ndim != 3 or s.shape[0] == 0:
        raise InsganInputError(f"{name}: expected one map (nx, ne) or a set (N, nx, ne), got shape {s.shape}")
    if np.isinf(s).any():
        raise InsganInputError(f"{name}: contains inf; use NaN for masked bins")
    return np.asarray(s, dtype=np.float64)


def _pair(a, b, what: str) -> tuple[np.ndarray, np.ndarray]:
    sa, sb = _signals(a, name=f"{what}: first argument"), _signals(b, name=f"{what}: second argument")
    if sa.shape != sb.shape:
        raise InsganInputError(f"{what}: the two inputs have shapes {sa.shape} and {sb.shape}; put them on one grid first")
    return sa, sb


def gap_closed(metric_output: float, metric_baseline: float, *, best: float = 0.0) -> float:
    """Fraction of the baseline's distance to the ideal value ``best`` that the output removes.

    ``(m_baseline − m_output) / (m_baseline − best)``: 1 = perfect, 0 = no better than the baseline,
    negative = worse. For distances ``best = 0``; for SSIM ``best = 1``. NaN when the baseline is already
    ideal.
    """
    denom = metric_baseline - best
    if not np.isfinite(denom) or abs(denom) < 1e-15:
        return float("nan")
    return float((metric_baseline - metric_output) / denom)


# --- paired metrics -----------------------------------------------------------------------------
def relative_l1(a, b) -> float:
    """Relative L1 distance of ``a`` from the reference ``b`` on bins covered in both.

    Returns Σ|a − b| / Σ|b| over bins (of all maps) where both are finite; dimensionless.

    Raises
    ------
    InsganInputError
        Different shapes, no commonly covered bin, or a reference that is 0 on all of them.
    """
    sa, sb = _pair(a, b, "relative_l1")
    ok = np.isfinite(sa) & np.isfinite(sb)
    if not ok.any():
        raise InsganInputError("relative_l1: the two maps have no covered bin in common")
    denom = np.abs(sb[ok]).sum()
    if denom == 0:
        raise InsganInputError("relative_l1: the reference is zero on every common bin; the relative L1 is undefined")
    return float(np.abs(sa[ok] - sb[ok]).sum() / denom)


def _ssim_map(a: np.ndarray, b: np.ndarray, *, sigma: float, data_range: float | None, min_support: float):
    valid = np.isfinite(a) & np.isfinite(b)
    w = valid.astype(np.float64)
    a0, b0 = np.where(valid, a, 0.0), np.where(valid, b, 0.0)

    def g(z):
        return gaussian_filter(z, sigma, mode="constant", truncate=3.5)

    wsum = g(w)
    full = g(np.ones_like(w))
    with np.errstate(invalid="ignore", divide="ignore"):
        mu_a, mu_b = g(w * a0) / wsum, g(w * b0) / wsum
        saa = g(w * a0 * a0) / wsum - mu_a**2
        sbb = g(w * b0 * b0) / wsum - mu_b**2
        sab = g(w * a0 * b0) / wsum - mu_a * mu_b
    if data_range is None:
        data_range = float(b[valid].max() - b[valid].min()) if valid.any() else 0.0
        if data_range <= 0:
            data_range = float(np.abs(b[valid]).max()) if valid.any() else 1.0
        data_range = data_range or 1.0
    c1, c2 = (0.01 * data_range) ** 2, (0.03 * data_range) ** 2
    with np.errstate(invalid="ignore", divide="ignore"):
        s = ((2 * mu_a * mu_b + c1) * (2 * sab + c2)) / ((mu_a**2 + mu_b**2 + c1) * (saa + sbb + c2))
    use = valid & (wsum >= min_support * full)
    return s, use


def ssim(a, b, *, sigma_bins: float = 1.5, data_range: float | None = None, min_support: float = 0.5) -> float:
    """Structural similarity of ``a`` and the reference ``b`` (1 = identical), NaN-aware.

    Parameters
    ----------
    a, b : map(s), shapes (nx, ne) or (N, nx, ne)
    sigma_bins : float
        Standard deviation of the Gaussian window, in bins (1.5 as Wang et al.; truncated at 3.5 σ).
    data_range : float, optional
        Dynamic range L of the data (sets C1 = (0.01 L)², C2 = (0.03 L)²). Default: max − min of the
        reference over the common bins, per map.
    min_support : float
        A bin contributes when at least this fraction of its window weight lies on common valid bins.

    Returns
    -------
    float
        Mean SSIM over the contributing bins (for N maps: the mean of the N per-map values).

    Notes
    -----
    SSIM = (2 μ_a μ_b + C1)(2 σ_ab + C2) / ((μ_a² + μ_b² + C1)(σ_a² + σ_b² + C2)) with local Gaussian-
    weighted means, variances and covariance (Z. Wang, A. C. Bovik, H. R. Sheikh, E. P. Simoncelli, IEEE
    Trans. Image Process. 13, 600 (2004)). NaN bins get zero weight and the local moments are normalised
    by the valid window weight (normalised convolution), so masks do not bias the statistics.
    """
    sa, sb = _pair(a, b, "ssim")
    values = []
    for x, y in zip(sa, sb):
        s, use = _ssim_map(x, y, sigma=float(sigma_bins), data_range=data_range, min_support=min_support)
        if not use.any():
            raise InsganInputError("ssim: no bin has enough commonly covered neighbours; the maps barely overlap")
        values.append(float(np.mean(s[use])))
    return float(np.mean(values))


# --- set metrics: patch distributions ---------------------------------------------------------------
def extract_patches(
    signals, *, patch_size: int, n_patches: int, seed: int = 0, max_nan_fraction: float = 0.0
) -> np.ndarray:
    """Random square patches from a set of maps, drawn reproducibly.

    Parameters
    ----------
    signals : maps, shape (N, nx, ne)
    patch_size : int
        Side p of the patches, in bins.
    n_patches : int
        Number of patches (drawn without replacement when there are enough valid positions).
    seed : int
        Seed of the position sampler (same seed + same maps → same patches).
    max_nan_fraction : float
        Largest fraction of NaN bins a patch may hold (NaN become 0 in the returned patches).

    Returns
    -------
    ndarray, shape (n_patches, p, p)
    """
    s = _signals(signals, name="extract_patches")
    n, nx, ne = s.shape
    p = int(patch_size)
    if p < 1 or p > min(nx, ne):
        raise InsganInputError(f"patch_size {patch_size} must be between 1 and the map size ({nx} x {ne} bins)")
    nan = np.isnan(s).astype(np.int64)
    integral = np.zeros((n, nx + 1, ne + 1), dtype=np.int64)
    integral[:, 1:, 1:] = nan.cumsum(1).cumsum(2)
    counts = integral[:, p:, p:] - integral[:, :-p, p:] - integral[:, p:, :-p] + integral[:, :-p, :-p]
    k, i, j = np.nonzero(counts <= max_nan_fraction * p * p)
    if k.size == 0:
        raise InsganInputError(
            f"extract_patches: no {p}x{p} patch has at most {max_nan_fraction:.0%} masked bins; use smaller patches"
        )
    rng = np.random.default_rng(seed)
    pick = rng.choice(k.size, size=int(n_patches), replace=k.size < n_patches)
    patches = np.stack([s[k[t], i[t] : i[t] + p, j[t] : j[t] + p] for t in pick])
    return np.nan_to_num(patches, nan=0.0)


class RandomConvFeatures:
    """A fixed, seeded random convolutional feature extractor for intensity patches.

    Two 3x3/5x5 convolution layers with leaky ReLU and 2x average pooling between them, with weights drawn
    from He-normal distributions by a seeded generator (never trained, identical on every machine for a
    given seed). Features per patch: spatial mean and standard deviation of each of the ``2 * width``
    second-layer channels, plus the patch mean and standard deviation (4·width + 2 numbers).

    Parameters
    ----------
    width : int
        Channels of the first layer (the second has 2·width).
    seed : int
        Seed of the weights.

    Notes
    -----
    Random convolutional features are a known training-free stand-in for learnt features in
    distribution distances (e.g. Naeem et al., ICML 2020, "Reliable fidelity and diversity metrics");
    they respond to local texture (resolution width, noise) and intensity level, which is what
    distinguishes simulated from measured maps.
    """

    def __init__(self, *, width: int = 16, seed: int = 0):
        gen = torch.Generator().manual_seed(int(seed))

        def he(shape):
            fan_in = shape[1] * shape[2] * shape[3]
            return torch.randn(shape, generator=gen, dtype=torch.float64) * math.sqrt(2.0 / fan_in)

        self.w1 = he((width, 1, 5, 5))
        self.b1 = (torch.rand(width, generator=gen, dtype=torch.float64) - 0.5) * 0.2
        self.w2 = he((2 * width, width, 3, 3))
        self.b2 = (torch.rand(2 * width, generator=gen, dtype=torch.float64) - 0.5) * 0.2

    def __call__(self, patches: np.ndarray) -> np.ndarray:
        """Features (n, 4·width + 2) of normalised patches (n, p, p)."""
        x = torch.from_numpy(np.ascontiguousarray(patches, dtype=np.float64))[:, None]
        out = []
        for chunk in torch.split(x, 256):
            h = torch.nn.functional.leaky_relu(torch.nn.functional.conv2d(chunk, self.w1, self.b1, padding=2), 0.2)
            if min(h.shape[-2:]) >= 2:
                h = torch.nn.functional.avg_pool2d(h, 2)
            h = torch.nn.functional.leaky_relu(torch.nn.functional.conv2d(h, self.w2, self.b2, padding=1), 0.2)
            f = torch.cat(
                [h.mean((-2, -1)), h.std((-2, -1), unbiased=False), chunk.mean((-2, -1)), chunk.std((-2, -1), unbiased=False)],
                dim=1,
            )
            out.append(f)
        return torch.cat(out).numpy()


def sliced_wasserstein(fa: np.ndarray, fb: np.ndarray, *, n_projections: int = 256, seed: int = 0) -> float:
    """Sliced 2-Wasserstein distance between two equally sized point clouds (n, d).

    Notes
    -----
    SW₂(A, B)² = (1/L) Σ_l W₂²(θ_l·A, θ_l·B) over L random unit directions θ_l (seeded); for equal sample
    sizes the 1-D W₂² is the mean squared difference of the sorted projections (Rabin et al., SSVM 2011;
    Bonneel et al., J. Math. Imaging Vis. 51, 22 (2015)).
    """
    if fa.shape != fb.shape:
        raise InsganInputError(f"sliced_wasserstein: point clouds of shapes {fa.shape} and {fb.shape}; expected equal shapes")
    rng = np.random.default_rng(seed)
    theta = rng.standard_normal((fa.shape[1], int(n_projections)))
    theta /= np.linalg.norm(theta, axis=0, keepdims=True)
    pa = np.sort(fa @ theta, axis=0)
    pb = np.sort(fb @ theta, axis=0)
    return float(np.sqrt(np.mean((pa - pb) ** 2)))


def patch_distance(
    set_a,
    set_b,
    *,
    patch_size: int = 16,
    n_patches: int = 512,
    features: str = "random_conv",
    n_projections: int = 256,
    scale: float | None = None,
    transform: str = "asinh",
    max_nan_fraction: float = 0.0,
    seed: int = 0,
) -> float:
    """Distance between the patch distributions of two sets of maps (0 for identical sets).

    Parameters
    ----------
    set_a : maps (N_a, nx, ne)
        Maps to judge (GAN outputs, or clean simulations for the baseline).
    set_b : maps (N_b, nx', ne')
        Reference maps (e.g. real data). Patches are taken at random positions, so the two sets may
        differ in size and grid (both should have comparable bin widths).
    patch_size : int
        Patch side in bins.
    n_patches : int
        Patches drawn from each set.
    features : {"random_conv", "raw"}
        Feature extractor: :class:`RandomConvFeatures` (seeded, fixed) or the raw normalised patch
        (p² numbers).
    n_projections : int
        Random directions of the sliced Wasserstein distance.
    scale : float, optional
        Intensity scale s; default: mean |signal| of ``set_b`` over its covered bins.
    transform : {"asinh", "linear"}
        Patches are ``asinh(x / s)`` (compressing the INS dynamic range) or ``x / s``.
    max_nan_fraction : float
        Largest masked fraction of a patch (default 0: fully covered patches only).
    seed : int
        Seed of the patch positions, the features and the projections.

    Returns
    -------
    float
        Sliced 2-Wasserstein distance between the feature distributions of the two sets, with features
        standardised by the reference set's per-feature mean and standard deviation (dimensionless).

    Notes
    -----
    Because the scale and the standardisation come from ``set_b``, distances to one reference set are
    comparable between different ``set_a`` — the "gap closed" of :func:`evaluate` compares
    ``patch_distance(output, reference)`` with ``patch_distance(clean, reference)``. This plays the role
    of the Wasserstein distance between latent-feature distributions used to judge Exp2SimGAN (Anker et
    al., Digital Discovery 2023), with a fixed random extractor instead of a trained one.
    """
    sa = _signals(set_a, name="patch_distance: set_a")
    sb = _signals(set_b, name="patch_distance: set_b")
    if transform not in ("asinh", "linear"):
        raise InsganInputError(f"patch_distance: transform must be 'asinh' or 'linear', got {transform!r}")
    if scale is None:
        vb = np.abs(sb[np.isfinite(sb)])
        scale = float(vb.mean()) if vb.size and vb.mean() > 0 else 1.0
    if not (np.isfinite(scale) and scale > 0):
        raise InsganInputError(f"patch_distance: scale must be a positive number, got {scale}")
    pa = extract_patches(sa, patch_size=patch_size, n_patches=n_patches, seed=seed, max_nan_fraction=max_nan_fraction)
    pb = extract_patches(sb, patch_size=patch_size, n_patches=n_patches, seed=seed, max_nan_fraction=max_nan_fraction)
    if transform == "asinh":
        pa, pb = np.arcsinh(pa / scale), np.arcsinh(pb / scale)
    else:
        pa, pb = pa / scale, pb / scale
    if features == "random_conv":
        extractor = RandomConvFeatures(seed=seed)
        fa, fb = extractor(pa), extractor(pb)
    elif features == "raw":
        fa, fb = pa.reshape(len(pa), -1), pb.reshape(len(pb), -1)
    else:
        raise InsganInputError(f"patch_distance: features must be 'random_conv' or 'raw', got {features!r}")
    mu, sd = fb.mean(0), fb.std(0)
    sd = np.where(sd > 1e-12, sd, 1.0)
    return sliced_wasserstein((fa - mu) / sd, (fb - mu) / sd, n_projections=n_projections, seed=seed)


# --- cuts -------------------------------------------------------------------------------------------
def _need_map(m, what: str) -> INSMap:
    if not isinstance(m, INSMap):
        raise InsganInputError(f"{what}: needs an INSMap (with axes), got {type(m).__name__}")
    return m


def peak_energy(m: INSMap, *, q_window: tuple[float, float], e_range: tuple[float, float] | None = None) -> float:
    """Energy (meV) of the strongest peak in an energy cut of ``m`` averaged over ``q_window``.

    Parameters
    ----------
    m : INSMap
    q_window : (lo, hi)
        Integration window on the x axis (|Q| in Å⁻¹).
    e_range : (lo, hi), optional
        Energy range (meV) searched; default from 10 % of the largest energy transfer to the top of the
        map, which keeps the elastic line out.

    Returns
    -------
    float
        Peak energy in meV, refined by a parabola through the maximum bin and its two neighbours; NaN if
        the cut has no covered bin in ``e_range``.
    """
    m = _need_map(m, "peak_energy")
    cut = m.cut(axis="e", window=q_window, average=True)
    e = m.e_axis.centres
    if e_range is None:
        top = m.e_axis.edges[-1]
        e_range = (0.1 * top, top)
    sel = (e >= e_range[0]) & (e <= e_range[1]) & np.isfinite(cut.signal)
    if not sel.any():
        return float("nan")
    y = np.where(sel, cut.signal, -np.inf)
    return _parabola_peak(e, y, int(np.argmax(y)))


def _parabola_peak(x: np.ndarray, y: np.ndarray, i: int) -> float:
    """Abscissa of the vertex of the parabola through bin ``i`` and its two neighbours (``x[i]`` if none)."""
    if 0 < i < len(y) - 1 and np.isfinite(y[i - 1]) and np.isfinite(y[i + 1]):
        x0, x1, x2 = x[i - 1], x[i], x[i + 1]
        y0, y1, y2 = y[i - 1], y[i], y[i + 1]
        denom = (x0 - x1) * (x0 - x2) * (x1 - x2)
        a = (x2 * (y1 - y0) + x1 * (y0 - y2) + x0 * (y2 - y1)) / denom
        b = (x2**2 * (y0 - y1) + x1**2 * (y2 - y0) + x0**2 * (y1 - y2)) / denom
        if a < 0:
            return float(np.clip(-b / (2 * a), x0, x2))
    return float(x[i])


def peak_centre_fwhm(x, y, *, x_range: tuple[float, float] | None = None, baseline="min") -> tuple[float, float]:
    """Position and full width at half maximum of the strongest peak of a 1-D profile.

    Parameters
    ----------
    x : ndarray, shape (n,)
        Increasing bin centres (any unit, e.g. meV or Å⁻¹).
    y : ndarray, shape (n,)
        Profile; NaN bins are skipped.
    x_range : (lo, hi), optional
        Only bins with lo ≤ x ≤ hi are searched (default: all).
    baseline : "min" or float
        Level the half maximum is measured from: the smallest value in the range (default) or a number.

    Returns
    -------
    (centre, fwhm) : tuple of float
        ``centre`` refined by a parabola through the maximum and its neighbours; ``fwhm`` from the two
        half-maximum crossings (linear interpolation between bins) in the contiguous run of valid bins around
        the maximum: NaN when the profile does not fall below half maximum on both sides. (NaN, NaN) without
        a valid bin.

    Notes
    -----
    Half maximum h = b + (y_max − b)/2 with b the baseline; a Gaussian of standard deviation σ sampled finely
    on a zero baseline gives FWHM = 2√(2 ln 2) σ ≈ 2.3548 σ.
    """
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    if x.shape != y.shape or x.ndim != 1:
        raise InsganInputError(f"peak_centre_fwhm: x and y must be 1-D of one length, got shapes {x.shape} and {y.shape}")
    sel = np.isfinite(y)
    if x_range is not None:
        sel &= (x >= x_range[0]) & (x <= x_range[1])
    if not sel.any():
        return float("nan"), float("nan")
    yy = np.where(sel, y, -np.inf)
    i = int(np.argmax(yy))
    centre = _parabola_peak(x, yy, i)
    base = float(np.min(y[sel])) if baseline == "min" else float(baseline)
    half = base + 0.5 * (y[i] - base)
    if not y[i] > half:
        return centre, float("nan")

    def crossing(step: int) -> float:
        k = i
        while 0 <= k + step < len(y) and sel[k + step]:
            if y[k + step] < half:
                x0, x1, y0, y1 = x[k], x[k + step], y[k], y[k + step]
                return float(x0 + (half - y0) * (x1 - x0) / (y1 - y0))
            k += step
        return float("nan")

    return centre, crossing(+1) - crossing(-1)


def compare_cuts(
    a: INSMap,
    b: INSMap,
    *,
    q_windows,
    e_windows=(),
    e_range: tuple[float, float] | None = None,
) -> dict:
    """Compare 1-D cuts of map ``a`` with the same cuts of the reference ``b``.

    Parameters
    ----------
    a, b : INSMap
        On the same grid.
    q_windows : sequence of (lo, hi)
        |Q| windows (Å⁻¹) of energy cuts: peak energies and relative L1 of the cuts.
    e_windows : sequence of (lo, hi)
        Energy windows (meV) of |Q| cuts: relative L1 of the cuts.
    e_range : (lo, hi), optional
        Energy range searched for peaks (see :func:`peak_energy`).

    Returns
    -------
    dict
        ``{"e_cuts": [{"q_window", "peak_meV", "reference_peak_meV", "peak_shift_meV", "relative_l1"}],
        "q_cuts": [{"e_window", "relative_l1"}]}``.
    """
    a, b = _need_map(a, "compare_cuts"), _need_map(b, "compare_cuts")
    if not a.same_grid(b):
        raise InsganInputError("compare_cuts: the two maps are on different grids; rebin one onto the other first")
    out = {"e_cuts": [], "q_cuts": []}
    for w in q_windows:
        ca, cb = a.cut(axis="e", window=w, average=True), b.cut(axis="e", window=w, average=True)
        pa, pb = peak_energy(a, q_window=w, e_range=e_range), peak_energy(b, q_window=w, e_range=e_range)
        out["e_cuts"].append(
            {"q_window": [float(w[0]), float(w[1])], "peak_meV": pa, "reference_peak_meV": pb,
             "peak_shift_meV": pa - pb, "relative_l1": _safe_rel_l1(ca.signal, cb.signal)}
        )
    for w in e_windows:
        ca, cb = a.cut(axis="x", window=w, average=True), b.cut(axis="x", window=w, average=True)
        out["q_cuts"].append({"e_window": [float(w[0]), float(w[1])], "relative_l1": _safe_rel_l1(ca.signal, cb.signal)})
    return out


def _safe_rel_l1(a, b) -> float:
    try:
        return relative_l1(a[None, None], b[None, None])
    except InsganInputError:
        return float("nan")


# --- noise ------------------------------------------------------------------------------------------
def noise_variance_to_mean(m, *, sigma_bins: float = 2.0, count_scale: float = 1.0) -> float:
    """Variance-to-mean ratio of the small-scale (noise) part of a map, in counts if ``count_scale`` given.

    Parameters
    ----------
    m : map(s), shape (nx, ne) or (N, nx, ne)
    sigma_bins : float
        Width (bins) of the Gaussian smoothing that estimates the noise-free map.
    count_scale : float
        Counts per unit intensity; the result is multiplied by it (Poisson counts give ≈ 1).

    Returns
    -------
    float
        Σ r² / (κ Σ m̃) · count_scale over covered bins with m̃ > 0, where m̃ is the NaN-aware smoothed
        map, r = m − m̃ the residual and κ = Σ_k (δ_k − g_k)² the fraction of white-noise variance that
        survives in the residual for the kernel g (so white noise of variance v gives v / mean).

    Notes
    -----
    For a map S = N / c of Poisson counts N, var(S) = S / c, so the ratio is 1/c in intensity units and 1
    in counts. Structure narrower than ``sigma_bins`` leaks into the residual, so compare maps of the same
    content (GAN output vs target) rather than reading the absolute value.
    """
    s = _signals(m, name="noise_variance_to_mean")
    num = den = 0.0
    delta = np.zeros((41, 41))
    delta[20, 20] = 1.0
    kernel = gaussian_filter(delta, sigma_bins, mode="constant", truncate=3.5)
    kappa = float(np.sum((delta - kernel) ** 2))
    for x in s:
        valid = np.isfinite(x)
        w = valid.astype(np.float64)
        with np.errstate(invalid="ignore", divide="ignore"):
            smooth = gaussian_filter(np.where(valid, x, 0.0), sigma_bins, mode="constant", truncate=3.5) / gaussian_filter(
                w, sigma_bins, mode="constant", truncate=3.5
            )
        ok = valid & np.isfinite(smooth) & (smooth > 0)
        num += float(np.sum((x[ok] - smooth[ok]) ** 2))
        den += float(np.sum(smooth[ok]))
    if den <= 0:
        raise InsganInputError("noise_variance_to_mean: no covered bin with positive intensity")
    return num / (kappa * den) * float(count_scale)


# --- everything at once -----------------------------------------------------------------------------
def _stack(data, name: str) -> MapStack:
    if isinstance(data, MapStack):
        return data
    if isinstance(data, INSMap):
        return MapStack.from_maps([data])
    if isinstance(data, (list, tuple)) and data and all(isinstance(m, INSMap) for m in data):
        return MapStack.from_maps(list(data))
    raise InsganInputError(f"evaluate: {name} must be an INSMap, a MapStack or a list of INSMaps, got {type(data).__name__}")


def _summary(values) -> dict:
    v = np.asarray(values, dtype=np.float64)
    return {"mean": float(np.nanmean(v)) if np.isfinite(v).any() else float("nan"), "per_map": [float(x) for x in v]}


def evaluate(
    outputs,
    references,
    baseline,
    *,
    q_windows=None,
    e_windows=None,
    e_range: tuple[float, float] | None = None,
    patch_size: int = 16,
    n_patches: int = 512,
    seed: int = 0,
) -> dict:
    """All metrics for the GAN outputs and for the identity baseline, and the gap each closes.

    Parameters
    ----------
    outputs : maps (N, nx, ne)
        GAN outputs.
    references : maps (M, nx, ne)
        What the outputs should look like (artefact-simulated targets, or real maps). When M == N the
        maps are taken as pairs (output i ↔ reference i) and the paired metrics are computed; otherwise
        only the set metrics (patch distance, noise statistics).
    baseline : maps (N, nx, ne)
        The GAN inputs (clean simulations): the identity baseline.
    q_windows : list of (lo, hi), optional
        |Q| windows (Å⁻¹) of energy cuts; default: the x range split into three.
    e_windows : list of (lo, hi), optional
        Energy windows (meV) of |Q| cuts; default: the positive-energy range split into three.
    e_range : (lo, hi), optional
        Energy range (meV) searched for peaks (:func:`peak_energy`).
    patch_size, n_patches, seed
        Options of :func:`patch_distance`.

    Returns
    -------
    dict
        ``{"n_outputs", "n_references", "paired", "relative_l1", "ssim", "patch_distance",
        "variance_to_mean", "cuts"}``. Each metric holds ``"output"`` and ``"baseline"`` (mean over maps,
        plus ``per_map`` lists for paired metrics) and ``"gap_closed"`` (:func:`gap_closed`: 1 − out/base
        for distances, (out − base)/(1 − base) for SSIM). ``cuts`` gives the peak energies of the energy
        cuts of outputs, baseline and references with the shifts of the outputs from the baseline (content
        preservation) and from the references.
    """
    out, ref, base = _stack(outputs, "outputs"), _stack(references, "references"), _stack(baseline, "baseline")
    for name, st in (("references", ref), ("baseline", base)):
        if not (st.x_axis.equals(out.x_axis) and st.e_axis.equals(out.e_axis)):
            raise InsganInputError(
                f"evaluate: {name} are on a different grid ({st.x_axis.size}x{st.e_axis.size} bins) from the outputs "
                f"({out.x_axis.size}x{out.e_axis.size}); rebin them onto one grid first"
            )
    if len(base) != len(out):
        raise InsganInputError(
            f"evaluate: {len(out)} outputs but {len(base)} baseline maps; the baseline must be the inputs the outputs came from"
        )
    paired = len(ref) == len(out)
    x_edges, e_edges = out.x_axis.edges, out.e_axis.edges
    if q_windows is None:
        q = np.linspace(x_edges[0], x_edges[-1], 4)
        q_windows = [(q[i], q[i + 1]) for i in range(3)]
    if e_windows is None:
        e = np.linspace(max(e_edges[0], 0.0), e_edges[-1], 4)
        e_windows = [(e[i], e[i + 1]) for i in range(3)]
    result: dict = {"n_outputs": len(out), "n_references": len(ref), "paired": paired}

    if paired:
        l1_o = [relative_l1(o.signal, r.signal) for o, r in zip(out, ref)]
        l1_b = [relative_l1(b.signal, r.signal) for b, r in zip(base, ref)]
        result["relative_l1"] = {
            "output": _summary(l1_o), "baseline": _summary(l1_b),
            "gap_closed": gap_closed(float(np.mean(l1_o)), float(np.mean(l1_b))),
        }
        ss_o = [ssim(o.signal, r.signal) for o, r in zip(out, ref)]
        ss_b = [ssim(b.signal, r.signal) for b, r in zip(base, ref)]
        result["ssim"] = {
            "output": _summary(ss_o), "baseline": _summary(ss_b),
            "gap_closed": gap_closed(float(np.mean(ss_o)), float(np.mean(ss_b)), best=1.0),
        }

    pd_kw = {"patch_size": min(patch_size, out.x_axis.size, out.e_axis.size), "n_patches": n_patches, "seed": seed}
    pd_o = patch_distance(out, ref, **pd_kw)
    pd_b = patch_distance(base, ref, **pd_kw)
    result["patch_distance"] = {"output": pd_o, "baseline": pd_b, "gap_closed": gap_closed(pd_o, pd_b), "options": pd_kw}

    vtm = {}
    for name, st in (("output", out), ("reference", ref), ("baseline", base)):
        try:
            vtm[name] = noise_variance_to_mean(st)
        except InsganInputError:
            vtm[name] = float("nan")
    vtm["output_over_reference"] = vtm["output"] / vtm["reference"] if vtm["reference"] else float("nan")
    result["variance_to_mean"] = vtm

    cuts = []
    for w in q_windows:
        p_o = [peak_energy(o, q_window=w, e_range=e_range) for o in out]
        p_b = [peak_energy(b, q_window=w, e_range=e_range) for b in base]
        entry = {
            "q_window": [float(w[0]), float(w[1])],
            "output_peak_meV": p_o,
            "baseline_peak_meV": p_b,
            "shift_from_baseline_meV": _summary(np.subtract(p_o, p_b)),
        }
        if paired:
            p_r = [peak_energy(r, q_window=w, e_range=e_range) for r in ref]
            entry["reference_peak_meV"] = p_r
            entry["shift_from_reference_meV"] = _summary(np.subtract(p_o, p_r))
            entry["baseline_shift_from_reference_meV"] = _summary(np.subtract(p_b, p_r))
            c_o = [compare_cuts(o, r, q_windows=[w], e_windows=(), e_range=e_range)["e_cuts"][0]["relative_l1"] for o, r in zip(out, ref)]
            c_b = [compare_cuts(b, r, q_windows=[w], e_windows=(), e_range=e_range)["e_cuts"][0]["relative_l1"] for b, r in zip(base, ref)]
            entry["relative_l1"] = {"output": _summary(c_o), "baseline": _summary(c_b),
                                    "gap_closed": gap_closed(float(np.nanmean(c_o)), float(np.nanmean(c_b)))}
        cuts.append(entry)
    q_cuts = []
    if paired:
        for w in e_windows:
            c_o = [compare_cuts(o, r, q_windows=(), e_windows=[w])["q_cuts"][0]["relative_l1"] for o, r in zip(out, ref)]
            c_b = [compare_cuts(b, r, q_windows=(), e_windows=[w])["q_cuts"][0]["relative_l1"] for b, r in zip(base, ref)]
            q_cuts.append({"e_window": [float(w[0]), float(w[1])], "relative_l1": {
                "output": _summary(c_o), "baseline": _summary(c_b),
                "gap_closed": gap_closed(float(np.nanmean(c_o)), float(np.nanmean(c_b)))}})
    result["cuts"] = {"energy_cuts": cuts, "q_cuts": q_cuts}
    return result
