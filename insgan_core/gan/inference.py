"""Apply a trained translation model (clean simulation → experiment-like map) to maps.

Pipeline per batch: :meth:`Normaliser.encode` (normalised intensity + coverage-mask channel) → generator
under ``torch.inference_mode`` → :meth:`Normaliser.inverse` (back to the absolute units of the training
targets) → NaN where the output has no coverage.

Coverage (where the output is NaN)
----------------------------------
* If the model file stores ``coverage_mask`` (the target domain's coverage on the model grid, e.g. the
  kinematic limit and detector gaps of the real instrument), the output is NaN exactly where that mask is
  False: the GAN never invents data where the instrument sees nothing. Where the *input* is NaN but the
  target domain has coverage (e.g. a clean simulation with a different mask), the generator sees 0 in
  the intensity channel and 0 in the mask channel and fills the bin from its neighbourhood, as it was
  trained to; pass ``keep_input_nan=True`` to blank those bins too.
* Without a stored ``coverage_mask`` the output is NaN where the input is NaN (the coverage is taken from
  the input grid).

Errors of the output
--------------------
A generator predicts one realistic map, not an uncertainty. If the model metadata holds ``count_scale``
(counts per unit of target intensity, estimated from the training targets with
:func:`insgan_core.data.counting.estimate_count_scale`), the error is the Poisson estimate σ = sqrt(|S| / count_scale) that a
measurement with the targets' counting statistics would carry. Otherwise the error is 0 in every valid
bin, and ``provenance["gan"]["error_model"]`` says so (so a fit does not mistake it for a measured error).

Counting noise
--------------
A generator trained with an L1 term predicts close to the conditional median of the targets, i.e. the
noise-free map. ``apply(..., noise="poisson")`` then draws counting noise from the model's own
``count_scale``: N ~ Poisson(c · max(S, 0)), S' = N / c, σ' = sqrt(N) / c (a measurement's errors,
zero for zero counts as in Mantid histograms and the instrument layer's noise step), seeded by ``seed``. The noise is drawn on the model grid, before any rebinning back.
"""

from __future__ import annotations

import copy
import hashlib
import warnings
from typing import NamedTuple

import numpy as np
import torch
from torch import nn

from .._version import __version__
from ..data.counting import poisson_counts
from ..data.grid import Axis
from ..data.ins_map import INSMap, MapStack
from ..errors import InsganInputError
from .normalisation import Normaliser

__all__ = ["TranslationModel", "ModelGrid", "resolve_device"]


class ModelGrid(NamedTuple):
    """The grid a model was trained on: |Q| (or path) axis and energy-transfer axis (meV)."""

    x_axis: Axis
    e_axis: Axis

    def describe(self) -> str:
        x, e = self.x_axis, self.e_axis
        return (
            f"{x.unit} {x.edges[0]:g}..{x.edges[-1]:g} ({x.size} bins) x "
            f"{e.unit} {e.edges[0]:g}..{e.edges[-1]:g} ({e.size} bins)"
        )

    @classmethod
    def from_metadata(cls, metadata: dict) -> "ModelGrid":
        """The grid stored in model-file metadata (``metadata["grid"]``)."""
        g = metadata["grid"]
        return cls(Axis(np.asarray(g["x_edges"], float), g["x_unit"]), Axis(np.asarray(g["e_edges"], float), g["e_unit"]))

    def mismatch(self, x_axis: Axis, e_axis: Axis, *, rebin: bool) -> tuple[bool, str | None]:
        """How maps on (``x_axis``, ``e_axis``) fit this grid.

        Returns
        -------
        (needs_rebin, problem) : (bool, str or None)
            ``needs_rebin`` is True when the maps must be rebinned to this grid; ``problem`` is a message
            saying why they cannot be used (a different grid without ``rebin``, or a different x unit),
            else None.
        """
        if x_axis.equals(self.x_axis) and e_axis.equals(self.e_axis):
            return False, None
        described = ModelGrid(x_axis, e_axis).describe()
        if not rebin:
            return True, (
                f"grid {described} differs from the model grid {self.describe()}; rebin the input onto the model "
                "grid, or ask for rebinning (apply(..., rebin=True), 'insgan apply --rebin', ApplyINSGAN's "
                "RebinToModelGrid)"
            )
        if x_axis.unit != self.x_axis.unit:
            return True, (
                f"x axis is '{x_axis.unit}' but the model was trained on '{self.x_axis.unit}' maps; "
                "rebinning cannot convert units"
            )
        return True, None


def resolve_device(device: str = "auto") -> torch.device:
    """``"auto"`` → CUDA when available, else CPU; other strings are passed to :class:`torch.device`."""
    if device in (None, "auto"):
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(device)
    except RuntimeError as exc:
        raise InsganInputError(f"device: cannot use {device!r} ({exc}); expected 'auto', 'cpu' or 'cuda'") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise InsganInputError(f"device: {device!r} requested but CUDA is not available; use 'cpu' or 'auto'")
    return dev


def _as_stack(maps) -> tuple[MapStack, bool]:
    if isinstance(maps, INSMap):
        return MapStack.from_maps([maps]), True
    if isinstance(maps, MapStack):
        return maps, False
    if isinstance(maps, (list, tuple)) and maps and all(isinstance(m, INSMap) for m in maps):
        return MapStack.from_maps(maps), False
    raise InsganInputError(
        f"TranslationModel.apply: expected an INSMap, a MapStack or a list of INSMaps, got {type(maps).__name__}"
    )


class TranslationModel:
    """A trained generator with everything needed to apply it: normalisation, grid, coverage.

    Parameters
    ----------
    generator : torch.nn.Module
        Takes (B, 2, H, W) (normalised intensity, coverage mask) and returns (B, 1, H, W).
    metadata : dict
        Model-file metadata (see :mod:`insgan_core.gan.model_file`): ``normaliser``, ``grid``, optional
        ``coverage_mask``, ``count_scale``, ``instrument``, ``ei_meV``...
    device : str
        ``"cpu"``, ``"cuda"`` or ``"auto"``.
    source : str
        Where the model came from (file path), recorded in the provenance of outputs.

    Usually obtained with :func:`insgan_core.gan.model_file.load_model` or :meth:`load`.
    """

    def __init__(self, generator: nn.Module, metadata: dict, *, device: str = "cpu", source: str = ""):
        self.metadata = copy.deepcopy(metadata)
        self.device = resolve_device(device)
        self.generator = generator.to(self.device).eval()
        self.normaliser = Normaliser.from_dict(self.metadata["normaliser"])
        try:
            self.grid = ModelGrid.from_metadata(self.metadata)
        except (KeyError, TypeError, ValueError) as exc:
            raise InsganInputError(f"model {source or '(in memory)'}: bad 'grid' metadata: {exc}") from None
        shape = (self.grid.x_axis.size, self.grid.e_axis.size)
        self.coverage_mask = None
        if self.metadata.get("coverage_mask") is not None:
            cm = np.asarray(self.metadata["coverage_mask"], dtype=bool)
            if cm.size != shape[0] * shape[1]:
                raise InsganInputError(
                    f"model {source or '(in memory)'}: coverage_mask has {cm.size} values, the grid {shape} needs "
                    f"{shape[0] * shape[1]}"
                )
            self.coverage_mask = cm.reshape(shape)
        self.count_scale = self.metadata.get("count_scale")
        self.source = source

    @classmethod
    def load(cls, path, *, device: str = "cpu") -> "TranslationModel":
        """Load a model file (same as :func:`insgan_core.gan.model_file.load_model`)."""
        from .model_file import load_model

        return load_model(path, device=device)

    def __repr__(self) -> str:
        return (
            f"TranslationModel(network={self.metadata['network'].get('name')!r}, mode={self.metadata.get('mode')!r}, "
            f"instrument={self.metadata.get('instrument')!r}, grid={self.grid.describe()})"
        )

    # --- grid handling ----------------------------------------------------------------------------
    def _check_grid(self, stack: MapStack, *, rebin: bool) -> bool:
        """True when ``stack`` must be rebinned to the model grid; raises when that is not allowed."""
        needs_rebin, problem = self.grid.mismatch(stack.x_axis, stack.e_axis, rebin=rebin)
        if problem:
            raise InsganInputError(f"input {problem}")
        return needs_rebin

    # --- inference --------------------------------------------------------------------------------
    def translate_array(self, signal: np.ndarray, *, batch_size: int = 16) -> np.ndarray:
        """Generator output for signals on the model grid, before any coverage blanking.

        Parameters
        ----------
        signal : ndarray, shape (N, nx, ne)
            Input intensities (source-domain units), NaN = no data.
        batch_size : int
            Maps per forward pass.

        Returns
        -------
        ndarray, shape (N, nx, ne), float64
            Output intensities in the target-domain units.
        """
        n = signal.shape[0]
        out = np.empty(signal.shape, dtype=np.float64)
        with torch.inference_mode():
            for i in range(0, n, batch_size):
                chunk = signal[i : i + batch_size]
                x = torch.from_numpy(self.normaliser.encode(chunk, domain="source")).to(self.device)
                y = self.generator(x)[:, 0].float().cpu().numpy().astype(np.float64)
                ref = chunk if self.normaliser.per_map else None
                out[i : i + batch_size] = self.normaliser.inverse(y, domain="target", reference=ref)
        return out

    def apply(
        self,
        maps,
        *,
        rebin: bool = False,
        batch_size: int = 16,
        keep_input_nan: bool = False,
        noise: str = "none",
        seed: int = 0,
    ):
        """Translate clean simulated maps into experiment-like maps.

        Parameters
        ----------
        maps : INSMap, MapStack or list of INSMap
            Inputs in the units of the training sources; all on one grid.
        rebin : bool
            If the input grid differs from the model grid: False (default) refuses with a message naming
            both grids; True rebins the input onto the model grid (:meth:`INSMap.rebin`, conserving
            intensity), translates, and rebins the output back onto the input grid.
        batch_size : int
            Maps per forward pass.
        keep_input_nan : bool
            Also blank output bins where the input is NaN (default: only where the model's target
            coverage is absent; see the module docstring).
        noise : {"none", "poisson"}
            "poisson": add counting noise drawn with the model's ``count_scale`` (see the module
            docstring); needs a model whose targets carried Poisson errors.
        seed : int
            Seed of the counting noise.

        Returns
        -------
        INSMap or MapStack
            Same type and grid as the input (an INSMap for an INSMap). Metadata is the input's with
            ``provenance["gan"]`` added (model, file, rebinning, error model).

        Raises
        ------
        InsganInputError
            Grid mismatch without ``rebin``, incompatible units, an all-NaN input map, a bad batch size,
            ``noise="poisson"`` with a model that has no ``count_scale``.
        """
        if int(batch_size) < 1:
            raise InsganInputError(f"batch_size must be >= 1, got {batch_size}")
        if noise not in ("none", "poisson"):
            raise InsganInputError(f"noise must be 'none' or 'poisson', got {noise!r}")
        if noise == "poisson" and not self.count_scale:
            raise InsganInputError(
                f"model {self.source or '(in memory)'} has no count_scale (its targets carried no Poisson errors), "
                "so it cannot draw counting noise; use noise='none'"
            )
        stack, single = _as_stack(maps)
        for i in range(len(stack)):
            if np.all(np.isnan(stack.signal[i])):
                raise InsganInputError(f"input map {i} is NaN everywhere; nothing to translate")
        ei = self.metadata.get("ei_meV")
        for i, md in enumerate(stack.metadata):
            if ei and md.ei_meV and abs(md.ei_meV - ei) > 0.02 * ei:
                warnings.warn(f"input map {i} has Ei = {md.ei_meV:g} meV but the model was trained for Ei = {ei:g} meV")
        needs_rebin = self._check_grid(stack, rebin=rebin)
        work = stack
        if needs_rebin:
            mx, me = self.grid
            work = MapStack.from_maps([m.rebin(x_edges=mx.edges, e_edges=me.edges) for m in stack])
        signal = self.translate_array(work.signal, batch_size=int(batch_size))
        blank = np.isnan(work.signal) if (self.coverage_mask is None or keep_input_nan) else np.zeros(signal.shape, bool)
        if self.coverage_mask is not None:
            blank |= ~self.coverage_mask[None]
        signal[blank] = np.nan
        if noise == "poisson":
            c = float(self.count_scale)
            counts = poisson_counts(c * signal, rng=np.random.default_rng(int(seed)))
            signal = counts / c
            error = np.sqrt(counts) / c
            error_model = f"Poisson counting noise drawn with count_scale = {c:g}, seed {int(seed)}; sigma = sqrt(N) / c"
        elif self.count_scale:
            error = np.sqrt(np.abs(signal) / float(self.count_scale))
            error_model = f"Poisson estimate sqrt(|S| / count_scale), count_scale = {float(self.count_scale):g}"
        else:
            error = np.where(np.isnan(signal), np.nan, 0.0)
            error_model = "none: the GAN output has no uncertainty estimate; errors set to 0"
        record = {
            "model_file": self.source,
            "model_sha256": self.weights_digest(),
            "network": self.metadata["network"].get("name"),
            "mode": self.metadata.get("mode"),
            "instrument": self.metadata.get("instrument"),
            "ei_meV": self.metadata.get("ei_meV"),
            "rebinned": bool(needs_rebin),
            "coverage": "model target coverage" if self.coverage_mask is not None else "input coverage",
            "error_model": error_model,
            "noise": noise,
            "insgan_version": __version__,
        }
        out_maps = []
        for i in range(len(work)):
            md = copy.deepcopy(work.metadata[i])
            md.provenance = dict(md.provenance)
            md.provenance["gan"] = dict(record)
            if not md.instrument and self.metadata.get("instrument"):
                md.instrument = self.metadata["instrument"]
            if md.ei_meV is None and self.metadata.get("ei_meV") is not None:
                md.ei_meV = self.metadata["ei_meV"]
            m = INSMap(signal[i], error[i], work.x_axis, work.e_axis, md, work.distribution)
            if needs_rebin:
                m = m.rebin(x_edges=stack.x_axis.edges, e_edges=stack.e_axis.edges)
                m = INSMap(m.signal, m.error, stack.x_axis, stack.e_axis, m.metadata, m.distribution)
            out_maps.append(m)
        if single:
            return out_maps[0]
        return MapStack.from_maps(out_maps)

    def weights_digest(self) -> str:
        """SHA-256 of the generator weights (hex, first 16 characters), identifying the model in provenance."""
        if not hasattr(self, "_digest"):
            h = hashlib.sha256()
            for k, v in sorted(self.generator.state_dict().items()):
                h.update(k.encode())
                h.update(v.detach().cpu().contiguous().numpy().tobytes())
            self._digest = h.hexdigest()[:16]
        return self._digest
