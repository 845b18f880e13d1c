"""Protections in a real backtest: EURUSD 4-hour Dukascopy bars (../shared/data/dukascopy_multi), first half of
2019, a strategy that enters whenever it is flat and exits on the next bar (about three entries a day).

With `max_trades_per_day=1` no UTC day has more than one entry, the risk engine denies the extra entries with
PROTECTION_LOCK while every exit passes, and the locks it wrote are seen by a new LockBook on the same store
(as after a restart)."""

from __future__ import annotations

from collections import Counter
from decimal import Decimal as D
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from traderbot.core.messages import OrderDenied
from traderbot.data.loader import load_ohlcv_file
from traderbot.data.series import BarSeries
from traderbot.kernel.kernel import Kernel
from traderbot.model.data import Bar
from traderbot.model.enums import OrderSide, OrderType
from traderbot.model.instrument import get_instrument
from traderbot.model.order import Order
from traderbot.risk.engine import RiskEngine
from traderbot.risk.locks import LockBook
from traderbot.risk.protections import Protections, ProtectionsConfig, ProtectionsSettings
from traderbot.risk.states import TradingState
from traderbot.strategies.base import Strategy

pytestmark = pytest.mark.shared_data

EURUSD = get_instrument("EURUSD")
START, END = pd.Timestamp("2019-01-01", tz="UTC"), pd.Timestamp("2019-07-01", tz="UTC")


class InAndOut(Strategy):
    """Buys 10,000 when flat, sells everything on the next bar."""

    name = "in_and_out"

    def on_bar(self, bar: Bar) -> None:
        held = self.position()
        if held == 0:
            self.buy(D(10_000))
        else:
            self.sell(abs(held))


@pytest.fixture(scope="module")
def eurusd(shared_data_dir: Path) -> BarSeries:
    df, _ = load_ohlcv_file(
        shared_data_dir / "dukascopy_multi" / "EURUSD_4h.parquet", instrument="EURUSD", timeframe="4h"
    )
    return BarSeries.from_frame(df, "EURUSD", "4h").slice_time(START.value, END.value)


def run(series: BarSeries, settings: ProtectionsSettings | None) -> tuple[Kernel, list[OrderDenied]]:
    kernel = Kernel(account_currency="USD", starting_cash=D(10_000))
    kernel.finite_replay = True
    kernel.add_data(EURUSD, series)
    kernel.add_strategy(InAndOut(), "EURUSD")
    if settings is not None:
        Protections(settings, kernel.risk.locks, kernel.portfolio, kernel.cache).attach(kernel.bus)
    denials: list[OrderDenied] = []
    kernel.bus.subscribe("orders", lambda e: denials.append(e) if isinstance(e, OrderDenied) else None)
    kernel.run()
    return kernel, denials


def entries_per_day(kernel: Kernel) -> Counter[Any]:
    """Entries by UTC day of their fill: each closed trade's entry, and the position still open."""
    stamps = [t.entry_ts for t in kernel.portfolio.trades]
    stamps += [p.opened_ts for p in kernel.portfolio.positions.values() if p.quantity]
    return Counter(pd.Timestamp(ts, tz="UTC").date() for ts in stamps)


def test_one_trade_per_day_limit_holds_over_half_a_year_of_real_bars(eurusd: BarSeries) -> None:
    free, free_denials = run(eurusd, None)
    unlimited = entries_per_day(free)
    assert max(unlimited.values()) >= 3 and not free_denials  # without the limit: several entries a day

    kernel, denials = run(eurusd, ProtectionsSettings(global_=ProtectionsConfig(max_trades_per_day=1)))
    limited = entries_per_day(kernel)
    assert max(limited.values()) == 1
    assert len(limited) >= 0.9 * len(unlimited)  # still an entry on (nearly) every trading day
    assert kernel.risk.denied == len(denials) > 100
    assert all(
        d.reason.startswith("PROTECTION_LOCK: protection:trades_per_day on system: reducing until ")
        for d in denials
    )
    assert all(t.exit_ts > t.entry_ts for t in kernel.portfolio.trades)  # every entry could still exit


def test_locks_written_in_the_backtest_are_seen_by_a_new_lock_book_on_the_same_store(
    eurusd: BarSeries,
) -> None:
    kernel, _ = run(eurusd, ProtectionsSettings(global_=ProtectionsConfig(max_trades_per_day=1)))
    store = kernel.risk.locks.store
    lock = kernel.risk.locks.get("system", "protection:trades_per_day")
    assert lock is not None and lock.action is TradingState.REDUCING

    restarted = LockBook(store, now_ns=lambda: kernel.cache.now_ns)
    assert restarted.get("system", "protection:trades_per_day") == lock
    kernel.cache.now_ns = lock.since_ns  # a moment the lock covers
    engine = RiskEngine(kernel.cache, kernel.portfolio, locks=restarted)
    entry = Order("O-TB-restart-1", "EURUSD", "in_and_out", OrderSide.BUY, OrderType.MARKET, D(10_000), 0)
    denial = engine.check(entry)
    assert denial is not None and denial.startswith("PROTECTION_LOCK: protection:trades_per_day on system")
