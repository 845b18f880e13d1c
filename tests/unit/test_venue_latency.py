"""Latency on the simulated venue: orders and cancels arrive late, acknowledgements carry the arrival time,
nothing fills on bars that closed before the arrival, a cancel can lose the race against a fill, and a lookup
of an order still in flight finds nothing. Times are worked out by hand from hourly bars starting T0."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal as D
from typing import Any

import numpy as np
import pytest
from tests.sim_harness import HOUR, T0, Action, Row, scripted

from traderbot.brokers.sim.costs import VenueConfig
from traderbot.brokers.sim.latency import LatencyModel
from traderbot.core.messages import (
    OrderAccepted,
    OrderCanceled,
    OrderFilled,
    OrderStatusReport,
)
from traderbot.data.series import BarSeries
from traderbot.errors import UserError
from traderbot.kernel.kernel import Kernel
from traderbot.model.enums import OrderStatus
from traderbot.model.instrument import Instrument, get_instrument
from traderbot.model.order import Order
from traderbot.risk.sizing import Sizing

EURUSD = get_instrument("EURUSD")
MS = 1_000_000
FLAT: Row = (1.1000, 1.1010, 1.0990, 1.1000)
MOVING: list[Row] = [
    (1.1000, 1.1010, 1.0990, 1.1005),
    (1.1005, 1.1020, 1.1000, 1.1015),
    (1.1012, 1.1030, 1.1008, 1.1025),
    (1.1027, 1.1040, 1.1020, 1.1030),
    (1.1031, 1.1045, 1.1025, 1.1040),
]


@dataclass
class Run:
    kernel: Kernel
    seen: list[Any]  # every event the venue sent toward the order management, in order

    def order(self, n: int = 0) -> Order:
        return list(self.kernel.cache.orders.values())[n]

    def of(self, kind: type) -> list[Any]:
        return [e for e in self.seen if isinstance(e, kind)]


def run(
    script: dict[int, Action],
    rows: list[Row],
    *,
    venue: VenueConfig | None = None,
    stamps: list[int] | None = None,
    inst: Instrument = EURUSD,
) -> Run:
    kernel = Kernel(account_currency=inst.quote, starting_cash=D(100_000), venue=venue)
    kernel.finite_replay = True
    ts = np.array(stamps if stamps is not None else [T0 + n * HOUR for n in range(len(rows))], dtype=np.int64)
    cols = [np.array([r[k] for r in rows]) for k in range(4)]
    kernel.add_data(
        inst,
        BarSeries.from_arrays(
            inst.id, "1h", ts, cols[0], cols[1], cols[2], cols[3], np.full(len(rows), 1000.0)
        ),
    )
    kernel.add_strategy(scripted(script)(), inst.id, Sizing.parse("units:1000"))
    seen: list[Any] = []
    inner = kernel.venue.emit

    def tap(event: Any) -> None:
        seen.append(event)
        inner(event)

    kernel.venue.emit = tap
    kernel.run()
    return Run(kernel, seen)


def lat(submit_ms: int = 0, cancel_ms: int = 0, jitter_ms: int = 0, seed: int = 0) -> VenueConfig:
    return VenueConfig(latency=LatencyModel(D(submit_ms), D(cancel_ms), D(jitter_ms), seed))


# ---- orders arrive late --------------------------------------------------------------------------------------
def test_ack_carries_the_arrival_time_and_the_fill_is_never_stamped_before_it() -> None:
    r = run({0: lambda s: s.buy(1000)}, MOVING, venue=lat(submit_ms=250))
    arrival = T0 + HOUR + 250 * MS  # sent at bar 0's close
    (ack,) = r.of(OrderAccepted)
    (fill,) = r.of(OrderFilled)
    assert ack.ts == arrival
    # bar 1 closed after the arrival: the order takes part in it, at its open, stamped at the arrival
    assert (fill.price, fill.ts) == (D("1.1005"), arrival)
    assert r.seen.index(ack) < r.seen.index(fill)


def test_without_latency_the_fill_is_at_the_next_open_at_the_bar_time() -> None:
    r = run({0: lambda s: s.buy(1000)}, MOVING)
    (ack,) = r.of(OrderAccepted)
    (fill,) = r.of(OrderFilled)
    assert (ack.ts, fill.price, fill.ts) == (T0 + HOUR, D("1.1005"), T0 + HOUR)


def test_an_order_cannot_fill_in_a_bar_that_closed_before_it_arrived() -> None:
    r = run({0: lambda s: s.buy(1000)}, MOVING, venue=lat(submit_ms=90 * 60_000))  # 90 minutes
    arrival = T0 + HOUR + 90 * 60_000 * MS  # inside bar 2 (bar 1 closed at T0+2h, before it)
    (ack,) = r.of(OrderAccepted)
    (fill,) = r.of(OrderFilled)
    assert ack.ts == arrival
    assert (fill.price, fill.ts) == (D("1.1012"), arrival)  # bar 2's open


def test_with_fill_on_close_a_late_market_order_fills_at_the_close_of_the_next_bar() -> None:
    cfg = VenueConfig(fill_on="close", latency=LatencyModel(submit_ms=D(50)))
    r = run({0: lambda s: s.buy(1000)}, MOVING, venue=cfg)
    (fill,) = r.of(OrderFilled)
    assert (fill.price, fill.ts) == (D("1.1015"), T0 + 2 * HOUR)  # bar 1's close, not bar 0's
    plain = run({0: lambda s: s.buy(1000)}, MOVING, venue=VenueConfig(fill_on="close"))
    assert [(f.price, f.ts) for f in plain.of(OrderFilled)] == [(D("1.1005"), T0 + HOUR)]


def test_an_order_arriving_in_a_gap_between_bars_is_acknowledged_at_its_arrival() -> None:
    stamps = [T0, T0 + HOUR, T0 + 10 * HOUR, T0 + 11 * HOUR]  # a nine-hour hole after bar 1
    r = run({1: lambda s: s.buy(1000)}, MOVING[:4], venue=lat(submit_ms=3_600_000), stamps=stamps)
    (ack,) = r.of(OrderAccepted)
    (fill,) = r.of(OrderFilled)
    assert ack.ts == T0 + 3 * HOUR
    assert (fill.price, fill.ts) == (D("1.1012"), T0 + 10 * HOUR)  # the next bar's open, at its own time


def test_jitter_is_seeded_and_bounded() -> None:
    def acks(seed: int) -> list[int]:
        script: dict[int, Action] = {i: (lambda s: s.buy(1000, limit=1.05)) for i in range(4)}
        r = run(script, [FLAT] * 6, venue=lat(submit_ms=100, jitter_ms=40, seed=seed))
        sent = [T0 + (i + 1) * HOUR for i in range(4)]
        return [a.ts - t for a, t in zip(r.of(OrderAccepted), sent, strict=True)]

    first, again, other = acks(7), acks(7), acks(8)
    assert first == again
    assert first != other
    assert all(100 * MS <= d <= 140 * MS for d in first + other)


def test_invalid_latency_is_refused_with_one_sentence() -> None:
    with pytest.raises(UserError, match="submit_ms=-1 is not valid"):
        LatencyModel(submit_ms=D(-1))


# ---- cancels arrive late: the race ---------------------------------------------------------------------------
def test_a_fill_can_beat_a_cancel_that_is_still_on_its_way() -> None:
    rows = [FLAT, FLAT, FLAT, (1.1000, 1.1010, 1.0940, 1.0950), FLAT]
    states: list[OrderStatus] = []

    def cancel(s: Any) -> None:
        s.cancel(s.ctx.open_order_ids(s.strategy_id, "EURUSD")[0])
        states.append(next(iter(s.ctx.k.cache.orders.values())).status)

    script: dict[int, Action] = {0: lambda s: s.buy(1000, limit=1.0950), 2: cancel}
    r = run(script, rows, venue=lat(cancel_ms=100))
    o = r.order()
    assert states == [OrderStatus.PENDING_CANCEL]
    assert o.status is OrderStatus.FILLED  # PENDING_CANCEL -> FILLED: the fill in bar 3 came first
    (fill,) = r.of(OrderFilled)
    assert (fill.price, fill.ts) == (D("1.0950"), T0 + 3 * HOUR)
    assert not r.of(OrderCanceled)
    assert r.kernel.execution.illegal_events == 0


def test_a_cancel_lands_at_its_arrival_when_the_bar_does_not_reach_the_limit() -> None:
    script: dict[int, Action] = {
        0: lambda s: s.buy(1000, limit=1.0950),
        2: lambda s: s.cancel(s.ctx.open_order_ids(s.strategy_id, "EURUSD")[0]),
    }
    r = run(script, [FLAT] * 5, venue=lat(cancel_ms=100))
    (canceled,) = r.of(OrderCanceled)
    assert canceled.ts == T0 + 3 * HOUR + 100 * MS
    assert r.order().status is OrderStatus.CANCELED


def test_a_cancel_that_arrives_before_the_next_bar_opens_wins() -> None:
    rows = [FLAT, FLAT, FLAT, (1.1000, 1.1010, 1.0940, 1.0950)]
    stamps = [T0, T0 + HOUR, T0 + 2 * HOUR, T0 + 8 * HOUR]  # the crossing bar opens long after the cancel
    script: dict[int, Action] = {
        0: lambda s: s.buy(1000, limit=1.0950),
        2: lambda s: s.cancel(s.ctx.open_order_ids(s.strategy_id, "EURUSD")[0]),
    }
    r = run(script, rows, venue=lat(cancel_ms=100), stamps=stamps)
    assert not r.of(OrderFilled)
    (canceled,) = r.of(OrderCanceled)
    assert canceled.ts == T0 + 3 * HOUR + 100 * MS


# ---- lookups -------------------------------------------------------------------------------------------------
def test_a_lookup_before_the_arrival_finds_nothing_and_after_it_finds_the_order() -> None:
    def ask(s: Any) -> None:
        o = next(iter(s.ctx.k.cache.orders.values()))
        s.ctx.k.venue.query(o)

    def send_and_ask(s: Any) -> None:
        s.buy(1000, limit=1.05)
        ask(s)

    script: dict[int, Action] = {0: send_and_ask, 1: ask}
    r = run(script, [FLAT] * 4, venue=lat(submit_ms=250))
    early, late = r.of(OrderStatusReport)
    assert (early.found, early.status) == (False, "")
    assert (late.found, late.status, late.filled_qty, late.avg_price) == (True, "accepted", D(0), None)
    assert late.venue_order_id == r.order().venue_order_id
    # the OMS sent the order again on found=False; the venue already had it on its way and ignored the copy
    assert r.kernel.venue.duplicate_submits == 1
    assert len(r.of(OrderAccepted)) == 1
