"""What an order must satisfy before traderbot writes it for NinjaTrader (refused with BrokerRejected)."""

from __future__ import annotations

from decimal import Decimal

from traderbot.brokers.base import BrokerRejected
from traderbot.brokers.ninjatrader.config import NinjaTraderConfig
from traderbot.brokers.ninjatrader.oif import ORDER_TYPES, TIFS
from traderbot.model.enums import OrderType
from traderbot.model.order import Order


def _refuse(client_order_id: str, code: str, message: str) -> BrokerRejected:
    return BrokerRejected(f"order {client_order_id}: {message}", code=code)


def nt_instrument(cfg: NinjaTraderConfig, instrument_id: str, context: str) -> str:
    """NinjaTrader's name for our instrument; BrokerRejected(UNKNOWN_INSTRUMENT) starting with `context`."""
    name = cfg.nt_instrument(instrument_id)
    if name is None:
        raise BrokerRejected(
            f"{context}: instrument {instrument_id!r} has no NinjaTrader name: add it to NinjaTraderConfig."
            f"instruments (e.g. {{'{instrument_id}': '{instrument_id} 12-26'}})",
            code="UNKNOWN_INSTRUMENT",
        )
    return name


def check_quantity(client_order_id: str, quantity: Decimal) -> None:
    if not quantity.is_finite() or quantity <= 0 or quantity != quantity.to_integral_value():
        raise _refuse(
            client_order_id,
            "INVALID_QUANTITY",
            f"quantity {quantity} is not a positive whole number of contracts",
        )


def check_price(
    cfg: NinjaTraderConfig,
    client_order_id: str,
    instrument_id: str,
    value: Decimal | None,
    what: str,
    required: bool,
) -> None:
    if value is None:
        if required:
            raise _refuse(client_order_id, "MISSING_PRICE", f"a {what} is required for this order type")
        return
    if not value.is_finite() or value <= 0:
        raise _refuse(client_order_id, "INVALID_PRICE", f"{what} {value} is not a positive price")
    tick = cfg.tick_size(instrument_id)
    if tick is None:
        raise _refuse(
            client_order_id,
            "UNKNOWN_TICK_SIZE",
            f"the tick size of {instrument_id} is unknown: set NinjaTraderConfig.tick_sizes[{instrument_id!r}]",
        )
    if value % tick != 0:
        raise _refuse(
            client_order_id, "PRICE_OFF_TICK", f"{what} {value} is not a multiple of the tick {tick}"
        )


def check_order(cfg: NinjaTraderConfig, order: Order) -> str:
    """Raise BrokerRejected(code=...) for anything ATI cannot carry; returns NinjaTrader's instrument name."""
    cid = order.client_order_id
    name = nt_instrument(cfg, order.instrument_id, f"order {cid}")
    check_quantity(cid, order.quantity)
    if order.type not in ORDER_TYPES:
        raise _refuse(
            cid,
            "UNSUPPORTED_ORDER_TYPE",
            f"{order.type.value} orders cannot be sent through ATI (market, limit, stop and stop-limit only)",
        )
    if order.time_in_force not in TIFS:
        raise _refuse(
            cid, "UNSUPPORTED_TIME_IN_FORCE", f"time in force {order.time_in_force.value} is not DAY or GTC"
        )
    if order.reduce_only:
        raise _refuse(cid, "UNSUPPORTED_REDUCE_ONLY", "ATI has no reduce-only orders; use close_position()")
    limit = order.type in (OrderType.LIMIT, OrderType.STOP_LIMIT)
    stop = order.type in (OrderType.STOP, OrderType.STOP_LIMIT)
    check_price(cfg, cid, order.instrument_id, order.price if limit else None, "limit price", limit)
    check_price(cfg, cid, order.instrument_id, order.trigger_price if stop else None, "stop price", stop)
    return name
