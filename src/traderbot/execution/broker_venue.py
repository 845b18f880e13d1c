"""The kernel's venue for a real broker: async broker calls on the session's event loop, answers as events.

The execution engine calls `submit`, `cancel` and `query` synchronously; each starts a task on the running
asyncio loop. Answers come back through `emit` on the same loop thread, so the kernel stays single-threaded.

- A refusal (BrokerRejected) becomes OrderRejected with the broker's reason code.
- A rate limit (nothing executed) waits as the broker asks and tries again, a few times.
- A timeout or disconnect (outcome unknown) is only logged: the order stays SUBMITTED and the engine's ack
  timer looks it up by client order id before anything is sent again.
- Fills come from the broker's transaction stream (`pump_transactions`); a lookup also replays the order's fills
  from `Broker.fills()`, then reports the broker's view so the engine settles any difference. Adapters use the
  same trade id in `fills()` and in the stream, so the engine's de-duplication by trade id holds across both.
- `health` (optional, e.g. risk.system_breakers.SystemBreakers) hears every request's outcome and latency and
  the stream's drops and recoveries, so circuit breakers can lock the system when the broker misbehaves.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from collections.abc import Awaitable, Callable, Coroutine
from decimal import Decimal
from typing import Any, Protocol

from traderbot.brokers.base import (
    Broker,
    BrokerError,
    BrokerFill,
    BrokerOrder,
    BrokerRateLimited,
    BrokerRejected,
    StreamInterrupted,
    StreamReconnected,
)
from traderbot.core.messages import (
    OrderAccepted,
    OrderCanceled,
    OrderEvent,
    OrderExpired,
    OrderFilled,
    OrderRejected,
    OrderStatusReport,
    OrderUpdated,
)
from traderbot.model.enums import OrderStatus
from traderbot.model.order import Order

_log = logging.getLogger("traderbot.execution.broker")


class HealthListener(Protocol):
    """Hears the broker's health from the venue (system circuit breakers implement it)."""

    def record_request(self, ok: bool) -> None: ...

    def record_error(self, error: BaseException) -> None: ...

    def record_latency(self, seconds: float) -> None: ...

    def on_disconnect(self, now_ns: int) -> None: ...

    def on_reconnect(self, now_ns: int) -> None: ...


def fill_event(f: BrokerFill, order: Order) -> OrderFilled:
    return OrderFilled(
        order.client_order_id,
        order.instrument_id,
        order.strategy_id,
        f.ts,
        trade_id=f.trade_id,
        side=f.side.value,
        quantity=f.quantity,
        price=f.price,
        commission=f.commission,
        commission_currency=f.commission_currency,
        venue_order_id=f.venue_order_id,
    )


def report_event(order: Order, remote: BrokerOrder | None, ts: int) -> OrderStatusReport:
    if remote is None:
        return OrderStatusReport(
            order.client_order_id, order.instrument_id, order.strategy_id, ts, found=False
        )
    return OrderStatusReport(
        order.client_order_id,
        order.instrument_id,
        order.strategy_id,
        ts,
        reason=remote.reason,
        found=True,
        status=remote.status.value,
        filled_qty=remote.filled_qty,
        avg_price=remote.avg_price,
        venue_order_id=remote.venue_order_id,
    )


class BrokerVenue:
    def __init__(
        self,
        broker: Broker,
        emit: Callable[[OrderEvent], None],
        now_ns: Callable[[], int],
        *,
        rate_limit_retries: int = 5,
    ) -> None:
        self.broker = broker
        self.emit = emit
        self.now_ns = now_ns
        self.rate_limit_retries = rate_limit_retries
        self.tasks: set[asyncio.Task[None]] = set()
        self.errors = 0
        # health hooks (system circuit breakers): requests, latencies and the transaction stream's state
        self.health: HealthListener | None = None
        self.stream_up_after_s = 5.0  # a restarted stream that stays open this long (or delivers) is back
        self._stream_down = False
        self._up_timer: asyncio.TimerHandle | None = None

    # ---- the engine's Venue interface ----------------------------------------------------------------------
    def submit(self, order: Order) -> None:
        self._spawn(self._submit(order))

    def cancel(self, order: Order) -> None:
        self._spawn(self._cancel(order))

    def query(self, order: Order) -> None:
        self._spawn(self._query(order))

    def replace(self, order: Order, *, quantity: Decimal | None = None, price: Decimal | None = None) -> None:
        self._spawn(self._replace(order, quantity, price))

    async def drain(self) -> None:
        """Wait until every call in flight has been answered (tests, shutdown)."""
        while self.tasks:
            await asyncio.gather(*list(self.tasks), return_exceptions=True)

    # ---- calls ---------------------------------------------------------------------------------------------
    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def _retrying(self, call: Callable[[], Awaitable[Any]]) -> Any:
        for _ in range(self.rate_limit_retries):
            try:
                return await self._timed(call)
            except BrokerRateLimited as exc:
                await asyncio.sleep(exc.retry_after)
        return await self._timed(call)

    # ---- health hooks (system circuit breakers) ------------------------------------------------------------
    async def _timed(self, call: Callable[[], Awaitable[Any]]) -> Any:
        """One broker request, its outcome and latency told to `health`. A refusal is an answer (ok); a rate
        limit is paced here and not reported; anything else raised is a failed request."""
        if self.health is None:
            return await call()
        start = time.perf_counter()
        try:
            result = await call()
        except BrokerRateLimited:
            raise
        except BrokerRejected:
            self._tell_health(True, time.perf_counter() - start)
            raise
        except Exception as exc:
            self._tell_health(exc, None)
            raise
        self._tell_health(True, time.perf_counter() - start)
        return result

    def _tell_health(self, outcome: bool | Exception, seconds: float | None) -> None:
        """A listener's failure is logged: it must never cost a broker answer."""
        health = self.health
        if health is None:
            return
        try:
            if seconds is not None:
                health.record_latency(seconds)
            if isinstance(outcome, Exception):
                health.record_error(outcome)
            else:
                health.record_request(outcome)
        except Exception:
            _log.exception("the health listener failed")

    def _cancel_up_timer(self) -> None:
        if self._up_timer is not None:
            self._up_timer.cancel()
            self._up_timer = None

    def _stream_is_down(self) -> None:
        self._cancel_up_timer()
        self._stream_down = True
        if self.health is not None:
            try:
                self.health.on_disconnect(self.now_ns())
            except Exception:
                _log.exception("the health listener failed")

    def _stream_is_up(self) -> None:
        self._cancel_up_timer()
        if not self._stream_down:
            return
        self._stream_down = False
        if self.health is not None:
            try:
                self.health.on_reconnect(self.now_ns())
            except Exception:
                _log.exception("the health listener failed")

    async def _submit(self, order: Order) -> None:
        # Bracket exits are traderbot's own child orders (sent when the entry fills, tracked, OCO-managed by
        # the engine), the same on every venue; a broker-native bracket would duplicate them.
        sent = order if order.bracket is None else dataclasses.replace(order, bracket=None)
        try:
            ack: BrokerOrder = await self._retrying(lambda: self.broker.submit(sent))
        except BrokerRejected as exc:
            self._reject(order, f"{exc.code}: {exc}")
            return
        except BrokerError as exc:
            self.errors += 1
            _log.warning("order %s: %s (outcome unknown; it will be looked up)", order.client_order_id, exc)
            return
        except Exception:  # an adapter bug must not kill the loop; the ack timer settles the order
            self.errors += 1
            _log.exception("order %s: the broker adapter failed", order.client_order_id)
            return
        if ack.status is OrderStatus.REJECTED:
            self._reject(order, ack.reason or "REJECTED by the broker")
            return
        ts = ack.ts or self.now_ns()
        self.emit(
            OrderAccepted(
                order.client_order_id,
                order.instrument_id,
                order.strategy_id,
                ts,
                venue_order_id=ack.venue_order_id,
            )
        )
        if ack.status is OrderStatus.CANCELED and not ack.filled_qty:  # e.g. a FOK market order not filled
            self.emit(
                OrderCanceled(order.client_order_id, order.instrument_id, order.strategy_id, ts, ack.reason)
            )
        elif ack.status is OrderStatus.EXPIRED and not ack.filled_qty:
            self.emit(
                OrderExpired(order.client_order_id, order.instrument_id, order.strategy_id, ts, ack.reason)
            )

    def _reject(self, order: Order, reason: str) -> None:
        self.emit(
            OrderRejected(
                order.client_order_id, order.instrument_id, order.strategy_id, self.now_ns(), reason=reason
            )
        )

    async def _cancel(self, order: Order) -> None:
        try:
            await self._retrying(lambda: self.broker.cancel(order))
        except BrokerError as exc:  # the engine's timer looks the order up and settles it
            self.errors += 1
            _log.warning("cancel of %s: %s", order.client_order_id, exc)

    async def _replace(self, order: Order, quantity: Decimal | None, price: Decimal | None) -> None:
        try:
            ack: BrokerOrder = await self._retrying(
                lambda: self.broker.replace(order, quantity=quantity, price=price)
            )
        except BrokerError as exc:
            self.errors += 1
            _log.warning("replace of %s: %s", order.client_order_id, exc)
            return
        self.emit(
            OrderUpdated(
                order.client_order_id,
                order.instrument_id,
                order.strategy_id,
                ack.ts or self.now_ns(),
                quantity=ack.quantity,
                price=ack.price,
                trigger_price=ack.trigger_price,
            )
        )

    async def _query(self, order: Order) -> None:
        try:
            remote = await self._retrying(lambda: self.broker.order(order.client_order_id))
            fills: list[BrokerFill] = []
            if remote is not None and remote.filled_qty > order.filled_qty:
                since = max(order.ts_init - 60_000_000_000, 0)
                fills = [
                    f
                    for f in await self._retrying(lambda: self.broker.fills(since))
                    if f.client_order_id == order.client_order_id
                ]
        except BrokerError as exc:
            self.errors += 1
            _log.warning("lookup of %s: %s (asked again later)", order.client_order_id, exc)
            return
        for f in fills:
            self.emit(fill_event(f, order))
        self.emit(report_event(order, remote, self.now_ns()))

    # ---- the transaction stream ----------------------------------------------------------------------------
    async def pump_transactions(
        self, on_reconnect: Callable[[str], Awaitable[None]], *, retry_delay: float = 1.0
    ) -> None:
        """Hand the broker's order events to the engine until cancelled; reconcile after every reconnect.

        `health` hears a drop when the stream fails or ends, and the recovery when the restarted stream
        delivers anything or stays open `stream_up_after_s` (or the adapter reports StreamReconnected).
        """
        while True:
            if self._stream_down and self.health is not None:  # health hook: "back" after a quiet while
                self._up_timer = asyncio.get_running_loop().call_later(
                    self.stream_up_after_s, self._stream_is_up
                )
            try:
                async for ev in self.broker.transactions():
                    if isinstance(ev, StreamInterrupted):  # the adapter reconnects by itself: down until then
                        self._stream_is_down()  # health hook
                        continue
                    self._stream_is_up()  # health hook
                    if isinstance(ev, StreamReconnected):
                        await on_reconnect(f"stream reconnected: {ev.reason}".rstrip(": "))
                    else:
                        self.emit(ev)
            except asyncio.CancelledError:
                self._cancel_up_timer()
                raise
            except Exception as exc:  # a dropped stream the adapter could not resume: restart and reconcile
                self.errors += 1
                _log.warning("transaction stream of %s ended: %s; reconnecting", self.broker.name, exc)
            self._stream_is_down()  # health hook
            await asyncio.sleep(retry_delay)
            await on_reconnect("transaction stream restarted")
