"""Reads of the running kernel's memory for the trading routes. Call only on the service's own loop (the
kernel's thread), from `async def` handlers, and never write: every function here only looks."""

from __future__ import annotations

from collections import Counter
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from traderbot.api.trading_views import (
    PositionFacts,
    lock_json,
    order_json,
    trade_json,
)
from traderbot.api.views import iso

if TYPE_CHECKING:
    from traderbot.kernel.kernel import Kernel

MARK_SOURCE = "last_bar"  # the close of the pair's last closed bar


def orders(k: Kernel, status: str, pair: str | None, limit: int) -> list[dict[str, Any]]:
    """Newest first (submission order), walking back only until `limit` orders matched."""
    source = k.cache.open_ids if status == "open" else k.cache.orders
    out: list[dict[str, Any]] = []
    for o in reversed(source.values()):
        if (pair is not None and o.instrument_id != pair) or (status == "closed" and o.is_open):
            continue
        out.append(order_json(o))
        if len(out) >= limit:
            break
    return out


def position_facts(k: Kernel, pair: str | None = None) -> list[PositionFacts]:
    """Every non-flat (strategy, pair) position, valued at its pair's last closed bar."""
    cache, portfolio = k.cache, k.portfolio
    out = []
    for (strategy, iid), p in portfolio.positions.items():
        if not p.quantity or (pair is not None and iid != pair):
            continue
        inst = cache.instruments[iid]
        idx = cache.primary.get(iid)
        mark = cache.last_price(iid)
        mark_ns = None
        if mark is not None and idx is not None:  # the bar's close time (not ts_close: it builds an array)
            series = cache.series[idx]
            mark_ns = int(series.ts[cache.visible[idx] - 1]) + series.timeframe.ns
        out.append(PositionFacts(strategy, iid, p.quantity, p.avg_price, p.cost_basis, p.realized_pnl_quote,
                                 p.multiplier, inst.quote, mark, mark_ns, cache.rate(inst.quote, portfolio.currency),
                                 p.opened_ts))  # fmt: skip
    return out


def trades(k: Kernel, pair: str | None, limit: int) -> list[dict[str, Any]]:
    """Closed round trips, newest first."""
    out: list[dict[str, Any]] = []
    for t in reversed(k.portfolio.trades):
        if pair is not None and t.instrument_id != pair:
            continue
        out.append(trade_json(t._asdict()))
        if len(out) >= limit:
            break
    return out


def pnl_by_pair(k: Kernel) -> dict[str, tuple[int, int, Decimal]]:
    """Per pair: round trips, winning ones, their summed net P&L (account currency)."""
    out: dict[str, tuple[int, int, Decimal]] = {}
    for t in k.portfolio.trades:
        n, wins, total = out.get(t.instrument_id, (0, 0, Decimal(0)))
        out[t.instrument_id] = (n + 1, wins + (t.pnl > 0), total + t.pnl)
    return out


def account(k: Kernel) -> dict[str, Any]:
    a = k.portfolio.account()
    return {"currency": a.currency, "now_ns": k.cache.now_ns, "equity": a.equity, "cash": a.balance,
            "unrealized": a.unrealized_pnl, "margin_used": a.margin_used, "free_margin": a.free_margin,
            "commissions": a.commissions, "financing": a.financing,
            "starting_cash": k.portfolio.starting_cash}  # fmt: skip


def risk_state(k: Kernel, window: int) -> dict[str, Any]:
    """The risk engine's view now: states, kill switch, locks, overrides and the last `window` denials of this
    run (oldest dropped first)."""
    risk = k.risk
    now = k.cache.now_ns
    recent = list(risk.recent)[-window:] if window else []
    return {"now_ns": now, "system_state": risk.state.value,
            "states": {s: st.value for s, st in sorted(risk.states.all().items())},
            "kill_switch_engaged": k.kill_switch.engaged, "reconciling": risk.reconciling,
            "locks": [lock_json(lk) for lk in risk.locks.active(now)],
            "overrides": [{"scope": o.scope, "guard": o.guard, "until": iso(o.until_ns), "actor": o.actor,
                           "reason": o.reason} for o in risk.overrides.active(now)],
            "denials": recent, "by_reason": Counter(d.code for d in recent),
            "config": risk.config}  # fmt: skip
