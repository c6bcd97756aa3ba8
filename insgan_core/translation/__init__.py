"""Translation of clean simulations into measured-like maps: the physics-structured model, baselines and
evaluation (layer above instrument and gan, below workflows and cli; gan does not import it).

The structured model's names are imported lazily (torch is loaded on first use), so that light
submodules of this package can be imported without it.
"""

__all__ = ["StructuredTranslator", "fit_structured", "FitReport", "load_translator"]

_LAZY = {
    "StructuredTranslator": "structured",
    "fit_structured": "structured",
    "FitReport": "structured",
    "load_translator": "model_io",
}


def __getattr__(name):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
