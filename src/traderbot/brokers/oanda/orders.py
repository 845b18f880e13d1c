"""Our orders -> OANDA OrderRequests, validated before anything is sent.

MARKET orders are FOK unless ours says IOC; LIMIT/STOP keep their time in force (DAY -> GFD). Units are
signed (negative sells) and must fit the instrument's tradeUnitsPrecision; prices are written at its
displayPrecision. `clientExtensions.id` (and `tradeClientExtensions.id`) carry our client order id, so the
order can be found again by `@<client id>` after a timeout. A bracket becomes stopLossOnFill /
takeProfitOnFill (first target) / trailingStopLossOnFill.
"""

from __future__ import annotations

import logging
from decimal import Decimal
from typing import Any

from traderbot.brokers.base import BrokerRejected
from traderbot.brokers.oanda.mapping import OandaInstrumentSpec
from traderbot.brokers.oanda.wire import quantum
from traderbot.model.enums import OrderSide, OrderType, TimeInForce
from traderbot.model.order import Order

log = logging.getLogger("traderbot.brokers.oanda")

_TIF = {TimeInForce.GTC: "GTC", TimeInForce.DAY: "GFD", TimeInForce.IOC: "IOC", TimeInForce.FOK: "FOK"}
MAX_CLIENT_ID = 128  # OANDA ClientID: at most 128 characters


def _reject(order: Order, code: str, sentence: str) -> BrokerRejected:
    err = BrokerRejected(f"order {order.client_order_id}: {sentence}", code=code)
    log.warning("%s", err)
    return err


def signed_units(order: Order, spec: OandaInstrumentSpec, quantity: Decimal | None = None) -> str:
    """The units string, or BrokerRejected INVALID_QUANTITY_PRECISION before any request is made."""
    qty = order.quantity if quantity is None else quantity
    if order.equity_fraction is not None:
        raise _reject(
            order, "UNSUPPORTED_SIZING", "OANDA needs units; convert equity-fraction sizing to units first."
        )
    step = quantum(spec.trade_units_precision)
    if qty <= 0 or qty != qty.quantize(step):
        raise _reject(
            order,
            "INVALID_QUANTITY_PRECISION",
            f"{qty} units of {spec.name} is not a positive multiple of {step} "
            f"(tradeUnitsPrecision {spec.trade_units_precision}); round the quantity.",
        )
    if qty < spec.minimum_trade_size:
        raise _reject(
            order,
            "UNITS_MINIMUM_NOT_MET",
            f"{qty} units is below {spec.name}'s minimum of {spec.minimum_trade_size}.",
        )
    units = qty.quantize(step)
    return str(units if order.side is OrderSide.BUY else -units)


def _price(order: Order, spec: OandaInstrumentSpec, value: Decimal | None, what: str) -> str:
    if value is None or value <= 0:
        raise _reject(order, "INVALID_PRICE", f"a {order.type.value} order needs a positive {what}.")
    formatted = spec.format_price(value)
    if Decimal(formatted) != value:
        log.info(
            "order %s: %s %s rounded to %s (displayPrecision)", order.client_order_id, what, value, formatted
        )
    return formatted


def order_request(
    order: Order,
    spec: OandaInstrumentSpec,
    *,
    quantity: Decimal | None = None,
    price: Decimal | None = None,
    trigger_price: Decimal | None = None,
) -> dict[str, Any]:
    """The `order` body for POST /orders (or PUT /orders/{spec} with the replacing values)."""
    if len(order.client_order_id) > MAX_CLIENT_ID or not order.client_order_id:
        raise _reject(
            order, "INVALID_CLIENT_ORDER_ID", f"OANDA client ids are 1 to {MAX_CLIENT_ID} characters."
        )
    limit = order.price if price is None else price
    trigger = order.trigger_price if trigger_price is None else trigger_price
    ext = {"id": order.client_order_id, "tag": order.strategy_id or "traderbot"}
    body: dict[str, Any] = {
        "instrument": spec.name,
        "units": signed_units(order, spec, quantity),
        "positionFill": "REDUCE_ONLY" if order.reduce_only else "DEFAULT",
        "clientExtensions": ext,
        "tradeClientExtensions": dict(ext),
    }
    if order.type is OrderType.MARKET:
        body.update(type="MARKET", timeInForce="IOC" if order.time_in_force is TimeInForce.IOC else "FOK")
    elif order.type is OrderType.LIMIT:
        body.update(type="LIMIT", price=_price(order, spec, limit, "limit price"))
    elif order.type in (OrderType.STOP, OrderType.STOP_LIMIT):
        body.update(type="STOP", price=_price(order, spec, trigger, "trigger price"))
        if order.type is OrderType.STOP_LIMIT:
            body["priceBound"] = _price(order, spec, limit, "limit price")
    else:
        raise _reject(
            order,
            "UNSUPPORTED_ORDER_TYPE",
            f"OANDA has no standalone {order.type.value} order; use a bracket.",
        )
    if order.type is not OrderType.MARKET:
        body["timeInForce"] = _TIF[order.time_in_force]
    body.update(_bracket(order, spec))
    return body


def _bracket(order: Order, spec: OandaInstrumentSpec) -> dict[str, Any]:
    b = order.bracket
    out: dict[str, Any] = {}
    if b is None:
        return out
    if b.stop_loss is not None:
        out["stopLossOnFill"] = {"price": _price(order, spec, b.stop_loss, "stop loss"), "timeInForce": "GTC"}
    if b.take_profits:
        tp = b.take_profits[0]
        if len(b.take_profits) > 1 or tp.fraction != 1:
            log.warning(
                "order %s: OANDA takes one take profit on fill; using %s for the whole position",
                order.client_order_id,
                tp.price,
            )
        out["takeProfitOnFill"] = {
            "price": _price(order, spec, tp.price, "take profit"),
            "timeInForce": "GTC",
        }
    if b.trailing_offset is not None:
        out["trailingStopLossOnFill"] = {
            "distance": _price(order, spec, b.trailing_offset, "trailing distance"),
            "timeInForce": "GTC",
        }
    return out
