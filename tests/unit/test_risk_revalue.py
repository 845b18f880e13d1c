"""The engine revalues its price-dependent sums as bars arrive (live sessions follow the bus's "bars"), which only
moves work off the order path: every check decides exactly as it would have without it."""

from __future__ import annotations

from decimal import Decimal as D
from itertools import count

import numpy as np
import pandas as pd

from traderbot.data.series import BarSeries
from traderbot.kernel.kernel import Kernel
from traderbot.model.enums import OrderSide, OrderType
from traderbot.model.instrument import get_instrument
from traderbot.model.order import Order
from traderbot.risk.config import RiskConfig
from traderbot.risk.config_sections import LimitsConfig, MarginConfig

N_BARS = 30
CONFIG = RiskConfig(
    limits=LimitsConfig(
        max_strategy_notional=D(60_000), max_portfolio_notional=D(80_000), max_currency_exposure=D(50_000)
    ),
    margin=MarginConfig(min_free_margin_pct=D(10)),
)


def kernel(follow: bool) -> Kernel:
    k = Kernel(account_currency="USD", starting_cash=D(20_000))
    ts = pd.date_range("2024-01-02", periods=N_BARS, freq="1h", tz="UTC")
    rng = np.random.default_rng(7)
    for iid, px in {"EURUSD": 1.1, "GBPUSD": 1.25, "USDJPY": 150.0}.items():
        c = px * np.exp(np.cumsum(rng.normal(0, 0.004, N_BARS)))
        frame = pd.DataFrame({"ts": ts, "open": c, "high": c * 1.001, "low": c * 0.999, "close": c})
        k.add_data(get_instrument(iid), BarSeries.from_frame(frame, iid, "1h"))
    k.risk.apply(CONFIG)
    if follow:
        k.risk.follow_bars(k.bus)
    return k


def run(follow: bool) -> tuple[list[str | None], list[int]]:
    """Send a fixed stream of orders bar by bar; the decisions, and after each bar whether the sums were
    already revalued for it before any order asked."""
    k = kernel(follow)
    ids = count()
    ts, sid, row = k.schedule()
    decisions: list[str | None] = []
    fresh: list[int] = []
    per_bar = len(k.cache.series)
    for b in range(N_BARS - 1):
        k.run_events(ts[b * per_bar : (b + 1) * per_bar], sid[b * per_bar : (b + 1) * per_bar],
                     row[b * per_bar : (b + 1) * per_bar])  # fmt: skip
        fresh.append(int(k.risk.exposure._gen == sum(k.cache.visible)))
        for n, iid in enumerate(("EURUSD", "GBPUSD", "USDJPY")):
            inst = k.cache.instruments[iid]
            px = k.cache.last_price(iid)
            assert px is not None
            side = OrderSide.BUY if (b + n) % 3 else OrderSide.SELL
            qty = D(5_000 * (1 + (b * 7 + n) % 4))
            limit = inst.round_price(px * (D("0.999") if side is OrderSide.BUY else D("1.001")))
            kind = OrderType.LIMIT if (b + n) % 2 else OrderType.MARKET
            o = Order(f"O{next(ids)}", iid, "S", side, kind, qty, k.cache.now_ns,
                      price=limit if kind is OrderType.LIMIT else None)  # fmt: skip
            k.send(o)
            decisions.append(o.reason or None)
    return decisions, fresh


def test_following_bars_changes_no_decision_and_has_the_sums_ready() -> None:
    lazy, lazy_fresh = run(follow=False)
    eager, eager_fresh = run(follow=True)
    assert eager == lazy
    assert any(d is not None for d in lazy) and any(d is None for d in lazy)  # the stream meets the limits
    assert all(eager_fresh)  # revalued as the bars arrived
    assert not any(lazy_fresh)  # without following, only the next order revalues
