"""System circuit breakers in a trading session: broker errors and rejection bursts lock the system (new orders
denied with CIRCUIT_BREAKER), the flatten action closes positions through the kill switch, and a long lost
connection pauses until the stream is back. Real SQLite, real asyncio tasks, the in-memory broker double."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

from tests.fakes.memory_broker import MemoryBroker

from traderbot.brokers.base import BrokerEvent, BrokerUnavailable, StreamInterrupted, StreamReconnected
from traderbot.live.session import SessionConfig, TradingSession
from traderbot.model.enums import OrderStatus, OrderType
from traderbot.model.instrument import get_instrument
from traderbot.risk.states import SYSTEM, TradingState
from traderbot.risk.system_breakers import (
    DISCONNECT,
    ERRORS,
    REJECTIONS,
    SystemBreakers,
    SystemBreakersConfig,
)

EURUSD = get_instrument("EURUSD")


class DroppingBroker(MemoryBroker):
    """The in-memory broker whose transaction stream can be dropped, and refused while `down` is set."""

    down = False
    _DROP = object()

    def drop(self) -> None:
        self.down = True
        self.events.put_nowait(self._DROP)  # type: ignore[arg-type]

    async def transactions(self) -> AsyncIterator[BrokerEvent]:
        if self.down:
            raise BrokerUnavailable("stream connection refused")
        while True:
            ev = await self.events.get()
            if ev is self._DROP:
                raise BrokerUnavailable("stream connection dropped")
            yield ev


def _config(tmp_path: Path) -> SessionConfig:
    return SessionConfig(
        database_url=f"sqlite:///{tmp_path / 'tb.db'}",
        ack_timeout_s=0.05,
        reconcile_interval_s=3600,
        timer_interval_s=0.002,
    )


async def until(cond: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.005)


async def _session(broker: MemoryBroker, tmp_path: Path, **breaker_config: Any) -> TradingSession:
    breakers = SystemBreakers(SystemBreakersConfig(**breaker_config))
    s = TradingSession(broker, _config(tmp_path), [EURUSD], breakers=breakers)
    await s.start()
    return s


def test_repeated_broker_errors_pause_the_system_and_a_new_order_is_denied(tmp_path: Path) -> None:
    async def run() -> None:
        broker = MemoryBroker()
        s = await _session(broker, tmp_path, max_error_rate=Decimal("0.5"), min_requests=4)
        broker.lose_next = broker.fail_queries = 100  # every send is lost and every lookup fails with a 503
        stuck = s.order("S1", "EURUSD", "buy", Decimal(1000))
        s.submit(stuck)
        await until(lambda: s.kernel.risk.locks.get(SYSTEM, ERRORS) is not None)
        lock = s.kernel.risk.locks.get(SYSTEM, ERRORS)
        assert lock is not None and lock.action is TradingState.HALTED
        assert lock.reason == "broker errors 4/4 = 100% > 50% in 60 s (last: UNAVAILABLE)"

        late = s.order("S1", "EURUSD", "buy", Decimal(1000))
        assert s.submit(late) is None
        assert late.status is OrderStatus.DENIED and late.reason.startswith(
            "CIRCUIT_BREAKER: breaker:broker_errors"
        )
        assert late.client_order_id not in broker.submissions
        assert any(line.startswith("breaker:broker_errors on system: halted") for line in s.breakers.status())  # type: ignore[union-attr]
        await s.stop()

    asyncio.run(run())


def test_a_rejection_burst_pauses_the_system_and_a_new_order_is_denied(tmp_path: Path) -> None:
    async def run() -> None:
        broker = MemoryBroker()
        s = await _session(broker, tmp_path, max_rejections=2)
        broker.reject_next = 3
        burst = [s.order("S1", "EURUSD", "buy", Decimal(1000)) for _ in range(3)]
        for o in burst:
            s.submit(o)
        await until(lambda: all(o.status is OrderStatus.REJECTED for o in burst))
        lock = s.kernel.risk.locks.get(SYSTEM, REJECTIONS)
        assert lock is not None and lock.action is TradingState.HALTED
        assert lock.reason == "order rejections 3 > 2 in 60 s (last: INSUFFICIENT_MARGIN)"

        late = s.order("S1", "EURUSD", "buy", Decimal(1000))
        assert s.submit(late) is None
        assert late.reason.startswith("CIRCUIT_BREAKER: breaker:rejections on system: halted")
        await s.stop()

    asyncio.run(run())


def test_the_flatten_action_closes_positions_through_the_kill_switch(tmp_path: Path) -> None:
    async def run() -> None:
        broker = MemoryBroker()
        s = await _session(broker, tmp_path, max_rejections=1, on_rejections="flatten")
        entry = s.order("S1", "EURUSD", "buy", Decimal(1000))
        s.submit(entry)
        await until(lambda: s.positions() == {"EURUSD": Decimal(1000)})
        resting = s.order("S1", "EURUSD", "buy", Decimal(500), type=OrderType.LIMIT, price=Decimal("1.05000"))
        s.submit(resting)
        await until(lambda: resting.status is OrderStatus.ACCEPTED)

        broker.reject_next = 2  # two refusals trip the breaker; the kill switch's own order then goes through
        for o in [s.order("S1", "EURUSD", "buy", Decimal(100)) for _ in range(2)]:
            s.submit(o)
        await until(lambda: s.positions() == {} and resting.status is OrderStatus.CANCELED)
        assert broker.position["EURUSD"] == 0
        assert s.kernel.kill_switch.engaged and s.kernel.risk.state is TradingState.HALTED
        closing = [o for o in s.kernel.cache.orders.values() if o.tag == "kill_switch"]
        assert len(closing) == 1 and closing[0].status is OrderStatus.FILLED and closing[0].reduce_only
        audit = s.kernel.risk.states.store.history()  # type: ignore[attr-defined]
        assert audit[-1].actor == "breaker:rejections" and "order rejections 2 > 1" in audit[-1].reason
        lock = s.kernel.risk.locks.get(SYSTEM, REJECTIONS)
        assert lock is not None and lock.action is TradingState.HALTED
        await s.stop()

    asyncio.run(run())


def test_a_long_lost_connection_pauses_until_the_stream_is_back(tmp_path: Path) -> None:
    async def run() -> None:
        broker = DroppingBroker()
        s = await _session(broker, tmp_path, disconnect_after_s=1)
        s.venue.stream_up_after_s = 0.1  # a restarted stream that stays open this long is back
        broker.drop()
        await until(lambda: s.kernel.risk.locks.get(SYSTEM, DISCONNECT) is not None, timeout=10)
        lock = s.kernel.risk.locks.get(SYSTEM, DISCONNECT)
        assert lock is not None and lock.reason.startswith("broker stream disconnected for 1 s >= 1 s")
        late = s.order("S1", "EURUSD", "buy", Decimal(1000))
        assert s.submit(late) is None and late.reason.startswith("CIRCUIT_BREAKER: breaker:disconnect")

        broker.down = False
        await until(lambda: s.kernel.risk.locks.get(SYSTEM, DISCONNECT) is None, timeout=10)
        again = s.order("S1", "EURUSD", "buy", Decimal(1000))
        s.submit(again)
        await until(lambda: again.status is OrderStatus.FILLED)
        await s.stop()

    asyncio.run(run())


class ReconnectingBroker(MemoryBroker):
    """Reconnects its stream by itself, as the real adapters do: says StreamInterrupted when the stream is lost,
    stays silent while it retries, then says StreamReconnected. The stream itself never ends."""

    def interrupt(self) -> None:
        self.events.put_nowait(StreamInterrupted("mem", time.time_ns(), "connection reset by peer"))

    def back(self) -> None:
        self.events.put_nowait(StreamReconnected("mem", time.time_ns(), "connection reset by peer"))


def test_an_outage_inside_the_adapter_trips_the_lost_connection_breaker(tmp_path: Path) -> None:
    async def run() -> None:
        broker = ReconnectingBroker()
        s = await _session(broker, tmp_path, disconnect_after_s=1)
        broker.interrupt()
        await until(lambda: s.kernel.risk.locks.get(SYSTEM, DISCONNECT) is not None, timeout=10)
        late = s.order("S1", "EURUSD", "buy", Decimal(1000))
        assert s.submit(late) is None and late.reason.startswith("CIRCUIT_BREAKER: breaker:disconnect")
        assert s.venue.errors == 0  # told of the outage, not crashed into: the same stream goes on
        broker.back()
        await until(lambda: s.kernel.risk.locks.get(SYSTEM, DISCONNECT) is None, timeout=10)
        again = s.order("S1", "EURUSD", "buy", Decimal(1000))
        s.submit(again)
        await until(lambda: again.status is OrderStatus.FILLED)
        await s.stop()

    asyncio.run(run())
