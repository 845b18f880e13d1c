"""The parent/child machinery: `AlgoEngine` runs execution algorithms through the normal order path.

Children are ordinary orders (`parent_id` set) sent with `kernel.send` (risk engine, then execution engine, then
the venue or broker); the engine learns what happened to them from the bus topics "orders" and "fills" and
drives schedules with the kernel clock's timers. It does no work per bar: it subscribes to the bus when the first
algorithm is submitted, and a timer costs nothing until it is due.

Times: inside a timer callback the clock reads the timer's own time, while the kernel's cache may still show the
previous bar's close (the simulated clock fires timers before the bar is published). The engine therefore takes
"now" from the clock, and prices and volumes only from bars already visible, which keeps everything causal.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from typing import Any

import numpy as np

from traderbot.core.bus import MessageBus
from traderbot.core.clock import Clock
from traderbot.core.messages import (
    OrderCanceled,
    OrderDenied,
    OrderExpired,
    OrderFilled,
    OrderRejected,
)
from traderbot.execution.algos.base import AlgoHost, AlgoRun, AlgoSpec
from traderbot.execution.algos.parent import AlgoProgress, AlgoRefusal, AlgoStatus, ParentOrder
from traderbot.kernel.cache import Cache
from traderbot.model.enums import OrderSide, OrderType
from traderbot.model.order import Order

_log = logging.getLogger("traderbot.execution.algos")


class AlgoEngine:
    """Parents by id, their children, the clock timers that drive them, and progress on bus topic "algos"."""

    def __init__(self, host: AlgoHost) -> None:
        self._host: AlgoHost | None = host
        self.parents: dict[str, ParentOrder] = {}
        self._runs: dict[str, AlgoRun] = {}
        self._children: dict[str, list[Order]] = {}
        self._child_parent: dict[str, str] = {}
        self._new_id: dict[str, Callable[[], str]] = {}
        self._timers: dict[str, list[str]] = {}
        self._cancel_requested: set[str] = set()
        self._subscribed = False
        self._now: int | None = None

    # ---- public ------------------------------------------------------------------------------------------------
    def submit(
        self,
        spec: AlgoSpec,
        *,
        strategy_id: str,
        instrument_id: str,
        side: OrderSide,
        quantity: Decimal | int | str,
        new_id: Callable[[], str],
    ) -> ParentOrder:
        """Create and start a parent; a refused one comes back FAILED with the reason (nothing is sent)."""
        qty = _decimal(quantity)
        parent = ParentOrder(f"ALG-{new_id()}", spec.name, strategy_id, instrument_id, side, qty, self.now())
        self.parents[parent.parent_id] = parent
        self._new_id[parent.parent_id] = new_id
        self._subscribe()
        planned = self._plan(spec, parent)
        if isinstance(planned, str):
            self._set_done(parent, AlgoStatus.FAILED, planned)
            self._publish(parent, "refused", reason=planned)
            return parent
        self._runs[parent.parent_id] = planned
        self._publish(parent, "started")
        planned.start()
        return parent

    def cancel(self, parent_id: str, reason: str = "CANCELED: by request") -> None:
        """Stop scheduling and cancel every working child; fills that race the cancel still count."""
        parent = self.parents.get(parent_id)
        if parent is not None:
            self.finish(parent, AlgoStatus.CANCELED, reason)

    def get(self, parent_id: str) -> ParentOrder | None:
        return self.parents.get(parent_id)

    def children(self, parent_id: str) -> list[Order]:
        return list(self._children.get(parent_id, ()))

    def working(self, strategy_id: str | None = None, instrument_id: str | None = None) -> list[ParentOrder]:
        return [
            p
            for p in self.parents.values()
            if p.is_working
            and (strategy_id is None or p.strategy_id == strategy_id)
            and (instrument_id is None or p.instrument_id == instrument_id)
        ]

    def dispose(self) -> None:
        """Drop the reference to the kernel (it calls this when a run is finished) and every run's state."""
        if self._subscribed and self._host is not None:
            self.bus.unsubscribe("orders", self._on_order_event)
            self.bus.unsubscribe("fills", self._on_fill)
        self._runs.clear()
        self._new_id.clear()
        self._host = None

    @property
    def host(self) -> AlgoHost:
        if self._host is None:
            raise RuntimeError("the algo engine was disposed with its kernel")
        return self._host

    @property
    def cache(self) -> Cache:
        return self.host.cache

    @property
    def bus(self) -> MessageBus:
        return self.host.bus

    @property
    def clock(self) -> Clock:
        return self.host.clock

    # ---- services for algorithms -------------------------------------------------------------------------------
    def now(self) -> int:
        """The current time: the clock's, or inside a timer callback the time the timer was set for."""
        return self._now if self._now is not None else self.clock.now_ns()

    def send_child(
        self, parent: ParentOrder, otype: OrderType, qty: Decimal, price: Decimal | None = None
    ) -> Order:
        """Send one child through the normal order path; denials and rejections come back as events."""
        pid = parent.parent_id
        order = Order(
            self._new_id[pid](),
            parent.instrument_id,
            parent.strategy_id,
            parent.side,
            otype,
            qty,
            self.now(),
            price=price if otype is OrderType.LIMIT else None,
            parent_id=pid,
            tag=f"algo:{parent.algo}",
            sizing_note=f"{parent.algo} child of {pid}",
        )
        self._child_parent[order.client_order_id] = pid
        self._children.setdefault(pid, []).append(order)
        parent.child_ids.append(order.client_order_id)
        self._publish(parent, "child_sent", order.client_order_id)
        try:
            self.host.send(order)
        except Exception as exc:  # a broker error raised through the send path must not kill the kernel loop
            _log.error("algo %s: child %s could not be sent: %s", pid, order.client_order_id, exc)
            if not order.is_open:
                self._child_failed(order, f"SEND_FAILED: {type(exc).__name__}: {exc}")
        return order

    def cancel_children(self, parent: ParentOrder) -> None:
        """Ask for every open child to be canceled; their unfilled rest becomes free when the cancel lands."""
        for child in list(self._children.get(parent.parent_id, ())):  # a cancel's handler may add a child
            if child.is_open and child.client_order_id not in self._cancel_requested:
                self._cancel_requested.add(child.client_order_id)
                self.host.execution.cancel(child)

    def committed(self, parent: ParentOrder) -> Decimal:
        """Quantity filled or still working over all children (from the orders themselves, always current)."""
        total = Decimal(0)
        for o in self._children.get(parent.parent_id, ()):
            total += o.filled_qty + (o.leaves_qty if o.is_open else 0)
        return total

    def has_open_children(self, parent: ParentOrder) -> bool:
        return any(o.is_open for o in self._children.get(parent.parent_id, ()))

    def set_timer(self, parent: ParentOrder, name: str, at_ns: int, callback: Callable[[int], None]) -> None:
        """Call back at `at_ns` (while the parent is working), once every bar that closed by then is known.

        The simulated clock fires a timer due at t before it publishes the bar that closes at t, so the timer is
        armed 1 ns later: a slice at 10:00 sees the 10:00 close and fills at the first price after 10:00, not at
        the open of the bar that ended at 10:00. During the callback `now()` reads `at_ns` (1 ns is immaterial
        for a live clock).
        """
        full = f"{parent.parent_id}:{name}"
        self._timers.setdefault(parent.parent_id, []).append(full)

        def fire(_at: int) -> None:
            if parent.is_working:
                self._now = at_ns
                try:
                    callback(at_ns)
                finally:
                    self._now = None

        self.clock.set_timer(full, at_ns + 1, fire)

    def last_price(self, instrument_id: str) -> Decimal | None:
        """Close of the latest bar visible now (never a bar that has not closed)."""
        return self.cache.last_price(instrument_id)

    def recent_volume(self, instrument_id: str, since_ns: int, until_ns: int) -> Decimal:
        """Volume of the visible bars of the instrument's primary series that closed in (since, until]."""
        idx = self.cache.primary.get(instrument_id)
        if idx is None:
            return Decimal(0)
        s = self.cache.series[idx]
        ts = s.ts[: self.cache.visible[idx]]
        tf = s.timeframe.ns
        lo = int(np.searchsorted(ts, since_ns - tf, side="right"))
        hi = int(np.searchsorted(ts, until_ns - tf, side="right"))
        return Decimal(repr(float(s.volume[lo:hi].sum()))) if hi > lo else Decimal(0)

    def finish(self, parent: ParentOrder, status: AlgoStatus, reason: str = "") -> None:
        """End a working parent: no more timers, open children canceled, progress published."""
        if not parent.is_working:
            return
        self._set_done(parent, status, reason)
        for name in self._timers.pop(parent.parent_id, ()):
            self.clock.cancel_timer(name)
        self.cancel_children(parent)
        self._runs.pop(parent.parent_id, None)
        self._publish(parent, status.value, reason=reason)

    # ---- events ------------------------------------------------------------------------------------------------
    def _subscribe(self) -> None:
        if not self._subscribed:
            self.bus.subscribe("orders", self._on_order_event)
            self.bus.subscribe("fills", self._on_fill)
            self._subscribed = True

    def _on_order_event(self, event: Any) -> None:
        cid = event.client_order_id
        pid = self._child_parent.get(cid)
        if pid is None:
            return
        child = self.cache.orders.get(cid)
        if child is None:
            return
        if isinstance(event, OrderDenied | OrderRejected):
            self._child_failed(child, event.reason or type(event).__name__)
        elif isinstance(event, OrderCanceled | OrderExpired):
            if cid in self._cancel_requested:
                self._child_closed(child, failed=False)
            else:  # the venue ended it on its own (e.g. a DAY order at the rollover): a failure to report
                what = "canceled" if isinstance(event, OrderCanceled) else "expired"
                self._child_failed(child, event.reason or f"CHILD_{what.upper()}: by the venue")

    def _on_fill(self, fill: OrderFilled) -> None:
        pid = self._child_parent.get(fill.client_order_id)
        if pid is None:
            return
        parent = self.parents[pid]
        parent.filled_qty += fill.quantity
        parent.filled_cost += fill.price * fill.quantity
        parent.consecutive_failures = 0
        self._publish(parent, "child_filled", fill.client_order_id)
        if not parent.is_working:
            return
        if parent.filled_qty >= parent.quantity:
            self.finish(parent, AlgoStatus.FILLED)
            return
        run = self._runs.get(pid)
        child = self.cache.orders.get(fill.client_order_id)
        if run is not None and child is not None:
            run.on_child_filled(child)

    def _child_failed(self, child: Order, reason: str) -> None:
        parent = self.parents[self._child_parent[child.client_order_id]]
        parent.failures += 1
        parent.consecutive_failures += 1
        self._publish(parent, "child_failed", child.client_order_id, reason)
        run = self._runs.get(parent.parent_id)
        if run is None or not parent.is_working:
            return
        if parent.consecutive_failures >= run.max_failures:
            n = parent.consecutive_failures
            self.finish(
                parent,
                AlgoStatus.FAILED,
                f"CHILD_FAILURES: {n} consecutive child orders failed; last: {reason}",
            )
            return
        run.on_child_closed(child, failed=True)

    def _child_closed(self, child: Order, failed: bool) -> None:
        parent = self.parents[self._child_parent[child.client_order_id]]
        run = self._runs.get(parent.parent_id)
        if run is not None and parent.is_working:
            run.on_child_closed(child, failed)

    # ---- helpers -----------------------------------------------------------------------------------------------
    def _plan(self, spec: AlgoSpec, parent: ParentOrder) -> AlgoRun | str:
        """The checks every algorithm shares (instrument, quantity, lots), then the algorithm's own plan."""
        inst = self.cache.instruments.get(parent.instrument_id)
        if inst is None:
            known = ", ".join(sorted(self.cache.instruments)) or "none"
            return AlgoRefusal.UNKNOWN_INSTRUMENT.text(f"instrument={parent.instrument_id}, loaded: {known}")
        q = parent.quantity
        if not q.is_finite() or q <= 0:
            return AlgoRefusal.INVALID_QUANTITY.text(f"quantity={q}")
        if inst.lot_size > 0 and q % inst.lot_size != 0:
            return AlgoRefusal.QUANTITY_PRECISION.text(f"lot_size={inst.lot_size}, quantity={q}")
        if q < inst.min_quantity:
            return AlgoRefusal.BELOW_MIN_QUANTITY.text(f"min={inst.min_quantity}, quantity={q}")
        return spec.plan(self, parent, inst)

    def _set_done(self, parent: ParentOrder, status: AlgoStatus, reason: str) -> None:
        parent.status = status
        parent.reason = reason
        parent.ts_done = self.now()

    def _publish(self, parent: ParentOrder, kind: str, child_id: str = "", reason: str = "") -> None:
        if not self.bus.has_subscribers("algos"):
            return
        self.bus.publish(
            "algos",
            AlgoProgress(
                parent.parent_id,
                parent.strategy_id,
                parent.instrument_id,
                self.now(),
                kind,
                parent.status.value,
                parent.filled_qty,
                parent.quantity,
                parent.avg_px,
                child_id,
                reason,
            ),
        )


def _decimal(value: Decimal | int | str | float) -> Decimal:
    if isinstance(value, Decimal):
        return value
    try:
        return Decimal(repr(value)) if isinstance(value, float) else Decimal(value)
    except (InvalidOperation, ValueError, TypeError):
        return Decimal("NaN")
