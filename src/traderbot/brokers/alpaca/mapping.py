"""Conversions between Alpaca's Trading API v2 JSON and our types, exact throughout.

Alpaca sends quantities, prices and money as JSON strings ("qty": "10", "cash": "1000.50"); the transport
parses any JSON number as a Decimal too, so nothing passes through a binary float.

Replacements: Alpaca's PATCH creates a new order with a new id. We give it the client order id
`<ours>~r<n>` (Alpaca requires a fresh one), and `base_client_id` maps it back to ours everywhere.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from traderbot.brokers.base import (
    BrokerAccount,
    BrokerFill,
    BrokerOrder,
    BrokerPosition,
    BrokerRejected,
    MalformedMessage,
)
from traderbot.model.enums import OrderSide, OrderStatus, OrderType, TimeInForce
from traderbot.model.order import Order

_TS = re.compile(r"^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(\d{1,9}))?(Z|[+-]\d{2}:\d{2})$")
_REPLACEMENT = re.compile(r"^(.+)~r(\d+)$")

_WORKING = {"new", "accepted", "pending_new", "accepted_for_bidding", "held", "pending_cancel"}
_WORKING |= {"pending_replace", "pending_review", "stopped", "suspended", "done_for_day", "calculated"}
_FINAL = {
    "filled": OrderStatus.FILLED,
    "canceled": OrderStatus.CANCELED,
    "expired": OrderStatus.EXPIRED,
    "rejected": OrderStatus.REJECTED,
    "replaced": OrderStatus.CANCELED,  # only when its replacement cannot be followed
}
_TYPES = {t.value: t for t in OrderType}
_TIF = {"gtc": TimeInForce.GTC, "day": TimeInForce.DAY, "ioc": TimeInForce.IOC, "fok": TimeInForce.FOK}
_TIF |= {"opg": TimeInForce.DAY, "cls": TimeInForce.DAY}


# ---- scalars --------------------------------------------------------------------------------------------------
def dec(value: Any, field: str) -> Decimal:
    """An exact Decimal from Alpaca's string (or Decimal-parsed number); MalformedMessage otherwise."""
    if isinstance(value, Decimal):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return Decimal(value)
    if isinstance(value, str):
        try:
            out = Decimal(value)
        except InvalidOperation:
            pass
        else:
            if out.is_finite():
                return out
    raise MalformedMessage(f"Alpaca field {field!r} is not a decimal number: {value!r}")


def opt_dec(value: Any, field: str) -> Decimal | None:
    return None if value is None or value == "" else dec(value, field)


def text(d: Decimal) -> str:
    """A Decimal as Alpaca wants it: plain notation, never "1E+2"."""
    return format(d, "f")


def parse_ts(value: Any) -> int:
    """RFC 3339 ("2024-01-02T15:04:05.123456789Z") -> UTC nanoseconds, keeping all nine digits."""
    m = _TS.match(value) if isinstance(value, str) else None
    if m is None:
        raise MalformedMessage(f"Alpaca timestamp is not RFC 3339: {value!r}")
    whole = datetime.fromisoformat(m.group(1) + ("+00:00" if m.group(3) == "Z" else m.group(3)))
    return int(whole.timestamp()) * 1_000_000_000 + int((m.group(2) or "0").ljust(9, "0"))


def iso(ns: int) -> str:
    """UTC nanoseconds -> RFC 3339 query parameter, floored to the microsecond."""
    secs, frac = divmod(ns, 1_000_000_000)
    return datetime.fromtimestamp(secs, UTC).strftime("%Y-%m-%dT%H:%M:%S") + f".{frac // 1000:06d}Z"


def base_client_id(client_order_id: str) -> str:
    m = _REPLACEMENT.match(client_order_id)
    return m.group(1) if m else client_order_id


def next_replacement_id(current: str) -> str:
    m = _REPLACEMENT.match(current)
    return f"{m.group(1)}~r{int(m.group(2)) + 1}" if m else f"{current}~r1"


# ---- orders -----------------------------------------------------------------------------------------------------
def order_status(raw: dict[str, Any]) -> OrderStatus:
    """Alpaca's order status -> ours. Working states become ACCEPTED, or PARTIALLY_FILLED once filled."""
    status = str(raw.get("status", ""))
    if status in _FINAL:
        return _FINAL[status]
    filled = opt_dec(raw.get("filled_qty"), "filled_qty") or Decimal(0)
    if status == "partially_filled" or (status in _WORKING and filled > 0):
        return OrderStatus.PARTIALLY_FILLED
    if status not in _WORKING:
        raise MalformedMessage(f"Alpaca order {raw.get('id')} has an unknown status {status!r}")
    return OrderStatus.ACCEPTED


def broker_order(raw: dict[str, Any], client_order_id: str | None = None) -> BrokerOrder:
    """An Alpaca order object -> BrokerOrder under our client order id (replacements mapped back)."""
    try:
        filled = opt_dec(raw.get("filled_qty"), "filled_qty") or Decimal(0)
        qty = opt_dec(raw.get("qty"), "qty")
        stamp = raw.get("updated_at") or raw.get("submitted_at") or raw.get("created_at")
        return BrokerOrder(
            client_order_id=client_order_id or base_client_id(str(raw.get("client_order_id") or "")),
            venue_order_id=str(raw["id"]),
            instrument_id=str(raw["symbol"]),
            side=OrderSide(raw["side"]),
            type=_TYPES[str(raw.get("type") or raw.get("order_type"))],
            quantity=qty if qty is not None else filled,  # notional orders have no qty until filled
            status=order_status(raw),
            filled_qty=filled,
            avg_price=opt_dec(raw.get("filled_avg_price"), "filled_avg_price"),
            price=opt_dec(raw.get("limit_price"), "limit_price"),
            trigger_price=opt_dec(raw.get("stop_price"), "stop_price"),
            time_in_force=_TIF.get(str(raw.get("time_in_force")), TimeInForce.GTC),
            ts=parse_ts(stamp) if stamp else 0,
        )
    except (KeyError, ValueError) as exc:
        raise MalformedMessage(f"Alpaca order object lacks a documented field: {exc!r}") from exc


def _unsupported(order: Order, why: str) -> BrokerRejected:
    return BrokerRejected(f"order {order.client_order_id} cannot go to Alpaca: {why}.", code="UNSUPPORTED")


def _bracket_fields(order: Order) -> dict[str, Any]:
    b = order.bracket
    if b is None:
        return {}
    if b.trailing_offset is not None or b.trailing_atr_multiple is not None:
        raise _unsupported(order, "Alpaca brackets take a fixed stop-loss price, not a trailing stop")
    if len(b.take_profits) > 1 or any(tp.fraction != 1 for tp in b.take_profits):
        raise _unsupported(order, "Alpaca brackets take one take-profit for the whole quantity")
    out: dict[str, Any] = {}
    if b.take_profits:
        out["take_profit"] = {"limit_price": text(b.take_profits[0].price)}
    if b.stop_loss is not None:
        out["stop_loss"] = {"stop_price": text(b.stop_loss)}
    if out:  # both legs: a bracket; one leg: one-triggers-other
        out["order_class"] = "bracket" if len(out) == 2 else "oto"
    return out


def order_payload(order: Order, notional: Decimal | None = None) -> dict[str, Any]:
    """The JSON body of POST /v2/orders, with our client order id; prices and sizes as exact strings."""
    p: dict[str, Any] = {
        "symbol": order.instrument_id,
        "side": order.side.value,
        "type": order.type.value,
        "time_in_force": order.time_in_force.value,
        "client_order_id": order.client_order_id,
    }
    if notional is not None:
        if order.type is not OrderType.MARKET:
            raise _unsupported(order, "equity-fraction sizing is sent as a notional market order")
        p["notional"], p["time_in_force"] = text(notional), "day"  # Alpaca: notional orders are DAY only
    elif order.quantity > 0:
        p["qty"] = text(order.quantity)
    else:
        raise _unsupported(order, f"quantity must be positive, got {order.quantity}")
    if order.type in (OrderType.LIMIT, OrderType.STOP_LIMIT):
        if order.price is None:
            raise _unsupported(order, f"a {order.type.value} order needs a limit price")
        p["limit_price"] = text(order.price)
    if order.type in (OrderType.STOP, OrderType.STOP_LIMIT):
        if order.trigger_price is None:
            raise _unsupported(order, f"a {order.type.value} order needs a stop (trigger) price")
        p["stop_price"] = text(order.trigger_price)
    if order.type is OrderType.TRAILING_STOP:
        if order.trailing_offset is None:
            raise _unsupported(order, "Alpaca trailing stops need a fixed offset (trail_price), not ATR")
        p["trail_price"] = text(order.trailing_offset)
    p.update(_bracket_fields(order))
    return p


# ---- account, positions, fills ------------------------------------------------------------------------------------
def account(raw: dict[str, Any], ts: int) -> BrokerAccount:
    try:
        return BrokerAccount(
            account_id=str(raw.get("account_number") or raw["id"]),
            currency=str(raw.get("currency") or "USD"),
            balance=dec(raw["cash"], "cash"),
            equity=dec(raw["equity"], "equity"),
            margin_used=opt_dec(raw.get("initial_margin"), "initial_margin") or Decimal(0),
            margin_available=dec(raw["buying_power"], "buying_power"),
            ts=ts,
        )
    except KeyError as exc:
        raise MalformedMessage(f"Alpaca account object lacks {exc}") from exc


def position(raw: dict[str, Any]) -> BrokerPosition | None:
    """A position with signed quantity (Alpaca gives side "long"/"short"); None when flat."""
    try:
        qty = abs(dec(raw["qty"], "qty"))
        signed = -qty if raw.get("side") == "short" else qty
        if signed == 0:
            return None
        return BrokerPosition(
            instrument_id=str(raw["symbol"]),
            quantity=signed,
            avg_price=dec(raw["avg_entry_price"], "avg_entry_price"),
            unrealized_pnl=opt_dec(raw.get("unrealized_pl"), "unrealized_pl") or Decimal(0),
        )
    except KeyError as exc:
        raise MalformedMessage(f"Alpaca position object lacks {exc}") from exc


def trade_id_of_activity(activity_id: str) -> str:
    """Activity ids are "<time>::<uuid>"; the uuid is the execution id the trade-updates stream sends."""
    return activity_id.rpartition("::")[2] or activity_id


def fill(raw: dict[str, Any], client_order_id: str) -> BrokerFill:
    """One FILL account activity -> BrokerFill ("sell_short" is a sell)."""
    try:
        return BrokerFill(
            trade_id=trade_id_of_activity(str(raw["id"])),
            client_order_id=client_order_id,
            venue_order_id=str(raw["order_id"]),
            instrument_id=str(raw["symbol"]),
            side=OrderSide.BUY if raw["side"] == "buy" else OrderSide.SELL,
            quantity=dec(raw["qty"], "qty"),
            price=dec(raw["price"], "price"),
            ts=parse_ts(raw["transaction_time"]),
        )
    except KeyError as exc:
        raise MalformedMessage(f"Alpaca FILL activity lacks {exc}") from exc
