"""Model files of the structured translator, and one loader for every translation model kind.

A structured model file is an insgan ``.safetensors`` file (layout in :mod:`insgan_core.gan.model_file`)
whose JSON metadata has ``"kind": "structured"``, ``grid``, ``structured`` (the constructor options),
``settings`` (instrument record), ``training``, ``count_scale`` (median counts per unit intensity, or
null) and ``training_exposure`` (counts per unit intensity of the training run(s) on the model grid, the
reference of the relative exposure that apply takes; null when the targets had no errors). Files written
before the count-domain background existed lack its tensors; they load with that term off; files from before
the coverage-edge scatter (tensor ``edge_scatter``) load without it. The tensors are the model's ``state_dict`` (float64): learnt parameters, analytic widths,
coverage and count-scale maps. Loading parses only JSON and raw tensor bytes (no pickle, no code).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .._version import __version__
from ..errors import InsganFileError, InsganInputError
from ..gan.model_file import FORMAT_VERSION, read_validated, write_module

__all__ = ["save_structured", "load_structured", "load_translator", "structured_metadata"]


def structured_metadata(model) -> dict:
    """The JSON metadata of a structured model (without ``format_version``, added on saving)."""
    q, e = model.q_edges.numpy(), model.e_edges.numpy()
    return {
        "kind": "structured",
        "package_version": __version__,
        "grid": {"x_edges": q.tolist(), "x_unit": "MomentumTransfer", "e_edges": e.tolist(), "e_unit": "DeltaE"},
        "structured": model.config(),
        "settings": model.settings,
        "instrument": model.settings.get("instrument"),
        "ei_meV": model.ei_meV,
        "count_scale": model.count_scale_median,
        "training_exposure": model.training_exposure,
        "network": {"name": "structured"},
        "mode": "structured",
        "training": model.training_record,
    }


def save_structured(model, path) -> Path:
    """Write ``model`` to ``path`` (``.safetensors``) atomically."""
    import json

    path = Path(path)
    if path.suffix.lower() != ".safetensors":
        raise InsganInputError(f"save: model file '{path}' must end in .safetensors")
    md = structured_metadata(model)
    md["format_version"] = FORMAT_VERSION
    text = json.dumps(md, sort_keys=True, default=lambda o: o.item() if isinstance(o, np.generic) else str(o))
    return write_module(path, model, text)


def _from_metadata(md: dict, where: str):
    from .kernels import LEGACY_WIDTH_BOUND
    from .structured import StructuredTranslator

    try:
        g = md["grid"]
        q = np.asarray(g["x_edges"], float)
        e = np.asarray(g["e_edges"], float)
        cfg = dict(md["structured"])
        ei = float(cfg.pop("ei_meV"))
        allowed = {"q_powers", "q_scale", "use_phonon", "residual_fraction", "count_background", "count_edge_meV",
                   "width_bound"}
        if set(cfg) - allowed:
            raise ValueError(f"unknown options {sorted(set(cfg) - allowed)}")
        cfg.setdefault("width_bound", LEGACY_WIDTH_BOUND)  # files written before the bound was recorded
        model = StructuredTranslator(q, e, np.zeros(e.size - 1), np.zeros((q.size - 1, e.size - 1)), ei_meV=ei,
                                     settings=md.get("settings") or {}, **cfg)
        te = md.get("training_exposure")
        model.training_exposure = None if te is None else float(te)
        if model.training_exposure is not None and not (np.isfinite(model.training_exposure) and model.training_exposure > 0):
            raise ValueError(f"training_exposure must be > 0, got {te!r}")
    except (KeyError, TypeError, ValueError, InsganInputError) as exc:
        raise InsganFileError(f"model file {where}: bad structured-model metadata ({exc}); corrupt file") from None
    return model


#: tensors added after the first structured files: the count-domain background (older files: the term off,
#: amplitude 0) and the coverage-edge scatter of the noise model (older files: none, plain Poisson samples)
_OPTIONAL_TENSORS = ("cnt_amp", "cnt_log_dlambda", "exposure_map", "edge_scatter")


def load_structured(path):
    """Load a structured model file; raises :class:`InsganFileError` naming the file and the problem."""
    from safetensors import SafetensorError
    from safetensors.torch import load as st_load

    data, _, md = read_validated(path)
    if md.get("kind") != "structured":
        raise InsganFileError(f"model file {path}: kind {md.get('kind', 'gan')!r}, not a structured model")
    model = _from_metadata(md, str(path))
    try:
        tensors = st_load(data)
    except SafetensorError as exc:
        raise InsganFileError(f"model file {path}: safetensors could not read the tensors ({exc}); corrupt file") from None
    for name in _OPTIONAL_TENSORS:
        if name not in tensors and not (model.count_background and name.startswith("cnt_")):
            tensors[name] = model.state_dict()[name].clone()
    try:
        model.load_state_dict(tensors, strict=True)
    except RuntimeError as exc:
        raise InsganFileError(
            f"model file {path}: the stored tensors do not match the structured model ({str(exc).splitlines()[0]})"
        ) from None
    for name, t in tensors.items():
        if not bool(np.all(np.isfinite(t.numpy()))):
            raise InsganFileError(f"model file {path}: tensor {name!r} holds NaN or inf; corrupt file")
    model.training_record = md.get("training") or {}
    model.source = str(path)
    model.eval()
    return model


def load_translator(path, *, device: str = "cpu"):
    """Load any insgan translation model file by its metadata ``kind``.

    ``"structured"`` → :class:`~insgan_core.translation.structured.StructuredTranslator`; a GAN file (no
    ``kind`` or ``"gan"``) → :class:`~insgan_core.gan.inference.TranslationModel`. Both have
    ``apply(maps, rebin=..., noise=..., seed=...)`` and ``grid``.
    """
    _, _, md = read_validated(path)
    if md.get("kind") == "structured":
        return load_structured(path)
    from ..gan.model_file import load_model

    return load_model(path, device=device)
