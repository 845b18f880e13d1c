"""Shared fixtures: the real market data folder (../shared/data) and the bundled sample store."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


@pytest.fixture(scope="session")
def shared_data_dir() -> Path:
    """Path of ../shared/data; fails under CI when missing, skips loudly elsewhere."""
    if SHARED_DATA.is_dir():
        return SHARED_DATA
    message = (
        f"real market data folder {SHARED_DATA} is missing: tests that need it cannot run "
        "(clone or mount the shared data next to the repository as ../shared/data)"
    )
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(f"SKIPPED - {message}")


@pytest.fixture(scope="session")
def sample_data_dir() -> Path:
    """Path of the bundled sample store inside the installed traderbot package."""
    from traderbot.data.stores import sample_data_dir as locate

    path = locate()
    if not path.is_dir():
        pytest.fail(f"bundled sample data missing at {path}; run scripts/build_sample_data.py")
    return path
