"""Shared pytest fixtures: where the real data in ../shared/data/experimental lives."""

from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
EXPERIMENTAL = REPO_ROOT.parent / "shared" / "data" / "experimental"


@pytest.fixture(scope="session")
def experimental_dir() -> Path:
    """Folder of real reduced INS files; skips (with the reason) when it is absent."""
    if not EXPERIMENTAL.is_dir():
        pytest.skip(f"real data folder not found: {EXPERIMENTAL}")
    return EXPERIMENTAL


@pytest.fixture(scope="session")
def bi2fe4o9_5k(experimental_dir) -> Path:
    return experimental_dir / "bi2fe4o9_Ei62_5K.nxspe"
