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
    from traderbot.cli import alerts as alerts_cli
    from traderbot.cli import cache as cache_cli
    from traderbot.cli import config as config_cli
    from traderbot.cli import data as data_cli
    from traderbot.cli import keys as keys_cli
    from traderbot.cli import pairs as pairs_cli
    from traderbot.cli import risk as risk_cli
    from traderbot.cli import train as train_cli
    from traderbot.cli import users as users_cli
    from traderbot.cli.api import api
    from traderbot.cli.backtest import backtest
    from traderbot.cli.demo import demo
    from traderbot.cli.init import init
    from traderbot.cli.optimize import optimize
    from traderbot.cli.orders import orders, positions, reconcile
    from traderbot.cli.run import run

    app.add_typer(data_cli.app, name="data")
    app.add_typer(cache_cli.app, name="cache")
    app.add_typer(pairs_cli.app, name="pairs")
    app.add_typer(train_cli.app, name="train")
    app.add_typer(risk_cli.app, name="risk")
    app.add_typer(config_cli.app, name="config")
    app.add_typer(keys_cli.app, name="keys")
    app.add_typer(users_cli.app, name="users")
    app.add_typer(alerts_cli.app, name="alerts")
    app.command()(backtest)
    app.command()(optimize)
    app.command()(demo)
    app.command()(orders)
    app.command()(positions)
    app.command()(reconcile)
    app.command()(run)
    app.command()(init)
    app.command()(api)


def _click_classes() -> tuple[tuple[type[BaseException], ...], tuple[type[BaseException], ...]]:
    """Click's usage-error and abort classes, from click itself and from Typer's bundled copy if it has one."""
    import click

    usage: list[type[BaseException]] = [click.ClickException]
    abort: list[type[BaseException]] = [click.exceptions.Abort]
    try:
        import importlib

        bundled = importlib.import_module("typer._click.exceptions")
        usage.append(bundled.ClickException)
        abort.append(bundled.Abort)
    except (ImportError, AttributeError):
        pass
    return tuple(usage), tuple(abort)


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; user errors print one line to stderr and exit 2, never a traceback."""
    _register()
    try:
        rv = app(args=argv, standalone_mode=False)
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
    except Exception as exc:  # click usage errors and aborts (Typer may carry its own copy of click)
        usage, abort = _click_classes()
        if isinstance(exc, usage):
            exc.show()  # type: ignore[attr-defined]
            return int(exc.exit_code)  # type: ignore[attr-defined]
        if isinstance(exc, abort):
            return 1
        raise
    return rv if isinstance(rv, int) and not isinstance(rv, bool) else 0  # typer.Exit(code) comes back here


if __name__ == "__main__":
    raise SystemExit(main())
