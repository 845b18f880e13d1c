"""The execution engine (order management): records intent, sends orders, applies venue events.

Order of work for a new order: the risk engine has passed it -> the intent is recorded in the order journal
(the persistent store plugs in here) -> SUBMITTED -> the venue. Events from the venue move the order through
its state machine; duplicate fills (same venue trade id) are dropped; fills go to the portfolio and then to
the strategy. When an entry with a bracket fills, its stop loss and take profits go out as one OCO group.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from decimal import Decimal
from typing import Protocol

from traderbot.brokers.base import BrokerError
from traderbot.core.bus import MessageBus
from traderbot.core.clock import Clock
from traderbot.core.messages import (
    OrderAccepted,
    OrderCanceled,
    OrderCancelRejected,
    OrderDenied,
    OrderEvent,
    OrderExpired,
    OrderFilled,
    OrderRejected,
    OrderStatusReport,
    OrderSubmitted,
    OrderTriggered,
    OrderUpdated,
)
from traderbot.execution.settle import settle_from_report
from traderbot.kernel.cache import Cache
from traderbot.model.enums import OrderStatus, OrderType
from traderbot.model.order import Order
from traderbot.model.order_states import InvalidStateTransition, OrderEventKind
from traderbot.portfolio.portfolio import Portfolio


class Venue(Protocol):
    """Where orders go: the simulated venue, or the bridge to a real broker. Answers arrive as events.

    `submit` may raise a BrokerError: BrokerRejected (refused: the order is rejected) or one whose outcome is
    unknown (timeout, disconnect: the order stays SUBMITTED until a query by client order id settles it).
    `query` answers with an OrderStatusReport event.
    """

    def submit(self, order: Order) -> None: ...

    def cancel(self, order: Order) -> None: ...

    def query(self, order: Order) -> None: ...


class OrderJournal(Protocol):
    """Where intent is written before any venue call (in memory for backtests, the database when live)."""

    def record(self, order: Order) -> None: ...

    def update(self, order: Order, ts: int = 0) -> None: ...

    def fill(self, order: Order | None, fill: OrderFilled, *, external: bool = False) -> None: ...


_log = logging.getLogger("traderbot.execution")
_AWAITING = (OrderStatus.SUBMITTED, OrderStatus.PENDING_CANCEL)
_UNACKED = (OrderStatus.INITIALIZED, OrderStatus.SUBMITTED)
_STOP_TYPES = (
    OrderType.STOP,
    OrderType.STOP_LIMIT,
    OrderType.TRAILING_STOP,
)  # an answer from the venue is due


class MemoryJournal:
    """The backtest journal: orders live in memory only (a finished backtest has nothing to resume)."""

    def __init__(self) -> None:
        self.orders: list[Order] = []

    def record(self, order: Order) -> None:
        self.orders.append(order)

    def update(self, order: Order, ts: int = 0) -> None:
        return None

    def fill(self, order: Order | None, fill: OrderFilled, *, external: bool = False) -> None:
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
        self.duplicate_acks = 0
        self.illegal_events = 0
        # Unknown outcomes (timeouts, disconnects, lost acks): with `ack_timeout_ns` set, an order still
        # SUBMITTED (or PENDING_CANCEL) that long after the request is looked up at the venue by its client
        # order id; only when the venue has never seen it is it sent again, at most `max_send_attempts` times.
        self.clock: Clock | None = None
        self.ack_timeout_ns = 0
        self.max_send_attempts = 3
        self.attempts: dict[str, int] = {}
        self.resubmitted = 0
        self.manage_oco = (
            False  # real brokers: the engine cancels/shrinks bracket siblings (the sim venue does)
        )

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
        self._send(order)

    def _send(self, order: Order) -> None:
        """One attempt to hand the order to the venue; a refusal rejects it, an unknown outcome waits."""
        assert self.venue is not None
        if self.ack_timeout_ns:
            self.attempts[order.client_order_id] = self.attempts.get(order.client_order_id, 0) + 1
            self._arm(order)
        try:
            self.venue.submit(order)
        except BrokerError as exc:
            if exc.outcome_unknown or exc.code == "RATE_LIMITED":
                _log.warning("order %s: %s; it is looked up before any resend", order.client_order_id, exc)
                return
            self.on_event(
                OrderRejected(
                    order.client_order_id,
                    order.instrument_id,
                    order.strategy_id,
                    self.cache.now_ns,
                    reason=f"{exc.code}: {exc}",
                )
            )

    def cancel(self, order: Order) -> None:
        assert self.venue is not None
        if not order.is_open:
            return
        order.apply(OrderEventKind.PENDING_CANCEL)
        self.cache.track(order)
        if self.ack_timeout_ns:
            self._arm(order)
        try:
            self.venue.cancel(order)
        except BrokerError as exc:  # the timer looks the order up, then settles it or cancels again
            _log.warning("cancel of %s: %s", order.client_order_id, exc)

    # ---- unknown outcomes ----------------------------------------------------------------------------------
    def _arm(self, order: Order) -> None:
        assert self.clock is not None, "ack_timeout_ns needs the engine's clock"
        coid = order.client_order_id
        self.clock.set_timer(
            f"ack:{coid}", self.cache.now_ns + self.ack_timeout_ns, lambda _t: self._due(coid)
        )

    def _due(self, client_order_id: str) -> None:
        """No answer in time: ask the venue what it knows about this client order id."""
        order = self.cache.orders.get(client_order_id)
        if order is None or self.venue is None:
            return
        if order.status in _AWAITING:
            self._arm(order)  # asked again if this answer does not come either
            try:
                self.venue.query(order)
            except BrokerError as exc:
                _log.warning("lookup of %s: %s; trying again later", client_order_id, exc)

    def _on_report(self, order: Order, report: OrderStatusReport) -> None:
        if not report.found:
            if order.status is not OrderStatus.SUBMITTED:
                return
            if self.attempts.get(order.client_order_id, 0) < self.max_send_attempts:
                _log.warning(
                    "order %s: the venue has no record of it; sending it again", order.client_order_id
                )
                self.resubmitted += 1
                self._send(order)
                return
            self.on_event(
                OrderRejected(
                    order.client_order_id,
                    order.instrument_id,
                    order.strategy_id,
                    self.cache.now_ns,
                    reason=f"NO_ACK: the venue has no record of the order after {self.max_send_attempts} sends",
                )
            )
            return
        settle_from_report(self, order, report)

    # ---- venue events --------------------------------------------------------------------------------------
    def on_event(self, event: OrderEvent) -> None:
        order = self.cache.orders.get(event.client_order_id)
        if order is None:
            return  # an order we do not know: reconciliation adopts or reports it
        if event.strategy_id != order.strategy_id:  # brokers do not know our strategy ids
            event = event._replace(strategy_id=order.strategy_id, instrument_id=order.instrument_id)
        if isinstance(event, OrderFilled):
            self._on_fill(order, event)
            return
        if isinstance(event, OrderStatusReport):
            self._on_report(order, event)
            return
        if isinstance(event, OrderAccepted) and order.status not in _UNACKED:
            # the acknowledgement arrived twice (the REST answer and the broker's stream both report it),
            # or after the fill it acknowledges: nothing to change
            if event.venue_order_id and not order.venue_order_id:
                order.venue_order_id = event.venue_order_id
            self.duplicate_acks += 1
            return
        kind = _KIND[type(event)]
        try:
            order.apply(kind, event.reason)
        except (
            InvalidStateTransition
        ):  # logged with the order id; a venue's stray event must not stop trading
            self.illegal_events += 1
            return
        if isinstance(event, OrderAccepted) and event.venue_order_id:
            order.venue_order_id = event.venue_order_id
        elif isinstance(event, OrderUpdated):
            if event.quantity is not None:
                order.quantity = event.quantity
            if event.price is not None:
                order.price = event.price
            if event.trigger_price is not None:
                order.trigger_price = event.trigger_price
        self.cache.track(order)  # after any amendment: listeners see the order as it now is
        if self.ack_timeout_ns and order.status not in _AWAITING:
            self._settled(order)
        self.journal.update(order, event.ts)
        self.bus.publish("orders", event)

    def _settled(self, order: Order) -> None:
        if self.ack_timeout_ns and self.clock is not None:
            self.clock.cancel_timer(f"ack:{order.client_order_id}")

    def _on_fill(self, order: Order, fill: OrderFilled) -> None:
        try:
            fresh = order.apply_fill(fill.trade_id, fill.quantity, fill.price)
        except InvalidStateTransition:  # more than the order's quantity: a report we already settled
            self.illegal_events += 1
            return
        if not fresh:
            self.duplicate_fills += 1
            return
        self.cache.track(order)
        if self.ack_timeout_ns and order.status not in _AWAITING:
            self._settled(order)
        if not order.venue_order_id and fill.venue_order_id:
            order.venue_order_id = fill.venue_order_id
        self.journal.fill(order, fill)
        self.cache.fills.append(fill)
        self.portfolio.on_fill(fill, self._bar_index(fill.instrument_id))
        self.bus.publish("fills", fill)
        listener = self.fill_listeners.get(order.strategy_id)
        if listener is not None:
            listener(fill)
        if order.bracket is not None and order.filled_qty == order.quantity:
            self._send_bracket(order)
        if self.manage_oco and order.oco_group is not None:
            self._oco_after_fill(order)

    def _oco_after_fill(self, filled: Order) -> None:
        """Real brokers: a stop (or the last exit) filling cancels the other exits of its group; a take
        profit that only reduced the position shrinks the stop to what is left."""
        group = [
            o for o in self.cache.open_ids.values() if o.oco_group == filled.oco_group and o is not filled
        ]
        pos = self.portfolio.positions.get((filled.strategy_id, filled.instrument_id))
        left = abs(pos.quantity) if pos is not None else Decimal(0)
        for o in group:
            if filled.type in _STOP_TYPES or left == 0:
                self.cancel(o)
            elif o.type in _STOP_TYPES and o.leaves_qty > left and self.venue is not None:
                replace = getattr(self.venue, "replace", None)
                if replace is not None:
                    replace(o, quantity=o.filled_qty + left)

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
