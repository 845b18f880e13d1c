"""The parent order of an execution algorithm: refusals with one clear reason, child failures and the retry
limit, the exact average price over children, progress on the bus, ids, and no cost when no algorithm runs."""

from __future__ import annotations

from decimal import Decimal as D
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest
from tests.sim_harness import HOUR, T0, Action, Row, bars, scripted

from traderbot.core.messages import OrderDenied, OrderFilled, OrderRejected
from traderbot.errors import UserError
from traderbot.execution.algos import (
    TWAP,
    AlgoProgress,
    AlgoRefusal,
    AlgoStatus,
    Iceberg,
    ParentOrder,
)
from traderbot.execution.algos.parent import refusal_table_markdown
from traderbot.kernel.kernel import Kernel
from traderbot.model.enums import OrderSide, OrderStatus
from traderbot.model.instrument import get_instrument
from traderbot.risk.engine import RiskLimits, TradingState
from traderbot.risk.sizing import Sizing

EURUSD = get_instrument("EURUSD")
DOCS = Path(__file__).resolve().parents[2] / "docs"
# opens with five decimals, different every bar, so the average price has many digits
ROWS: list[Row] = [
    (round(o, 5), round(o + 0.001, 5), round(o - 0.001, 5), 1.1)
    for o in (1.1 + i * 0.00013 for i in range(12))
]


def kernel(
    script: dict[int, Action],
    *,
    cash: D = D(1_000_000),
    risk: RiskLimits | None = None,
    sizing: str = "units:1000",
) -> tuple[Kernel, list[Any]]:
    k = Kernel(account_currency="USD", starting_cash=cash, risk_limits=risk)
    k.finite_replay = True
    k.add_data(EURUSD, bars("EURUSD", ROWS))
    k.add_strategy(scripted(script)(), "EURUSD", Sizing.parse(sizing))
    seen: list[Any] = []
    for topic in ("orders", "fills", "algos"):
        k.bus.subscribe(topic, seen.append)
    return k, seen


def only_parent(k: Kernel) -> ParentOrder:
    (p,) = k.algos.parents.values()
    return p


# ---- refusals --------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("quantity", "kw", "code", "words"),
    [
        (0, {}, AlgoRefusal.INVALID_QUANTITY, "quantity=0"),
        (-100, {}, AlgoRefusal.INVALID_QUANTITY, "quantity=-100"),
        (float("nan"), {}, AlgoRefusal.INVALID_QUANTITY, "quantity=NaN"),
        ("lots", {}, AlgoRefusal.INVALID_QUANTITY, "quantity=NaN"),
        (D("1000.5"), {}, AlgoRefusal.QUANTITY_PRECISION, "lot_size=1, quantity=1000.5"),
        (5, {}, AlgoRefusal.BELOW_MIN_QUANTITY, "5 in 10 slices gives 0 per slice"),
        (1000, {"pair": "GBPUSD"}, AlgoRefusal.UNKNOWN_INSTRUMENT, "instrument=GBPUSD, loaded: EURUSD"),
    ],
)
def test_bad_requests_are_refused_with_one_reason_and_send_nothing(
    quantity: Any, kw: dict[str, Any], code: AlgoRefusal, words: str
) -> None:
    got: list[str | None] = []
    k, seen = kernel({1: lambda s: got.append(s.buy(quantity, algo=TWAP("10h", 10), **kw))})
    k.run()
    p = only_parent(k)
    assert got == [None]
    assert p.status is AlgoStatus.FAILED and p.reason.startswith(f"{code.name}: ") and words in p.reason
    assert not p.child_ids and not k.cache.orders
    assert [m.kind for m in seen if isinstance(m, AlgoProgress)] == ["refused"]
    (line,) = k.strategies[0][1].logs
    assert f"twap refused: {code.name}" in line


def test_a_start_in_the_past_is_refused() -> None:
    k, _ = kernel({3: lambda s: s.buy(1000, algo=TWAP("2h", 2, start=T0 + HOUR))})
    k.run()
    p = only_parent(k)
    assert p.reason == "START_IN_PAST: start=2024-01-01 01:00:00+00:00, now=2024-01-01 04:00:00+00:00"


def test_before_the_first_bar_an_explicit_start_is_needed() -> None:
    k, _ = kernel({})
    parent = k.algos.submit(
        TWAP("2h", 2),
        strategy_id="x",
        instrument_id="EURUSD",
        side=OrderSide.BUY,
        quantity=D(1000),
        new_id=lambda: "P1",
    )
    assert parent.status is AlgoStatus.FAILED and parent.reason.startswith("NO_CLOCK_TIME: ")
    later = k.algos.submit(
        TWAP("2h", 2, start=T0 + 2 * HOUR),
        strategy_id="x",
        instrument_id="EURUSD",
        side=OrderSide.BUY,
        quantity=D(1000),
        new_id=iter(["P2", "C1", "C2"]).__next__,
    )
    assert later.status is AlgoStatus.WORKING and later.parent_id == "ALG-P2"


def test_all_in_sizing_cannot_size_an_algorithm() -> None:
    k, _ = kernel({1: lambda s: s.buy(algo=TWAP("2h", 2))}, sizing="all_in")
    with pytest.raises(UserError, match="twap needs a quantity"):
        k.run()


def test_units_sizing_sizes_an_algorithm_without_a_quantity() -> None:
    k, _ = kernel({1: lambda s: s.buy(algo=TWAP("2h", 2))}, sizing="units:3000")
    k.run()
    assert only_parent(k).quantity == D(3000) and only_parent(k).status is AlgoStatus.FILLED


def test_order_options_cannot_be_combined_with_an_algorithm() -> None:
    k, _ = kernel({1: lambda s: s.buy(1000, algo=TWAP("2h", 2), sl=1.09)})
    with pytest.raises(UserError, match="option 'sl' cannot be combined with algo="):
        k.run()


def test_the_refusal_table_in_the_docs_is_generated_from_the_enum() -> None:
    assert refusal_table_markdown() in (DOCS / "execution_algorithms.md").read_text()


# ---- child failures --------------------------------------------------------------------------------------------
def test_denied_children_are_reported_and_the_parent_fails_after_k_in_a_row() -> None:
    risk = RiskLimits(max_order_quantity=D(100))  # every 250-unit slice is denied by the risk engine
    k, seen = kernel({1: lambda s: s.buy(1000, algo=TWAP("4h", 4, max_failures=3))}, risk=risk)
    k.run()
    p = only_parent(k)
    assert p.status is AlgoStatus.FAILED and p.failures == 3 and p.consecutive_failures == 3
    assert (
        p.reason
        == "CHILD_FAILURES: 3 consecutive child orders failed; last: QUANTITY_EXCEEDS_MAX: max=100, order=750"
    )
    kids = [k.cache.orders[c] for c in p.child_ids]
    assert [c.quantity for c in kids] == [D(250), D(500), D(750)]  # each failed slice is carried to the next
    assert all(c.status is OrderStatus.DENIED for c in kids)
    assert len([m for m in seen if isinstance(m, OrderDenied)]) == 3
    failed = [m for m in seen if isinstance(m, AlgoProgress) and m.kind == "child_failed"]
    assert [m.child_id for m in failed] == p.child_ids and "QUANTITY_EXCEEDS_MAX" in failed[0].reason
    assert p.ts_done == T0 + 4 * HOUR and not k.clock.next_due()  # no slice timer left behind


def test_a_fill_resets_the_consecutive_failure_count() -> None:
    def halt(s: Any, on: bool) -> None:
        s.ctx.k.risk.state = TradingState.HALTED if on else TradingState.ACTIVE

    def start(s: Any) -> None:
        s.buy(1000, algo=TWAP("4h", 4, max_failures=2))
        halt(s, True)

    # slices at +2h, +3h, +4h, +5h: denied (halted), filled, denied (halted), filled
    script: dict[int, Action] = {
        1: start,
        2: lambda s: halt(s, False),
        3: lambda s: halt(s, True),
        4: lambda s: halt(s, False),
    }
    k, _ = kernel(script)
    k.run()
    p = only_parent(k)
    assert p.status is AlgoStatus.FILLED and p.filled_qty == D(1000)
    assert p.failures == 2 and p.consecutive_failures == 0
    kids = [k.cache.orders[c] for c in p.child_ids]
    assert [(c.quantity, c.status) for c in kids] == [
        (D(250), OrderStatus.DENIED),
        (D(500), OrderStatus.FILLED),
        (D(250), OrderStatus.DENIED),
        (D(500), OrderStatus.FILLED),
    ]


def test_venue_rejections_stop_an_iceberg_after_k_immediate_retries() -> None:
    # 5,000,000 EUR at 3.33 % margin needs ~183,000 USD; the account has 1,000: the venue rejects at the fill
    k, seen = kernel({1: lambda s: s.buy(10_000_000, algo=Iceberg(5_000_000, limit="1.1020"))}, cash=D(1000))
    k.run()
    p = only_parent(k)
    assert p.status is AlgoStatus.FAILED and p.failures == 3 and len(p.child_ids) == 3
    assert p.reason.startswith("CHILD_FAILURES: 3 consecutive child orders failed; last: INSUFFICIENT_MARGIN")
    assert len([m for m in seen if isinstance(m, OrderRejected)]) == 3


# ---- fills and the average price --------------------------------------------------------------------------------
def test_the_average_price_is_the_exact_quantity_weighted_mean_of_the_children_fills() -> None:
    k, seen = kernel({1: lambda s: s.buy(1001, algo=TWAP("3h", 3))})
    k.run()
    p = only_parent(k)
    fills = [m for m in seen if isinstance(m, OrderFilled)]
    assert [f.quantity for f in fills] == [D(333), D(333), D(335)]
    cost = sum((f.price * f.quantity for f in fills), D(0))
    assert p.filled_cost == cost and p.filled_qty == D(1001)
    assert p.avg_px == cost / D(1001)
    exact = Fraction(cost) / 1001  # the true mean; the Decimal quotient agrees to its 28 significant digits
    assert abs(Fraction(p.avg_px) - exact) < Fraction(1, 10**27)
    assert {f.client_order_id for f in fills} == set(p.child_ids)


def test_progress_is_published_in_order_on_the_algos_topic() -> None:
    k, seen = kernel({1: lambda s: s.buy(1000, algo=TWAP("2h", 2))})
    k.run()
    prog = [m for m in seen if isinstance(m, AlgoProgress)]
    assert [m.kind for m in prog] == [
        "started",
        "child_sent",
        "child_filled",
        "child_sent",
        "child_filled",
        "filled",
    ]
    assert [m.filled_qty for m in prog] == [0, 0, 500, 500, 1000, 1000]
    assert prog[-1].status == "filled" and prog[-1].avg_px == only_parent(k).avg_px


def test_children_carry_the_parent_id_and_ids_come_from_the_strategy_generator() -> None:
    k, _ = kernel({1: lambda s: s.buy(1000, algo=TWAP("2h", 2))})
    k.run()
    p = only_parent(k)
    assert p.parent_id == "ALG-O-TB-scripted-000001"
    assert p.child_ids == ["O-TB-scripted-000002", "O-TB-scripted-000003"]
    assert all(k.cache.orders[c].parent_id == p.parent_id for c in p.child_ids)
    row = p.to_dict()
    assert row["avg_px"] == str(p.avg_px) and row["quantity"] == "1000" and row["status"] == "filled"
    assert row["child_ids"] == p.child_ids


def test_strategies_get_on_fill_for_their_children() -> None:
    got: list[OrderFilled] = []

    class Listener(scripted({1: lambda s: s.buy(1000, algo=TWAP("2h", 2))})):  # type: ignore[misc]
        def on_fill(self, fill: OrderFilled) -> None:
            got.append(fill)

    k = Kernel(account_currency="USD", starting_cash=D(1_000_000))
    k.add_data(EURUSD, bars("EURUSD", [(1.1, 1.101, 1.099, 1.1)] * 6))
    k.add_strategy(Listener(), "EURUSD")
    k.run()
    assert [f.quantity for f in got] == [D(500), D(500)]


def test_a_strategy_cannot_cancel_another_strategys_algorithm() -> None:
    k, _ = kernel({1: lambda s: s.buy(1000, algo=TWAP("2h", 2)), 2: lambda s: s.cancel("ALG-other")})
    k.algos.parents["ALG-other"] = ParentOrder(
        "ALG-other", "twap", "someone", "EURUSD", OrderSide.BUY, D(1), 0
    )
    with pytest.raises(UserError, match="does not belong to strategy scripted"):
        k.run()


def test_without_algorithms_the_engine_adds_no_subscriber_and_no_timer() -> None:
    k = Kernel(account_currency="USD", starting_cash=D(1_000_000))
    k.add_data(EURUSD, bars("EURUSD", [(1.1, 1.101, 1.099, 1.1)] * 6))
    k.add_strategy(scripted({1: lambda s: s.buy(1000)})(), "EURUSD", Sizing.parse("units:1000"))
    k.run()
    assert len(k.cache.fills) == 1
    # the kernel's single-series fast path needs no "bars" tap and no timer; the algo engine adds neither
    assert not k.bus.has_subscribers("orders") and not k.bus.has_subscribers("bars")
    assert k.clock.next_due() is None
