"""The service's event metrics: counters and latency histograms fed by bus handlers on the kernel thread.

Each handler does a dict lookup and one increment or observation, nothing else; there is no handler per bar
(a tap on "bars" would cost every bar a bus delivery): bar arrival times come from the service's PairHost.
Gauges (P&L, exposure, pair states, lag...) are not kept here: they are computed when scraped (`snapshot.py`,
`collector.py`). Every
instance has its own CollectorRegistry (never prometheus_client's global one), so many services and apps can
live in one process (tests do).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from prometheus_client import CollectorRegistry, Counter, Histogram, ProcessCollector

from traderbot.core.messages import (
    OrderAccepted,
    OrderCanceled,
    OrderDenied,
    OrderExpired,
    OrderFilled,
    OrderRejected,
    OrderSubmitted,
    TradeClosed,
)

if TYPE_CHECKING:
    from traderbot.kernel.kernel import Kernel

# seconds; data-to-order is in-process work (microseconds to milliseconds), order-to-ack includes a broker
LATENCY_BUCKETS = (0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
                   0.5, 1.0, 2.5, 5.0, 10.0)  # fmt: skip
MAX_PENDING_ACKS = 10_000  # orders awaiting an ack that are remembered (the oldest forgotten beyond)
ERROR_WINDOW_S = 300.0  # the error rate of the health score counts log errors this recent
_DONE = (OrderRejected, OrderCanceled, OrderExpired, OrderDenied)


def reason_code(reason: str) -> str:
    """The machine-readable code a denial or rejection reason starts with ('MAX_NOTIONAL: ...' -> MAX_NOTIONAL)."""
    code = reason.split(":", 1)[0].strip()
    return code if code and " " not in code and len(code) <= 64 else "OTHER"


def new_registry() -> CollectorRegistry:
    """A registry of our own (never the process-wide default), with the process's CPU and memory."""
    registry = CollectorRegistry(auto_describe=True)
    ProcessCollector(registry=registry)
    return registry


class ErrorLogCounter(logging.Handler):
    """Counts ERROR (and worse) log records of the `traderbot` loggers, by logger, and keeps their recent times."""

    def __init__(self, counter: Counter) -> None:
        super().__init__(logging.ERROR)
        self.counter = counter
        self.recent: deque[float] = deque(maxlen=10_000)  # monotonic times, for the error rate

    def emit(self, record: logging.LogRecord) -> None:
        self.counter.labels(record.name).inc()
        self.recent.append(time.monotonic())

    def count_since(self, seconds: float = ERROR_WINDOW_S) -> int:
        """Records in the last `seconds` (newest first, stopping at the first older one)."""
        cutoff, n = time.monotonic() - seconds, 0
        for t in reversed(tuple(self.recent)):  # a copy: other threads log meanwhile
            if t < cutoff:
                break
            n += 1
        return n


class ServiceMetrics:
    """Counters and histograms of one trading service, fed by its kernel's bus (see `attach`)."""

    def __init__(self) -> None:
        self.registry = r = new_registry()
        self.submitted = Counter("traderbot_orders_submitted", "Orders submitted to the venue (passed risk).",
                                 ["pair", "side"], registry=r)  # fmt: skip
        self.fills = Counter("traderbot_fills", "Fills booked.", ["pair", "side"], registry=r)
        self.denied = Counter("traderbot_orders_denied", "Orders refused by the risk engine, by reason code.",
                              ["pair", "reason"], registry=r)  # fmt: skip
        self.rejected = Counter("traderbot_orders_rejected", "Orders refused by the venue, by reason code.",
                                ["pair", "reason"], registry=r)  # fmt: skip
        self.data_to_order = Histogram(
            "traderbot_data_to_order_seconds",
            "Wall time from a bar's arrival in the kernel to an order submitted in response to it.",
            buckets=LATENCY_BUCKETS, registry=r,
        )  # fmt: skip
        self.order_to_ack = Histogram(
            "traderbot_order_to_ack_seconds",
            "Wall time from an order submitted to its acceptance by the venue.",
            buckets=LATENCY_BUCKETS, registry=r,
        )  # fmt: skip
        self.log_errors = Counter("traderbot_log_errors", "ERROR log records of traderbot, by logger.",
                                  ["logger"], registry=r)  # fmt: skip
        self.errors = ErrorLogCounter(self.log_errors)
        self.realized: dict[str, Decimal] = {}  # pair -> realized P&L of its closed trades (account currency)
        self.last_bar: dict[str, tuple[int, float]] = {}  # pair -> (bar close ns, monotonic arrival time)
        self.loop: asyncio.AbstractEventLoop | None = None  # the kernel's loop (snapshots are taken on it)
        self.started_at = time.monotonic()
        self._acks: dict[str, float] = {}  # client order id -> monotonic submit time, until acknowledged
        self._children: dict[tuple[Any, ...], Any] = {}  # labelled children, looked up once
        self._kernel: Kernel | None = None

    # ---- wiring ------------------------------------------------------------------------------------------
    def attach(self, kernel: Kernel, last_bar: dict[str, tuple[int, float]] | None = None) -> None:
        """Follow `kernel`'s bus from now on; realized P&L starts from the trades already booked (a restart).
        `last_bar`: pair -> (close ns, monotonic arrival) of its last bar, kept by whoever hands bars to the
        strategies (the service's PairHost); without it there is no data-to-order latency."""
        self._kernel = kernel
        if last_bar is not None:
            self.last_bar = last_bar
        for trade in kernel.portfolio.trades:
            self.realized[trade.instrument_id] = (
                self.realized.get(trade.instrument_id, Decimal(0)) + trade.pnl
            )
        bus = kernel.bus
        bus.subscribe("orders", self.on_order)
        bus.subscribe("fills", self.on_fill)
        bus.subscribe("trades", self.on_trade)
        logging.getLogger("traderbot").addHandler(self.errors)
        try:
            self.loop = asyncio.get_running_loop()
        except RuntimeError:
            self.loop = None

    def close(self) -> None:
        """Stop following the bus and the log."""
        logging.getLogger("traderbot").removeHandler(self.errors)
        if self._kernel is not None:
            bus = self._kernel.bus
            bus.unsubscribe("orders", self.on_order)
            bus.unsubscribe("fills", self.on_fill)
            bus.unsubscribe("trades", self.on_trade)
            self._kernel = None

    # ---- bus handlers (kernel thread) --------------------------------------------------------------------
    def on_order(self, event: Any) -> None:
        kind = type(event)
        if kind is OrderSubmitted:
            now = time.monotonic()
            iid = event.instrument_id
            order = self._kernel.cache.orders.get(event.client_order_id) if self._kernel else None
            side = order.side.value if order is not None else "unknown"
            self._child(self.submitted, iid, side).inc()
            bar = self.last_bar.get(iid)
            if bar is not None and bar[0] == event.ts:  # sent while this bar is being handled
                self.data_to_order.observe(now - bar[1])
            acks = self._acks
            if len(acks) >= MAX_PENDING_ACKS:
                del acks[next(iter(acks))]
            acks[event.client_order_id] = now
        elif kind is OrderAccepted:
            t0 = self._acks.pop(event.client_order_id, None)
            if t0 is not None:
                self.order_to_ack.observe(time.monotonic() - t0)
        elif kind is OrderDenied:
            self._child(self.denied, event.instrument_id, reason_code(event.reason)).inc()
        elif kind is OrderRejected:
            self._acks.pop(event.client_order_id, None)
            self._child(self.rejected, event.instrument_id, reason_code(event.reason)).inc()
        elif kind in _DONE:
            self._acks.pop(event.client_order_id, None)

    def on_fill(self, fill: OrderFilled) -> None:
        self._child(self.fills, fill.instrument_id, fill.side or "unknown").inc()

    def on_trade(self, trade: TradeClosed) -> None:
        self.realized[trade.instrument_id] = self.realized.get(trade.instrument_id, Decimal(0)) + trade.pnl

    def _child(self, metric: Any, *labels: str) -> Any:
        key = (id(metric), *labels)
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = metric.labels(*labels)
        return child
