"""Network registry: build generators and discriminators by name from a JSON-serialisable spec.

``build_network({"name": "unet", "width": 16, "depth": 3})`` returns a ``torch.nn.Module``. The spec is
stored in model files, so a model is rebuilt from its metadata without pickling.

Generators (``unet``, ``resnet``) take (B, 2, H, W) = (normalised intensity, coverage mask 1/0) and return
(B, 1, H, W) for any H, W, and provide ``encode_features(x_padded, layers=...)``, ``pad_input(x)``,
``default_feature_layers()`` and ``feature_channels`` for the PatchNCE loss. ``patchgan`` is the
discriminator.
"""

from __future__ import annotations

import inspect

from torch import nn

from ...errors import InsganInputError
from .patchgan import PatchGANDiscriminator
from .resnet import ResnetGenerator
from .unet import UNetGenerator

__all__ = [
    "build_network",
    "available_networks",
    "register_network",
    "count_parameters",
    "UNetGenerator",
    "ResnetGenerator",
    "PatchGANDiscriminator",
    "GENERATORS",
]

_REGISTRY: dict[str, type[nn.Module]] = {
    "unet": UNetGenerator,
    "resnet": ResnetGenerator,
    "patchgan": PatchGANDiscriminator,
}

#: registry names of the networks usable as generators
GENERATORS = ("unet", "resnet")


def available_networks() -> list[str]:
    """Names accepted by :func:`build_network`, sorted."""
    return sorted(_REGISTRY)


def register_network(name: str, cls: type[nn.Module]) -> None:
    """Add a network class (constructor with keyword-only options) to the registry under ``name``."""
    _REGISTRY[name] = cls


def build_network(spec: dict) -> nn.Module:
    """Build the network described by ``spec = {"name": <registry name>, **keyword options}``.

    Raises
    ------
    InsganInputError
        Unknown name (the message lists the known ones) or an option the network does not take.
    """
    if not isinstance(spec, dict) or "name" not in spec:
        raise InsganInputError(
            f"network spec must be a dict with a 'name' key (one of {', '.join(available_networks())}), got {spec!r}"
        )
    kwargs = dict(spec)
    name = kwargs.pop("name")
    if name not in _REGISTRY:
        raise InsganInputError(
            f"unknown network {name!r}; known networks: {', '.join(available_networks())}"
        )
    cls = _REGISTRY[name]
    params = inspect.signature(cls.__init__).parameters
    unknown = [k for k in kwargs if k not in params]
    if unknown:
        accepted = [p for p in params if p != "self"]
        raise InsganInputError(
            f"network {name!r}: unknown option(s) {', '.join(unknown)}; accepted options: {', '.join(accepted)}"
        )
    return cls(**kwargs)


def count_parameters(module: nn.Module) -> int:
    """Number of trainable parameters."""
    return sum(p.numel() for p in module.parameters() if p.requires_grad)
