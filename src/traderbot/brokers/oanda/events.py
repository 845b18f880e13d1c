"""OANDA transactions -> our order events, fills and order acks.

ORDER_FILL -> OrderFilled / BrokerFill (trade id = the fill transaction's id); MARKET_ORDER, LIMIT_ORDER,
STOP_ORDER, MARKET_IF_TOUCHED_ORDER -> OrderAccepted (or OrderUpdated when it replaces an order);
ORDER_CANCEL -> OrderCanceled (OrderExpired for TIME_IN_FORCE_EXPIRED; nothing for the cancel half of a
replace); *_ORDER_REJECT -> OrderRejected; ORDER_CANCEL_REJECT -> OrderCancelRejected. The client order id
comes from clientExtensions.id or clientOrderID. OANDA does not know our strategy ids, so they are "".
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import replace
from decimal import Decimal
from typing import Any

from traderbot.brokers.base import ZERO, BrokerFill, BrokerOrder, MalformedMessage
from traderbot.brokers.oanda.mapping import to_order, with_fill
from traderbot.brokers.oanda.wire import SymbolMap, dec, opt_dec, parse_time, text
from traderbot.core.messages import (
    OrderAccepted,
    OrderCanceled,
    OrderCancelRejected,
    OrderEvent,
    OrderExpired,
    OrderFilled,
    OrderRejected,
    OrderUpdated,
)
from traderbot.model.enums import OrderSide, OrderStatus

CREATE_TYPES = frozenset({"MARKET_ORDER", "LIMIT_ORDER", "STOP_ORDER", "MARKET_IF_TOUCHED_ORDER"})
_REPLACED = "CLIENT_REQUEST_REPLACED"


class OrderIndex:
    """venue order id -> (client order id, instrument id), learned from what the adapter has seen."""

    def __init__(self, limit: int = 50_000) -> None:
        self._known: OrderedDict[str, tuple[str, str]] = OrderedDict()
        self._limit = limit

    def remember(self, venue_order_id: str, client_order_id: str, instrument_id: str) -> None:
        self._known[venue_order_id] = (client_order_id, instrument_id)
        self._known.move_to_end(venue_order_id)
        while len(self._known) > self._limit:
            self._known.popitem(last=False)

    def get(self, venue_order_id: str) -> tuple[str, str] | None:
        return self._known.get(venue_order_id)


def _client_id(tx: Mapping[str, Any]) -> str:
    ext = tx.get("clientExtensions")
    if isinstance(ext, dict) and ext.get("id"):
        return str(ext["id"])
    return str(tx.get("clientOrderID") or "")


def fill_detail(tx: Mapping[str, Any]) -> tuple[Decimal, Decimal, Decimal]:
    """(signed units, average price, commission) of an ORDER_FILL.

    Units are the sum of tradeOpened, tradesClosed and tradeReduced when present (they must equal
    `units`). The price is fullVWAP (else the deprecated `price`); commission includes any guaranteed
    execution fee. Financing belongs to the closed trades' P&L, not to the execution cost.
    """
    tid = tx.get("id")
    units = dec(tx.get("units"), f"ORDER_FILL {tid} units")
    parts = [tx.get("tradeOpened"), tx.get("tradeReduced"), *(tx.get("tradesClosed") or [])]
    legs = [dec(p.get("units"), f"ORDER_FILL {tid} trade units") for p in parts if isinstance(p, dict)]
    if legs and sum(legs) != units:
        raise MalformedMessage(f"OANDA ORDER_FILL {tid}: trade units {legs} do not add up to units {units}")
    price = opt_dec(tx.get("fullVWAP"), "fullVWAP") or opt_dec(tx.get("price"), "price")
    if price is None:
        opened = tx.get("tradeOpened") or {}
        price = dec(opened.get("price"), f"ORDER_FILL {tid} price")
    fee = dec(tx.get("commission", "0"), "commission") + dec(tx.get("guaranteedExecutionFee", "0"), "fee")
    return units, price, fee


def to_fill(tx: Mapping[str, Any], symbols: SymbolMap, currency: str, index: OrderIndex) -> BrokerFill:
    units, price, fee = fill_detail(tx)
    order_id = text(tx, "orderID")
    known = index.get(order_id)
    return BrokerFill(
        trade_id=text(tx, "id"),
        client_order_id=_client_id(tx) or (known[0] if known else ""),
        venue_order_id=order_id,
        instrument_id=symbols.learn(text(tx, "instrument")),
        side=OrderSide.BUY if units > 0 else OrderSide.SELL,
        quantity=abs(units),
        price=price,
        ts=parse_time(tx.get("time"), "ORDER_FILL time"),
        commission=fee,
        commission_currency=currency,
    )


def to_event(
    tx: Mapping[str, Any], symbols: SymbolMap, currency: str, index: OrderIndex
) -> OrderEvent | None:
    """The order event of one transaction, or None for transactions that are not about our orders."""
    kind = str(tx.get("type", ""))
    if kind == "ORDER_FILL":
        f = to_fill(tx, symbols, currency, index)
        return OrderFilled(
            f.client_order_id,
            f.instrument_id,
            "",
            f.ts,
            "",
            f.trade_id,
            f.side.value,
            f.quantity,
            f.price,
            f.commission,
            f.commission_currency,
            f.venue_order_id,
        )
    ts = parse_time(tx.get("time"), f"{kind} time")
    if kind in CREATE_TYPES:
        tx_id, client = text(tx, "id"), _client_id(tx)
        instrument = symbols.learn(text(tx, "instrument"))
        index.remember(tx_id, client, instrument)
        if tx.get("replacesOrderID"):
            units = dec(tx.get("units"), "units")
            price = opt_dec(tx.get("price"), "price")
            is_stop = kind == "STOP_ORDER"
            return OrderUpdated(
                client,
                instrument,
                "",
                ts,
                f"REPLACED:{tx['replacesOrderID']}->{tx_id}",
                abs(units),
                opt_dec(tx.get("priceBound"), "priceBound") if is_stop else price,
                price if is_stop else None,
            )
        return OrderAccepted(client, instrument, "", ts, "", tx_id)
    if kind.endswith("_ORDER_REJECT"):
        name = tx.get("instrument")
        return OrderRejected(
            _client_id(tx), symbols.learn(str(name)) if name else "", "", ts, str(tx.get("rejectReason", ""))
        )
    if kind in ("ORDER_CANCEL", "ORDER_CANCEL_REJECT"):
        order_id = str(tx.get("orderID", ""))
        known = index.get(order_id) or ("", "")
        client, instrument = _client_id(tx) or known[0], known[1]
        if kind == "ORDER_CANCEL_REJECT":
            return OrderCancelRejected(client, instrument, "", ts, str(tx.get("rejectReason", "")))
        reason = str(tx.get("reason", ""))
        if reason == _REPLACED or tx.get("replacedByOrderID"):
            return None  # the replacing order's transaction reports the change
        if reason == "TIME_IN_FORCE_EXPIRED":
            return OrderExpired(client, instrument, "", ts, reason)
        return OrderCanceled(client, instrument, "", ts, reason)
    return None


def ack(create: Any, fill: Any, cancel: Any, symbols: SymbolMap) -> BrokerOrder:
    """The BrokerOrder from a create (or replace, or close) answer: accepted, filled, or canceled with a reason."""
    if not isinstance(create, dict):
        raise MalformedMessage("OANDA accepted the request but sent no order create transaction")
    raw = dict(create, type=text(create, "type").removesuffix("_ORDER"), state="PENDING")
    raw["createTime"] = create.get("time")
    out = to_order(raw, symbols)
    reason = str(cancel.get("reason", "")) if isinstance(cancel, dict) else ""
    if isinstance(fill, dict):
        filled, price, _ = fill_detail(fill)
        return replace(with_fill(out, abs(filled), price, final=isinstance(cancel, dict)), reason=reason)
    if isinstance(cancel, dict):
        status = OrderStatus.EXPIRED if reason == "TIME_IN_FORCE_EXPIRED" else OrderStatus.CANCELED
        return replace(out, status=status, reason=reason)
    return out


def fills_of(transactions: Sequence[Mapping[str, Any]], order_id: str) -> tuple[Decimal, Decimal | None, str]:
    """(filled units, average price, cancel reason) of one order from its ORDER_FILL/ORDER_CANCEL transactions."""
    qty, cost, reason = ZERO, ZERO, ""
    for tx in transactions:
        if str(tx.get("orderID")) != order_id:
            continue
        if tx.get("type") == "ORDER_FILL":
            units, price, _ = fill_detail(tx)
            qty += abs(units)
            cost += abs(units) * price
        elif tx.get("type") == "ORDER_CANCEL":
            reason = str(tx.get("reason", ""))
    return qty, (cost / qty if qty else None), reason
