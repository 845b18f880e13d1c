"""TWAP in the kernel exactly as a backtest wires it (hourly hand-made bars): slice times and sizes, fills at
the next bar's open, limit slices carrying their unfilled rest, the final sweep or expiry, jitter bounds, and
fills that arrive inside the send (fill at close)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from decimal import Decimal as D
from typing import Any

from tests.sim_harness import HOUR, T0, Action, Row, bars, scripted

from traderbot.brokers.sim.costs import VenueConfig
from traderbot.brokers.sim.latency import LatencyModel
from traderbot.core.clock import LiveClock
from traderbot.core.messages import OrderCanceled, OrderFilled
from traderbot.execution.algos import TWAP, AlgoProgress, AlgoStatus, ParentOrder
from traderbot.kernel.kernel import Kernel
from traderbot.model.enums import OrderSide, OrderStatus, OrderType
from traderbot.model.instrument import get_instrument
from traderbot.model.order import Order
from traderbot.risk.sizing import Sizing
from traderbot.strategies.base import Strategy

EURUSD = get_instrument("EURUSD")
# opens differ bar to bar so a fill at the wrong bar shows; every bar's range is +-0.0010 around its open
OPENS = [
    1.10000,
    1.10013,
    1.10021,
    1.10034,
    1.10047,
    1.10055,
    1.10068,
    1.10072,
    1.10089,
    1.10091,
    1.1010,
    1.1011,
]
ROWS: list[Row] = [(o, round(o + 0.001, 5), round(o - 0.001, 5), round(o + 0.0002, 5)) for o in OPENS]


@dataclass
class Run:
    kernel: Kernel
    ids: list[str | None]
    fills: list[OrderFilled] = field(default_factory=list)
    events: list[Any] = field(default_factory=list)
    progress: list[AlgoProgress] = field(default_factory=list)

    def parent(self, n: int = 0) -> ParentOrder:
        pid = self.ids[n]
        assert pid is not None
        p = self.kernel.algos.get(pid)
        assert p is not None
        return p

    def children(self, n: int = 0) -> list[Order]:
        return [self.kernel.cache.orders[c] for c in self.parent(n).child_ids]


def run(script: dict[int, Action], rows: list[Row] = ROWS, venue: VenueConfig | None = None) -> Run:
    k = Kernel(account_currency="USD", starting_cash=D(1_000_000), venue=venue)
    k.finite_replay = True
    k.add_data(EURUSD, bars("EURUSD", rows))
    ids: list[str | None] = []

    def keep(action: Action) -> Action:
        def call(s: Strategy) -> None:
            out = action(s)
            ids.append(out if isinstance(out, str) else None)

        return call

    wrapped: dict[int, Action] = {i: keep(a) for i, a in script.items()}
    k.add_strategy(scripted(wrapped)(), "EURUSD", Sizing.parse("units:1000"))
    r = Run(k, ids)
    k.bus.subscribe("fills", r.fills.append)
    k.bus.subscribe("orders", r.events.append)
    k.bus.subscribe("algos", r.progress.append)
    k.run()
    return r


def r_ids(s: Any) -> list[str]:
    """The strategy's working algorithm ids (what a strategy would keep from buy's return value)."""
    return [p.parent_id for p in s.ctx.k.algos.working(s.strategy_id)]


def test_market_twap_sends_equal_slices_on_the_grid_and_fills_at_the_next_opens() -> None:
    r = run({1: lambda s: s.buy(1003, algo=TWAP("4h", 4))})  # bar 1 closes at T0 + 2h
    p, kids = r.parent(), r.children()
    assert p.status is AlgoStatus.FILLED and p.filled_qty == D(1003)
    assert [c.quantity for c in kids] == [D(250), D(250), D(250), D(253)]
    assert [c.ts_init for c in kids] == [T0 + 2 * HOUR, T0 + 3 * HOUR, T0 + 4 * HOUR, T0 + 5 * HOUR]
    assert all(c.type is OrderType.MARKET and c.parent_id == p.parent_id for c in kids)
    # a slice sent at t fills at the open of the bar that starts at t: bars 2, 3, 4, 5
    assert [f.price for f in r.fills] == [D(repr(OPENS[i])) for i in (2, 3, 4, 5)]
    assert [f.ts for f in r.fills] == [c.ts_init for c in kids]
    expected = sum((f.price * f.quantity for f in r.fills), D(0))
    assert p.filled_cost == expected and p.avg_px == expected / D(1003)
    assert (p.start_ns, p.end_ns) == (T0 + 2 * HOUR, T0 + 6 * HOUR)


def test_limit_slices_carry_their_unfilled_rest_and_the_final_sweep_buys_what_is_left() -> None:
    # a buy limit 0.0020 under the last close never fills on these rising bars
    r = run({1: lambda s: s.buy(1000, algo=TWAP("3h", 3, order_type="limit", limit_offset="0.0020"))})
    p, kids = r.parent(), r.children()
    limits, sweep = kids[:-1], kids[-1]
    assert [c.quantity for c in limits] == [D(333), D(666), D(1000)]  # each slice adds the previous rest
    assert all(c.type is OrderType.LIMIT and c.status is OrderStatus.CANCELED for c in limits)
    assert limits[0].price == EURUSD.round_price(D(repr(ROWS[1][3])) - D("0.0020"))
    assert sweep.type is OrderType.MARKET and sweep.quantity == D(1000) and sweep.ts_init == T0 + 5 * HOUR
    assert p.status is AlgoStatus.FILLED and p.filled_qty == D(1000)
    assert p.avg_px == D(repr(OPENS[5]))  # the sweep filled at the open after the end time


def test_without_final_sweep_the_parent_expires_with_the_rest_unfilled() -> None:
    algo = TWAP("3h", 3, order_type="limit", limit_offset="0.0020", final_sweep=False)
    r = run({1: lambda s: s.buy(1000, algo=algo)})
    p = r.parent()
    assert p.status is AlgoStatus.EXPIRED
    assert p.filled_qty == 0 and p.reason.startswith("WINDOW_ENDED: 1000 of 1000 not filled")
    assert not r.kernel.cache.open_orders()
    assert [m.kind for m in r.progress][-1] == "expired"


def test_limit_slices_that_fill_leave_nothing_to_carry() -> None:
    # offset -0.0005: 5 pips above the last close, so every slice fills at the next open (below the limit)
    r = run({1: lambda s: s.buy(900, algo=TWAP("3h", 3, order_type="limit", limit_offset="-0.0005"))})
    p, kids = r.parent(), r.children()
    assert [c.quantity for c in kids] == [D(300), D(300), D(300)]
    assert all(c.type is OrderType.LIMIT and c.status is OrderStatus.FILLED for c in kids)
    assert [c.price for c in kids] == [D(repr(ROWS[i][3])) + D("0.0005") for i in (1, 2, 3)]
    limits = [c.price or D(0) for c in kids]
    assert [f.price for f in r.fills] == [
        min(D(repr(OPENS[i])), lim) for i, lim in zip((2, 3, 4), limits, strict=True)
    ]
    assert p.status is AlgoStatus.FILLED and p.ts_done == T0 + 5 * HOUR  # bar 4 (its last fill) closed


def test_jittered_slices_are_sent_within_their_bounds_and_reproducibly() -> None:
    def times(seed: int) -> list[int]:
        rows = ROWS * 2
        r = run({1: lambda s: s.sell(1200, algo=TWAP("12h", 6, jitter=0.5, seed=seed))}, rows)
        assert r.parent().status is AlgoStatus.FILLED
        return [c.ts_init for c in r.children()]

    start, interval = T0 + 2 * HOUR, 2 * HOUR
    a = times(11)
    assert len(a) == 6 and a == times(11) and a != times(12)
    for k, t in enumerate(a):
        assert abs(t - (start + k * interval)) <= interval // 2
        assert start <= t <= start + 12 * HOUR


def test_fills_inside_the_send_fill_on_close_are_counted_once() -> None:
    r = run({1: lambda s: s.buy(1000, algo=TWAP("4h", 4))}, venue=VenueConfig(fill_on="close"))
    p = r.parent()
    assert p.status is AlgoStatus.FILLED and len(p.child_ids) == 4 and p.filled_qty == D(1000)
    # at close: the slice at T0 + 2h fills at the close of the last bar visible then (bar 1)
    assert [f.price for f in r.fills] == [D(repr(ROWS[i][3])) for i in (1, 2, 3, 4)]


def test_canceling_the_parent_cancels_its_working_children_and_stops_the_schedule() -> None:
    algo = TWAP("8h", 8, order_type="limit", limit_offset="0.0020")
    r = run({1: lambda s: s.buy(800, algo=algo), 3: lambda s: s.cancel(r_ids(s)[0])})
    p, kids = r.parent(), r.children()
    assert p.status is AlgoStatus.CANCELED and p.reason == "CANCELED: by strategy scripted"
    assert len(kids) == 2  # slices at +2h and +3h; the cancel at +4h (bar 3) came before the third
    assert all(c.status is OrderStatus.CANCELED for c in kids)
    canceled = [e.client_order_id for e in r.events if isinstance(e, OrderCanceled)]
    assert canceled == [kids[0].client_order_id, kids[1].client_order_id]
    assert not r.kernel.cache.open_orders()
    assert r.progress[-1].kind == "canceled"


def test_cancel_all_cancels_the_algorithm_before_its_children() -> None:
    algo = TWAP("8h", 8, order_type="limit", limit_offset="0.0020")
    r = run({1: lambda s: s.buy(800, algo=algo), 3: lambda s: s.cancel_all()})
    assert r.parent().status is AlgoStatus.CANCELED
    assert len(r.children()) == 2 and not r.kernel.cache.open_orders()


def test_asynchronous_cancels_and_partial_fills_never_buy_more_than_the_total() -> None:
    """With latency (cancels land after the next bar's fills) and 10 % volume participation (children fill in
    parts), a child waiting for its cancel still counts as committed; at no event do the children's fills and
    working rests exceed the total."""
    venue = VenueConfig(
        latency=LatencyModel(submit_ms=D(50), cancel_ms=D(50), jitter_ms=D(20), seed=1),
        participation=D("0.1"),
    )
    k = Kernel(account_currency="USD", starting_cash=D(1_000_000), venue=venue)
    k.finite_replay = True
    k.add_data(EURUSD, bars("EURUSD", ROWS * 3))
    k.add_strategy(
        scripted({1: lambda s: s.buy(2000, algo=TWAP("4h", 4))})(), "EURUSD", Sizing.parse("units:1")
    )
    committed: list[D] = []

    def check(_event: object) -> None:
        for p in k.algos.parents.values():
            committed.append(k.algos.committed(p))

    k.bus.subscribe("orders", check)
    k.bus.subscribe("fills", check)
    k.run()
    (p,) = k.algos.parents.values()
    kids = [k.cache.orders[c] for c in p.child_ids]
    assert max(committed) <= D(2000) and len(committed) > 20
    assert any(0 < c.filled_qty < c.quantity for c in kids)  # partial fills happened and were carried
    assert p.status is AlgoStatus.FILLED and p.filled_qty == D(2000) == k.portfolio.net_quantity("EURUSD")
    assert sum(c.filled_qty for c in kids) == D(2000)
    assert p.filled_cost == sum((c.filled_cost for c in kids), D(0))


def test_a_live_clock_installed_after_construction_drives_the_schedule() -> None:
    """The live session replaces the kernel's clock with a wall clock; the algo engine follows it."""
    k = Kernel(account_currency="USD", starting_cash=D(1_000_000))
    k.add_data(EURUSD, bars("EURUSD", ROWS))
    clock = LiveClock()
    k.clock = clock  # type: ignore[assignment]
    start = clock.now_ns()
    ids = iter(f"L-{n}" for n in range(100))
    p = k.algos.submit(
        TWAP(300_000_000, 3),
        strategy_id="live",
        instrument_id="EURUSD",
        side=OrderSide.BUY,
        quantity=D(900),
        new_id=ids.__next__,
    )
    deadline = time.monotonic() + 5
    while len(p.child_ids) < 4 and time.monotonic() < deadline:  # 3 slices, then the sweep
        clock.fire_due()
        time.sleep(0.005)
    kids = [k.cache.orders[c] for c in p.child_ids]
    # no bar ever comes, so nothing fills: each slice cancels the last one and carries it, then the sweep
    assert [(c.quantity, c.status) for c in kids] == [
        (D(300), OrderStatus.CANCELED),
        (D(600), OrderStatus.CANCELED),
        (D(900), OrderStatus.CANCELED),
        (D(900), OrderStatus.ACCEPTED),
    ]
    assert p.start_ns - start < 1_000_000_000  # "now" when submitted
    assert [c.ts_init - p.start_ns for c in kids] == [0, 100_000_000, 200_000_000, 300_000_000]
    assert clock.now_ns() >= p.start_ns + 300_000_000 and p.is_working
