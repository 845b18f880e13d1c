"""`traderbot users ...`: the people who log in to the dashboard and the API with a password (scrypt-hashed)."""

from __future__ import annotations

import getpass
import json
import sys

import typer
from rich.table import Table

from traderbot.api.users import UserStore
from traderbot.cli.orders import DB_HELP, _console, database_url
from traderbot.errors import UserError
from traderbot.store.db import open_engine

app = typer.Typer(name="users", help="Users who log in: create, list, disable, passwd.", no_args_is_help=True)

TRADER_HELP = "Trader id the users belong to."
STDIN_HELP = "Read the password from the first line of standard input instead of asking twice."


def _store(db: str | None, trader: str, *, must_exist: bool = True) -> UserStore:
    return UserStore(open_engine(database_url(db, must_exist=must_exist)), trader)


def _password(from_stdin: bool, username: str) -> str:
    """The new password: one line of stdin, or asked twice on the terminal (never echoed)."""
    if from_stdin:
        line = sys.stdin.readline()
        password = line.removesuffix("\n").removesuffix("\r")
        if not password:
            raise UserError(
                "--password-stdin read no password: pipe it in, e.g. `printf '%s\\n' \"$PW\" | ...`"
            )
        return password
    if not sys.stdin.isatty():
        raise UserError("no terminal to ask the password on: pass --password-stdin and pipe the password in")
    first = getpass.getpass(f"password for {username}: ")
    second = getpass.getpass("the same password again: ")
    if first != second:
        raise UserError("the two passwords differ: run the command again and type the same password twice")
    return first


@app.command("create")
def create(
    username: str = typer.Argument(..., metavar="NAME", help="The username (letters, digits, . _ - @)."),
    role: str = typer.Option(
        ..., "--role", help="viewer (read), operator (run the bot) or admin (keys, users, config)."
    ),
    password_stdin: bool = typer.Option(False, "--password-stdin", help=STDIN_HELP),
    db: str | None = typer.Option(None, "--db", help=DB_HELP),
    trader: str = typer.Option("TB", "--trader", help=TRADER_HELP),
) -> None:
    """Create a user who logs in with a password (asked twice; only its scrypt hash is stored)."""
    from traderbot.api.role import parse_role
    from traderbot.api.users import check_username

    try:
        parsed = parse_role(role)
    except ValueError as exc:
        raise UserError(str(exc)) from None
    check_username(username)
    store = _store(db, trader, must_exist=False)
    if store.find(username) is not None:
        raise UserError(f"user {username!r} already exists: pick another name, or change the password "
                        f"with `traderbot users passwd {username}`")  # fmt: skip
    user = store.create(username, parsed, _password(password_stdin, username))
    print(f"created user {user.username} ({user.role.value}); they log in with POST /api/v1/auth/login")


@app.command("list")
def list_users(
    db: str | None = typer.Option(None, "--db", help=DB_HELP),
    trader: str = typer.Option("TB", "--trader", help=TRADER_HELP),
    as_json: bool = typer.Option(False, "--json", help="JSON instead of a table."),
) -> None:
    """Every user (never a password): name, role, created, password changed, disabled."""
    from traderbot.api.keys import when
    from traderbot.api.views import user_json

    users = _store(db, trader).list()
    if as_json:
        print(json.dumps([user_json(u) for u in users], indent=2))
        return
    table = Table("user", "role", "created", "password changed", "disabled", title=f"{len(users)} users")
    for u in users:
        table.add_row(u.username, u.role.value, when(u.created_ns), when(u.password_changed_ns),
                      "-" if u.disabled_ns is None else when(u.disabled_ns))  # fmt: skip
    _console().print(table)


@app.command("disable")
def disable(
    username: str = typer.Argument(..., metavar="NAME", help="The username (see traderbot users list)."),
    db: str | None = typer.Option(None, "--db", help=DB_HELP),
    trader: str = typer.Option("TB", "--trader", help=TRADER_HELP),
) -> None:
    """Disable a user: their logins and tokens stop working at once (the user stays listed, for the audit log)."""
    user = _store(db, trader).disable(username)
    print(f"disabled user {user.username} ({user.role.value})")


@app.command("passwd")
def passwd(
    username: str = typer.Argument(..., metavar="NAME", help="The username (see traderbot users list)."),
    password_stdin: bool = typer.Option(False, "--password-stdin", help=STDIN_HELP),
    db: str | None = typer.Option(None, "--db", help=DB_HELP),
    trader: str = typer.Option("TB", "--trader", help=TRADER_HELP),
) -> None:
    """Set a user's password (asked twice); tokens issued before it stop working."""
    store = _store(db, trader)
    if store.find(username) is None:
        raise UserError(f"no user {username!r}: see `traderbot users list`")
    user = store.set_password(username, _password(password_stdin, username))
    print(f"changed the password of {user.username}; their older tokens no longer work")
