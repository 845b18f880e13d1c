"""`traderbot init`: write a commented starter traderbot.toml from a few answers (flags, or questions)."""

from __future__ import annotations

import sys
from decimal import Decimal, InvalidOperation
from pathlib import Path

import typer

from traderbot.cli.config import summary
from traderbot.config.loader import DEFAULT_FILE, parse_config
from traderbot.config.manager import write_atomically
from traderbot.config.starter import DEFAULT_MAX_POSITION_NOTIONAL, DEFAULT_PAIRS, starter_text
from traderbot.errors import UserError


def _notional(text: str) -> Decimal:
    try:
        value = Decimal(text.replace("_", "").replace(",", ""))
    except InvalidOperation:
        value = Decimal(0)
    if not value.is_finite() or value <= 0:
        raise UserError(f"--max-position-notional {text!r} is not a positive amount; use e.g. 100000")
    return value


def init(
    path: Path = typer.Option(Path(DEFAULT_FILE), "--path", help="Where to write the file."),
    broker: str | None = typer.Option(
        None, "--broker", help="Live broker: oanda, alpaca, ccxt:<exchange>, ninjatrader (empty: paper only)."
    ),
    currency: str | None = typer.Option(None, "--currency", help="Account currency (default USD)."),
    pairs: str | None = typer.Option(None, "--pairs", help="Comma-separated instruments (default EURUSD)."),
    max_position_notional: str | None = typer.Option(
        None, "--max-position-notional", help="Risk limit per pair, in the account currency (default 100000)."
    ),
    force: bool = typer.Option(False, "--force", help="Overwrite an existing file (kept as <file>.bak)."),
    yes: bool = typer.Option(False, "--yes", "-y", help="Take defaults for anything not given; ask nothing."),
) -> None:
    """Write a commented starter configuration (every section explained); it loads back as valid."""
    if path.exists() and not force:
        raise UserError(
            f"{path} already exists: pass --force to overwrite it (the old file is kept as {path}.bak)"
        )
    ask = sys.stdin.isatty() and not yes
    if ask and broker is None:
        broker = typer.prompt("Live broker (oanda, alpaca, ccxt:<exchange>, ninjatrader; empty: paper only)",
                              default="", show_default=False)  # fmt: skip
    if ask and currency is None:
        currency = typer.prompt("Account currency", default="USD")
    if ask and pairs is None:
        pairs = typer.prompt("Pairs to trade (comma-separated)", default=",".join(DEFAULT_PAIRS))
    if ask and max_position_notional is None:
        max_position_notional = typer.prompt(
            "Largest position per pair (account currency)", default=str(DEFAULT_MAX_POSITION_NOTIONAL)
        )
    pair_list = [p.strip() for p in (pairs or ",".join(DEFAULT_PAIRS)).split(",") if p.strip()]
    text = starter_text(
        broker=(broker or "").strip(),
        currency=(currency or "USD").strip().upper(),
        pairs=pair_list or DEFAULT_PAIRS,
        max_position_notional=_notional(max_position_notional or str(DEFAULT_MAX_POSITION_NOTIONAL)),
        source=str(path),
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomically(path, text, backup=force)
    config = parse_config(text, str(path))
    print(f"wrote {path}: {summary(config, path)}; check it with `traderbot config validate {path}`")
