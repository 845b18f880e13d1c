"""`traderbot alerts test`: a test alert to every notifier of the configuration file's `[alerts]` section,
one line per notifier with its result; exit 1 when any failed."""

from __future__ import annotations

import asyncio
from pathlib import Path

import typer

from traderbot.config.loader import default_path, load_config
from traderbot.errors import UserError

app = typer.Typer(name="alerts", help="Alert notifiers: send a test alert.", no_args_is_help=True)


@app.command("test")
def test(
    config: Path | None = typer.Option(
        None, "--config", help="The config file (default: $TRADERBOT_CONFIG, else traderbot.toml here)."
    ),
) -> None:
    """Send a test alert to every configured notifier (webhook, email, Telegram) and report each result."""
    from traderbot.alerts.runner import send_test

    path = config if config is not None else default_path()
    if not path.is_file():
        raise UserError(f"{path} does not exist: pass --config <file> or write one with 'traderbot init'")
    section = load_config(path).alerts
    if section.notifier_count() == 0:
        raise UserError(f"{path} configures no notifier: add [[alerts.webhook]], [[alerts.email]] or "
                        "[[alerts.telegram]]")  # fmt: skip
    results = asyncio.run(send_test(section))
    for label, error in results:
        typer.echo(f"{label}: sent" if error is None else f"{label}: FAILED ({error})")
    failed = sum(error is not None for _, error in results)
    if failed:
        typer.echo(f"{failed} of {len(results)} notifier(s) failed", err=True)
        raise typer.Exit(1)
