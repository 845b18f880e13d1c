"""Volume participation on the simulated venue: an order fills at most `participation * bar volume` per bar
(whole lots), in several fills with their own trade ids that add up exactly to the order; bars without volume
fill nothing; IOC keeps what one bar gives, FOK all or nothing. Expected figures are worked out by hand."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal as D
from typing import Any

import numpy as np
import pytest
from tests.sim_harness import HOUR, T0, Action, Row, scripted

from traderbot.brokers.sim.costs import VenueConfig
from traderbot.brokers.sim.participation import fill_cap
from traderbot.core.messages import OrderExpired, OrderFilled, OrderStatusReport
from traderbot.data.series import BarSeries
from traderbot.errors import UserError
from traderbot.kernel.kernel import Kernel
from traderbot.model.enums import OrderSide, OrderStatus, OrderType
from traderbot.model.instrument import Instrument, generic_instrument, get_instrument
from traderbot.model.order import Order
from traderbot.risk.sizing import Sizing

EURUSD = get_instrument("EURUSD")
X = generic_instrument("X", lot_size=D(100), precision=2)  # lots of 100; integer prices are exact floats
BARS: list[Row] = [
    (1.1000, 1.1010, 1.0990, 1.1000),
    (1.1002, 1.1012, 1.0992, 1.1004),
    (1.1006, 1.1016, 1.0996, 1.1008),
    (1.1011, 1.1021, 1.1001, 1.1013),
    (1.1017, 1.1027, 1.1007, 1.1019),
    (1.1020, 1.1030, 1.1010, 1.1022),
]
TENTH = VenueConfig(participation=D("0.1"))


@dataclass
class Run:
    kernel: Kernel
    seen: list[Any]

    @property
    def order(self) -> Order:
        return next(iter(self.kernel.cache.orders.values()))

    @property
    def fills(self) -> list[OrderFilled]:
        return [e for e in self.seen if isinstance(e, OrderFilled)]


def run(
    script: dict[int, Action],
    rows: list[Row] = BARS,
    volume: list[float] | float = 10_000.0,
    *,
    venue: VenueConfig = TENTH,
    inst: Instrument = EURUSD,
) -> Run:
    kernel = Kernel(account_currency=inst.quote, starting_cash=D(1_000_000), venue=venue)
    kernel.finite_replay = True
    ts = np.array([T0 + n * HOUR for n in range(len(rows))], dtype=np.int64)
    cols = [np.array([r[k] for r in rows]) for k in range(4)]
    vol = np.broadcast_to(np.asarray(volume, dtype=np.float64), (len(rows),)).copy()
    kernel.add_data(inst, BarSeries.from_arrays(inst.id, "1h", ts, cols[0], cols[1], cols[2], cols[3], vol))
    kernel.add_strategy(scripted(script)(), inst.id, Sizing.parse("units:1"))
    seen: list[Any] = []
    inner = kernel.venue.emit

    def tap(event: Any) -> None:
        seen.append(event)
        inner(event)

    kernel.venue.emit = tap
    kernel.run()
    return Run(kernel, seen)


def test_a_market_order_fills_in_parts_at_the_next_opens_and_adds_up_exactly() -> None:
    r = run({0: lambda s: s.buy(2500)})
    assert [(f.quantity, f.price, f.ts) for f in r.fills] == [
        (D(1000), D("1.1002"), T0 + HOUR),
        (D(1000), D("1.1006"), T0 + 2 * HOUR),
        (D(500), D("1.1011"), T0 + 3 * HOUR),
    ]
    assert len({f.trade_id for f in r.fills}) == 3
    o = r.order
    assert (o.status, o.filled_qty) == (OrderStatus.FILLED, D(2500))
    assert o.avg_px == (D("1100.2") + D("1100.6") + D("550.55")) / 2500  # exact: 2751.35 / 2500
    assert o.avg_px == D("1.10054")
    assert r.kernel.portfolio.net_quantity("EURUSD") == D(2500)


def test_the_order_is_partially_filled_between_its_fills() -> None:
    statuses: list[tuple[OrderStatus, D]] = []

    def look(s: Any) -> None:
        order = next(iter(s.ctx.k.cache.orders.values()))
        statuses.append((order.status, s.position()))

    r = run({0: lambda s: s.buy(2500), 1: look, 2: look, 3: look})
    assert statuses == [
        (OrderStatus.PARTIALLY_FILLED, D(1000)),
        (OrderStatus.PARTIALLY_FILLED, D(2000)),
        (OrderStatus.FILLED, D(2500)),
    ]
    assert r.kernel.cache.open_ids == {}


def test_the_cap_is_rounded_down_to_whole_lots() -> None:
    assert fill_cap(X, D("0.1"), 1234.0) == D(100)
    assert fill_cap(X, D("0.1"), 999.0) == D(0)
    assert fill_cap(generic_instrument("F"), D("0.1"), 1234.5) == D("123.45")  # fractional instrument
    assert fill_cap(X, D("0.1"), float("nan")) == D(0)
    rows: list[Row] = [(100.0, 101.0, 99.0, 100.0)] * 5
    r = run({0: lambda s: s.buy(300)}, rows, [2345.0, 2345.0, 1999.0, 2345.0, 2345.0], inst=X)
    assert [(f.quantity, f.ts) for f in r.fills] == [
        (D(200), T0 + HOUR),
        (D(100), T0 + 2 * HOUR),
    ]


def test_bars_without_volume_fill_nothing() -> None:
    r = run({0: lambda s: s.buy(1500)}, volume=[10_000.0, 0.0, 0.0, 10_000.0, 10_000.0, 10_000.0])
    assert [(f.quantity, f.ts) for f in r.fills] == [(D(1000), T0 + 3 * HOUR), (D(500), T0 + 4 * HOUR)]


def test_without_participation_zero_volume_still_fills_at_once() -> None:
    r = run({0: lambda s: s.buy(1500)}, volume=0.0, venue=VenueConfig())
    assert [(f.quantity, f.ts) for f in r.fills] == [(D(1500), T0 + HOUR)]


def test_a_limit_order_fills_in_parts_at_its_price() -> None:
    rows = [BARS[0], (1.1000, 1.1010, 1.0980, 1.0990), (1.0990, 1.1000, 1.0975, 1.0990), BARS[3], BARS[4]]
    r = run({0: lambda s: s.buy(1800, limit=1.0985)}, rows)
    assert [(f.quantity, f.price) for f in r.fills] == [(D(1000), D("1.0985")), (D(800), D("1.0985"))]
    assert r.order.avg_px == D("1.0985")


def test_a_stop_filled_in_part_fills_the_rest_at_the_next_opens_even_when_price_moves_back() -> None:
    rows = [BARS[0], (1.1000, 1.1040, 1.0995, 1.1030), (1.1010, 1.1015, 1.1000, 1.1005), BARS[3], BARS[4]]
    r = run({0: lambda s: s.buy(1500, stop=1.1030)}, rows)
    assert [(f.quantity, f.price, f.ts) for f in r.fills] == [
        (D(1000), D("1.1030"), T0 + HOUR),
        (D(500), D("1.1010"), T0 + 2 * HOUR),  # bar 2 never reaches the trigger again: still fills
    ]


def test_ioc_keeps_what_one_bar_gives_and_the_rest_expires() -> None:
    r = run({0: lambda s: s.buy(2500, tif="ioc")})
    assert [(f.quantity, f.price) for f in r.fills] == [(D(1000), D("1.1002"))]
    o = r.order
    assert (o.status, o.filled_qty) == (OrderStatus.EXPIRED, D(1000))
    assert r.kernel.portfolio.net_quantity("EURUSD") == D(1000)


def test_a_limit_ioc_fills_in_part_at_the_open_and_expires() -> None:
    r = run({0: lambda s: s.buy(2500, limit=1.1005, tif="ioc")})
    assert [(f.quantity, f.price) for f in r.fills] == [(D(1000), D("1.1002"))]
    assert r.order.status is OrderStatus.EXPIRED


def test_fok_expires_unfilled_when_one_bar_cannot_fill_it_all() -> None:
    r = run({0: lambda s: s.buy(2500, tif="fok")})
    assert r.fills == []
    (expired,) = [e for e in r.seen if isinstance(e, OrderExpired)]
    assert expired.reason.startswith("FOK: only 1000 of 2500")
    assert r.order.status is OrderStatus.EXPIRED


def test_fok_fills_completely_when_the_bar_has_the_volume() -> None:
    r = run({0: lambda s: s.buy(900, limit=1.1005, tif="fok")})
    assert [(f.quantity, f.price) for f in r.fills] == [(D(900), D("1.1002"))]
    assert r.order.status is OrderStatus.FILLED


def test_fok_on_a_bar_without_volume_expires() -> None:
    r = run({0: lambda s: s.buy(10, tif="fok")}, volume=[1000.0, 0.0, 1000.0, 1000.0, 1000.0, 1000.0])
    assert r.fills == []
    assert r.order.status is OrderStatus.EXPIRED


def test_with_fill_on_close_the_first_part_fills_at_the_close_and_the_rest_at_next_opens() -> None:
    cfg = VenueConfig(fill_on="close", participation=D("0.1"))
    r = run({0: lambda s: s.buy(1500)}, venue=cfg)
    assert [(f.quantity, f.price, f.ts) for f in r.fills] == [
        (D(1000), D("1.1000"), T0 + HOUR),
        (D(500), D("1.1002"), T0 + HOUR),
    ]


def test_a_bracket_goes_out_only_once_the_entry_is_complete() -> None:
    r = run({0: lambda s: s.buy(1500, sl=1.0900, tp=1.2000)})
    children = [o for o in r.kernel.cache.orders.values() if o.parent_id]
    assert [(o.tag, o.quantity) for o in children] == [("stop_loss", D(1500)), ("take_profit", D(1500))]
    assert {o.ts_init for o in children} == {T0 + 3 * HOUR}  # sent when bar 2 filled the last part


@pytest.mark.parametrize("bad", [D(0), D("1.5"), D(-1), D("NaN")])
def test_participation_outside_zero_to_one_is_refused(bad: D) -> None:
    with pytest.raises(UserError, match=r"participation=.* is not valid"):
        VenueConfig(participation=bad)


def test_a_lookup_reports_the_venues_fills_so_far_with_the_exact_average() -> None:
    def ask(s: Any) -> None:
        k = s.ctx.k
        k.venue.query(next(iter(k.cache.orders.values())))

    r = run({0: lambda s: s.buy(2500), 1: ask, 3: ask})
    mid, end = (e for e in r.seen if isinstance(e, OrderStatusReport))
    assert (mid.found, mid.status, mid.filled_qty, mid.avg_price) == (
        True,
        "partially_filled",
        D(1000),
        D("1.1002"),
    )
    assert (end.found, end.status, end.filled_qty, end.avg_price) == (True, "filled", D(2500), D("1.10054"))


def test_a_lookup_of_an_order_the_venue_never_received_finds_nothing() -> None:
    stranger = Order("O-X-1", "EURUSD", "nobody", OrderSide.BUY, OrderType.MARKET, D(1), T0)

    def ask(s: Any) -> None:
        s.ctx.k.venue.query(stranger)

    r = run({0: lambda s: s.buy(10), 1: ask})
    (report,) = [e for e in r.seen if isinstance(e, OrderStatusReport)]
    assert (report.client_order_id, report.found, report.status) == ("O-X-1", False, "")


def test_the_per_order_fee_and_the_minimum_are_charged_once_per_order_not_per_part() -> None:
    from traderbot.brokers.sim.costs import CommissionModel

    fees = CommissionModel(per_unit=D("0.001"), per_order=D("1"), minimum=D("1.5"))
    r = run({0: lambda s: s.buy(2500)}, venue=VenueConfig(participation=D("0.1"), commission=fees))
    # the order owes 1 + 1 = 2 after 1000, 2 + 1 = 3 after 2000, 2.5 + 1 = 3.5 after 2500 (not 2 + 2 + 1.5)
    assert [f.commission for f in r.fills] == [D("2.000"), D("1.000"), D("0.500")]
    tiny = CommissionModel(per_unit=D("0.00002"), per_order=D("1"), minimum=D("1.5"))
    r = run({0: lambda s: s.buy(2500)}, venue=VenueConfig(participation=D("0.1"), commission=tiny))
    assert [f.commission for f in r.fills] == [D("1.5"), D("0"), D("0")]  # the minimum, once
