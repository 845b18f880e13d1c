"""Rejections by the simulated venue when an order arrives, each with its reason code: MARKET_CLOSED from the
instrument's session calendar (opt-in: FX weekend, an NYSE holiday), and the precision checks on quantity and
price. Orders for the precision checks go straight to the order management (as a resend or a live bridge
would), past the risk engine that normally denies them first."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal as D
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from tests.sim_harness import Action, Row, scripted

from traderbot.brokers.sim.costs import VenueConfig
from traderbot.brokers.sim.latency import LatencyModel
from traderbot.brokers.sim.rejections import VenueRejectReason, reject_reason_table
from traderbot.core.messages import OrderAccepted, OrderFilled, OrderRejected
from traderbot.data.series import BarSeries
from traderbot.kernel.kernel import Kernel
from traderbot.model.enums import OrderSide, OrderStatus, OrderType
from traderbot.model.instrument import Instrument, generic_instrument, get_instrument
from traderbot.model.order import Order
from traderbot.risk.sizing import Sizing

EURUSD = get_instrument("EURUSD")
SPY = get_instrument("SPY")
ROW: Row = (1.1000, 1.1010, 1.0990, 1.1000)
SPY_ROW: Row = (540.0, 541.0, 539.0, 540.5)
HOURS = VenueConfig(enforce_market_hours=True)
PRECISION = VenueConfig(check_precision=True)


def run(
    script: dict[int, Action],
    opens: list[str],
    *,
    inst: Instrument = EURUSD,
    venue: VenueConfig | None = None,
    row: Row = ROW,
) -> tuple[Kernel, list[Any]]:
    kernel = Kernel(account_currency=inst.quote, starting_cash=D(1_000_000), venue=venue)
    kernel.finite_replay = True
    ts = np.array([pd.Timestamp(t, tz="UTC").value for t in opens], dtype=np.int64)
    cols = [np.full(len(opens), row[k]) for k in range(4)]
    kernel.add_data(
        inst,
        BarSeries.from_arrays(
            inst.id, "1h", ts, cols[0], cols[1], cols[2], cols[3], np.full(len(opens), 1e6)
        ),
    )
    kernel.add_strategy(scripted(script)(), inst.id, Sizing.parse("units:10"))
    seen: list[Any] = []
    inner = kernel.venue.emit

    def tap(event: Any) -> None:
        seen.append(event)
        inner(event)

    kernel.venue.emit = tap
    kernel.run()
    return kernel, seen


def rejections(seen: list[Any]) -> list[str]:
    return [e.reason for e in seen if isinstance(e, OrderRejected)]


# ---- market hours --------------------------------------------------------------------------------------------
FX_WEEK = ["2024-01-05 19:00", "2024-01-05 20:00", "2024-01-06 12:00", "2024-01-06 13:00", "2024-01-07 23:00"]


def test_an_fx_order_arriving_on_a_saturday_is_rejected_market_closed() -> None:
    _, seen = run({2: lambda s: s.buy(10)}, FX_WEEK, venue=HOURS)  # sent at Sat 13:00 UTC
    assert rejections(seen) == ["MARKET_CLOSED: EURUSD calendar fx is closed at 2024-01-06 13:00:00+00:00"]
    assert not [e for e in seen if isinstance(e, OrderFilled)]


def test_an_fx_order_on_friday_afternoon_is_accepted() -> None:
    k, seen = run({0: lambda s: s.buy(10)}, FX_WEEK, venue=HOURS)  # Fri 20:00 UTC = 15:00 New York
    assert rejections(seen) == []
    assert k.portfolio.net_quantity("EURUSD") == D(10)


def test_market_hours_are_not_enforced_by_default() -> None:
    k, seen = run({2: lambda s: s.buy(10)}, FX_WEEK)  # dirty weekend bars trade as before
    assert rejections(seen) == []
    assert k.portfolio.net_quantity("EURUSD") == D(10)


def test_an_equity_order_arriving_on_an_nyse_holiday_is_rejected() -> None:
    opens = [
        "2024-07-04 14:00",
        "2024-07-04 15:00",
        "2024-07-05 14:00",
        "2024-07-05 15:00",
        "2024-07-05 16:00",
    ]
    k, seen = run({0: lambda s: s.buy(10), 2: lambda s: s.buy(10)}, opens, inst=SPY, venue=HOURS, row=SPY_ROW)
    assert rejections(seen) == ["MARKET_CLOSED: SPY calendar XNYS is closed at 2024-07-04 15:00:00+00:00"]
    first, second = k.cache.orders.values()
    assert (first.status, second.status) == (OrderStatus.REJECTED, OrderStatus.FILLED)


def test_market_hours_are_checked_at_the_arrival_not_at_the_send() -> None:
    # sent Friday 21:00 UTC (open), arrives 90 minutes later, after the 22:00 UTC weekend close
    opens = ["2024-01-05 20:00", "2024-01-05 21:00", "2024-01-07 22:00", "2024-01-07 23:00"]
    cfg = VenueConfig(enforce_market_hours=True, latency=LatencyModel(submit_ms=D(90 * 60_000)))
    _, seen = run({0: lambda s: s.buy(10)}, opens, venue=cfg)
    (rejected,) = [e for e in seen if isinstance(e, OrderRejected)]
    assert rejected.reason.startswith("MARKET_CLOSED: EURUSD calendar fx is closed at 2024-01-05 22:30")
    assert rejected.ts == pd.Timestamp("2024-01-05 22:30", tz="UTC").value


# ---- precision -----------------------------------------------------------------------------------------------
def direct(**fields: Any) -> Action:
    """Send a hand-made order straight to the order management (no risk engine on the way)."""

    def act(s: Any) -> None:
        k = s.ctx.k
        base: dict[str, Any] = {
            "client_order_id": f"HAND-{len(k.cache.orders) + 1}",
            "instrument_id": s.instrument_id,
            "strategy_id": s.strategy_id,
            "side": OrderSide.BUY,
            "type": OrderType.MARKET,
            "quantity": D(10),
            "ts_init": k.cache.now_ns,
        }
        k.execution.submit(Order(**(base | fields)))

    return act


DAYS = ["2024-01-02 10:00", "2024-01-02 11:00", "2024-01-02 12:00"]
MIN_10 = replace(EURUSD, min_quantity=D(10))


@pytest.mark.parametrize(
    ("inst", "fields", "reason"),
    [
        (EURUSD, {"quantity": D("10.5")}, "INVALID_QUANTITY_PRECISION: lot_size=1, quantity=10.5"),
        (MIN_10, {"quantity": D(5)}, "QUANTITY_BELOW_MINIMUM: min_quantity=10, quantity=5"),
        (
            EURUSD,
            {"type": OrderType.LIMIT, "price": D("1.099995")},
            "INVALID_PRICE_PRECISION: tick_size=0.00001, price=1.099995",
        ),
        (
            EURUSD,
            {"type": OrderType.STOP, "trigger_price": D("1.100015")},
            "INVALID_PRICE_PRECISION: tick_size=0.00001, trigger_price=1.100015",
        ),
    ],
)
def test_an_order_the_instrument_cannot_represent_is_rejected_with_its_code(
    inst: Instrument, fields: dict[str, Any], reason: str
) -> None:
    k, seen = run({0: direct(**fields)}, DAYS, inst=inst, venue=PRECISION)
    assert rejections(seen) == [reason]
    assert not [e for e in seen if isinstance(e, OrderAccepted)]
    (order,) = k.cache.orders.values()
    assert order.status is OrderStatus.REJECTED


def test_precision_checks_are_off_by_default_the_risk_engine_does_them_first() -> None:
    k, seen = run({0: direct(quantity=D("10.5"))}, DAYS)
    assert rejections(seen) == []
    assert k.portfolio.net_quantity("EURUSD") == D("10.5")
    k, seen = run({0: lambda s: s.buy(D("10.5"))}, DAYS, venue=PRECISION)  # the usual path
    assert seen == []  # denied by the risk engine (QUANTITY_PRECISION): the venue never sees it
    assert k.risk.denied == 1


def test_fractional_instruments_and_equity_fraction_orders_pass_the_quantity_checks() -> None:
    frac = generic_instrument("F", precision=2)  # lot size 0: any quantity
    k, seen = run({0: direct(quantity=D("0.123"))}, DAYS, inst=frac, venue=PRECISION)
    assert rejections(seen) == []
    k, seen = run(
        {0: direct(quantity=D(0), equity_fraction=D("0.5"))}, DAYS, venue=PRECISION
    )  # sized at the fill
    assert rejections(seen) == []
    assert k.portfolio.net_quantity("EURUSD") > 0


def test_the_reason_table_in_the_docs_is_generated_from_the_enum() -> None:
    doc = (Path(__file__).resolve().parents[2] / "docs" / "simulated_venue.md").read_text()
    assert reject_reason_table() in doc
    assert all(f"`{r.name}`" in reject_reason_table() for r in VenueRejectReason)
