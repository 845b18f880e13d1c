"""The flow windows trimmed ahead of time (as the risk engine does when the clock moves) decide every order
exactly as windows trimmed only by the checks themselves."""

from __future__ import annotations

from decimal import Decimal as D

from hypothesis import given, settings
from hypothesis import strategies as st

from traderbot.model.enums import OrderSide, OrderType
from traderbot.model.order import Order
from traderbot.risk.checks_flow import FlowChecks
from traderbot.risk.config_sections import FlowConfig

CONFIG = FlowConfig(
    duplicate_window_s=D(2), max_submits=3, max_cancels=2, rate_window_s=D(1), max_repeats=2,
    repeat_window_s=D(5),
)  # fmt: skip
STEP = st.tuples(
    st.integers(0, 6).map(lambda k: k * 500_000_000),  # time moves on by 0 to 3 s, often onto a window edge
    st.sampled_from(["order", "cancel"]),
    st.sampled_from(["EURUSD", "GBPUSD"]),
    st.sampled_from([OrderSide.BUY, OrderSide.SELL]),
    st.booleans(),  # trim ahead of this step
)


def decide(flow: FlowChecks, n: int, now: int, kind: str, iid: str, side: OrderSide) -> list[str | None]:
    if kind == "cancel":
        return [flow.check_cancel_rate(now)]
    o = Order(f"O{n}", iid, "S", side, OrderType.MARKET, D(1_000), now)
    return [flow.check_duplicate(o, now), flow.check_repeats(o, now), flow.check_submit_rate(o, now)]


@settings(max_examples=300, deadline=None)
@given(steps=st.lists(STEP, min_size=1, max_size=80))
def test_expiring_ahead_changes_no_decision(steps: list[tuple[int, str, str, OrderSide, bool]]) -> None:
    plain, trimmed = FlowChecks(CONFIG), FlowChecks(CONFIG)
    now = 0
    for n, (dt, kind, iid, side, trim) in enumerate(steps):
        now += dt
        if trim:
            trimmed.expire(now)
        assert decide(trimmed, n, now, kind, iid, side) == decide(plain, n, now, kind, iid, side), n
    trimmed.expire(now + 10**12)
    assert not trimmed._submits and not trimmed._cancels
    assert not any(trimmed._repeats.values())  # everything has left its window
