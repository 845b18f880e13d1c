"""The service's state folder, and the guard that keeps it from silently starting on an empty database.

`<dir>/state.json` (the marker) is written when a database is first opened from the folder: which database
(password masked), when, and its schema revision. From then on a missing, emptied or damaged database is an
error with the fix, never a fresh start: an empty database would mean a service that has forgotten its open
orders, positions, kill switch and risk locks. `<dir>/service.lock` (flock) keeps a second service out of the
folder; `<dir>/service.pid` names the one that holds it.
"""

from __future__ import annotations

import fcntl
import json
import os
import sqlite3
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import quote

from sqlalchemy import Engine, create_engine, inspect, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, OperationalError

from traderbot.errors import UserError
from traderbot.store.db import open_engine, sqlite_url

DB_FILE = "traderbot.db"
MARKER = "state.json"
PID_FILE = "service.pid"
LOCK_FILE = "service.lock"


class StateDir:
    """One service's folder: its default SQLite database, the marker, the pid file and the lock."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path).expanduser().absolute()
        try:
            self.path.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise UserError(
                f"cannot create the state folder {self.path} ({exc.strerror}); choose a writable folder"
            ) from None
        self.marker_path = self.path / MARKER
        self.pid_path = self.path / PID_FILE
        self.lock_path = self.path / LOCK_FILE
        self._lock_fd: int | None = None

    # ---- the database ------------------------------------------------------------------------------------
    def database_url(self, configured: str | None = "") -> str:
        """The configured URL, or the SQLite file traderbot.db in this folder."""
        return configured or sqlite_url(self.path / DB_FILE)

    def marker(self) -> dict[str, Any] | None:
        """The marker's content, or None when no database was created from this folder yet."""
        try:
            data = json.loads(self.marker_path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as exc:
            raise UserError(
                f"the state marker {self.marker_path} is unreadable ({exc}); restore it from a backup, or "
                "move it away if the database it describes is intact"
            ) from None
        if not isinstance(data, dict) or "url" not in data:
            raise UserError(f"the state marker {self.marker_path} is not a traderbot marker; move it away")
        return data

    def check_database(self, url: str) -> None:
        """Refuse a database that is missing, emptied or damaged although the marker says one existed, a file
        that is not a SQLite database, and a server that cannot be reached. Changes nothing."""
        file = _sqlite_file(url)
        if make_url(url).get_backend_name() == "sqlite":
            if file is None:
                return  # in memory: nothing to guard
            has_schema = file.exists() and _sqlite_has_schema(file, self.marker_path)
        else:
            has_schema = _server_has_schema(url)
        m = self.marker()
        if m is None or has_schema:
            return
        held = f"{self.path} held one (created {m.get('created', '?')})"
        fresh = f"start fresh by moving {self.marker_path} away"
        if m["url"] != _identity(url):
            raise UserError(
                f"the database {_identity(url)} is new but {self.path} was used with {m['url']} (created "
                f"{m.get('created', '?')}): point database_url back at it, or {fresh}"
            )
        if file is not None and not file.exists():
            raise UserError(
                f"the database {file} is missing but {held}: restore it from a backup, or {fresh}"
            )
        raise UserError(
            f"the database {_identity(url)} is empty (no traderbot tables) but {held}: restore it from a "
            f"backup, or {fresh}"
        )

    def open_database(self, configured: str | None = "") -> Engine:
        """check_database, then open_engine (migrating to the latest schema), then write the marker if this
        folder has none yet or it named another database."""
        url = self.database_url(configured)
        self.check_database(url)
        engine = open_engine(url)
        m = self.marker()
        if m is None or m["url"] != _identity(url):
            with engine.connect() as conn:
                revision = conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
            self._write_marker(
                {"url": _identity(url), "created": datetime.now(UTC).isoformat(timespec="seconds"),
                 "schema_revision": revision}
            )  # fmt: skip
        return engine

    def _write_marker(self, data: dict[str, Any]) -> None:
        _atomic_write(self.marker_path, json.dumps(data, indent=2) + "\n")

    # ---- pid file and lock -------------------------------------------------------------------------------
    def write_pid(self) -> None:
        _atomic_write(self.pid_path, f"{os.getpid()}\n")

    def read_pid(self) -> int | None:
        """The pid in the pid file if that process is alive; None when there is none or it is stale."""
        try:
            pid = int(self.pid_path.read_text(encoding="utf-8").strip())
        except (OSError, ValueError):
            return None
        if pid <= 0:
            return None
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return None
        except PermissionError:
            return pid  # alive, owned by another user
        return pid

    def remove_pid(self) -> None:
        """Remove the pid file if it is ours or stale (never another live service's)."""
        pid = self.read_pid()
        if pid is None or pid == os.getpid():
            self.pid_path.unlink(missing_ok=True)

    def lock(self) -> None:
        """Take the folder for this process (flock, released by the kernel if the process dies) and write
        the pid file; a second service gets a UserError naming the first one's pid."""
        if self._lock_fd is not None:
            return
        fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            pid = self.read_pid()
            raise UserError(
                f"another traderbot service is running in {self.path} (pid {pid or 'unknown'}): stop it "
                "first, or give this one another state folder"
            ) from None
        self._lock_fd = fd
        self.write_pid()

    def unlock(self) -> None:
        if self._lock_fd is None:
            return
        self.remove_pid()
        fcntl.flock(self._lock_fd, fcntl.LOCK_UN)
        os.close(self._lock_fd)
        self._lock_fd = None

    @property
    def locked(self) -> bool:
        return self._lock_fd is not None

    def __enter__(self) -> StateDir:
        self.lock()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.unlock()


def _sqlite_file(url: str) -> Path | None:
    u = make_url(url)
    if u.get_backend_name() != "sqlite" or not u.database or u.database == ":memory:":
        return None
    return Path(u.database).expanduser().absolute()


def _identity(url: str) -> str:
    """The database as the marker names it: the absolute SQLite file, or the URL with its password masked."""
    file = _sqlite_file(url)
    return sqlite_url(file) if file is not None else make_url(url).render_as_string(hide_password=True)


def _sqlite_has_schema(file: Path, marker: Path) -> bool:
    """True when `file` holds traderbot tables; raises UserError when it is not a sound SQLite database.

    quick_check is integrity_check without the index cross-check: seconds instead of minutes on a big file.
    """
    fix = f"restore it from a backup, or start fresh by moving it and {marker} away"
    try:
        conn = sqlite3.connect(f"file:{quote(str(file))}?mode=rw", uri=True)
        try:
            check = [r[0] for r in conn.execute("PRAGMA quick_check").fetchall()]
            tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        finally:
            conn.close()
    except sqlite3.DatabaseError as exc:
        if "unable to open" in str(exc):
            raise UserError(f"cannot open the database {file} ({exc}); check its permissions") from None
        raise UserError(
            f"the database {file} is not a SQLite database or is corrupt ({exc}): {fix}"
        ) from None
    if check != ["ok"]:
        raise UserError(f"the database {file} is corrupt ({'; '.join(check[:3])}): {fix}")
    return "alembic_version" in tables


def _server_has_schema(url: str) -> bool:
    masked = make_url(url).render_as_string(hide_password=True)
    try:
        engine = create_engine(url)
    except (ArgumentError, ModuleNotFoundError) as exc:
        raise UserError(
            f"database URL {masked!r} is not usable ({exc}); use sqlite:///path.db or postgresql+psycopg://..."
        ) from None
    try:
        with engine.connect() as conn:
            return inspect(conn).has_table("alembic_version")
    except OperationalError as exc:
        raise UserError(
            f"cannot open the database at {masked}: {exc.orig}; check the URL and that the server is running"
        ) from None
    finally:
        engine.dispose()


def _atomic_write(path: Path, content: str) -> None:
    """Write a sibling temporary file, fsync it, rename it over `path`, fsync the folder."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(content)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
