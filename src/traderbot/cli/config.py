"""`traderbot config validate | show | diff | history | rollback | reload`: the TOML file and its versions.

FILE defaults to $TRADERBOT_CONFIG, else traderbot.toml in the working directory. The database defaults to the
config's own (service.database_url, or <data_dir>/traderbot.db); --db overrides it.
"""

from __future__ import annotations

import json
import os
import signal
from datetime import UTC, datetime
from pathlib import Path

import tomlkit
import typer
from rich.table import Table

from traderbot.cli.orders import _console
from traderbot.config.diff import config_data, mask_url
from traderbot.config.loader import (
    default_path,
    load_config,
    resolve_data_dir,
    resolve_database_url,
)
from traderbot.config.manager import ConfigManager
from traderbot.config.schema import TraderbotConfig
from traderbot.errors import UserError
from traderbot.store.db import open_engine

app = typer.Typer(
    name="config",
    help="The configuration file: validate, show, diff, history, rollback, reload.",
    no_args_is_help=True,
)

FILE_HELP = "The config file (default: $TRADERBOT_CONFIG, else traderbot.toml here)."
CONFIG_DB_HELP = "Database URL (default: the config's service.database_url, or sqlite in its data_dir)."
PID_FILE = "service.pid"


def _path(file: Path | None) -> Path:
    return file if file is not None else default_path()


def _db_url(db: str | None, path: Path) -> str:
    return db or resolve_database_url(load_config(path), path)


def _manager(db: str | None, path: Path, *, author: str | None = None) -> ConfigManager | None:
    """The manager on the config's database, or None when that SQLite file does not exist yet (the service
    has not run): reading commands never create a database as a side effect."""
    url = _db_url(db, path)
    if url.startswith("sqlite:///") and not Path(url.removeprefix("sqlite:///")).is_file():
        return None
    return ConfigManager(open_engine(url), path, author_default=author)


def _no_versions(db: str | None, path: Path) -> str:
    return f"no configuration versions stored yet (no database at {mask_url(_db_url(db, path))})"


def summary(config: TraderbotConfig, path: Path) -> str:
    """One line: mode, pairs, database (password masked)."""
    pairs = ", ".join(
        f"{p.id} {p.timeframe} {p.strategy}" + ("" if p.enabled else " (off)") for p in config.pairs
    )
    return (
        f"{config.service.mode} mode, {len(config.pairs)} pair{'s' if len(config.pairs) != 1 else ''}"
        f" ({pairs or 'none'}), database {mask_url(resolve_database_url(config, path))}"
    )


@app.command("validate")
def validate(file: Path | None = typer.Argument(None, help=FILE_HELP)) -> None:
    """Check the file (with environment overrides); exit 2 with one sentence naming the line if invalid."""
    path = _path(file)
    config = load_config(path)
    print(f"valid: {path}: {summary(config, path)}")


@app.command("show")
def show(
    file: Path | None = typer.Argument(None, help=FILE_HELP),
    as_json: bool = typer.Option(False, "--json", help="JSON instead of TOML."),
) -> None:
    """The effective configuration (file + defaults + environment overrides), secrets masked."""
    data = config_data(load_config(_path(file)))
    print(json.dumps(data, indent=2) if as_json else tomlkit.dumps(data), end="\n" if as_json else "")


@app.command("diff")
def diff(
    file: Path | None = typer.Argument(None, help=FILE_HELP),
    db: str | None = typer.Option(None, "--db", help=CONFIG_DB_HELP),
) -> None:
    """What the file changes against the last applied version stored in the database (nothing applied)."""
    path = _path(file)
    manager = _manager(db, path)
    last = manager.store.last_applied() if manager is not None else None
    if manager is None or last is None:
        load_config(path)
        print(f"no applied version stored yet; {path} is valid")
        return
    manager.attach()
    lines = manager.diff_file()
    print("\n".join(lines) if lines else f"no changes: {path} matches version {last.version}")


@app.command("history")
def history(
    file: Path | None = typer.Option(None, "--file", help=FILE_HELP),
    db: str | None = typer.Option(None, "--db", help=CONFIG_DB_HELP),
    limit: int = typer.Option(20, "--limit", min=1, help="Newest N versions."),
    as_json: bool = typer.Option(
        False, "--json", help="JSON (with diffs and masked texts) instead of a table."
    ),
) -> None:
    """Stored versions, newest first: when, who, outcome, what changed."""
    manager = _manager(db, _path(file))
    if manager is None:
        print(_no_versions(db, _path(file)))
        return
    versions = manager.history(limit)
    if as_json:
        print(json.dumps([v.to_dict() for v in versions], indent=2))
        return
    table = Table("version", "time (UTC)", "author", "outcome", "changes", title=f"{len(versions)} versions")
    for v in versions:
        when = datetime.fromtimestamp(v.ts / 1e9, tz=UTC).strftime("%Y-%m-%d %H:%M:%S")
        changes = "\n".join(v.diff[:5]) + (f"\n... {len(v.diff) - 5} more" if len(v.diff) > 5 else "")
        table.add_row(str(v.version), when, v.author, v.outcome, changes)
    _console().print(table)


@app.command("rollback")
def rollback(
    version: int = typer.Argument(..., help="The version to restore (see `traderbot config history`)."),
    file: Path | None = typer.Option(None, "--file", help=FILE_HELP),
    db: str | None = typer.Option(None, "--db", help=CONFIG_DB_HELP),
    author: str | None = typer.Option(None, "--author", help="Who (default: the user running the command)."),
) -> None:
    """Write a stored version back to the file (old file kept as <file>.bak) and record it; a running
    service applies it on its next reload (on save, or `traderbot config reload`)."""
    path = _path(file)
    manager = _manager(db, path, author=author)
    if manager is None:
        raise UserError(_no_versions(db, path) + ": nothing to roll back to")
    manager.attach()
    result = manager.rollback(version, author)
    print(f"version {version} written to {path} (previous file kept as {path}.bak): {result.outcome}")
    for line in result.diff:
        print(f"  {line}")


@app.command("reload")
def reload(
    file: Path | None = typer.Argument(None, help=FILE_HELP),
    db: str | None = typer.Option(None, "--db", help=CONFIG_DB_HELP),
) -> None:
    """Ask the running service to reload the file (SIGHUP); without one, say whether the file is valid."""
    path = _path(file)
    config = load_config(path)  # an invalid file is never signalled: exit 2 with the reason
    pid_file = resolve_data_dir(config, path) / PID_FILE
    pid = _running_pid(pid_file)
    if pid is not None:
        os.kill(pid, signal.SIGHUP)
        print(
            f"sent SIGHUP to the service (pid {pid}): it reloads {path}; `traderbot config history` shows the outcome"
        )
        return
    print(f"no service is running (no live pid in {pid_file}); {path} is valid: {summary(config, path)}")
    manager = _manager(db, path)
    if manager is not None and manager.store.last_applied() is not None:
        manager.attach()
        lines = manager.diff_file()
        print(
            "changes against the last applied version:"
            if lines
            else "no changes against the last applied version"
        )
        for line in lines:
            print(f"  {line}")


def _running_pid(pid_file: Path) -> int | None:
    """The pid in the file if that process is alive, else None (no file, or a stale one)."""
    try:
        pid = int(pid_file.read_text().strip())
    except (OSError, ValueError):
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    except PermissionError:
        raise UserError(
            f"the service in {pid_file} (pid {pid}) belongs to another user; run as that user"
        ) from None
    return pid
