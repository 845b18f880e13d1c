"""The `traderbot` command. Sub-commands live in sibling modules, one per area."""

from __future__ import annotations

import sys

import typer

from traderbot.brokers.base import BrokerError
from traderbot.errors import UserError

app = typer.Typer(
    name="traderbot",
    help="traderbot: backtest, optimise and trade many instruments with one kernel.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


_registered = False


def _register() -> None:
    global _registered
    if _registered:
        return
    _registered = True
    from traderbot.cli import cache as cache_cli
    from traderbot.cli import data as data_cli
    from traderbot.cli import pairs as pairs_cli
    from traderbot.cli import risk as risk_cli
    from traderbot.cli.backtest import backtest
    from traderbot.cli.demo import demo
    from traderbot.cli.optimize import optimize
    from traderbot.cli.orders import orders, positions, reconcile

    app.add_typer(data_cli.app, name="data")
    app.add_typer(cache_cli.app, name="cache")
    app.add_typer(pairs_cli.app, name="pairs")
    app.add_typer(risk_cli.app, name="risk")
    app.command()(backtest)
    app.command()(optimize)
    app.command()(demo)
    app.command()(orders)
    app.command()(positions)
    app.command()(reconcile)


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; user errors print one line to stderr and exit 2, never a traceback."""
    _register()
    try:
        app(args=argv, standalone_mode=False)
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    except BrokerError as exc:  # missing credential, refused login, unreachable broker: one line
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except (KeyError, ValueError, FileNotFoundError) as exc:
        msg = exc.args[0] if exc.args else str(exc)
        print(f"error: {msg}", file=sys.stderr)
        return 2
    except typer.Exit as exc:
        return int(exc.exit_code or 0)
    except SystemExit as exc:
        return int(exc.code or 0) if not isinstance(exc.code, str) else 1
    except Exception as exc:  # click usage errors and aborts
        import click

        if isinstance(exc, click.ClickException):
            exc.show()
            return exc.exit_code
        if isinstance(exc, click.exceptions.Abort):
            return 1
        raise
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
