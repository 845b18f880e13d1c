"""`traderbot orders | positions | reconcile`: what the order database holds, and a check against the broker."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from decimal import Decimal
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from traderbot.errors import UserError
from traderbot.model.position import Position
from traderbot.store.db import open_engine
from traderbot.store.journal import SqlOrderJournal

DB_ENV = "TRADERBOT_DB_URL"
BROKER_HELP = "Broker: oanda, alpaca, ccxt:<exchange id>, ninjatrader (credentials from the environment)."
DB_HELP = (
    f"Database URL (default: ${DB_ENV}, else the service's: traderbot.toml's database or "
    "./traderbot_data/traderbot.db, else sqlite:///traderbot.db in the working directory)."
)


def _console() -> Console:
    """Terminal width on a terminal; wide enough for whole ids when piped or captured."""
    return Console() if sys.stdout.isatty() else Console(width=200)


def _service_database() -> str | None:
    """The database of the service run from this folder: its configuration's, or its default state folder's."""
    config = Path(os.environ.get("TRADERBOT_CONFIG", "traderbot.toml"))
    if config.is_file():
        from traderbot.config import load_config
        from traderbot.config.loader import resolve_database_url

        return resolve_database_url(load_config(config), config)
    default = Path("traderbot_data") / "traderbot.db"
    return f"sqlite:///{default.resolve()}" if default.is_file() else None


def database_url(db: str | None, *, must_exist: bool = True) -> str:
    url = db or os.environ.get(DB_ENV) or _service_database() or "sqlite:///traderbot.db"
    if must_exist and url.startswith("sqlite:///"):
        path = Path(url.removeprefix("sqlite:///"))
        if not path.is_file():
            raise UserError(
                f"no order database at {path}: run this where the bot runs, or pass --db / set {DB_ENV}"
            )
    return url


def _journal(db: str | None, trader: str) -> SqlOrderJournal:
    return SqlOrderJournal(open_engine(database_url(db)), trader)


def orders(
    db: str | None = typer.Option(None, "--db", help=DB_HELP),
    trader: str = typer.Option("TB", "--trader", help="Trader id the orders belong to."),
    open_only: bool = typer.Option(False, "--open", help="Only orders still working."),
    instrument: str | None = typer.Option(None, "--instrument", "-i", help="Only this instrument."),
    limit: int = typer.Option(50, "--limit", min=1, help="Newest N orders."),
    as_json: bool = typer.Option(False, "--json", help="JSON lines instead of a table."),
) -> None:
    """List stored orders, newest last: status, filled quantity, average price, reason."""
    rows = _journal(db, trader).load(open_only=open_only)
    if instrument:
        rows = [o for o in rows if o.instrument_id == instrument.upper()]
    rows = rows[-limit:]
    if as_json:
        for o in rows:
            avg = o.avg_px
            print(
                json.dumps(
                    {
                        "client_order_id": o.client_order_id,
                        "strategy": o.strategy_id,
                        "instrument": o.instrument_id,
                        "side": o.side.value,
                        "type": o.type.value,
                        "quantity": str(o.quantity),
                        "status": o.status.value,
                        "filled": str(o.filled_qty),
                        "avg_price": None if avg is None else str(avg),
                        "venue_order_id": o.venue_order_id,
                        "external": o.external,
                        "reason": o.reason,
                    }
                )
            )
        return
    table = Table("client order id", "strategy", "instrument", "side", "type", "qty", "status", "filled",
                  "avg price", "reason", title=f"{len(rows)} orders")  # fmt: skip
    for o in rows:
        avg = o.avg_px
        table.add_row(
            o.client_order_id + (" (external)" if o.external else ""),
            o.strategy_id,
            o.instrument_id,
            o.side.value,
            o.type.value,
            str(o.quantity),
            o.status.value,
            str(o.filled_qty),
            "" if avg is None else f"{avg:.6g}",
            o.reason,
        )
    _console().print(table)


def stored_positions(journal: SqlOrderJournal) -> dict[str, tuple[Decimal, Decimal]]:
    """Net quantity and average price per instrument from the stored fills (exact, average cost)."""
    books: dict[str, Position] = {}
    for f in journal.load_fills():
        pos = books.setdefault(f.instrument_id, Position(f.instrument_id, "all"))
        pos.apply_fill(f.quantity if f.side == "buy" else -f.quantity, f.price, f.ts, 0, Decimal(0))
    return {i: (p.quantity, p.avg_price) for i, p in books.items() if p.quantity != 0}


def positions(
    db: str | None = typer.Option(None, "--db", help=DB_HELP),
    trader: str = typer.Option("TB", "--trader", help="Trader id."),
    broker: str | None = typer.Option(None, "--broker", help="Also ask this broker and show differences."),
    as_json: bool = typer.Option(False, "--json", help="JSON instead of a table."),
) -> None:
    """Net positions from the stored fills; with --broker, side by side with the broker's."""
    ours = stored_positions(_journal(db, trader))
    theirs: dict[str, tuple[Decimal, Decimal]] = {}
    if broker:
        theirs = asyncio.run(_broker_positions(broker))
    ids = sorted(set(ours) | set(theirs))
    if as_json:
        out = {
            i: {
                "quantity": str(ours.get(i, (Decimal(0), Decimal(0)))[0]),
                "avg_price": str(ours[i][1]) if i in ours else None,
                **({"broker_quantity": str(theirs.get(i, (Decimal(0), Decimal(0)))[0])} if broker else {}),
            }
            for i in ids
        }
        print(json.dumps(out, sort_keys=True))
        return
    cols = ["instrument", "quantity", "avg price"] + (
        ["broker quantity", "broker avg", "match"] if broker else []
    )
    table = Table(*cols, title="positions")
    for i in ids:
        q, a = ours.get(i, (Decimal(0), Decimal(0)))
        row = [i, str(q), f"{a:.6g}" if q else ""]
        if broker:
            bq, ba = theirs.get(i, (Decimal(0), Decimal(0)))
            row += [str(bq), f"{ba:.6g}" if bq else "", "yes" if bq == q else "NO"]
        table.add_row(*row)
    _console().print(table)


async def _broker_positions(name: str) -> dict[str, tuple[Decimal, Decimal]]:
    from traderbot.brokers.factory import create_broker

    b = create_broker(name)
    await b.connect()
    try:
        return {p.instrument_id: (p.quantity, p.avg_price) for p in await b.positions()}
    finally:
        await b.close()


def reconcile(
    broker: str = typer.Option(..., "--broker", help=BROKER_HELP),
    db: str | None = typer.Option(None, "--db", help=DB_HELP),
    trader: str = typer.Option("TB", "--trader", help="Trader id."),
) -> None:
    """Compare stored orders and positions with the broker's, settle and adopt differences, print the report."""
    from traderbot.brokers.factory import create_broker
    from traderbot.live.session import SessionConfig, TradingSession

    async def run() -> str:
        session = TradingSession(
            create_broker(broker),
            SessionConfig(database_url=database_url(db, must_exist=False), trader_id=trader),
        )
        try:
            await session.broker.connect()
            report = await session.reconcile("traderbot reconcile")
        finally:
            await session.stop()
        if not report.ok:
            raise UserError(report.summary())
        return report.summary()

    print(asyncio.run(run()))
