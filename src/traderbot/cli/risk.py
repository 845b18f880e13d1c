"""`traderbot risk ...`: trading states, the kill switch and their audit trail, stored in the order database."""

from __future__ import annotations

import asyncio
import getpass
import time

import typer
from rich.table import Table

from traderbot.cli.orders import DB_HELP, _console, database_url
from traderbot.cli.risk_status import register
from traderbot.errors import UserError
from traderbot.risk.states import TradingStates, check_scope, parse_state, require_who_why
from traderbot.store.db import open_engine
from traderbot.store.state_store import SqlStateStore

app = typer.Typer(
    name="risk",
    help="Trading states, the kill switch, locks, overrides and the risk report.",
    no_args_is_help=True,
)

ACTOR_HELP = "Who makes the change (default: the user running the command)."


def _actor(actor: str | None) -> str:
    return actor or getpass.getuser()


@app.command("state")
def set_state(
    scope: str = typer.Argument(..., help="system, strategy:<id> or pair:<instrument>"),
    state: str = typer.Argument(..., help="active, reducing or halted"),
    reason: str = typer.Option(..., "--reason", help="Why (stored in the audit trail)."),
    actor: str | None = typer.Option(None, "--actor", help=ACTOR_HELP),
    db: str | None = typer.Option(None, "--db", help=DB_HELP),
    trader: str = typer.Option("TB", "--trader"),
) -> None:
    """Set a trading state; stored with who and why before it takes effect."""
    from traderbot.kernel.kernel import Kernel

    check_scope(scope)
    st = parse_state(state)
    store = SqlStateStore(open_engine(database_url(db, must_exist=False)), trader)
    k = Kernel(trading_states=TradingStates(store), trader_id=trader)  # brings the kill switch's guard
    change = k.risk.states.set(scope, st, actor=_actor(actor), reason=reason)
    print(f"{scope}: {st.value}" + ("" if change else " (unchanged)"))


@app.command("kill")
def kill(
    reason: str = typer.Option(..., "--reason", help="Why (stored in the audit trail)."),
    broker: str = typer.Option(..., "--broker", help="oanda, alpaca, ccxt:<id> or ninjatrader"),
    flatten: bool = typer.Option(False, "--flatten", help="Also close every position at market."),
    actor: str | None = typer.Option(None, "--actor", help=ACTOR_HELP),
    db: str | None = typer.Option(None, "--db", help=DB_HELP),
    trader: str = typer.Option("TB", "--trader"),
    timeout: float = typer.Option(10.0, "--timeout", help="Seconds to wait for cancels and closes."),
) -> None:
    """Engage the kill switch: cancel every open order at the broker and, with --flatten, close every position.

    It stays engaged (no new orders, across restarts) until `traderbot risk rearm`."""
    from traderbot.brokers.factory import create_broker
    from traderbot.live.session import SessionConfig, TradingSession

    require_who_why(_actor(actor), reason)

    async def run() -> str:
        session = TradingSession(
            create_broker(broker),
            SessionConfig(database_url=database_url(db, must_exist=False), trader_id=trader),
        )
        try:
            await session.start()
            report = session.kernel.kill_switch.engage(actor=_actor(actor), reason=reason, flatten=flatten)
            deadline = time.monotonic() + timeout
            while (
                session.kernel.cache.open_ids or (flatten and session.positions())
            ) and time.monotonic() < deadline:
                await asyncio.sleep(0.02)
            left_orders, left_pos = len(session.kernel.cache.open_ids), session.positions()
        finally:
            await session.stop()
        if left_orders or (flatten and left_pos):
            raise UserError(
                f"kill switch engaged, but after {timeout:g} s {left_orders} orders are still open and "
                f"positions {left_pos or 'none'} remain: check the broker"
            )
        return (
            f"kill switch engaged: {len(report.canceled)} orders canceled, "
            f"{len(report.flatten_orders)} positions closed" + ("" if flatten else " (positions kept)")
        )

    print(asyncio.run(run()))


@app.command("rearm")
def rearm(
    reason: str = typer.Option(..., "--reason", help="Why trading may resume."),
    actor: str | None = typer.Option(None, "--actor", help=ACTOR_HELP),
    db: str | None = typer.Option(None, "--db", help=DB_HELP),
    trader: str = typer.Option("TB", "--trader"),
) -> None:
    """Re-arm the kill switch and set the system ACTIVE again (an explicit decision, with a reason)."""
    from traderbot.kernel.kernel import Kernel

    store = SqlStateStore(open_engine(database_url(db)), trader)
    Kernel(trading_states=TradingStates(store), trader_id=trader).kill_switch.rearm(
        actor=_actor(actor), reason=reason
    )
    print("kill switch re-armed; system active")


@app.command("history")
def history(
    scope: str | None = typer.Option(None, "--scope", help="Only this scope."),
    db: str | None = typer.Option(None, "--db", help=DB_HELP),
    trader: str = typer.Option("TB", "--trader"),
) -> None:
    """Every trading-state change: when, scope, from, to, who, why."""
    import pandas as pd

    changes = SqlStateStore(open_engine(database_url(db)), trader).history(scope)
    table = Table("time (UTC)", "scope", "from", "to", "who", "why", title=f"{len(changes)} changes")
    for c in changes:
        when = pd.Timestamp(c.ts, unit="ns", tz="UTC").strftime("%Y-%m-%d %H:%M:%S")
        table.add_row(when, c.scope, c.old.value, c.new.value, c.actor, c.reason)
    _console().print(table)


register(app)
