"""Settling an order from the venue's own view of it (after a timeout, a lost acknowledgement, a restart).

The venue's report is the truth for what happened there: the order is acknowledged if the venue has it, fills
we have not applied are booked for the difference (at the exact price that makes our average equal the
venue's), and a final status (canceled, expired, rejected) is applied. A cancel the venue never received is
sent again.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from traderbot.core.messages import (
    OrderAccepted,
    OrderCanceled,
    OrderExpired,
    OrderFilled,
    OrderRejected,
    OrderStatusReport,
)
from traderbot.model.enums import OrderStatus
from traderbot.model.order import Order

if TYPE_CHECKING:
    from traderbot.execution.engine import ExecutionEngine

_log = logging.getLogger("traderbot.execution")

_FINAL = (OrderStatus.CANCELED, OrderStatus.EXPIRED, OrderStatus.REJECTED)


def reconciled_trade_id(client_order_id: str, filled_qty: object) -> str:
    """The id of a fill booked from a report: deterministic, so a repeated report books nothing new."""
    return f"R-{client_order_id}-{filled_qty}"


def settle_from_report(engine: ExecutionEngine, order: Order, report: OrderStatusReport) -> None:
    status = OrderStatus(report.status)
    now = engine.cache.now_ns
    coid, iid, sid = order.client_order_id, order.instrument_id, order.strategy_id
    if report.venue_order_id and not order.venue_order_id:
        order.venue_order_id = report.venue_order_id
    if order.status is OrderStatus.SUBMITTED and status is not OrderStatus.REJECTED:
        engine.on_event(OrderAccepted(coid, iid, sid, now, venue_order_id=report.venue_order_id))
    missing = report.filled_qty - order.filled_qty
    if missing > 0:
        if report.filled_qty > order.quantity or report.avg_price is None:
            _log.error(
                "order %s: the venue reports %s filled (average %s) of %s; not booked, check the account",
                coid,
                report.filled_qty,
                report.avg_price,
                order.quantity,
            )
        else:
            price = (report.avg_price * report.filled_qty - order.filled_cost) / missing
            engine.on_event(
                OrderFilled(
                    coid,
                    iid,
                    sid,
                    now,
                    reason="settled from the venue's report",
                    trade_id=reconciled_trade_id(coid, report.filled_qty),
                    side=order.side.value,
                    quantity=missing,
                    price=price,
                    venue_order_id=report.venue_order_id,
                )
            )
    elif missing < 0:
        _log.error(
            "order %s: we have %s filled, the venue only %s", coid, order.filled_qty, report.filled_qty
        )
    reason = report.reason or f"{status.value} at the venue"
    if status in _FINAL and order.is_open:
        if status is OrderStatus.CANCELED:
            engine.on_event(OrderCanceled(coid, iid, sid, now, reason=reason))
        elif status is OrderStatus.EXPIRED:
            engine.on_event(OrderExpired(coid, iid, sid, now, reason=reason))
        else:
            engine.on_event(OrderRejected(coid, iid, sid, now, reason=reason))
    elif status.is_open and order.status is OrderStatus.PENDING_CANCEL and engine.venue is not None:
        _log.warning("order %s: the venue still works it; sending the cancel again", coid)
        engine.venue.cancel(order)
