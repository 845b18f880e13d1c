"""Iceberg in the kernel: one child of `display_qty` works at a time at the limit, a new one replaces each that
fills until the total is done; randomised display sizes stay in bounds; canceling stops the replenishment."""

from __future__ import annotations

from decimal import Decimal as D
from itertools import pairwise
from typing import Any

from tests.sim_harness import Action, Row, bars, scripted

from traderbot.core.messages import OrderAccepted, OrderCanceled, OrderFilled
from traderbot.execution.algos import AlgoRefusal, AlgoStatus, Iceberg, ParentOrder
from traderbot.kernel.kernel import Kernel
from traderbot.model.enums import OrderStatus, OrderType
from traderbot.model.instrument import get_instrument
from traderbot.risk.sizing import Sizing

EURUSD = get_instrument("EURUSD")
# bars alternate: even bars trade down to 1.0990 (a 1.0995 buy limit fills), odd bars stay above 1.1000
ROWS: list[Row] = [
    (1.1005, 1.1010, 1.0990, 1.1005) if i % 2 == 0 else (1.1005, 1.1010, 1.1001, 1.1005) for i in range(40)
]


def run(script: dict[int, Action]) -> tuple[Kernel, list[Any]]:
    k = Kernel(account_currency="USD", starting_cash=D(1_000_000))
    k.finite_replay = True
    k.add_data(EURUSD, bars("EURUSD", ROWS))
    k.add_strategy(scripted(script)(), "EURUSD", Sizing.parse("units:1000"))
    seen: list[Any] = []
    open_children: list[int] = []

    def record(event: Any) -> None:
        seen.append(event)
        open_children.append(sum(1 for o in k.cache.open_orders() if o.parent_id))

    k.bus.subscribe("orders", record)
    k.bus.subscribe("fills", record)
    k.run()
    assert max(open_children, default=0) <= 1  # never more than one child shown at a time
    return k, seen


def parent(k: Kernel) -> ParentOrder:
    (p,) = k.algos.parents.values()
    return p


def test_each_filled_child_is_replaced_until_the_total_is_done() -> None:
    k, seen = run({0: lambda s: s.buy(3500, algo=Iceberg(1000, limit="1.0995"))})
    p = parent(k)
    kids = [k.cache.orders[c] for c in p.child_ids]
    assert [c.quantity for c in kids] == [D(1000), D(1000), D(1000), D(500)]  # the last shows only the rest
    assert all(c.type is OrderType.LIMIT and c.price == D("1.0995") for c in kids)
    assert all(c.status is OrderStatus.FILLED for c in kids)
    fills = [e for e in seen if isinstance(e, OrderFilled)]
    assert [f.price for f in fills] == [D("1.0995")] * 4
    assert p.status is AlgoStatus.FILLED and p.filled_qty == D(3500) and p.avg_px == D("1.0995")
    # a replacement is sent only after its predecessor filled: each acceptance follows the previous fill
    order = [
        (type(e).__name__, e.client_order_id) for e in seen if isinstance(e, OrderAccepted | OrderFilled)
    ]
    for prev, nxt in pairwise(kids):
        assert order.index(("OrderFilled", prev.client_order_id)) < order.index(
            ("OrderAccepted", nxt.client_order_id)
        )


def test_randomised_display_sizes_stay_within_bounds_sum_to_the_total_and_repeat_with_the_seed() -> None:
    def sizes(seed: int) -> list[D]:
        k, _ = run(
            {0: lambda s: s.sell(12_000, algo=Iceberg(1000, limit="1.1005", display_jitter=0.4, seed=seed))}
        )
        p = parent(k)
        assert p.status is AlgoStatus.FILLED
        return [k.cache.orders[c].quantity for c in p.child_ids]

    a = sizes(5)
    assert sum(a) == D(12_000)
    assert all(D(600) <= q <= D(1400) for q in a[:-1]) and D(1) <= a[-1] <= D(1400)
    assert len(set(a)) > 3  # really randomised
    assert a == sizes(5) and a != sizes(6)


def test_canceling_the_parent_cancels_the_shown_child_and_nothing_replaces_it() -> None:
    script: dict[int, Action] = {
        0: lambda s: s.buy(5000, algo=Iceberg(1000, limit="1.0980")),  # below every low: never fills
        5: lambda s: s.cancel(next(iter(s.ctx.k.algos.parents))),
    }
    k, seen = run(script)
    p = parent(k)
    assert p.status is AlgoStatus.CANCELED and p.filled_qty == 0
    assert len(p.child_ids) == 1 and k.cache.orders[p.child_ids[0]].status is OrderStatus.CANCELED
    assert [e.client_order_id for e in seen if isinstance(e, OrderCanceled)] == p.child_ids
    assert not k.cache.open_orders()


def test_a_limit_off_the_tick_and_a_display_below_one_lot_are_refused() -> None:
    k, _ = run({0: lambda s: s.buy(5000, algo=Iceberg(1000, limit="1.099501"))})
    assert parent(k).reason.startswith(f"{AlgoRefusal.INVALID_PRICE.name}: tick_size=0.00001, limit=1.099501")
    k, _ = run({0: lambda s: s.buy(5000, algo=Iceberg("0.5", limit="1.0995"))})
    assert parent(k).reason.startswith(f"{AlgoRefusal.BELOW_MIN_QUANTITY.name}: display_qty=0.5")
    assert not k.cache.orders
