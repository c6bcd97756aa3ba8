"""Translation of clean simulations into measured-like maps: the physics-structured model, baselines and
evaluation (layer above instrument and gan, below workflows and cli; gan does not import it)."""

from .model_io import load_translator
from .structured import FitReport, StructuredTranslator, fit_structured

__all__ = ["StructuredTranslator", "fit_structured", "FitReport", "load_translator"]
