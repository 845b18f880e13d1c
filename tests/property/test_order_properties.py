"""Property tests of an order driven by random event sequences, including random fills whose venue trade ids
repeat. A plain-Python model of the accepted fills gives the expected quantities and average price."""

from __future__ import annotations

from decimal import Decimal as D
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from traderbot.model.enums import OrderSide, OrderStatus, OrderType
from traderbot.model.order import Order
from traderbot.model.order_states import InvalidStateTransition, OrderEventKind

E = OrderEventKind
# fills come only through Order.apply_fill here, never as bare FILLED / PARTIALLY_FILLED events
PLAIN_EVENTS = [e for e in E if e not in (E.FILLED, E.PARTIALLY_FILLED)]
ABSORBING = {OrderStatus.DENIED, OrderStatus.REJECTED, OrderStatus.FILLED, OrderStatus.EXPIRED}

prices = st.integers(min_value=90_000, max_value=130_000).map(lambda n: D(n).scaleb(-5))
fills = st.tuples(
    st.just("fill"),
    st.sampled_from([f"T-{i}" for i in range(6)]),  # a small pool: duplicates are frequent
    st.integers(min_value=1, max_value=80).map(D),
    prices,
)
events = st.tuples(st.just("event"), st.sampled_from(PLAIN_EVENTS))
# most sequences start the way real orders do, so fills get a chance to land
prefix = st.sampled_from(
    [[], [E.SUBMITTED], [E.SUBMITTED, E.ACCEPTED], [E.SUBMITTED, E.ACCEPTED, E.TRIGGERED]]
)


def snapshot(o: Order) -> tuple[Any, ...]:
    return (o.status, o.filled_qty, o.filled_cost, frozenset(o.trade_ids), o.reason, o.quantity)


def new_order(quantity: int) -> Order:
    return Order(
        "O-TB-prop-000001", "EURUSD", "prop", OrderSide.BUY, OrderType.LIMIT, D(quantity), 0, price=D("1.1")
    )


@settings(max_examples=300, deadline=None)
@given(
    quantity=st.integers(min_value=1, max_value=200),
    start=prefix,
    actions=st.lists(st.one_of(fills, events), max_size=30),
)
def test_random_event_sequences_keep_the_order_consistent(
    quantity: int, start: list[OrderEventKind], actions: list[tuple[Any, ...]]
) -> None:
    o = new_order(quantity)
    for kind in start:
        o.apply(kind)
    accepted: dict[str, tuple[D, D]] = {}  # trade id -> (quantity, price) of fills the order took
    for action in actions:
        before = snapshot(o)
        absorbed = o.status in ABSORBING
        if action[0] == "event":
            try:
                o.apply(action[1], reason="r")
            except InvalidStateTransition as exc:
                assert "O-TB-prop-000001" in str(exc)
                assert snapshot(o) == before
        else:
            _, trade_id, qty, px = action
            leaves = o.quantity - o.filled_qty
            try:
                took = o.apply_fill(trade_id, qty, px)
            except InvalidStateTransition as exc:
                assert trade_id not in accepted
                assert "O-TB-prop-000001" in str(exc)
                assert snapshot(o) == before
            else:
                if trade_id in accepted:
                    assert not took, "a repeated trade id must be ignored"
                    assert snapshot(o) == before
                else:
                    assert took and qty <= leaves
                    accepted[trade_id] = (qty, px)
        if absorbed:
            assert snapshot(o)[:4] == before[:4], "terminal statuses admit nothing"

        assert isinstance(o.status, OrderStatus)
        assert o.status in set(OrderStatus)
        total_qty = sum((q for q, _ in accepted.values()), D(0))
        total_cost = sum((q * p for q, p in accepted.values()), D(0))
        assert o.filled_qty == total_qty
        assert D(0) <= o.filled_qty <= o.quantity
        assert o.trade_ids == set(accepted)
        if total_qty:
            assert o.avg_px == total_cost / total_qty
        else:
            assert o.avg_px is None
        assert (o.status is OrderStatus.FILLED) == (o.filled_qty == o.quantity)


@settings(max_examples=200, deadline=None)
@given(
    quantity=st.integers(min_value=1, max_value=50),
    parts=st.lists(st.tuples(st.integers(min_value=1, max_value=50), prices), min_size=1, max_size=10),
)
def test_fills_up_to_the_order_quantity_give_the_exact_volume_weighted_price(
    quantity: int, parts: list[tuple[int, D]]
) -> None:
    o = new_order(quantity)
    o.apply(E.SUBMITTED)
    o.apply(E.ACCEPTED)
    taken: list[tuple[D, D]] = []
    for n, (q, px) in enumerate(parts):
        qty = min(D(q), o.leaves_qty)
        if qty == 0:
            break
        assert o.apply_fill(f"T-{n}", qty, px)
        assert not o.apply_fill(f"T-{n}", qty, px)  # the same report again
        taken.append((qty, px))
    filled = sum((q for q, _ in taken), D(0))
    assert o.filled_qty == filled <= D(quantity)
    assert o.avg_px == sum((q * p for q, p in taken), D(0)) / filled
    assert o.status is (OrderStatus.FILLED if filled == quantity else OrderStatus.PARTIALLY_FILLED)
