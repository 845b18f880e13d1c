"""The state folder and its guard, on a SQLite file and on PostgreSQL: the marker, a missing, emptied or damaged
database refused with the fix (never a silent fresh start), one service per folder, stale pid files."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import create_engine, inspect, text

from traderbot.errors import UserError
from traderbot.store.db import MIGRATIONS
from traderbot.store.state_dir import StateDir
from traderbot.store.state_store import SqlStateStore


def _configured(any_db_url: str) -> str:
    """SQLite: the folder's default file (nothing configured); PostgreSQL: the fresh database's URL."""
    return "" if any_db_url.startswith("sqlite") else any_db_url


def _has_tables(url: str) -> bool:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return bool(inspect(conn).get_table_names())
    finally:
        engine.dispose()


def test_the_marker_is_written_when_the_database_is_first_created(any_db_url: str, tmp_path: Path) -> None:
    sd = StateDir(tmp_path / "state")
    assert sd.path.is_dir() and sd.marker() is None
    engine = sd.open_database(_configured(any_db_url))
    marker = json.loads((tmp_path / "state" / "state.json").read_text())
    url = sd.database_url(_configured(any_db_url))
    assert marker["schema_revision"] == _head() and marker["created"].startswith("20")
    assert marker["url"] == (f"sqlite:///{tmp_path / 'state' / 'traderbot.db'}" if "sqlite" in url else url)
    assert not list(sd.path.glob(".*.tmp"))  # written atomically: no temporary left behind
    engine.dispose()
    sd.open_database(_configured(any_db_url)).dispose()  # reopening an intact database is fine
    assert json.loads(sd.marker_path.read_text()) == marker


def test_a_password_never_reaches_the_marker(tmp_path: Path) -> None:
    sd = StateDir(tmp_path)
    with pytest.raises(
        UserError, match=r"cannot open the database at postgresql\+psycopg://tb:\*\*\*@"
    ) as err:
        sd.check_database("postgresql+psycopg://tb:s3cret@127.0.0.1:1/tb")  # (c) nothing listens on port 1
    assert "s3cret" not in str(err.value) and "check the URL and that the server is running" in str(err.value)
    assert not sd.marker_path.exists()


def test_a_database_gone_since_the_marker_is_refused_and_not_recreated(
    any_db_url: str, tmp_path: Path
) -> None:
    sd = StateDir(tmp_path / "state")
    configured = _configured(any_db_url)
    url = sd.database_url(configured)
    engine = sd.open_database(configured)
    SqlStateStore(engine, "TB").load_states()
    engine.dispose()
    if url.startswith("sqlite"):
        db = sd.path / "traderbot.db"
        for f in sd.path.glob("traderbot.db*"):
            f.unlink()
        expected = f"the database {db} is missing but {sd.path} held one"
    else:
        with create_engine(url, isolation_level="AUTOCOMMIT").connect() as conn:
            conn.execute(text("DROP SCHEMA public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
        expected = "is empty (no traderbot tables) but"
    with pytest.raises(UserError) as err:
        sd.open_database(configured)
    message = str(err.value)
    assert expected in message and "restore it from a backup" in message
    assert f"start fresh by moving {sd.path / 'state.json'} away" in message
    if url.startswith("sqlite"):
        assert not (sd.path / "traderbot.db").exists()  # never silently an empty database
    else:
        assert not _has_tables(url)
    sd.marker_path.rename(tmp_path / "state.json.old")  # the operator chooses a fresh start
    sd.open_database(configured).dispose()
    assert sd.marker() is not None


def test_a_new_database_instead_of_the_one_in_the_marker_is_refused(any_db_url: str, tmp_path: Path) -> None:
    sd = StateDir(tmp_path / "state")
    sd.open_database(f"sqlite:///{tmp_path / 'first.db'}").dispose()
    with pytest.raises(
        UserError, match=rf"is new but {sd.path} was used with sqlite:///{tmp_path}/first\.db"
    ):
        sd.open_database(any_db_url)
    assert not _has_tables(any_db_url)


def test_a_garbage_file_in_place_of_the_database_is_refused_as_corrupt(tmp_path: Path) -> None:
    sd = StateDir(tmp_path)
    db = tmp_path / "traderbot.db"
    db.write_bytes(b"these are not the bytes of a database\n" * 200)
    with pytest.raises(UserError) as err:
        sd.open_database()
    message = str(err.value)
    assert f"the database {db} is not a SQLite database or is corrupt (file is not a database)" in message
    assert "restore it from a backup, or start fresh by moving it and" in message
    assert db.read_bytes().startswith(b"these are not")  # left exactly as it was


def test_a_damaged_page_inside_a_real_database_is_refused(tmp_path: Path) -> None:
    sd = StateDir(tmp_path)
    engine = sd.open_database()
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE filler (x TEXT)"))
        conn.execute(text("INSERT INTO filler VALUES (:x)"), [{"x": "y" * 500} for _ in range(400)])
    engine.dispose()
    db = tmp_path / "traderbot.db"
    raw = bytearray(db.read_bytes())
    raw[4096 * 3 : 4096 * 3 + 200] = b"\xff" * 200  # scribble over a b-tree page
    db.write_bytes(bytes(raw))
    with pytest.raises(
        UserError, match=rf"the database {db} is (corrupt|not a SQLite database or is corrupt)"
    ):
        sd.check_database(sd.database_url())


def test_a_second_service_in_the_same_folder_is_refused(tmp_path: Path) -> None:
    first, second = StateDir(tmp_path), StateDir(tmp_path)
    first.lock()
    assert first.read_pid() == os.getpid()
    with pytest.raises(
        UserError, match=rf"another traderbot service is running in {tmp_path} \(pid {os.getpid()}\)"
    ):
        second.lock()
    first.unlock()
    assert not first.pid_path.exists()
    with second:
        assert second.locked and second.read_pid() == os.getpid()
    assert not second.locked


def test_a_service_in_another_process_holds_the_folder_until_it_exits(tmp_path: Path) -> None:
    code = ("import sys; from traderbot.store.state_dir import StateDir; s = StateDir(sys.argv[1]); s.lock(); "
            "print('locked', flush=True); sys.stdin.read()")  # fmt: skip
    holder = subprocess.Popen([sys.executable, "-c", code, str(tmp_path)], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)  # fmt: skip
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        with pytest.raises(UserError, match=rf"\(pid {holder.pid}\): stop it first"):
            StateDir(tmp_path).lock()
    finally:
        holder.kill()  # the kernel releases a dead process's flock; its pid file stays behind, stale
        holder.wait()
    sd = StateDir(tmp_path)
    assert sd.pid_path.read_text().strip() == str(holder.pid) and sd.read_pid() is None
    sd.lock()
    assert sd.read_pid() == os.getpid()
    sd.unlock()


def test_a_stale_or_garbled_pid_file_reads_as_none(tmp_path: Path) -> None:
    sd = StateDir(tmp_path)
    assert sd.read_pid() is None
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    sd.pid_path.write_text(f"{gone.pid}\n")
    assert sd.read_pid() is None
    sd.remove_pid()
    assert not sd.pid_path.exists()
    sd.pid_path.write_text("not a pid")
    assert sd.read_pid() is None
    sd.pid_path.write_text(f"{os.getppid()}\n")  # a live process that is not us: kept
    assert sd.read_pid() == os.getppid()
    sd.remove_pid()
    assert sd.pid_path.exists()


def test_the_database_url_defaults_to_the_folder(tmp_path: Path) -> None:
    sd = StateDir(tmp_path / "a" / "b")
    assert sd.database_url("") == f"sqlite:///{tmp_path / 'a' / 'b' / 'traderbot.db'}"
    assert sd.database_url(None) == sd.database_url("")
    assert sd.database_url("postgresql+psycopg://x@h/db") == "postgresql+psycopg://x@h/db"


def _head() -> str:
    """The newest migration's revision (what a new data folder records)."""
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    head = ScriptDirectory.from_config(cfg).get_current_head()
    assert head is not None
    return head
