"""Invertible intensity normalisation for INS maps: a scale plus a compressing transform.

INS maps span several decades (elastic line and Bragg peaks against weak magnons and background) and may
be negative after background subtraction. A network sees ``T(x / s)`` with ``T = asinh`` (default) or
the signed ``log1p``, and a scale ``s`` that is fitted on the training data and stored in the model file,
so the generator output is mapped back to absolute units (the units of the training targets) exactly.

NaN (masked / inaccessible bins) becomes 0 in the intensity channel; :meth:`Normaliser.encode` adds the
coverage-mask channel (1 = data, 0 = no data) that every generator takes as its second input channel.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import torch

from ..data.ins_map import INSMap, MapStack
from ..errors import InsganInputError

__all__ = ["Normaliser", "TRANSFORMS", "coverage", "as_signal_array"]

#: compressing transforms: name -> (forward, inverse) for numpy and torch arrays
TRANSFORMS = ("asinh", "log1p", "linear")

_DOMAINS = ("source", "target")


def _xp(a):
    return torch if isinstance(a, torch.Tensor) else np


def _t_forward(name: str, u):
    xp = _xp(u)
    if name == "asinh":
        return xp.arcsinh(u) if xp is np else torch.asinh(u)
    if name == "log1p":
        return xp.sign(u) * xp.log1p(xp.abs(u))
    return u


def _t_inverse(name: str, v):
    xp = _xp(v)
    if name == "asinh":
        return xp.sinh(v)
    if name == "log1p":
        return xp.sign(v) * xp.expm1(xp.abs(v))
    return v


def as_signal_array(data) -> np.ndarray:
    """Signal of an INSMap (nx, ne), MapStack (N, nx, ne), list of INSMaps, or an array, as float64 ndarray."""
    if isinstance(data, (INSMap, MapStack)):
        return data.signal
    if isinstance(data, (list, tuple)) and data and isinstance(data[0], INSMap):
        return np.stack([m.signal for m in data])
    if isinstance(data, torch.Tensor):
        return data.detach().cpu().double().numpy()
    return np.asarray(data, dtype=np.float64)


def coverage(signal):
    """Coverage mask of ``signal`` (any shape): 1.0 where finite data, 0.0 where NaN; same array type."""
    if isinstance(signal, torch.Tensor):
        return (~torch.isnan(signal)).to(signal.dtype if signal.is_floating_point() else torch.float32)
    return (~np.isnan(signal)).astype(np.float32)


@dataclass
class Normaliser:
    """Map intensities to the network domain and back: ``y = T(x / s)``, ``x = s · T⁻¹(y)``.

    Parameters
    ----------
    transform : {"asinh", "log1p", "linear"}
        Compressing transform ``T``. ``asinh`` is linear near 0 (noise and negative values after
        background subtraction pass through) and logarithmic for ``|x| >> s``; ``log1p`` is applied to
        ``|x|`` with the sign kept; ``linear`` is the identity.
    per_map : bool
        False (default): one fitted scale per domain (``source_scale``, ``target_scale``), so absolute
        intensity differences between maps are seen by the network and reproduced. True: each map is
        scaled by its own statistic, and the output takes the scale of its *source* map times the fitted
        ratio ``target_scale / source_scale`` (robust to arbitrary overall normalisation of the inputs).
    quantile : float or None
        Statistic used as a scale: None (default) = mean of ``|x|`` over covered bins; a number in (0, 1]
        = that quantile of ``|x|``.
    shared_scale : bool
        True: :meth:`fit` uses one scale for both domains (the targets' statistic), so a generator that
        returns its input is the physical identity map — right when sources and targets are in the same
        units (paired training on simulated artefacts). False (default): each domain gets its own
        scale, for targets in other (arbitrary) units such as measured counts.
    source_scale, target_scale : float
        Fitted scales (units of the source and target intensities) — set by :meth:`fit`.

    Notes
    -----
    The fitted scale of a domain is the median over its maps of the per-map statistic. With the default
    ``quantile=None``, typical intensities map to O(1) and peaks 100x brighter to ``asinh(100) ≈ 5.3``.
    """

    transform: str = "asinh"
    per_map: bool = False
    quantile: float | None = None
    shared_scale: bool = False
    source_scale: float = 1.0
    target_scale: float = 1.0

    def __post_init__(self):
        if self.transform not in TRANSFORMS:
            raise InsganInputError(
                f"Normaliser: unknown transform {self.transform!r}; expected one of {', '.join(TRANSFORMS)}"
            )
        if self.quantile is not None and not (0.0 < float(self.quantile) <= 1.0):
            raise InsganInputError(f"Normaliser: quantile must be in (0, 1] or None, got {self.quantile}")
        for name in ("source_scale", "target_scale"):
            v = float(getattr(self, name))
            if not np.isfinite(v) or v <= 0:
                raise InsganInputError(f"Normaliser: {name} must be a positive finite number, got {v}")
            setattr(self, name, v)

    # --- scales -----------------------------------------------------------------------------------
    def map_scale(self, signal):
        """Per-map scale statistic of ``signal`` (..., H, W) over its non-NaN bins: shape (...,).

        Falls back to max |x|, then to 1.0, for maps whose statistic is 0 (e.g. all-zero maps).
        """
        xp = _xp(signal)
        a = xp.abs(signal)
        flat = a.reshape(*a.shape[:-2], -1)
        if xp is np:
            if self.quantile is None:
                s = np.nanmean(flat, axis=-1) if np.isfinite(flat).any() else np.ones(flat.shape[:-1])
            else:
                s = np.nanquantile(flat, self.quantile, axis=-1)
            mx = np.nanmax(np.where(np.isnan(flat), -np.inf, flat), axis=-1)
            s = np.where(np.isfinite(s) & (s > 0), s, np.where(np.isfinite(mx) & (mx > 0), mx, 1.0))
            return s
        if self.quantile is None:
            s = torch.nanmean(flat, dim=-1)
        else:
            s = torch.nanquantile(flat, self.quantile, dim=-1)
        mx = torch.nan_to_num(flat, nan=0.0).amax(dim=-1)
        fallback = torch.where(mx > 0, mx, torch.ones_like(mx))
        return torch.where(torch.isfinite(s) & (s > 0), s, fallback)

    def fit(self, sources, targets=None) -> "Normaliser":
        """Fit ``source_scale`` and ``target_scale`` (equal when ``targets`` is None or ``shared_scale``).

        ``sources``, ``targets``: MapStack, INSMap, list of INSMap, or array (N, H, W) / (H, W).
        """
        src = as_signal_array(sources)
        self.source_scale = float(np.median(np.atleast_1d(self.map_scale(src))))
        if targets is None:
            self.target_scale = self.source_scale
        else:
            self.target_scale = float(np.median(np.atleast_1d(self.map_scale(as_signal_array(targets)))))
            if self.shared_scale:
                self.source_scale = self.target_scale
        return self

    def effective_scale(self, signal, *, domain: str = "source", reference=None):
        """The divisor ``s`` used for ``signal`` in ``domain``: a float, or shape (...,) when per_map.

        Per-map mode: a source map uses its own statistic (or that of ``reference``); a target map uses
        its own statistic, or, when ``reference`` (its source map) is given, the statistic of the
        reference times ``target_scale / source_scale``.
        """
        if domain not in _DOMAINS:
            raise InsganInputError(f"Normaliser: domain must be 'source' or 'target', got {domain!r}")
        if not self.per_map:
            return self.source_scale if domain == "source" else self.target_scale
        if domain == "source":
            return self.map_scale(signal if reference is None else reference)
        if reference is None:
            return self.map_scale(signal)
        return self.map_scale(reference) * (self.target_scale / self.source_scale)

    @staticmethod
    def _expand(scale, like):
        if np.isscalar(scale) or isinstance(scale, float):
            return scale
        if isinstance(like, torch.Tensor) and not isinstance(scale, torch.Tensor):
            scale = torch.as_tensor(scale, dtype=like.dtype, device=like.device)
        return scale[..., None, None]

    # --- transforms -------------------------------------------------------------------------------
    def forward(self, signal, *, domain: str = "source", reference=None):
        """Normalised intensity ``T(x / s)`` with NaN replaced by 0; same shape and array type as ``signal``.

        Parameters
        ----------
        signal : ndarray or Tensor, shape (..., H, W)
            Intensity in the units of ``domain``; NaN = no data.
        domain : {"source", "target"}
        reference : ndarray or Tensor, optional
            Per-map mode only: the source maps that set the scale (see :meth:`effective_scale`).
        """
        s = self._expand(self.effective_scale(signal, domain=domain, reference=reference), signal)
        y = _t_forward(self.transform, signal / s)
        if isinstance(y, torch.Tensor):
            return torch.nan_to_num(y, nan=0.0)
        return np.nan_to_num(y, nan=0.0)

    def inverse(self, normalised, *, domain: str = "target", reference=None):
        """Intensity ``s · T⁻¹(y)`` in the units of ``domain`` (default: target, i.e. generator output).

        Per-map mode needs ``reference``, the source maps the outputs were generated from.
        """
        if self.per_map and reference is None:
            raise InsganInputError(
                "Normaliser.inverse: per-map normalisation needs reference= the source maps the output came from"
            )
        if self.per_map:
            s = self.effective_scale(reference, domain=domain, reference=reference)
        else:
            s = self.effective_scale(normalised, domain=domain)
        return self._expand(s, normalised) * _t_inverse(self.transform, normalised)

    def encode(self, signal, *, domain: str = "source", reference=None):
        """Network input (..., 2, H, W): channel 0 = :meth:`forward`, channel 1 = coverage mask (1/0).

        ``signal`` (..., H, W) ndarray or Tensor; returns float32 of the same array type.
        """
        y = self.forward(signal, domain=domain, reference=reference)
        m = coverage(signal)
        if isinstance(y, torch.Tensor):
            return torch.stack([y.float(), m.float()], dim=-3)
        return np.stack([y.astype(np.float32), m.astype(np.float32)], axis=-3)

    # --- serialisation ----------------------------------------------------------------------------
    def to_dict(self) -> dict:
        """JSON-serialisable parameters (stored in model files under metadata key ``normaliser``)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "Normaliser":
        known = {"transform", "per_map", "quantile", "shared_scale", "source_scale", "target_scale"}
        unknown = set(d) - known
        if unknown:
            raise InsganInputError(
                f"Normaliser.from_dict: unknown field(s) {sorted(unknown)}; expected {sorted(known)} "
                "(model file from a newer insgan?)"
            )
        return cls(**d)
