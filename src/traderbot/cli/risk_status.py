"""`traderbot risk status | locks | unlock | override | validate`: the risk report and its operator commands,
read from (and written to) the order database, so they work whether or not a bot is running."""

from __future__ import annotations

import json
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import typer
from rich.table import Table

from traderbot.cli.orders import DB_HELP, _console, _journal, database_url, stored_positions
from traderbot.risk.config import RiskConfig, load_risk_config
from traderbot.risk.locks import LockBook
from traderbot.risk.overrides import GUARDS, Overrides
from traderbot.risk.states import TradingState, check_scope, parse_state
from traderbot.store.db import open_engine
from traderbot.store.risk_store import SqlRiskStore
from traderbot.store.state_store import SqlStateStore

CONFIG_HELP = "Risk configuration (TOML) whose limits the report shows."


def _iso(ts: int | None) -> str:
    return "-" if ts is None else time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(ts / 1e9))


def exposures(db: str | None, trader: str) -> tuple[dict[str, dict[str, str]], dict[str, Decimal]]:
    """Per pair: net quantity, average price, notional in the quote currency (at the average entry price);
    per currency: the net amount in that currency (FX pairs count +base and -quote)."""
    from traderbot.model.instrument import get_instrument

    pairs: dict[str, dict[str, str]] = {}
    ccys: dict[str, Decimal] = {}
    for iid, (qty, avg) in sorted(stored_positions(_journal(db, trader)).items()):
        try:
            inst = get_instrument(iid)
            base, quote, two = inst.base, inst.quote, inst.asset_class.value in ("fx", "metal", "crypto")
        except Exception:  # an instrument outside the catalogue: its id is all we know
            base, quote, two = iid, "?", False
        notional = qty * avg
        pairs[iid] = {"quantity": str(qty), "avg_price": f"{avg:.6g}", "notional": f"{notional:.2f} {quote}"}
        if two:
            ccys[base] = ccys.get(base, Decimal(0)) + qty
        ccys[quote] = (
            ccys.get(quote, Decimal(0)) - notional if two else ccys.get(quote, Decimal(0)) + notional
        )
    return pairs, ccys


def limits_in_use(config: RiskConfig | None) -> list[str]:
    if config is None:
        return ["no risk configuration given (--config FILE): only the built-in checks apply"]
    out = []
    dump = config.model_dump(exclude_none=True, exclude_defaults=True, by_alias=True)
    for section, values in dump.items():
        out.append(f"{section}: {json.dumps(values, default=str, sort_keys=True)}")
    return out or ["the configuration sets nothing beyond the defaults"]


def status(
    db: str | None = typer.Option(None, "--db", help=DB_HELP),
    trader: str = typer.Option("TB", "--trader"),
    config: Path | None = typer.Option(None, "--config", help=CONFIG_HELP),
    denials: int = typer.Option(10, "--denials", min=0, help="How many recent denials to show."),
    as_json: bool = typer.Option(False, "--json", help="One JSON object instead of tables."),
) -> None:
    """The risk report: trading states, kill switch, locks, overrides, exposures, limits, recent denials."""
    cfg = load_risk_config(config) if config is not None else None
    engine = open_engine(database_url(db))
    states_store = SqlStateStore(engine, trader)
    states = states_store.load_states()
    killed = states.get("kill_switch") is TradingState.HALTED
    store = SqlRiskStore(engine, trader)
    now = time.time_ns()
    locks = LockBook(store).active(now)
    overrides = Overrides(store).active(now)
    pairs, ccys = exposures(db, trader)
    recent = store.recent_denials(denials) if denials else []
    report: dict[str, Any] = {
        "kill_switch": "engaged" if killed else "armed",
        "states": {s: st.value for s, st in sorted(states.items()) if s != "kill_switch"}
        or {"system": "active"},
        "locks": [
            {
                "scope": lk.scope,
                "source": lk.source,
                "action": lk.action.value,
                "reason": lk.reason,
                "since": _iso(lk.since_ns),
                "until": _iso(lk.until_ns),
            }
            for lk in locks
        ],
        "overrides": [
            {
                "scope": o.scope,
                "guard": o.guard,
                "until": _iso(o.until_ns),
                "actor": o.actor,
                "reason": o.reason,
            }
            for o in overrides
        ],
        "exposure_by_pair": pairs,
        "exposure_by_currency": {c: str(v) for c, v in sorted(ccys.items()) if v},
        "limits": limits_in_use(cfg),
        "recent_denials": [
            {
                "time": _iso(d.ts),
                "order": d.client_order_id,
                "strategy": d.strategy_id,
                "instrument": d.instrument_id,
                "side": d.side,
                "quantity": d.quantity,
                "reason": d.reason,
            }
            for d in recent
        ],
    }
    if as_json:
        print(json.dumps(report))
        return
    _print(report)


def _print(r: dict[str, Any]) -> None:
    con = _console()
    states = ", ".join(f"{s}={v}" for s, v in r["states"].items())
    con.print(f"kill switch: [bold]{r['kill_switch']}[/]; trading states: {states}")
    t = Table("scope", "source", "action", "until (UTC)", "reason", title=f"locks ({len(r['locks'])})")
    for lk in r["locks"]:
        t.add_row(lk["scope"], lk["source"], lk["action"], lk["until"], lk["reason"])
    con.print(t)
    if r["overrides"]:
        t = Table("scope", "guard bypassed", "until (UTC)", "who", "why", title="manual overrides")
        for o in r["overrides"]:
            t.add_row(o["scope"], o["guard"], o["until"], o["actor"], o["reason"])
        con.print(t)
    t = Table("pair", "quantity", "avg price", "notional", title="exposure by pair (at average entry price)")
    for iid, row in r["exposure_by_pair"].items():
        t.add_row(iid, row["quantity"], row["avg_price"], row["notional"])
    con.print(t)
    t = Table("currency", "net amount", title="exposure by currency (FX pairs: +base, -quote)")
    for c, v in r["exposure_by_currency"].items():
        t.add_row(c, v)
    con.print(t)
    con.print("limits in use:")
    for line in r["limits"]:
        con.print(f"  {line}")
    t = Table("time (UTC)", "order", "instrument", "side", "qty", "reason", title="recent denials")
    for d in r["recent_denials"]:
        t.add_row(d["time"], d["order"], d["instrument"], d["side"], d["quantity"], d["reason"])
    con.print(t)


def lock(
    scope: str = typer.Argument(..., help="system, strategy:<id> or pair:<instrument>"),
    state: str = typer.Argument("halted", help="reducing or halted"),
    minutes: int = typer.Option(..., "--minutes", min=1, help="How long the lock holds."),
    reason: str = typer.Option(..., "--reason"),
    actor: str | None = typer.Option(None, "--actor"),
    db: str | None = typer.Option(None, "--db", help=DB_HELP),
    trader: str = typer.Option("TB", "--trader"),
) -> None:
    """Lock a scope by hand for a while (a manual override that restricts): stored, then in effect."""
    import getpass

    check_scope(scope)
    st = parse_state(state)
    book = LockBook(SqlRiskStore(open_engine(database_url(db, must_exist=False)), trader))
    who = actor or getpass.getuser()
    lk = book.add(scope, "manual", st, f"{reason} (by {who})", until_ns=time.time_ns() + minutes * 60 * 10**9)
    print(f"locked: {lk.describe()}")


def unlock(
    scope: str = typer.Argument(..., help="system, strategy:<id> or pair:<instrument>"),
    source: str | None = typer.Option(None, "--source", help="Only this lock, e.g. protection:daily_loss."),
    reason: str = typer.Option(..., "--reason"),
    actor: str | None = typer.Option(None, "--actor"),
    db: str | None = typer.Option(None, "--db", help=DB_HELP),
    trader: str = typer.Option("TB", "--trader"),
) -> None:
    """Clear a scope's locks (or one source's) by hand, with who and why."""
    import getpass

    check_scope(scope)
    book = LockBook(SqlRiskStore(open_engine(database_url(db)), trader))
    gone = book.clear(scope, source, actor=actor or getpass.getuser(), reason=reason)
    for lk in gone:
        print(f"cleared: {lk.source} on {lk.scope}")


def override(
    scope: str = typer.Argument(..., help="system, strategy:<id> or pair:<instrument>"),
    guard: str = typer.Argument(..., help=" | ".join(GUARDS)),
    minutes: int = typer.Option(..., "--minutes", min=1, help="How long the bypass lasts."),
    reason: str = typer.Option(..., "--reason"),
    actor: str | None = typer.Option(None, "--actor"),
    db: str | None = typer.Option(None, "--db", help=DB_HELP),
    trader: str = typer.Option("TB", "--trader"),
) -> None:
    """Let one guard be bypassed for a scope for a while (stored with who and why; expires on its own)."""
    import getpass

    ov = Overrides(SqlRiskStore(open_engine(database_url(db, must_exist=False)), trader))
    o = ov.add(scope, guard, until_ns=time.time_ns() + minutes * 60 * 10**9, actor=actor or getpass.getuser(),
               reason=reason)  # fmt: skip
    print(f"override: {o.guard} bypassed on {o.scope} until {_iso(o.until_ns)} UTC")


def validate(path: Path = typer.Argument(..., help="Risk configuration file (TOML).")) -> None:
    """Check a risk configuration without applying it; prints what it sets."""
    cfg = load_risk_config(path)
    if cfg.news is not None and cfg.news.file:
        from traderbot.risk.news import NewsBlackout

        NewsBlackout.from_config(cfg.news)  # the calendar file must load too
    print(f"{path}: valid")
    for line in limits_in_use(cfg):
        print(f"  {line}")


def register(app: typer.Typer) -> None:
    app.command("status")(status)
    app.command("lock")(lock)
    app.command("unlock")(unlock)
    app.command("override")(override)
    app.command("validate")(validate)


__all__ = ["register"]
