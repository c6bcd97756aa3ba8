"""Model files of the amortised estimator: one ``.safetensors`` file, weights + JSON metadata.

Tensors: the network's state dict (``net.*``), ``sigma_factor`` (P,), ``feature_mean``/``feature_std`` (F,)
(input standardisation), and the out-of-distribution
statistics ``ood_mean`` (F,), ``ood_components`` (k, F), ``ood_variance`` (k,). The insgan JSON metadata
(safetensors ``__metadata__["insgan"]``) has ``kind: "amortised_estimator"``, ``format_version``,
``names``, ``bounds`` {name: [lo, hi]}, ``hidden``, ``n_features``, ``ood`` {residual_scale, threshold},
``check`` {chi2_threshold, min_significance}
and ``info`` (model name, training grid ``grid`` {q_edges, e_edges, mask}, instrument settings,
temperature, training record). Loading parses only JSON and raw tensor bytes (no pickle, no code).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from ..errors import InsganFileError, InsganInputError

__all__ = ["save_estimator", "load_estimator", "KIND"]

KIND = "amortised_estimator"
FORMAT_VERSION = 1


def _module(est):
    import torch

    m = torch.nn.Module()
    m.net = est.net
    m.register_buffer("sigma_factor", torch.as_tensor(np.asarray(est.sigma_factor, np.float64)))
    m.register_buffer("feature_mean", torch.as_tensor(np.asarray(est.feature_mean, np.float64)))
    m.register_buffer("feature_std", torch.as_tensor(np.asarray(est.feature_std, np.float64)))
    if est.ood is not None:
        for k in ("mean", "components", "variance"):
            m.register_buffer(f"ood_{k}", torch.as_tensor(np.asarray(est.ood[k], np.float64)))
    return m


def save_estimator(est, path) -> Path:
    """Write ``est`` (an :class:`~.amortised.AmortisedEstimator`) to ``path`` (``.safetensors``) atomically."""
    from ..gan.model_file import write_module

    path = Path(path)
    if path.suffix.lower() != ".safetensors":
        raise InsganInputError(f"save: estimator file '{path}' must end in .safetensors")
    md = {"kind": KIND, "format_version": FORMAT_VERSION, "names": est.names,
          "bounds": {k: list(v) for k, v in est.bounds.items()}, "hidden": est.hidden,
          "n_features": est.n_features, "info": est.info,
          "ood": None if est.ood is None else {"residual_scale": est.ood["residual_scale"],
                                               "threshold": est.ood["threshold"]},
          "check": est.check}
    text = json.dumps(md, default=lambda o: o.tolist() if isinstance(o, np.ndarray) else
                      (o.item() if isinstance(o, np.generic) else str(o)))
    return write_module(path, _module(est), text)


def load_estimator(path):
    """Read an estimator file; raises :class:`InsganFileError` naming the file and the problem."""
    from safetensors import SafetensorError
    from safetensors.torch import load as st_load

    from ..gan.model_file import read_validated
    from .amortised import AmortisedEstimator

    path = Path(path)
    if not path.is_file():
        raise InsganFileError(f"estimator file {path}: not found (expected an amortised-estimator .safetensors file)")
    data, _, md = read_validated(path)  # safetensors structure, JSON metadata, format version, required keys
    if md.get("kind") != KIND:
        raise InsganFileError(f"estimator file {path}: kind {md.get('kind')!r}, expected {KIND!r} (written by "
                              "benchmarks/bench_fit_amortised_bfo.py or AmortisedEstimator.save)")
    try:
        names = list(md["names"])
        est = AmortisedEstimator(names, {k: tuple(v) for k, v in md["bounds"].items()}, int(md["n_features"]),
                                 hidden=int(md["hidden"]), info=md.get("info") or {})
        tensors = st_load(data)
    except (KeyError, TypeError, ValueError, SafetensorError) as exc:
        raise InsganFileError(f"estimator file {path}: bad metadata or tensors ({exc})") from None
    try:
        est.net.load_state_dict({k[4:]: v for k, v in tensors.items() if k.startswith("net.")}, strict=True)
    except RuntimeError as exc:
        raise InsganFileError(f"estimator file {path}: the stored tensors do not match the network "
                              f"({str(exc).splitlines()[0]})") from None
    try:
        est.sigma_factor = tensors["sigma_factor"].numpy().astype(float)
        est.feature_mean = tensors["feature_mean"].numpy().astype(float)
        est.feature_std = tensors["feature_std"].numpy().astype(float)
    except KeyError as exc:
        raise InsganFileError(f"estimator file {path}: tensor {exc} missing; corrupt file") from None
    est.check = md.get("check")
    if md.get("ood") is not None:
        est.ood = {"mean": tensors["ood_mean"].numpy(), "components": tensors["ood_components"].numpy(),
                   "variance": tensors["ood_variance"].numpy(), **md["ood"]}
    for name, t in tensors.items():
        if not bool(np.all(np.isfinite(t.numpy()))):
            raise InsganFileError(f"estimator file {path}: tensor {name!r} holds NaN or inf; corrupt file")
    est.source = str(path)
    return est
