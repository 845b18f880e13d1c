"""Injected faults on the simulated venue, each reaching the real order management of a kernel: duplicate fill
reports (dropped by trade id), lost acknowledgements (SUBMITTED -> FILLED), acknowledgements that never come
(the venue has the order, or never got it: a lookup tells which), and a disconnect window (commands refused,
nothing matched, a reconnect notice afterwards). Fault choice by order number or by a seeded rate."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal as D
from typing import Any

import numpy as np
import pytest
from tests.sim_harness import HOUR, T0, Action, Row, scripted

from traderbot.brokers.base import BrokerUnavailable, StreamReconnected
from traderbot.brokers.sim.costs import VenueConfig
from traderbot.brokers.sim.faults import FaultPlan
from traderbot.core.messages import OrderAccepted, OrderCancelRejected, OrderFilled, OrderStatusReport
from traderbot.data.series import BarSeries
from traderbot.errors import UserError
from traderbot.kernel.kernel import Kernel
from traderbot.model.enums import OrderStatus
from traderbot.model.instrument import get_instrument
from traderbot.model.order import Order
from traderbot.risk.sizing import Sizing

EURUSD = get_instrument("EURUSD")
FLAT: Row = (1.1000, 1.1010, 1.0990, 1.1000)
DIP: Row = (1.1000, 1.1010, 1.0940, 1.0960)  # trades through a buy limit at 1.0950
MINUTE = 60_000_000_000


class StatusJournal:
    """An order journal that remembers every status it was asked to store, per client order id."""

    def __init__(self) -> None:
        self.statuses: dict[str, list[OrderStatus]] = {}

    def record(self, order: Order) -> None:
        self.statuses.setdefault(order.client_order_id, []).append(order.status)

    def update(self, order: Order, ts: int = 0) -> None:
        self.statuses.setdefault(order.client_order_id, []).append(order.status)

    def fill(self, order: Order | None, fill: OrderFilled, *, external: bool = False) -> None:
        if order is not None:
            self.statuses.setdefault(order.client_order_id, []).append(order.status)


@dataclass
class Run:
    kernel: Kernel
    seen: list[Any]  # what the venue sent toward the order management (after the faults)
    journal: StatusJournal
    notices: list[StreamReconnected]

    def order(self, n: int = 0) -> Order:
        return list(self.kernel.cache.orders.values())[n]

    def of(self, kind: type, cid: str | None = None) -> list[Any]:
        return [
            e for e in self.seen if isinstance(e, kind) and cid in (None, getattr(e, "client_order_id", None))
        ]


def run(script: dict[int, Action], rows: list[Row], plan: FaultPlan, *, ack_timeout_ns: int = 0) -> Run:
    journal = StatusJournal()
    kernel = Kernel(
        account_currency="USD", starting_cash=D(100_000), venue=VenueConfig(faults=plan), journal=journal
    )
    kernel.finite_replay = True
    kernel.execution.ack_timeout_ns = ack_timeout_ns
    ts = np.array([T0 + n * HOUR for n in range(len(rows))], dtype=np.int64)
    cols = [np.array([r[k] for r in rows]) for k in range(4)]
    kernel.add_data(
        EURUSD,
        BarSeries.from_arrays(
            "EURUSD", "1h", ts, cols[0], cols[1], cols[2], cols[3], np.full(len(rows), 1e6)
        ),
    )
    kernel.add_strategy(scripted(script)(), "EURUSD", Sizing.parse("units:1000"))
    seen: list[Any] = []
    faults = kernel.venue.faults
    assert faults is not None
    inner = faults.sink  # behind the faults: exactly what the order management receives

    def tap(event: Any) -> None:
        seen.append(event)
        inner(event)

    faults.sink = tap
    notices: list[StreamReconnected] = []
    kernel.venue.on_reconnect = notices.append
    kernel.run()
    return Run(kernel, seen, journal, notices)


def lookup(s: Any) -> None:
    k = s.ctx.k
    k.venue.query(next(iter(k.cache.orders.values())))


# ---- duplicate fills and lost acknowledgements ---------------------------------------------------------------
def test_a_duplicated_fill_report_is_dropped_by_the_oms() -> None:
    r = run({0: lambda s: s.buy(1000)}, [FLAT] * 3, FaultPlan(duplicate_fills=frozenset({1})))
    first, second = r.of(OrderFilled)
    assert first == second  # the same report twice, same trade id
    assert r.kernel.execution.duplicate_fills == 1
    assert len(r.kernel.cache.fills) == 1
    assert r.kernel.portfolio.net_quantity("EURUSD") == D(1000)
    assert r.kernel.venue.faults is not None
    assert r.kernel.venue.faults.injected == [("duplicate_fills", r.order().client_order_id)]


def test_fills_without_an_acknowledgement_move_the_order_from_submitted_to_filled() -> None:
    r = run({0: lambda s: s.buy(1000)}, [FLAT] * 3, FaultPlan(drop_ack=frozenset({1})))
    cid = r.order().client_order_id
    assert r.of(OrderAccepted) == []
    assert len(r.of(OrderFilled)) == 1
    assert r.journal.statuses[cid] == [OrderStatus.SUBMITTED, OrderStatus.FILLED]
    assert r.kernel.portfolio.net_quantity("EURUSD") == D(1000)


def test_only_the_chosen_order_numbers_are_hit() -> None:
    script = {0: lambda s: s.buy(1000), 1: lambda s: s.close(), 2: lambda s: s.buy(1000)}
    r = run(script, [FLAT] * 5, FaultPlan(drop_ack=frozenset({2})))
    acked = [e.client_order_id for e in r.of(OrderAccepted)]
    ids = [o.client_order_id for o in r.kernel.cache.orders.values()]
    assert acked == [ids[0], ids[2]]
    assert all(o.status is OrderStatus.FILLED for o in r.kernel.cache.orders.values())


# ---- acknowledgements that never come ------------------------------------------------------------------------
def test_ack_timeout_the_venue_has_the_order_and_says_so_when_asked() -> None:
    r = run(
        {0: lambda s: s.buy(1000, limit=1.05), 2: lookup}, [FLAT] * 4, FaultPlan(ack_timeout=frozenset({1}))
    )
    assert r.of(OrderAccepted) == []  # never acknowledged by the venue
    (report,) = r.of(OrderStatusReport)
    o = r.order()
    assert (report.found, report.status, report.filled_qty) == (True, "accepted", D(0))
    assert report.venue_order_id == o.venue_order_id != ""
    assert o.status is OrderStatus.ACCEPTED  # the OMS settled from the report


def test_ack_timeout_of_a_lost_order_the_venue_never_saw_it() -> None:
    script: dict[int, Action] = {0: lambda s: s.buy(1000, limit=1.05), 2: lookup}
    r = run(script, [FLAT] * 4, FaultPlan(lost=frozenset({1})))
    cid = r.order().client_order_id
    faults = r.kernel.venue.faults
    assert faults is not None and faults.injected[0] == ("lost", cid)
    before = r.seen[: r.seen.index(r.of(OrderStatusReport)[0])]
    assert before == []  # not a single event for it until the lookup
    report = r.of(OrderStatusReport)[0]
    assert (report.found, report.status) == (False, "")
    # the OMS sent it again (safe: the venue had no record); this copy arrived and works
    assert r.kernel.execution.resubmitted == 1
    assert [type(e) for e in r.seen] == [OrderStatusReport, OrderAccepted]


def test_the_oms_timer_finds_a_lost_order_missing_and_the_resend_fills() -> None:
    r = run(
        {0: lambda s: s.buy(1000)}, [FLAT] * 4, FaultPlan(lost=frozenset({1})), ack_timeout_ns=30 * MINUTE
    )
    assert [type(e) for e in r.seen] == [OrderStatusReport, OrderAccepted, OrderFilled]
    assert r.of(OrderStatusReport)[0].found is False
    assert r.kernel.execution.resubmitted == 1
    assert r.order().status is OrderStatus.FILLED
    assert r.kernel.portfolio.net_quantity("EURUSD") == D(1000)


def test_the_oms_timer_finds_an_unacknowledged_order_at_the_venue_and_does_not_resend() -> None:
    plan = FaultPlan(ack_timeout=frozenset({1}))
    r = run({0: lambda s: s.buy(1000, limit=1.05)}, [FLAT] * 4, plan, ack_timeout_ns=30 * MINUTE)
    reports = r.of(OrderStatusReport)
    assert reports and all(x.found and x.status == "accepted" for x in reports)
    assert r.kernel.execution.resubmitted == 0
    assert r.kernel.venue.duplicate_submits == 0
    assert r.order().status is OrderStatus.ACCEPTED


def test_a_cancel_of_an_order_the_venue_never_got_is_rejected_as_not_found() -> None:
    script: dict[int, Action] = {
        0: lambda s: s.buy(1000, limit=1.05),
        1: lambda s: s.cancel(s.ctx.open_order_ids(s.strategy_id, "EURUSD")[0]),
    }
    r = run(script, [FLAT] * 4, FaultPlan(lost=frozenset({1})))
    (refused,) = r.of(OrderCancelRejected)
    assert refused.reason == "ORDER_NOT_FOUND"
    assert r.order().status is OrderStatus.SUBMITTED  # back from PENDING_CANCEL: still unknown, still ours


# ---- disconnects ---------------------------------------------------------------------------------------------
def test_a_disconnect_refuses_commands_matches_nothing_and_announces_the_reconnect() -> None:
    window = (T0 + 2 * HOUR, T0 + 4 * HOUR)  # bar closes at T0+2h and T0+3h fall inside
    refused: list[str] = []

    def during(s: Any) -> None:
        venue = s.ctx.k.venue
        resting = next(iter(s.ctx.k.cache.orders.values()))
        for call in (venue.submit, venue.cancel, venue.query):
            with pytest.raises(BrokerUnavailable, match="disconnected until"):
                call(resting)
            refused.append(call.__name__)
        s.buy(1000)  # the OMS catches the refusal: the order waits, SUBMITTED, for a lookup

    script: dict[int, Action] = {0: lambda s: s.buy(1000, limit=1.0950), 1: during}
    r = run(script, [FLAT, FLAT, DIP, DIP, FLAT], FaultPlan(disconnects=((window[0], window[1]),)))
    limit, market = r.order(0), r.order(1)
    assert refused == ["submit", "cancel", "query"]
    assert r.notices == [
        StreamReconnected("sim", window[1], reason=f"simulated outage {window[0]}..{window[1]} ended")
    ]
    (fill,) = r.of(OrderFilled)  # bar 2 dipped through the limit while the venue was down: no fill there
    assert (fill.client_order_id, fill.price, fill.ts) == (limit.client_order_id, D("1.0950"), T0 + 3 * HOUR)
    assert market.status is OrderStatus.SUBMITTED  # never reached the venue
    assert r.of(OrderAccepted, market.client_order_id) == []


def test_after_a_disconnect_the_oms_lookup_resends_what_the_venue_never_got() -> None:
    plan = FaultPlan(disconnects=((T0 + HOUR, T0 + HOUR + 45 * MINUTE),))
    r = run({0: lambda s: s.buy(1000)}, [FLAT] * 4, plan, ack_timeout_ns=60 * MINUTE)
    assert len(r.notices) == 1
    assert r.kernel.execution.resubmitted == 1
    assert r.order().status is OrderStatus.FILLED


# ---- seeded rates --------------------------------------------------------------------------------------------
def test_seeded_fault_rates_are_reproducible_and_every_fill_is_booked_once() -> None:
    script: dict[int, Action] = {i: (lambda s: s.close() if s.position() else s.buy(1000)) for i in range(30)}
    rows = [FLAT] * 32

    def go(seed: int) -> Run:
        return run(script, rows, FaultPlan(duplicate_fills_rate=0.4, drop_ack_rate=0.4, seed=seed))

    a, b, c = go(3), go(3), go(4)
    fa, fb, fc = (x.kernel.venue.faults for x in (a, b, c))
    assert fa is not None and fb is not None and fc is not None
    assert fa.injected == fb.injected != fc.injected
    kinds = {k for k, _ in fa.injected}
    assert kinds == {"duplicate_fills", "drop_ack"}
    dups = sum(1 for k, _ in fa.injected if k == "duplicate_fills")
    assert a.kernel.execution.duplicate_fills == dups
    assert len(a.kernel.cache.fills) == len(a.kernel.cache.orders) == 30
    assert all(o.status is OrderStatus.FILLED for o in a.kernel.cache.orders.values())
    assert a.kernel.portfolio.net_quantity("EURUSD") == D(0)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"lost_rate": 1.5}, "lost_rate=1.5 is not valid"),
        ({"disconnects": ((10, 5),)}, "is empty"),
        ({"disconnects": ((0, 10), (5, 20))}, "overlap"),
    ],
)
def test_an_invalid_fault_plan_is_refused_with_one_sentence(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(UserError, match=message):
        FaultPlan(**kwargs)
