"""Our Order -> the arguments of ccxt's `create_order`, checked against the market's rules before sending.

A quantity or price that is not on the market's grid is refused here (BrokerRejected with
INVALID_QUANTITY_PRECISION / INVALID_PRICE_PRECISION), as is a quantity under the market's minimum
(QUANTITY_BELOW_MINIMUM): ccxt's `amount_to_precision` / `price_to_precision` are used only to *check*,
never to round what the strategy asked for, and no request reaches the exchange.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import ccxt

from traderbot.brokers.base import BrokerRejected
from traderbot.brokers.ccxt.mapping import dec
from traderbot.model.enums import OrderType, TimeInForce
from traderbot.model.order import Order


@dataclass(frozen=True, slots=True)
class CcxtOrderArgs:
    symbol: str
    type: str  # ccxt's "market" / "limit"; stops add params["triggerPrice"]
    side: str
    amount: str
    price: str | None
    params: dict[str, Any] = field(default_factory=dict)


def features(exchange: Any, market: dict[str, Any]) -> dict[str, Any]:
    """ccxt's `features` entry for the market's type (spot, or swap/future linear/inverse)."""
    entry = (getattr(exchange, "features", None) or {}).get(market.get("type")) or {}
    if market.get("contract") and isinstance(entry, dict) and ("linear" in entry or "inverse" in entry):
        entry = entry.get("linear" if market.get("linear") else "inverse") or {}
    return entry if isinstance(entry, dict) else {}


def check_amount(exchange: Any, symbol: str, quantity: Decimal, what: str) -> str:
    """The quantity as the exchange wants it written, or BrokerRejected if it is off-grid or too small."""
    if quantity <= 0:
        raise BrokerRejected(f"{what}: quantity {quantity} must be positive.", code="INVALID_QUANTITY")
    market = exchange.market(symbol)
    text = format(quantity, "f")
    try:
        on_grid = dec(exchange.amount_to_precision(symbol, text))
    except ccxt.BaseError:  # ccxt refuses amounts that truncate to zero
        on_grid = None
    step = market.get("precision", {}).get("amount")
    if on_grid != quantity:
        raise BrokerRejected(
            f"{what}: quantity {text} is not a multiple of {symbol}'s amount precision {step}; "
            "round it before sending.",
            code="INVALID_QUANTITY_PRECISION",
        )
    limits = (market.get("limits") or {}).get("amount") or {}
    low, high = dec(limits.get("min")), dec(limits.get("max"))
    if low is not None and quantity < low:
        raise BrokerRejected(
            f"{what}: quantity {text} is below {symbol}'s minimum {low.normalize()}.",
            code="QUANTITY_BELOW_MINIMUM",
        )
    if high is not None and quantity > high:
        raise BrokerRejected(
            f"{what}: quantity {text} is above {symbol}'s maximum {high.normalize()}.",
            code="QUANTITY_ABOVE_MAXIMUM",
        )
    return text


def check_price(exchange: Any, symbol: str, price: Decimal, what: str) -> str:
    if price <= 0:
        raise BrokerRejected(f"{what}: price {price} must be positive.", code="INVALID_PRICE")
    text = format(price, "f")
    try:
        on_grid = dec(exchange.price_to_precision(symbol, text))
    except ccxt.BaseError:
        on_grid = None
    if on_grid != price:
        tick = exchange.market(symbol).get("precision", {}).get("price")
        raise BrokerRejected(
            f"{what}: price {text} is not on {symbol}'s price grid ({tick}); round it before sending.",
            code="INVALID_PRICE_PRECISION",
        )
    return text


def check_notional(exchange: Any, symbol: str, quantity: Decimal, price: Decimal | None, what: str) -> None:
    low = dec(((exchange.market(symbol).get("limits") or {}).get("cost") or {}).get("min"))
    if price is not None and low is not None and quantity * price < low:
        raise BrokerRejected(
            f"{what}: order value {quantity * price} is below {symbol}'s minimum {low.normalize()}.",
            code="NOTIONAL_BELOW_MINIMUM",
        )


def build_args(
    exchange: Any,
    order: Order,
    symbol: str,
    *,
    client_id: str,
    quantity: Decimal,
    price: Decimal | None = None,
    trigger_price: Decimal | None = None,
) -> CcxtOrderArgs:
    """Validated create_order arguments; `price`/`trigger_price` default to the order's own."""
    what = f"order {order.client_order_id}"
    market = exchange.market(symbol)
    feats = features(exchange, market).get("createOrder") or {}
    price = price if price is not None else order.price
    trigger = trigger_price if trigger_price is not None else order.trigger_price
    kind = order.type
    if kind is OrderType.TRAILING_STOP:
        raise BrokerRejected(
            f"{what}: trailing stops are not sent through ccxt.", code="UNSUPPORTED_ORDER_TYPE"
        )
    if kind in (OrderType.LIMIT, OrderType.STOP_LIMIT) and price is None:
        raise BrokerRejected(f"{what}: a {kind.value} order needs a limit price.", code="PRICE_REQUIRED")
    if kind in (OrderType.STOP, OrderType.STOP_LIMIT):
        if trigger is None:
            raise BrokerRejected(
                f"{what}: a {kind.value} order needs a trigger price.", code="TRIGGER_PRICE_REQUIRED"
            )
        if feats.get("triggerPrice") is False:
            raise BrokerRejected(
                f"{what}: {exchange.id} takes no trigger price for {symbol}.", code="UNSUPPORTED_ORDER_TYPE"
            )
    amount = check_amount(exchange, symbol, quantity, what)
    params: dict[str, Any] = {"clientOrderId": client_id}
    limit_price = price if kind in (OrderType.LIMIT, OrderType.STOP_LIMIT) else None
    price_text = check_price(exchange, symbol, limit_price, what) if limit_price is not None else None
    if kind in (OrderType.STOP, OrderType.STOP_LIMIT) and trigger is not None:
        params["triggerPrice"] = check_price(exchange, symbol, trigger, what)
    check_notional(exchange, symbol, quantity, limit_price, what)
    if limit_price is not None and order.time_in_force is not TimeInForce.GTC:
        tif = order.time_in_force.value.upper()
        if not (feats.get("timeInForce") or {}).get(tif):
            raise BrokerRejected(
                f"{what}: {exchange.id} does not offer time in force {tif} for {symbol}.",
                code="UNSUPPORTED_TIME_IN_FORCE",
            )
        params["timeInForce"] = tif
    if order.reduce_only and market.get("contract"):
        params["reduceOnly"] = True
    ccxt_type = "limit" if limit_price is not None else "market"
    return CcxtOrderArgs(symbol, ccxt_type, order.side.value, amount, price_text, params)
