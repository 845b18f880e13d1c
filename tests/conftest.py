"""Shared fixtures: the real market data folder (../shared/data), the bundled sample store, and `any_db_url`
(each store test on a SQLite file and on a fresh PostgreSQL database)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
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


PG_ADMIN_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"


def _fresh_postgres_database() -> Iterator[str]:
    """A new, empty database on 127.0.0.1:5432 for one test, dropped (WITH FORCE) afterwards."""
    from sqlalchemy import create_engine, text

    name = f"tb_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:
        admin.dispose()
        message = (
            f"PostgreSQL on 127.0.0.1:5432 is not reachable ({type(exc).__name__}: {exc}): this test is "
            "untested on PostgreSQL; start the server (see .ci/run)"
        )
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(f"SKIPPED LOUDLY - {message}")
    try:
        yield f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def any_db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A database URL for one test, on a SQLite file in tmp_path and on a fresh PostgreSQL database.

    PostgreSQL unreachable: the test fails when CI is set, else it skips loudly.
    """
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'traderbot.db'}"
    else:
        yield from _fresh_postgres_database()
