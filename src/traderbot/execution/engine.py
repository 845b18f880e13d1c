"""The execution engine (order management): records intent, sends orders, applies venue events.

Order of work for a new order: the risk engine has passed it -> the intent is recorded in the order journal
(the persistent store plugs in here) -> SUBMITTED -> the venue. Events from the venue move the order through
its state machine; duplicate fills (same venue trade id) are dropped; fills go to the portfolio and then to
the strategy. When an entry with a bracket fills, its stop loss and take profits go out as one OCO group.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Protocol

from traderbot.core.bus import MessageBus
from traderbot.core.messages import (
    OrderAccepted,
    OrderCanceled,
    OrderCancelRejected,
    OrderDenied,
    OrderEvent,
    OrderExpired,
    OrderFilled,
    OrderRejected,
    OrderSubmitted,
    OrderTriggered,
    OrderUpdated,
)
from traderbot.kernel.cache import Cache
from traderbot.model.enums import OrderType
from traderbot.model.order import Order
from traderbot.model.order_states import InvalidStateTransition, OrderEventKind
from traderbot.portfolio.portfolio import Portfolio


class Venue(Protocol):
    def submit(self, order: Order) -> None: ...

    def cancel(self, order: Order) -> None: ...


class OrderJournal(Protocol):
    """Where intent is written before any venue call (in memory for backtests, the database when live)."""

    def record(self, order: Order) -> None: ...

    def update(self, order: Order, ts: int = 0) -> None: ...


class MemoryJournal:
    """The backtest journal: orders live in memory only (a finished backtest has nothing to resume)."""

    def __init__(self) -> None:
        self.orders: list[Order] = []

    def record(self, order: Order) -> None:
        self.orders.append(order)

    def update(self, order: Order, ts: int = 0) -> None:
        return None


_KIND: dict[type, OrderEventKind] = {  # venue event -> state-machine event
    OrderAccepted: OrderEventKind.ACCEPTED,
    OrderRejected: OrderEventKind.REJECTED,
    OrderCanceled: OrderEventKind.CANCELED,
    OrderCancelRejected: OrderEventKind.CANCEL_REJECTED,
    OrderExpired: OrderEventKind.EXPIRED,
    OrderTriggered: OrderEventKind.TRIGGERED,
    OrderUpdated: OrderEventKind.UPDATED,
}


class ExecutionEngine:
    def __init__(
        self,
        cache: Cache,
        bus: MessageBus,
        portfolio: Portfolio,
        journal: OrderJournal | None = None,
        bar_index: Callable[[str], int] | None = None,
    ) -> None:
        self.cache = cache
        self.bus = bus
        self.portfolio = portfolio
        self.journal = journal or MemoryJournal()
        self.venue: Venue | None = None
        self.fill_listeners: dict[str, Callable[[OrderFilled], None]] = {}
        self.spawn_child: Callable[[Order, str, OrderType, Decimal, Decimal | None], Order] | None = None
        self.submit_child: Callable[[Order], object] | None = None
        self._bar_index = bar_index or (lambda _iid: 0)
        self.duplicate_fills = 0
        self.illegal_events = 0

    def deny(self, order: Order, reason: str) -> None:
        self.cache.orders.setdefault(order.client_order_id, order)  # never replace a live order's record
        order.apply(OrderEventKind.DENIED, reason)
        self.bus.publish(
            "orders",
            OrderDenied(
                order.client_order_id,
                order.instrument_id,
                order.strategy_id,
                self.cache.now_ns,
                reason=reason,
            ),
        )

    def submit(self, order: Order) -> None:
        """Record the intent (committed) and only then send; an order the journal cannot store is rejected."""
        assert self.venue is not None, "execution engine has no venue"
        self.cache.orders[order.client_order_id] = order
        order.apply(OrderEventKind.SUBMITTED)
        try:
            self.journal.record(order)  # intent first, then the venue
        except Exception as exc:  # a database that refuses the write: never send what is not recorded
            order.apply(OrderEventKind.REJECTED, f"JOURNAL_WRITE_FAILED: {type(exc).__name__}: {exc}")
            self.bus.publish(
                "orders",
                OrderRejected(
                    order.client_order_id,
                    order.instrument_id,
                    order.strategy_id,
                    self.cache.now_ns,
                    reason=order.reason,
                ),
            )
            return
        self.cache.track(order)
        if self.bus.has_subscribers("orders"):
            self.bus.publish(
                "orders",
                OrderSubmitted(
                    order.client_order_id, order.instrument_id, order.strategy_id, self.cache.now_ns
                ),
            )
        self.venue.submit(order)

    def cancel(self, order: Order) -> None:
        assert self.venue is not None
        if not order.is_open:
            return
        order.apply(OrderEventKind.PENDING_CANCEL)
        self.venue.cancel(order)
        self.cache.track(order)

    # ---- venue events --------------------------------------------------------------------------------------
    def on_event(self, event: OrderEvent) -> None:
        order = self.cache.orders.get(event.client_order_id)
        if order is None:
            return  # an order we do not know: reconciliation (issue 3) adopts or reports it
        if isinstance(event, OrderFilled):
            self._on_fill(order, event)
            return
        kind = _KIND[type(event)]
        try:
            order.apply(kind, event.reason)
        except (
            InvalidStateTransition
        ):  # logged with the order id; a venue's stray event must not stop trading
            self.illegal_events += 1
            return
        self.cache.track(order)
        if isinstance(event, OrderAccepted):
            order.venue_order_id = event.venue_order_id
        self.journal.update(order, event.ts)
        self.bus.publish("orders", event)

    def _on_fill(self, order: Order, fill: OrderFilled) -> None:
        if not order.apply_fill(fill.trade_id, fill.quantity, fill.price):
            self.duplicate_fills += 1
            return
        self.cache.track(order)
        self.journal.update(order, fill.ts)
        self.cache.fills.append(fill)
        self.portfolio.on_fill(fill, self._bar_index(fill.instrument_id))
        self.bus.publish("fills", fill)
        listener = self.fill_listeners.get(order.strategy_id)
        if listener is not None:
            listener(fill)
        if order.bracket is not None and order.filled_qty == order.quantity:
            self._send_bracket(order)

    def _send_bracket(self, entry: Order) -> None:
        """Stop loss and take profits of a filled entry, as one OCO group on the opposite side."""
        b = entry.bracket
        assert b is not None and self.spawn_child is not None and self.submit_child is not None
        group = f"OCO-{entry.client_order_id}"
        side = entry.side.opposite.value
        children: list[Order] = []
        if b.stop_loss is not None:
            children.append(self.spawn_child(entry, side, OrderType.STOP, entry.filled_qty, b.stop_loss))
        elif b.trailing_offset is not None or b.trailing_atr_multiple is not None:
            trail = self.spawn_child(entry, side, OrderType.TRAILING_STOP, entry.filled_qty, None)
            trail.trailing_offset, trail.trailing_atr_multiple = b.trailing_offset, b.trailing_atr_multiple
            trail.atr_period = b.atr_period
            children.append(trail)
        inst = self.cache.instruments[entry.instrument_id]
        left = entry.filled_qty
        for n, tp in enumerate(b.take_profits):
            last = n == len(b.take_profits) - 1 and sum(t.fraction for t in b.take_profits) >= 1
            q = left if last else min(inst.round_quantity(entry.filled_qty * tp.fraction), left)
            if q <= 0:
                continue
            children.append(self.spawn_child(entry, side, OrderType.LIMIT, q, tp.price))
            left -= q
        for child in children:
            child.oco_group = group
            child.parent_id = entry.client_order_id
            child.reduce_only = True
            self.submit_child(child)
