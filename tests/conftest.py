"""Shared test fixtures: the real public data under ../shared/data, skipped when absent."""

from __future__ import annotations

from pathlib import Path

import pytest

PROJECT_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = (PROJECT_ROOT / ".." / "shared" / "data").resolve()


def shared_path(*parts: str) -> Path:
    """A path under ../shared/data; the calling test is skipped with a clear message if absent."""
    path = SHARED_DATA.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"real test data not found: {path} (clone the project beside ../shared)")
    return path


@pytest.fixture
def shared_data() -> Path:
    return shared_path()
