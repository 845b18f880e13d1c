"""System circuit breakers: broker error rate, order rejections, latency p90 and lost connection lock the system
with pause / reduce / flatten; windows, minimums and validation."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import pytest
from pydantic import ValidationError
from tests.fakes.memory_broker import MemoryBroker

from traderbot.brokers.base import BrokerEvent, BrokerTimeout, BrokerUnavailable
from traderbot.core.bus import MessageBus
from traderbot.core.messages import OrderDenied, OrderEvent, OrderRejected
from traderbot.execution.broker_venue import BrokerVenue
from traderbot.model.enums import OrderSide, OrderType
from traderbot.model.order import Order
from traderbot.risk.locks import LockBook
from traderbot.risk.states import SYSTEM, TradingState
from traderbot.risk.system_breakers import (
    DISCONNECT,
    ERRORS,
    LATENCY,
    REJECTIONS,
    SystemBreakers,
    SystemBreakersConfig,
)

S = 1_000_000_000
T0 = 1_700_000_000 * S


class Clock:
    """Hand-moved time for the breakers and their lock book."""

    def __init__(self) -> None:
        self.t = T0

    def __call__(self) -> int:
        return self.t

    def advance(self, seconds: float) -> int:
        self.t += int(seconds * S)
        return self.t


def breakers(**kw: Any) -> tuple[SystemBreakers, Clock, list[tuple[str, str]]]:
    clock = Clock()
    flattened: list[tuple[str, str]] = []
    b = SystemBreakers(
        SystemBreakersConfig(**kw),
        LockBook(now_ns=clock),
        now_ns=clock,
        flatten=lambda source, reason: flattened.append((source, reason)),
    )
    return b, clock, flattened


def requests(b: SystemBreakers, ok: int, failed: int) -> None:
    for _ in range(ok):
        b.record_request(True)
    for _ in range(failed):
        b.record_error(BrokerUnavailable("service unavailable (503)"))


# ---- broker errors -------------------------------------------------------------------------------------------
def test_error_rate_above_the_limit_pauses_the_system_with_the_numbers() -> None:
    b, clock, flattened = breakers(max_error_rate=Decimal("0.5"))
    requests(b, ok=4, failed=6)
    lock = b.locks.get(SYSTEM, ERRORS)
    assert lock is not None and lock.action is TradingState.HALTED
    assert lock.reason == "broker errors 6/10 = 60% > 50% in 60 s (last: UNAVAILABLE)"
    assert lock.until_ns == clock.t + 15 * 60 * S
    assert flattened == []


def test_error_rate_at_the_limit_does_not_trip() -> None:
    b, _, _ = breakers(max_error_rate=Decimal("0.5"))
    requests(b, ok=5, failed=5)
    assert b.locks.get(SYSTEM, ERRORS) is None


def test_error_rate_below_min_requests_does_not_trip() -> None:
    b, _, _ = breakers(max_error_rate=Decimal("0.5"), min_requests=10)
    requests(b, ok=0, failed=9)
    assert b.locks.get(SYSTEM, ERRORS) is None
    b.record_request(True)  # the tenth request: 9/10 failed
    assert b.locks.get(SYSTEM, ERRORS) is not None


def test_old_errors_fall_out_of_the_window() -> None:
    b, clock, _ = breakers(max_error_rate=Decimal("0.5"), min_requests=4, window_s=60)
    requests(b, ok=0, failed=3)
    clock.advance(61)
    requests(b, ok=3, failed=1)  # the three old failures are gone: 1/4 = 25%
    assert b.locks.get(SYSTEM, ERRORS) is None
    assert b.status()[0].startswith("broker errors: 1/4 requests failed in the last 60 s")


def test_a_tripped_breaker_counts_afresh_and_does_not_trip_again_while_locked() -> None:
    b, clock, _ = breakers(max_error_rate=Decimal("0.5"), min_requests=2)
    requests(b, ok=0, failed=2)
    first = b.locks.get(SYSTEM, ERRORS)
    clock.advance(10)
    requests(b, ok=0, failed=5)
    assert b.locks.get(SYSTEM, ERRORS) == first  # not renewed while it holds
    clock.advance(15 * 60)  # the pause is over: fresh evidence trips again
    requests(b, ok=0, failed=2)
    again = b.locks.get(SYSTEM, ERRORS)
    assert again is not None and again.since_ns == clock.t


def test_broker_errors_with_reduce_set_a_reducing_lock() -> None:
    b, _, flattened = breakers(max_error_rate=Decimal("0.5"), min_requests=2, on_errors="reduce")
    requests(b, ok=0, failed=2)
    lock = b.locks.get(SYSTEM, ERRORS)
    assert lock is not None and lock.action is TradingState.REDUCING and flattened == []


def test_broker_errors_with_flatten_halt_and_call_flatten_with_the_breaker_name() -> None:
    b, _, flattened = breakers(max_error_rate=Decimal("0.5"), min_requests=2, on_errors="flatten")
    requests(b, ok=0, failed=2)
    lock = b.locks.get(SYSTEM, ERRORS)
    assert lock is not None and lock.action is TradingState.HALTED
    assert flattened == [(ERRORS, lock.reason)]


def test_a_failing_flatten_hook_does_not_break_the_caller_and_the_lock_holds() -> None:
    def broken(source: str, reason: str) -> None:
        raise RuntimeError("kill switch unreachable")

    config = SystemBreakersConfig(max_error_rate=Decimal("0.1"), min_requests=1, on_errors="flatten")
    b = SystemBreakers(config, flatten=broken)
    b.record_error(BrokerTimeout("no answer"))  # trips; the hook raises inside, not here
    lock = b.locks.get(SYSTEM, ERRORS)
    assert lock is not None and lock.reason == "broker errors 1/1 = 100% > 10% in 60 s (last: TIMEOUT)"


def test_an_error_rate_of_one_never_trips_below_every_request_failing() -> None:
    b, _, _ = breakers(max_error_rate=Decimal(1), min_requests=1)
    requests(b, ok=0, failed=20)
    assert b.locks.get(SYSTEM, ERRORS) is None  # "above 100%" cannot happen: 1 switches the breaker off


# ---- order rejections ----------------------------------------------------------------------------------------
def test_a_rejection_burst_on_the_bus_pauses_the_system() -> None:
    b, _, _ = breakers(max_rejections=3)
    bus = MessageBus()
    b.attach(bus)
    for n in range(3):
        bus.publish("orders", OrderRejected(f"O-{n}", "EURUSD", "S1", 0, "INSUFFICIENT_MARGIN: no margin"))
    assert b.locks.get(SYSTEM, REJECTIONS) is None  # three is the most allowed
    bus.publish("orders", OrderRejected("O-3", "EURUSD", "S1", 0, "MARKET_CLOSED: closed"))
    lock = b.locks.get(SYSTEM, REJECTIONS)
    assert lock is not None and lock.action is TradingState.HALTED
    assert lock.reason == "order rejections 4 > 3 in 60 s (last: MARKET_CLOSED)"


def test_denials_and_the_engines_own_rejections_are_not_venue_rejections() -> None:
    b, _, _ = breakers(max_rejections=1)
    bus = MessageBus()
    b.attach(bus)
    bus.publish("orders", OrderDenied("O-1", "EURUSD", "S1", 0, "TRADING_HALTED: state=halted"))
    bus.publish("orders", OrderRejected("O-2", "EURUSD", "S1", 0, "JOURNAL_WRITE_FAILED: disk full"))
    bus.publish("orders", OrderRejected("O-3", "EURUSD", "S1", 0, "NO_ACK: no record after 3 sends"))
    bus.publish("orders", OrderRejected("O-4", "EURUSD", "S1", 0, "INSUFFICIENT_MARGIN: no margin"))
    assert b.locks.get(SYSTEM, REJECTIONS) is None


def test_old_rejections_fall_out_of_the_window() -> None:
    b, clock, _ = breakers(max_rejections=2, window_s=30)
    b.record_rejection("INSUFFICIENT_MARGIN: x")
    b.record_rejection("INSUFFICIENT_MARGIN: x")
    clock.advance(31)
    b.record_rejection("INSUFFICIENT_MARGIN: x")
    assert b.locks.get(SYSTEM, REJECTIONS) is None


# ---- latency -------------------------------------------------------------------------------------------------
def test_latency_p90_above_the_limit_reduces_trading() -> None:
    b, _, _ = breakers(max_latency_ms=500)
    for seconds in [0.05] * 17 + [0.9, 0.8, 1.2]:  # 3 of 20 slow: the 18th smallest is 0.8 s
        b.record_latency(seconds)
    lock = b.locks.get(SYSTEM, LATENCY)
    assert lock is not None and lock.action is TradingState.REDUCING  # the default action for latency
    assert lock.reason == "broker latency p90 800 ms > 500 ms over the last 20 requests"


def test_latency_with_two_slow_requests_in_twenty_does_not_trip() -> None:
    b, _, _ = breakers(max_latency_ms=500)
    for seconds in [0.9, 1.2] + [0.05] * 18:
        b.record_latency(seconds)
    assert b.locks.get(SYSTEM, LATENCY) is None
    assert b.status()[0].startswith("broker latency: p90 50 ms over the last 20 requests")


def test_latency_needs_a_full_set_of_samples_before_it_trips() -> None:
    b, _, _ = breakers(max_latency_ms=500, latency_samples=5)
    for _ in range(4):
        b.record_latency(2.0)
    assert b.locks.get(SYSTEM, LATENCY) is None
    b.record_latency(2.0)
    assert b.locks.get(SYSTEM, LATENCY) is not None


def test_latency_uses_only_the_last_samples() -> None:
    b, _, _ = breakers(max_latency_ms=500, latency_samples=10)
    for seconds in [0.01] * 30 + [2.0]:
        b.record_latency(seconds)
    assert b.locks.get(SYSTEM, LATENCY) is None  # one slow request in the last ten: p90 is the 9th smallest
    b.record_latency(2.0)
    assert b.locks.get(SYSTEM, LATENCY) is not None  # two in ten: the 9th smallest is slow


# ---- lost connection -----------------------------------------------------------------------------------------
def test_a_disconnect_shorter_than_the_limit_does_not_trip() -> None:
    b, clock, _ = breakers(disconnect_after_s=30)
    b.on_disconnect(clock.t)
    b.poll(clock.advance(29))
    b.on_reconnect(clock.advance(0.5))
    b.poll(clock.advance(60))
    assert b.locks.get(SYSTEM, DISCONNECT) is None
    assert b.status()[0] == "broker stream: connected (trips at 30 s; then pause)"


def test_a_long_disconnect_pauses_and_the_reconnect_lifts_the_lock() -> None:
    b, clock, flattened = breakers(disconnect_after_s=30)
    b.on_disconnect(clock.t)
    b.on_disconnect(clock.advance(10))  # a second drop of the same outage keeps the first time
    b.poll(clock.advance(20))
    lock = b.locks.get(SYSTEM, DISCONNECT)
    assert lock is not None and lock.action is TradingState.HALTED and flattened == []
    assert lock.reason == "broker stream disconnected for 30 s >= 30 s"
    b.on_reconnect(clock.advance(5))
    assert b.locks.get(SYSTEM, DISCONNECT) is None
    history = b.locks.store.history  # type: ignore[attr-defined]
    assert history[-1].event == "cleared" and history[-1].reason == "connection restored after 35 s"


def test_a_disconnect_lock_is_renewed_while_the_connection_stays_down() -> None:
    b, clock, _ = breakers(disconnect_after_s=30, pause_minutes=1, on_disconnect="reduce")
    b.on_disconnect(clock.t)
    b.poll(clock.advance(30))
    first = b.locks.get(SYSTEM, DISCONNECT)
    assert first is not None and first.action is TradingState.REDUCING
    b.poll(clock.advance(61))  # the first lock ran out, the connection did not come back
    renewed = b.locks.get(SYSTEM, DISCONNECT)
    assert renewed is not None and renewed.since_ns == clock.t
    assert renewed.reason == "broker stream disconnected for 91 s >= 30 s"


def test_a_disconnect_with_flatten_flattens_once_and_keeps_its_lock_after_reconnect() -> None:
    b, clock, flattened = breakers(disconnect_after_s=30, on_disconnect="flatten", pause_minutes=1)
    b.on_disconnect(clock.t)
    b.poll(clock.advance(30))
    b.poll(clock.advance(90))  # still down after the lock's time: no second flatten
    assert flattened == [(DISCONNECT, "broker stream disconnected for 30 s >= 30 s")]
    b.on_disconnect(clock.t)
    b.on_reconnect(clock.advance(1))
    held = b.locks.get(SYSTEM, DISCONNECT)
    assert held is not None and held.action is TradingState.HALTED  # lifted by its time or by a person


# ---- off, status ---------------------------------------------------------------------------------------------
def test_every_breaker_is_off_by_default() -> None:
    b, clock, flattened = breakers()
    requests(b, ok=0, failed=50)
    for _ in range(50):
        b.record_rejection("INSUFFICIENT_MARGIN: x")
        b.record_latency(10.0)
    b.on_disconnect(clock.t)
    b.poll(clock.advance(3600))
    assert b.locks.active() == [] and flattened == []
    assert b.status() == ["system circuit breakers: all off"]


def test_status_names_each_measure_and_the_active_locks() -> None:
    b, _, _ = breakers(max_error_rate=Decimal("0.25"), min_requests=4, max_rejections=5, max_latency_ms=300)
    requests(b, ok=1, failed=3)  # trips at the fourth request, then counts afresh
    b.record_rejection("INSUFFICIENT_MARGIN: x")
    lines = b.status()
    assert lines[0] == (
        "broker errors: 0/0 requests failed in the last 60 s (trips above 25% from 4 requests; then pause)"
    )
    assert lines[1] == "order rejections: 1 in the last 60 s (trips above 5; then pause)"
    assert lines[2] == "broker latency: no samples (trips above 300 ms once 20 samples are in; then reduce)"
    assert lines[3].startswith("breaker:broker_errors on system: halted until ")
    assert lines[3].endswith("(broker errors 3/4 = 75% > 25% in 60 s (last: UNAVAILABLE))")


# ---- the venue's health hooks --------------------------------------------------------------------------------
def test_the_venue_reports_each_request_with_its_outcome_and_latency() -> None:
    async def run() -> SystemBreakers:
        broker = MemoryBroker()
        events: list[OrderEvent] = []
        venue = BrokerVenue(broker, events.append, time.time_ns)
        b = SystemBreakers(SystemBreakersConfig(max_error_rate=Decimal(1), max_latency_ms=60_000))
        venue.health = b
        broker.lose_next, broker.reject_next = 1, 0
        venue.submit(Order("O-1", "EURUSD", "S1", OrderSide.BUY, OrderType.MARKET, Decimal(1), 0))
        await venue.drain()  # lost: a failed request, no latency
        broker.reject_next = 1
        venue.submit(Order("O-2", "EURUSD", "S1", OrderSide.BUY, OrderType.MARKET, Decimal(1), 0))
        await venue.drain()  # refused: an answer
        venue.submit(Order("O-3", "EURUSD", "S1", OrderSide.BUY, OrderType.MARKET, Decimal(1), 0))
        await venue.drain()  # filled: an answer
        assert [type(e).__name__ for e in events] == ["OrderRejected", "OrderAccepted"]
        return b

    b = asyncio.run(run())
    lines = b.status()
    assert lines[0].startswith("broker errors: 1/3 requests failed")
    assert lines[1].startswith("broker latency: p90 ") and "over the last 2 requests" in lines[1]


def test_the_venue_reports_a_dropped_stream_and_its_recovery() -> None:
    class DroppingBroker(MemoryBroker):
        """The in-memory broker whose transaction stream fails while `down` is set."""

        down = True

        async def transactions(self) -> AsyncIterator[BrokerEvent]:
            if self.down:
                raise BrokerUnavailable("stream refused")
            async for ev in super().transactions():
                yield ev

    async def run() -> list[str]:
        broker = DroppingBroker()
        venue = BrokerVenue(broker, lambda _e: None, time.time_ns)
        venue.stream_up_after_s = 0.05
        seen: list[str] = []

        class Listener:
            def record_request(self, ok: bool) -> None: ...
            def record_error(self, error: BaseException) -> None: ...
            def record_latency(self, seconds: float) -> None: ...
            def on_disconnect(self, now_ns: int) -> None:
                seen.append("down")

            def on_reconnect(self, now_ns: int) -> None:
                seen.append("up")

        venue.health = Listener()
        reconciles: list[str] = []

        async def on_reconnect(reason: str) -> None:
            reconciles.append(reason)
            if len(reconciles) == 2:
                broker.down = False

        task = asyncio.get_running_loop().create_task(venue.pump_transactions(on_reconnect, retry_delay=0.01))
        deadline = time.monotonic() + 5
        while "up" not in seen and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        return seen

    assert asyncio.run(run()) == ["down", "down", "up"]


# ---- configuration -------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("fields", "message"),
    [
        pytest.param(
            {"max_error_rate": Decimal(0)}, "max_error_rate is a share of requests in (0, 1]", id="zero_rate"
        ),
        pytest.param({"max_error_rate": Decimal("1.5")}, "write 0.5 for 50%", id="rate_above_one"),
        pytest.param({"max_error_rate": Decimal("NaN")}, "Input should be a finite number", id="nan_rate"),
        pytest.param(
            {"max_rejections": 0}, "max_rejections must be at least 1, got 0; remove it", id="zero_rejections"
        ),
        pytest.param({"max_latency_ms": -5}, "max_latency_ms must be at least 1", id="negative_latency"),
        pytest.param(
            {"disconnect_after_s": 0}, "disconnect_after_s must be at least 1", id="zero_disconnect"
        ),
        pytest.param({"window_s": 0}, "window_s must be at least 1, got 0", id="zero_window"),
        pytest.param({"min_requests": 0}, "min_requests must be at least 1", id="zero_min_requests"),
        pytest.param({"latency_samples": 0}, "latency_samples must be at least 1", id="zero_samples"),
        pytest.param({"pause_minutes": -1}, "pause_minutes must be at least 1", id="negative_pause"),
        pytest.param({"on_errors": "panic"}, "'pause', 'reduce' or 'flatten'", id="unknown_action"),
        pytest.param({"max_error_rat": Decimal("0.5")}, "Extra inputs are not permitted", id="misspelt_key"),
    ],
)
def test_an_invalid_configuration_names_the_fix(fields: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError) as info:
        SystemBreakersConfig(**fields)
    assert message in str(info.value)


def test_the_defaults_are_off_with_pause_pause_reduce_pause_for_15_minutes() -> None:
    cfg = SystemBreakersConfig()
    assert (cfg.max_error_rate, cfg.max_rejections, cfg.max_latency_ms, cfg.disconnect_after_s) == (None,) * 4
    assert (cfg.on_errors, cfg.on_rejections, cfg.on_latency, cfg.on_disconnect) == (
        "pause",
        "pause",
        "reduce",
        "pause",
    )
    assert (cfg.window_s, cfg.min_requests, cfg.latency_samples, cfg.pause_minutes) == (60, 10, 20, 15)
