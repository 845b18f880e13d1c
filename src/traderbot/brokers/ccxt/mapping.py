"""Conversions between ccxt's unified structures and ours.

The exchange is created with `exchange.number = str`, so every unified number arrives as the string ccxt
parsed from the exchange's own text and becomes an exact Decimal here; nothing passes through a float.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

from traderbot.brokers.base import BrokerFill, BrokerOrder, BrokerPosition, MalformedMessage
from traderbot.core.messages import OrderFilled
from traderbot.model.data import Bar
from traderbot.model.enums import OrderSide, OrderStatus, OrderType, TimeInForce
from traderbot.model.instrument import AssetClass, Instrument

ZERO = Decimal(0)
MS_NS = 1_000_000
_REPLACEMENT = re.compile(r"^(?P<base>.+)\.r(?P<n>\d+)$")
_TIF = {"GTC": TimeInForce.GTC, "IOC": TimeInForce.IOC, "FOK": TimeInForce.FOK, "DAY": TimeInForce.DAY}


def dec(value: Any, default: Decimal | None = None) -> Decimal | None:
    """An exact Decimal from ccxt's string (or int); None/"" -> default. Floats are refused, never rounded."""
    if value is None or value == "":
        return default
    if isinstance(value, float):
        raise MalformedMessage(f"a float reached the adapter ({value!r}); exchange.number must be str")
    try:
        return Decimal(str(value))
    except InvalidOperation:
        raise MalformedMessage(f"not a number: {value!r}") from None


def req_dec(value: Any, what: str) -> Decimal:
    out = dec(value)
    if out is None:
        raise MalformedMessage(f"the exchange sent no {what}")
    return out


def side_of(value: Any) -> OrderSide:
    if value not in ("buy", "sell"):
        raise MalformedMessage(f"the exchange sent side {value!r}, expected 'buy' or 'sell'")
    return OrderSide(value)


def ms_to_ns(ms: Any) -> int:
    return int(ms) * MS_NS if ms is not None else 0


# ---- client order ids: replacements are "<id>.r<n>" ----------------------------------------------------------
def replacement_id(base: str, n: int) -> str:
    return f"{base}.r{n}"


def split_client_id(venue_client_id: str) -> tuple[str, int]:
    """("O-1", 2) for "O-1.r2"; ("O-1", 0) for "O-1"."""
    m = _REPLACEMENT.match(venue_client_id)
    return (m["base"], int(m["n"])) if m else (venue_client_id, 0)


# ---- orders -------------------------------------------------------------------------------------------------
def order_status(o: Mapping[str, Any]) -> OrderStatus:
    status, filled = o.get("status"), dec(o.get("filled"), ZERO) or ZERO
    if status == "open":
        return OrderStatus.PARTIALLY_FILLED if filled > 0 else OrderStatus.ACCEPTED
    return {
        "closed": OrderStatus.FILLED,
        "canceled": OrderStatus.CANCELED,
        "cancelled": OrderStatus.CANCELED,
        "expired": OrderStatus.EXPIRED,
        "rejected": OrderStatus.REJECTED,
    }.get(str(status), OrderStatus.SUBMITTED)


def order_type(o: Mapping[str, Any]) -> OrderType:
    limit = o.get("type") == "limit"
    if dec(o.get("triggerPrice") or o.get("stopPrice")) is not None:
        return OrderType.STOP_LIMIT if limit else OrderType.STOP
    return OrderType.LIMIT if limit else OrderType.MARKET


def to_broker_order(
    o: Mapping[str, Any], instrument_id: str, client_order_id: str | None = None
) -> BrokerOrder:
    """A ccxt order structure as a BrokerOrder; the client id is ours (replacement suffix removed)."""
    cid = (
        client_order_id
        if client_order_id is not None
        else split_client_id(str(o.get("clientOrderId") or ""))[0]
    )
    filled = dec(o.get("filled"), ZERO) or ZERO
    return BrokerOrder(
        client_order_id=cid,
        venue_order_id=str(o.get("id") or ""),
        instrument_id=instrument_id,
        side=side_of(o.get("side")),
        type=order_type(o),
        quantity=req_dec(o.get("amount"), "order amount"),
        status=order_status(o),
        filled_qty=filled,
        avg_price=dec(o.get("average")) if filled > 0 else None,
        price=dec(o.get("price")) if o.get("type") == "limit" else None,
        trigger_price=dec(o.get("triggerPrice") or o.get("stopPrice")),
        time_in_force=_TIF.get(str(o.get("timeInForce") or "GTC").upper(), TimeInForce.GTC),
        ts=ms_to_ns(o.get("lastUpdateTimestamp") or o.get("timestamp")),
    )


def combine_chain(orders: list[BrokerOrder]) -> BrokerOrder:
    """One view of an order and its replacements: fills add up, the last venue order gives the rest.

    quantity = what the earlier venue orders filled + the last one's quantity; avg_price is the
    quantity-weighted average of all fills.
    """
    last = orders[-1]
    if len(orders) == 1:
        return last
    earlier = sum((o.filled_qty for o in orders[:-1]), ZERO)
    filled = earlier + last.filled_qty
    cost = sum(((o.avg_price or ZERO) * o.filled_qty for o in orders), ZERO)
    total = earlier + last.quantity
    status = (
        OrderStatus.PARTIALLY_FILLED if last.status is OrderStatus.ACCEPTED and filled > 0 else last.status
    )
    return BrokerOrder(
        client_order_id=last.client_order_id,
        venue_order_id=last.venue_order_id,
        instrument_id=last.instrument_id,
        side=last.side,
        type=last.type,
        quantity=total,
        status=status,
        filled_qty=filled,
        avg_price=cost / filled if filled else None,
        price=last.price,
        trigger_price=last.trigger_price,
        time_in_force=last.time_in_force,
        ts=last.ts,
        reason=last.reason,
    )


# ---- trades -------------------------------------------------------------------------------------------------
def to_broker_fill(t: Mapping[str, Any], instrument_id: str, client_order_id: str) -> BrokerFill:
    fee = t.get("fee") or {}
    return BrokerFill(
        trade_id=str(t["id"]),
        client_order_id=client_order_id,
        venue_order_id=str(t.get("order") or ""),
        instrument_id=instrument_id,
        side=side_of(t.get("side")),
        quantity=req_dec(t.get("amount"), "trade amount"),
        price=req_dec(t.get("price"), "trade price"),
        ts=ms_to_ns(t.get("timestamp")),
        commission=dec(fee.get("cost"), ZERO) or ZERO,
        commission_currency=str(fee.get("currency") or ""),
    )


def to_order_filled(f: BrokerFill) -> OrderFilled:
    return OrderFilled(
        client_order_id=f.client_order_id,
        instrument_id=f.instrument_id,
        strategy_id="",
        ts=f.ts,
        trade_id=f.trade_id,
        side=f.side.value,
        quantity=f.quantity,
        price=f.price,
        commission=f.commission,
        commission_currency=f.commission_currency,
        venue_order_id=f.venue_order_id,
    )


def average_cost(fills: list[BrokerFill]) -> tuple[Decimal, Decimal]:
    """(net quantity, average entry price) of fills, oldest first, by the average-cost method.

    Buys add quantity at their price; sells take quantity out at the running average (the average does not
    change); when the net quantity crosses zero the average restarts at the crossing fill's price.
    """
    qty, avg = ZERO, ZERO
    for f in fills:
        signed = f.quantity * f.side.sign
        if qty == 0 or (qty > 0) == (signed > 0):
            avg = (avg * abs(qty) + f.price * f.quantity) / (abs(qty) + f.quantity)
            qty += signed
        elif abs(signed) <= abs(qty):
            qty += signed
        else:
            qty, avg = qty + signed, f.price
    return qty, (avg if qty != 0 else ZERO)


# ---- positions, markets, candles ----------------------------------------------------------------------------
def to_broker_position(p: Mapping[str, Any], instrument_id: str) -> BrokerPosition | None:
    """A ccxt derivatives position; None when flat. `contracts` is unsigned in ccxt, `side` gives the sign."""
    contracts = dec(p.get("contracts"), ZERO) or ZERO
    if contracts == 0:
        return None
    size = contracts * (dec(p.get("contractSize"), Decimal(1)) or Decimal(1))
    signed = -size if p.get("side") == "short" else size
    return BrokerPosition(
        instrument_id=instrument_id,
        quantity=signed,
        avg_price=dec(p.get("entryPrice"), ZERO) or ZERO,
        unrealized_pnl=dec(p.get("unrealizedPnl"), ZERO) or ZERO,
    )


def step_of(precision: Any, mode: int) -> Decimal | None:
    """The increment a market precision stands for: TICK_SIZE mode gives it, DECIMAL_PLACES gives digits."""
    value = dec(precision)
    if value is None or value <= 0:
        return None
    if mode == 4:  # ccxt.TICK_SIZE
        return value
    if mode == 2:  # ccxt.DECIMAL_PLACES
        return Decimal(1).scaleb(-int(value))
    return None  # SIGNIFICANT_DIGITS has no fixed increment


def to_instrument(market: Mapping[str, Any], instrument_id: str, precision_mode: int) -> Instrument | None:
    """Our Instrument for a ccxt market; None when the exchange does not publish a price increment."""
    tick = step_of(market.get("precision", {}).get("price"), precision_mode)
    if tick is None:
        return None
    lot = step_of(market.get("precision", {}).get("amount"), precision_mode) or ZERO
    limits = market.get("limits") or {}
    min_qty = dec((limits.get("amount") or {}).get("min")) or lot
    leverage = dec((limits.get("leverage") or {}).get("max"))
    margin = Decimal(1) / leverage if market.get("contract") and leverage and leverage >= 1 else Decimal(1)
    return Instrument(
        id=instrument_id,
        asset_class=AssetClass.CRYPTO,
        base=str(market.get("base")),
        quote=str(market.get("quote")),
        pip_size=tick,
        tick_size=tick,
        lot_size=lot,
        min_quantity=min_qty,
        price_precision=max(0, -tick.normalize().as_tuple().exponent),  # type: ignore[operator]
        margin_rate=margin,
        calendar="24/7",
        multiplier=dec(market.get("contractSize"), Decimal(1)) or Decimal(1),
    )


def default_instrument_id(market: Mapping[str, Any]) -> str:
    """Our id for a market not in the symbol map: BTC/USDT -> BTCUSDT, BTC/USDT:USDT (swap) -> BTCUSDTPERP."""
    base_quote = f"{market.get('base')}{market.get('quote')}"
    if market.get("spot"):
        return base_quote
    if market.get("swap"):
        return f"{base_quote}PERP"
    return re.sub(r"[^A-Za-z0-9]", "", str(market.get("symbol")))


def to_bar(row: list[Any], instrument_id: str, timeframe: str, step_ns: int) -> Bar:
    ts = ms_to_ns(row[0])
    o, h, lo, c = (float(req_dec(v, "candle price")) for v in row[1:5])
    return Bar(instrument_id, timeframe, ts, ts + step_ns, o, h, lo, c, float(dec(row[5], ZERO) or ZERO))
