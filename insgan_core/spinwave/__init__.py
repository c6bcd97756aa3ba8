"""spinwave layer (see insgan_core/__init__.py)."""
