"""End-to-end workflows built from the core layers (the ``insgan demo`` job)."""

from .demo import DemoSettings, run_demo

__all__ = ["DemoSettings", "run_demo"]
