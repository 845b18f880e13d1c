"""Reads of the database for the trading routes: what the service stored (order journal, positions table, event
log, account snapshots, risk and state stores). Blocking calls: run them off the event loop (a thread)."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from sqlalchemy import Engine, func, select

from traderbot.api.trading_views import (
    PositionFacts,
    lock_json,
    order_row_json,
    rate_from,
    trade_json,
)
from traderbot.api.views import iso
from traderbot.model.enums import OrderStatus
from traderbot.store.event_models import AccountSnapshotRecord as Snap
from traderbot.store.event_models import EventLogRecord as Log
from traderbot.store.event_models import PositionRecord as Pos
from traderbot.store.models import FillRecord, OrderRecord, TradingStateRecord

MARK_SOURCE = "last_fill"  # the price of the pair's latest stored fill
OPEN = tuple(s.value for s in OrderStatus if s.is_open)


def orders(engine: Engine, trader: str, status: str, pair: str | None, limit: int) -> list[dict[str, Any]]:
    """Newest first: by creation time, then by sequence number."""
    r = OrderRecord
    q = select(r).where(r.trader_id == trader)
    if pair is not None:
        q = q.where(r.instrument_id == pair)
    if status == "open":
        q = q.where(r.status.in_(OPEN))
    elif status == "closed":
        q = q.where(r.status.not_in(OPEN))
    q = q.order_by(r.ts_init.desc(), r.seq.desc()).limit(limit)
    with engine.connect() as conn:
        rows = conn.execute(q).mappings().all()
    return [order_row_json(row, row["status"] in OPEN) for row in rows]


def last_fills(engine: Engine, trader: str) -> dict[str, tuple[Decimal, int]]:
    """Per pair: the price and time of its latest stored fill."""
    f = FillRecord
    latest = select(func.max(f.id)).where(f.trader_id == trader).group_by(f.instrument_id).scalar_subquery()
    with engine.connect() as conn:
        rows = conn.execute(select(f.instrument_id, f.price, f.ts).where(f.id.in_(latest))).all()
    return {iid: (Decimal(price), ts) for iid, price, ts in rows}


def account_currency(engine: Engine, trader: str) -> str | None:
    """The account currency of the latest account snapshot (None before the first)."""
    q = (
        select(Snap.currency)
        .where(Snap.trader_id == trader)
        .order_by(Snap.ts.desc(), Snap.id.desc())
        .limit(1)
    )
    with engine.connect() as conn:
        return conn.execute(q).scalar_one_or_none()


def _instrument(iid: str) -> tuple[str, Decimal]:
    """(quote currency, multiplier) from the instrument catalogue; ("", 1) for an instrument it lacks."""
    from traderbot.model.instrument import get_instrument

    try:
        inst = get_instrument(iid)
    except KeyError:
        return "", Decimal(1)
    return inst.quote, inst.multiplier


def position_facts(
    engine: Engine, trader: str, pair: str | None = None
) -> tuple[list[PositionFacts], str | None]:
    """The positions table (kept by the service after fills), valued at each pair's latest fill price; and the
    account currency (of the latest snapshot)."""
    q = select(Pos).where(Pos.trader_id == trader)
    if pair is not None:
        q = q.where(Pos.instrument_id == pair)
    with engine.connect() as conn:
        rows = conn.execute(q).mappings().all()
    currency = account_currency(engine, trader)
    if not rows:
        return [], currency
    marks = last_fills(engine, trader)
    prices = {iid: px for iid, (px, _) in marks.items()}
    out = []
    for r in rows:
        quote, multiplier = _instrument(r["instrument_id"])
        qty, avg = Decimal(r["quantity"]), Decimal(r["avg_price"])
        mark, mark_ns = marks.get(r["instrument_id"], (None, None))
        rate = rate_from(prices, quote, currency) if quote and currency else None
        out.append(PositionFacts(r["strategy_id"], r["instrument_id"], qty, avg, avg * abs(qty),
                                 Decimal(r["realized_pnl"]), multiplier, quote, mark, mark_ns, rate, None))  # fmt: skip
    return out, currency


def _trade_rows(engine: Engine, trader: str, pair: str | None, limit: int | None) -> Iterable[dict[str, Any]]:
    """TradeClosed payloads of the event log, newest first. The pair is matched in the compact JSON text
    first (cheap), then exactly."""
    q = select(Log.payload).where(Log.trader_id == trader, Log.topic == "trades")
    if pair is not None:
        q = q.where(Log.payload.contains(f'"instrument_id":"{pair}"', autoescape=True))
    q = q.order_by(Log.id.desc())
    if limit is not None:
        q = q.limit(limit)
    with engine.connect() as conn:
        payloads = conn.execute(q).scalars().all()
    for text in payloads:
        t = json.loads(text)
        if pair is None or t.get("instrument_id") == pair:
            yield t


def trades(engine: Engine, trader: str, pair: str | None, limit: int) -> list[dict[str, Any]]:
    return [trade_json(t) for t in _trade_rows(engine, trader, pair, limit)]


def pnl_by_pair(engine: Engine, trader: str) -> dict[str, tuple[int, int, Decimal]]:
    """Per pair: round trips, winning ones, their summed net P&L (account currency), from every logged trade."""
    out: dict[str, tuple[int, int, Decimal]] = {}
    for t in _trade_rows(engine, trader, None, None):
        pnl = Decimal(t["pnl"])
        n, wins, total = out.get(t["instrument_id"], (0, 0, Decimal(0)))
        out[t["instrument_id"]] = (n + 1, wins + (pnl > 0), total + pnl)
    return out


def snapshots(engine: Engine, trader: str) -> list[tuple[int, Decimal, Decimal]]:
    """The account snapshots as (ts, equity, balance), oldest first."""
    q = select(Snap.ts, Snap.equity, Snap.balance).where(Snap.trader_id == trader).order_by(Snap.ts, Snap.id)
    with engine.connect() as conn:
        return [(ts, Decimal(eq), Decimal(bal)) for ts, eq, bal in conn.execute(q).all()]


def latest_account(engine: Engine, trader: str) -> dict[str, Any] | None:
    q = select(Snap).where(Snap.trader_id == trader).order_by(Snap.ts.desc(), Snap.id.desc()).limit(1)
    with engine.connect() as conn:
        r = conn.execute(q).mappings().first()
    if r is None:
        return None
    equity, cash = Decimal(r["equity"]), Decimal(r["balance"])
    return {"currency": r["currency"], "now_ns": r["ts"], "equity": equity, "cash": cash,
            "unrealized": equity - cash, "margin_used": Decimal(r["margin_used"]),
            "free_margin": Decimal(r["free_margin"]), "commissions": None, "financing": None,
            "starting_cash": None}  # fmt: skip


def kill_switch_record(engine: Engine, trader: str) -> dict[str, Any]:
    """Who engaged or re-armed the kill switch last, why and when (nulls when it never was)."""
    t = TradingStateRecord
    q = select(t.state, t.actor, t.reason, t.ts).where(t.trader_id == trader, t.scope == "kill_switch")
    with engine.connect() as conn:
        row = conn.execute(q).first()
    if row is None:
        return {"engaged": False, "actor": None, "reason": None, "changed": None, "changed_ns": None}
    state, actor, reason, ts = row
    return {
        "engaged": state == "halted",
        "actor": actor,
        "reason": reason,
        "changed": iso(ts),
        "changed_ns": ts,
    }


def clock_ns(engine: Engine, trader: str) -> int | None:
    """The service's clock when it last wrote: the newest event-log or snapshot time (None: nothing stored)."""
    with engine.connect() as conn:
        # trades rows carry the wall clock (a TradeClosed has no time of its own): the others the service's
        latest = select(Log.ts).where(Log.trader_id == trader, Log.topic != "trades").order_by(Log.id.desc())
        event = conn.execute(latest.limit(1))
        snap = conn.execute(select(func.max(Snap.ts)).where(Snap.trader_id == trader))
        times = [t for t in (event.scalar_one_or_none(), snap.scalar_one_or_none()) if t is not None]
    return max(times) if times else None


def risk_state(engine: Engine, trader: str, window: int, now_ns: int) -> dict[str, Any]:
    """The stored risk state: trading states, locks and overrides in force at `now_ns`, the last `window`
    denials, and the risk configuration of the last applied configuration file (None without one)."""
    from traderbot.risk.locks import LockBook
    from traderbot.risk.overrides import Overrides
    from traderbot.store.risk_store import SqlRiskStore
    from traderbot.store.state_store import SqlStateStore

    states = SqlStateStore(engine, trader).load_states()
    store = SqlRiskStore(engine, trader)
    recent = store.recent_denials(window) if window else []
    system = states.get("system")
    return {"now_ns": now_ns, "system_state": "active" if system is None else system.value,
            "states": {s: st.value for s, st in sorted(states.items()) if s != "kill_switch" and st.value != "active"},
            "kill_switch_engaged": states.get("kill_switch") is not None and states["kill_switch"].value == "halted",
            "reconciling": None,
            "locks": [lock_json(lk) for lk in LockBook(store).active(now_ns)],
            "overrides": [{"scope": o.scope, "guard": o.guard, "until": iso(o.until_ns), "actor": o.actor,
                           "reason": o.reason} for o in Overrides(store).active(now_ns)],
            "denials": recent, "by_reason": Counter(d.code for d in recent),
            "config": stored_risk_config(engine)}  # fmt: skip


def stored_risk_config(engine: Engine) -> Any:
    """The [risk] section of the last applied configuration version, or None (none stored, or no [risk])."""
    import tomllib

    from traderbot.errors import UserError
    from traderbot.risk.config import parse_risk_config
    from traderbot.store.config_store import SqlConfigStore

    version = SqlConfigStore(engine).last_applied()
    if version is None:
        return None
    try:
        data = tomllib.loads(version.text)
        return parse_risk_config(data) if isinstance(data.get("risk"), dict) else None
    except (tomllib.TOMLDecodeError, UserError):
        return None
