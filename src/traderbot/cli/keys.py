"""`traderbot keys ...`: the API keys (create prints the key once; only its hash is stored)."""

from __future__ import annotations

import json

import typer
from rich.table import Table

from traderbot.api.keys import KeyStore
from traderbot.cli.orders import DB_HELP, _console, database_url
from traderbot.errors import UserError
from traderbot.store.db import open_engine

app = typer.Typer(name="keys", help="API keys: create (shown once), list, revoke.", no_args_is_help=True)

TRADER_HELP = "Trader id the keys belong to."


def _store(db: str | None, trader: str, *, must_exist: bool = True) -> KeyStore:

    return KeyStore(open_engine(database_url(db, must_exist=must_exist)), trader)


@app.command("create")
def create(
    role: str = typer.Option(
        ..., "--role", help="viewer (read), operator (run the bot) or admin (keys, config)."
    ),
    name: str = typer.Option("", "--name", help="A name to recognise the key by (default: <role>-key)."),
    db: str | None = typer.Option(None, "--db", help=DB_HELP),
    trader: str = typer.Option("TB", "--trader", help=TRADER_HELP),
) -> None:
    """Create an API key and print it once: it cannot be shown again (only its hash is stored)."""
    from traderbot.api.role import parse_role

    try:
        parsed = parse_role(role)
    except ValueError as exc:
        raise UserError(str(exc)) from None
    key, plaintext = _store(db, trader, must_exist=False).create(parsed, name)
    print(f"created API key {key.id} ({key.name}, {key.role.value}); store it now, it is not shown again:")
    print(plaintext)


@app.command("list")
def list_keys(
    db: str | None = typer.Option(None, "--db", help=DB_HELP),
    trader: str = typer.Option("TB", "--trader", help=TRADER_HELP),
    as_json: bool = typer.Option(False, "--json", help="JSON instead of a table."),
) -> None:
    """Every API key (never a secret): id, name, role, created, last used, revoked."""
    from traderbot.api.keys import when
    from traderbot.api.views import key_json

    keys = _store(db, trader).list()
    if as_json:
        print(json.dumps([key_json(k) for k in keys], indent=2))
        return
    table = Table("id", "name", "role", "created", "last used", "revoked", title=f"{len(keys)} API keys")
    for k in keys:
        table.add_row(str(k.id), k.name, k.role.value, when(k.created_ns), when(k.last_used_ns),
                      "-" if k.revoked_ns is None else when(k.revoked_ns))  # fmt: skip
    _console().print(table)


@app.command("revoke")
def revoke(
    key_id: int = typer.Argument(..., min=1, metavar="ID", help="The key's id (see traderbot keys list)."),
    db: str | None = typer.Option(None, "--db", help=DB_HELP),
    trader: str = typer.Option("TB", "--trader", help=TRADER_HELP),
) -> None:
    """Revoke an API key: it and its tokens stop working at once (the key stays listed, for the audit log)."""
    key = _store(db, trader).revoke(key_id)
    print(f"revoked API key {key.id} ({key.name}, {key.role.value})")
