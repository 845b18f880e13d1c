"""JSON views of orders, positions, round trips, locks and denials, the same whether they come from the running
kernel or from the database. Money and quantities are exact decimal strings, never in exponent notation."""

from __future__ import annotations

import json
from collections.abc import Mapping
from decimal import Decimal
from typing import TYPE_CHECKING, Any, NamedTuple

from traderbot.api.views import iso

if TYPE_CHECKING:  # types only: the standalone API does not import the kernel
    from traderbot.model.order import Order
    from traderbot.risk.engine import Denial
    from traderbot.risk.locks import Lock

ZERO = Decimal(0)


def dec(d: Decimal | None) -> str | None:
    """An exact decimal string without exponent ('1000', '0.00012'), or None."""
    if d is None:
        return None
    return format(d.copy_abs() if d.is_zero() else d, "f")  # no "-0.000"


def order_json(o: Order) -> dict[str, Any]:
    """An order of the kernel's cache."""
    return _order(o.client_order_id, o.instrument_id, o.strategy_id, o.side.value, o.type.value, o.quantity,
                  o.price, o.trigger_price, o.time_in_force.value, o.reduce_only, o.status.value, o.is_open,
                  o.filled_qty, o.filled_cost, o.venue_order_id, o.reason, o.tag, o.parent_id, o.external,
                  o.ts_init)  # fmt: skip


def order_row_json(r: Mapping[Any, Any], is_open: bool) -> dict[str, Any]:
    """A row of the order journal's `orders` table."""
    extra = json.loads(r["extra"] or "{}")
    return _order(r["client_order_id"], r["instrument_id"], r["strategy_id"], r["side"], r["type"],
                  Decimal(r["quantity"]), _opt(r["price"]), _opt(r["trigger_price"]), r["time_in_force"],
                  bool(r["reduce_only"]), r["status"], is_open, Decimal(r["filled_qty"]), Decimal(r["filled_cost"]),
                  r["venue_order_id"], r["reason"], extra.get("tag", ""), extra.get("parent_id"),
                  bool(extra.get("external", False)), r["ts_init"])  # fmt: skip


def _opt(text: str | None) -> Decimal | None:
    return None if text is None else Decimal(text)


def _order(coid: str, pair: str, strategy: str, side: str, otype: str, qty: Decimal, price: Decimal | None,
           trigger: Decimal | None, tif: str, reduce_only: bool, status: str, is_open: bool, filled: Decimal,
           filled_cost: Decimal, venue_id: str | None, reason: str, tag: str, parent_id: str | None,
           external: bool, ts_init: int) -> dict[str, Any]:  # fmt: skip
    return {"client_order_id": coid, "pair": pair, "strategy": strategy, "side": side, "type": otype,
            "quantity": dec(qty), "price": dec(price), "trigger_price": dec(trigger), "time_in_force": tif,
            "reduce_only": reduce_only, "status": status, "open": is_open, "filled_qty": dec(filled),
            "avg_fill_price": dec(filled_cost / filled) if filled else None, "venue_order_id": venue_id,
            "reason": reason, "tag": tag, "parent_id": parent_id, "external": external,
            "created": iso(ts_init), "created_ns": ts_init}  # fmt: skip


class PositionFacts(NamedTuple):
    """What both sources know of one open position; P&L and exposure are computed from these alone.

    `cost_basis` is sum(price x quantity) of the open quantity (quote currency); `rate` converts the quote
    currency to the account currency (None: no rate known)."""

    strategy: str
    pair: str
    quantity: Decimal  # signed
    avg_price: Decimal
    cost_basis: Decimal
    realized_quote: Decimal
    multiplier: Decimal
    quote: str
    mark: Decimal | None
    mark_ns: int | None
    rate: Decimal | None
    opened_ns: int | None


def _times(x: Decimal | None, rate: Decimal | None) -> Decimal | None:
    return None if x is None or rate is None else x * rate


def unrealized_quote(p: PositionFacts) -> Decimal | None:
    """sign x (mark x |qty| - cost_basis) x multiplier, in the quote currency (None without a mark)."""
    if p.mark is None:
        return None
    sign = 1 if p.quantity > 0 else -1
    return sign * (p.mark * abs(p.quantity) - p.cost_basis) * p.multiplier


def unrealized(p: PositionFacts) -> Decimal | None:
    """The unrealized P&L in the account currency (None without a mark or a rate)."""
    return _times(unrealized_quote(p), p.rate)


def position_json(p: PositionFacts, mark_source: str) -> dict[str, Any]:
    """unrealized (see unrealized_quote) and exposure = |qty| x mark x multiplier, in the quote currency, then
    x rate into the account currency (realized P&L too, at the current rate)."""
    unreal = unrealized_quote(p)
    exposure = None if p.mark is None else abs(p.quantity) * p.mark * p.multiplier
    return {"pair": p.pair, "strategy": p.strategy, "side": "long" if p.quantity > 0 else "short",
            "quantity": dec(p.quantity), "avg_price": dec(p.avg_price), "mark": dec(p.mark),
            "mark_time": iso(p.mark_ns), "mark_source": mark_source, "quote_currency": p.quote,
            "unrealized_pnl_quote": dec(unreal), "realized_pnl_quote": dec(p.realized_quote),
            "unrealized_pnl": dec(_times(unreal, p.rate)), "realized_pnl": dec(_times(p.realized_quote, p.rate)),
            "exposure": dec(_times(exposure, p.rate)), "opened": iso(p.opened_ns)}  # fmt: skip


def position_totals(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Sums over the positions in the account currency; a sum is null when one of its terms is unknown."""

    def total(name: str) -> str | None:
        values = [r[name] for r in rows]
        return None if None in values else dec(sum((Decimal(v) for v in values), ZERO))

    return {"count": len(rows), "exposure": total("exposure"), "unrealized_pnl": total("unrealized_pnl"),
            "realized_pnl": total("realized_pnl")}  # fmt: skip


def rate_from(prices: Mapping[str, Decimal], from_ccy: str, to_ccy: str) -> Decimal | None:
    """The rate from one currency to another out of pair prices (FROMTO, or 1 / TOFROM), as Cache.rate."""
    if from_ccy == to_ccy:
        return Decimal(1)
    direct = prices.get(from_ccy + to_ccy)
    if direct:
        return direct
    inverse = prices.get(to_ccy + from_ccy)
    return Decimal(1) / inverse if inverse else None


def trade_json(t: Mapping[str, Any]) -> dict[str, Any]:
    """A closed round trip (core.messages.TradeClosed as a mapping; money in the account currency, pnl net of
    commissions and financing)."""
    return {"pair": t["instrument_id"], "strategy": t["strategy_id"], "side": t["side"],
            "quantity": dec(Decimal(t["quantity"])), "entry_time": iso(t["entry_ts"]), "entry_ns": t["entry_ts"],
            "exit_time": iso(t["exit_ts"]), "exit_ns": t["exit_ts"], "entry_price": dec(Decimal(t["entry_price"])),
            "exit_price": dec(Decimal(t["exit_price"])), "pnl": dec(Decimal(t["pnl"])),
            "commission": dec(Decimal(t["commission"])),
            "entry_notional": dec(Decimal(t["entry_notional"]))}  # fmt: skip


def lock_json(lk: Lock) -> dict[str, Any]:
    return {"scope": lk.scope, "source": lk.source, "action": lk.action.value, "reason": lk.reason,
            "since": iso(lk.since_ns), "until": iso(lk.until_ns)}  # fmt: skip


def denial_json(d: Denial) -> dict[str, Any]:
    return {"time": iso(d.ts), "ts_ns": d.ts, "client_order_id": d.client_order_id, "strategy": d.strategy_id,
            "pair": d.instrument_id, "side": d.side, "quantity": d.quantity, "code": d.code,
            "reason": d.reason}  # fmt: skip


def exposure_json(facts: list[PositionFacts], limits: Any) -> dict[str, Any]:
    """Net exposure per pair (|net quantity| x mark x multiplier x rate, account currency; open orders not
    counted) against the configured limits (`risk.config_sections.LimitsConfig`, None: no configuration)."""
    nets: dict[str, tuple[Decimal, PositionFacts]] = {}
    for f in facts:
        net, _ = nets.get(f.pair, (ZERO, f))
        nets[f.pair] = (net + f.quantity, f)
    pairs = []
    gross: Decimal | None = ZERO
    for pair, (net, f) in sorted(nets.items()):
        if not net:
            continue
        value = None if f.mark is None or f.rate is None else abs(net) * f.mark * f.multiplier * f.rate
        gross = None if gross is None or value is None else gross + value
        cap = None if limits is None else limits.pair(pair, "max_position_notional")
        qty_cap = None if limits is None else limits.pair(pair, "max_position_quantity")
        pairs.append({"pair": pair, "net_quantity": dec(net), "exposure": dec(value), "limit": dec(cap),
                      "used_pct": _pct(value, cap), "quantity_limit": dec(qty_cap)})  # fmt: skip
    cap = None if limits is None else limits.max_portfolio_notional
    most = None if limits is None else limits.max_open_positions
    return {"pairs": pairs, "gross": dec(gross), "gross_limit": dec(cap), "gross_used_pct": _pct(gross, cap),
            "open_positions": len(pairs), "open_positions_limit": most,
            "configured": limits is not None}  # fmt: skip


def _pct(value: Decimal | None, cap: Decimal | None) -> str | None:
    if value is None or not cap:
        return None
    return dec((value / cap * 100).quantize(Decimal("0.01")))
