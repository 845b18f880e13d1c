"""Property: no sequence of orders, from several strategies on several pairs, market or limit, buying or
selling, can push a position, a strategy, the portfolio or one currency past its limit, nor open more positions
than allowed. Prices are constant so that every exposure is measured at the price the checks saw; fills happen
on the simulated venue as bars go by, so open orders that fill together are covered too."""

from __future__ import annotations

from decimal import Decimal as D
from itertools import count

import numpy as np
import pandas as pd
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from traderbot.data.series import BarSeries
from traderbot.kernel.kernel import Kernel
from traderbot.model.enums import OrderSide, OrderType
from traderbot.model.instrument import get_instrument
from traderbot.model.order import Order
from traderbot.risk.book_sums import BookSums
from traderbot.risk.checks_exposure import ExposureChecks
from traderbot.risk.config import RiskConfig
from traderbot.risk.config_sections import LimitsConfig, PairLimits

PRICES = {"EURUSD": 1.1, "GBPUSD": 1.25, "EURGBP": 0.88, "USDJPY": 150.0}
N_BARS = 40
H = 3_600_000_000_000
LIMITS = LimitsConfig(
    max_position_notional=D(30_000),
    max_strategy_notional=D(45_000),
    max_portfolio_notional=D(60_000),
    max_currency_exposure=D(35_000),
    max_open_positions=3,
    pairs={"USDJPY": PairLimits(max_position_notional=D(15_000))},
)
_ids = count()

orders = st.lists(
    st.tuples(
        st.integers(0, N_BARS - 2),  # bar
        st.sampled_from(sorted(PRICES)),
        st.sampled_from(["s1", "s2"]),
        st.sampled_from(["buy", "sell"]),
        st.integers(1, 40).map(lambda k: D(k * 1000)),
        st.sampled_from(["market", "limit", "reduce"]),
    ),
    max_size=60,
)


def kernel() -> Kernel:
    k = Kernel(account_currency="USD", starting_cash=D(1_000_000))
    ts = pd.date_range("2024-01-02", periods=N_BARS, freq="1h", tz="UTC")
    for iid, px in PRICES.items():
        c = np.full(N_BARS, px)
        frame = pd.DataFrame({"ts": ts, "open": c, "high": c, "low": c, "close": c})
        k.add_data(get_instrument(iid), BarSeries.from_frame(frame, iid, "1h"))
    k.risk.apply(RiskConfig(limits=LIMITS))
    return k


def check_sums(k: Kernel) -> None:
    """The engine's running sums (rows updated as orders and fills change the book) equal sums built from
    scratch on the book as it is now: exactly, whatever the order of the changes."""
    x = k.risk.exposure
    x.begin(True)
    fresh = BookSums(k.portfolio, x.open, k.cache.instruments, x.unit_value, count_open=True)
    for scope in list(x.sums._gross):
        kept, new = x.sums.gross(scope), fresh.gross(scope)
        assert (kept.total, kept.rows) == (new.total, new.rows), scope
    if x.sums._currency is not None:
        kept_bounds = {c: b for c, b in x.sums.bounds().items() if b != (0, 0)}
        assert kept_bounds == {c: b for c, b in fresh.bounds().items() if b != (0, 0)}


def check_invariants(k: Kernel) -> None:
    check_sums(k)
    x = ExposureChecks(k.cache, k.portfolio, LIMITS)
    p = k.portfolio
    gross = D(0)
    for iid, net in p._net.items():
        value = x.notional(iid, net)
        gross += value
        assert value <= LIMITS.pair(iid, "max_position_notional"), (iid, net)
    assert gross <= LIMITS.max_portfolio_notional
    for sid in ("s1", "s2"):
        s_gross = sum((x.notional(i, pos.quantity) for (s, i), pos in p._open.items() if s == sid), D(0))
        assert s_gross <= LIMITS.max_strategy_notional, sid
    for ccy, value in x.currency_exposure().items():
        assert abs(value) <= LIMITS.max_currency_exposure, (ccy, value)
    assert sum(1 for q in p._net.values() if q) <= LIMITS.max_open_positions
    # the incremental open-order book agrees with a scan of the open orders
    scan: dict[tuple[str, OrderSide], D] = {}
    for o in k.cache.open_ids.values():
        if not o.reduce_only:
            scan[(o.instrument_id, o.side)] = scan.get((o.instrument_id, o.side), D(0)) + o.leaves_qty
    assert k.risk.exposure.open.side == {key: q for key, q in scan.items() if q}


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(orders)
@example(
    [(0, "EURUSD", "s1", "buy", D(20000), "market")] + [(2, "EURUSD", "s1", "sell", D(20000), "market")] * 3
)
@example(
    [
        (0, "EURUSD", "s2", "buy", D(20000), "market"),
        (2, "EURUSD", "s1", "sell", D(20000), "market"),
        (2, "GBPUSD", "s1", "sell", D(20000), "market"),
        (4, "USDJPY", "s1", "sell", D(9000), "market"),
    ]
)
@example(
    [
        (0, "EURUSD", "s1", "sell", D(25000), "market"),
        (0, "EURGBP", "s2", "buy", D(20000), "market"),
        (2, "EURUSD", "s1", "buy", D(25000), "limit"),
        (3, "EURGBP", "s2", "sell", D(20000), "market"),
    ]
)
@example([(0, "EURGBP", "s1", "buy", D(1000), "market")] + [(0, p, "s1", "buy", D(1000), "market")
          for p in ("EURUSD", "GBPUSD", "USDJPY")])  # fmt: skip
def test_no_order_sequence_pushes_exposure_past_a_limit(
    plan: list[tuple[int, str, str, str, D, str]],
) -> None:
    k = kernel()
    ts, sid, row = k.schedule()
    per_bar = len(PRICES)
    by_bar: dict[int, list[tuple[str, str, str, D, str]]] = {}
    for bar, *rest in plan:
        by_bar.setdefault(bar, []).append(tuple(rest))  # type: ignore[arg-type]
    for b in range(N_BARS):
        lo, hi = b * per_bar, (b + 1) * per_bar
        k.run_events(ts[lo:hi], sid[lo:hi], row[lo:hi])
        check_invariants(k)
        for iid, strat, side, qty, kind in by_bar.get(b, []):
            inst = k.cache.instruments[iid]
            net = k.portfolio.positions.get((strat, iid))
            if kind == "reduce" and (net is None or not net.quantity):
                continue
            px = inst.price_to_decimal(PRICES[iid])
            o = Order(
                f"P-{next(_ids)}", iid, strat, OrderSide(side),
                OrderType.LIMIT if kind == "limit" else OrderType.MARKET, qty, k.cache.now_ns,
                price=px if kind == "limit" else None, reduce_only=kind == "reduce",
            )  # fmt: skip
            k.send(o)
            check_sums(k)  # the running sums right after a change, before any revaluation
    check_invariants(k)
