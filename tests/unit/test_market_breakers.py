"""Market circuit breakers and guards on a real kernel: each trips with its source, scope, action, until and
reason; the kernel's risk engine then denies new entries (CIRCUIT_BREAKER / GUARD_LOCK) while, with
action=reducing, a closing order still passes. Also: the volatility guard clears when ATR% normalises, no
stale-data trip over an FX weekend, spreads from ticks and from a series' spread column, config errors."""

from __future__ import annotations

from decimal import Decimal as D
from itertools import count
from typing import Any

import numpy as np
import pandas as pd
import pytest
from pydantic import ValidationError

from traderbot.core.messages import OrderDenied, OrderFilled
from traderbot.data.series import BarSeries
from traderbot.kernel.kernel import Kernel
from traderbot.model.enums import OrderSide, OrderType
from traderbot.model.instrument import Instrument, get_instrument
from traderbot.model.order import Order
from traderbot.risk.locks import MemoryLockStore
from traderbot.risk.market_breakers import MarketBreakers, MarketBreakersConfig
from traderbot.risk.sizing import atr_distance
from traderbot.risk.states import TradingState

EURUSD = get_instrument("EURUSD")
HOUR = 3_600_000_000_000
MINUTE = 60_000_000_000
WEDNESDAY = pd.Timestamp("2024-01-03", tz="UTC").value
_ids = count(1)

Ohlc = tuple[float, float, float, float]


def calm(n: int, px: float = 1.1) -> list[Ohlc]:
    """Bars of true range 0.0010 around `px` (ATR 0.0010, i.e. 10 pips)."""
    return [(px, px + 0.0005, px - 0.0005, px)] * n


def series(
    rows: list[Ohlc],
    *,
    start: int = WEDNESDAY,
    stamps: list[int] | None = None,
    spread: list[float] | None = None,
) -> BarSeries:
    ts = np.array(
        stamps if stamps is not None else [start + i * HOUR for i in range(len(rows))], dtype=np.int64
    )
    o, h, lo, c = (np.array(col) for col in zip(*rows, strict=True))
    sp = None if spread is None else np.array(spread)
    return BarSeries.from_arrays("EURUSD", "1h", ts, o, h, lo, c, None, sp)


class Desk:
    """A backtest kernel with the breakers attached, run over `bars`; orders go through `kernel.send`."""

    def __init__(self, cfg: MarketBreakersConfig, bars: BarSeries | None, inst: Instrument = EURUSD) -> None:
        self.kernel = Kernel(account_currency="USD", starting_cash=D(100_000))
        self.kernel.add_data(inst, bars if bars is not None else series(calm(3)))
        self.breakers = MarketBreakers(cfg, self.kernel.risk.locks, self.kernel.cache)
        self.breakers.attach(self.kernel.bus)
        self.events: list[Any] = []
        self.kernel.bus.subscribe("orders", self.events.append)
        if bars is not None:
            self.kernel.run()

    @property
    def now(self) -> int:
        return self.kernel.cache.now_ns

    def send(self, side: str, qty: D = D(1000), **kw: Any) -> str | None:
        o = Order(
            f"O-TB-mb-{next(_ids):06d}", "EURUSD", "risk", OrderSide(side), OrderType.MARKET, qty, 0, **kw
        )
        return self.kernel.send(o)

    def denial(self, side: str = "buy", qty: D = D(1000), **kw: Any) -> str:
        """Send an order that must be denied; its OrderDenied reason."""
        assert self.send(side, qty, **kw) is None
        return [e for e in self.events if isinstance(e, OrderDenied)][-1].reason

    def hold(self, signed_qty: D) -> None:
        """Book a fill into the portfolio (as the execution engine does) to hold a position."""
        fill = OrderFilled(
            f"F-{next(_ids)}",
            "EURUSD",
            "other",
            0,
            trade_id=f"T-{next(_ids)}",
            side="buy" if signed_qty > 0 else "sell",
            quantity=abs(signed_qty),
            price=D("1.1"),
            commission_currency="USD",
        )
        self.kernel.portfolio.on_fill(fill, 0)

    @property
    def store(self) -> MemoryLockStore:
        store = self.kernel.risk.locks.store
        assert isinstance(store, MemoryLockStore)
        return store

    def history(self) -> list[tuple[str, str, int]]:
        """(set | cleared, source, when) for every lock event, in order."""
        return [(e.event, e.lock.source, e.ts) for e in self.store.history]


def iso(ts: int) -> str:
    return pd.Timestamp(ts, tz="UTC").strftime("%Y-%m-%dT%H:%MZ")


# ---- breaker:gap -------------------------------------------------------------------------------------------
def test_open_gap_above_gap_atr_trips_breaker_gap_and_a_new_entry_is_denied_with_circuit_breaker() -> None:
    gap_bar = (1.11, 1.1105, 1.1095, 1.11)  # opens 0.0100 = 10 ATR above the previous close
    d = Desk(MarketBreakersConfig(gap_atr=D(5)), series([*calm(20), gap_bar]))
    lock = d.kernel.risk.locks.get("pair:EURUSD", "breaker:gap")
    assert lock is not None
    assert (lock.scope, lock.action, lock.since_ns) == ("pair:EURUSD", TradingState.HALTED, d.now)
    assert lock.until_ns == d.now + 60 * MINUTE
    assert lock.reason == f"gap 0.01000 = 10.0 ATR(14) > 5 ATR at {iso(d.now)}"
    reason = d.denial("buy")
    assert reason == f"CIRCUIT_BREAKER: {lock.describe()}"
    d.kernel.cache.now_ns = lock.until_ns  # the hold is over: entries pass again
    assert d.send("buy") is not None


def test_gap_below_gap_atr_does_not_trip() -> None:
    small = (1.1040, 1.1045, 1.1035, 1.1040)  # 4 ATR
    d = Desk(MarketBreakersConfig(gap_atr=D(5)), series([*calm(20), small]))
    assert d.kernel.risk.locks.active(d.now) == []
    assert d.send("buy") is not None


def test_gap_during_the_atr_warm_up_does_not_trip() -> None:
    d = Desk(MarketBreakersConfig(gap_atr=D(5)), series([*calm(10), (1.2, 1.2005, 1.1995, 1.2)]))
    assert d.kernel.risk.locks.active(d.now) == []


def test_range_shock_inside_one_bar_trips_breaker_gap_unless_range_shock_is_off() -> None:
    shock = (1.1, 1.1, 1.05, 1.08)  # opens at the previous close, falls 500 pips inside the bar
    d = Desk(MarketBreakersConfig(gap_atr=D(5)), series([*calm(20), shock]))
    lock = d.kernel.risk.locks.get("pair:EURUSD", "breaker:gap")
    assert lock is not None
    assert lock.reason == f"range shock 0.05000 = 50.0 ATR(14) > 5 ATR at {iso(d.now)}"
    off = Desk(MarketBreakersConfig(gap_atr=D(5), range_shock=False), series([*calm(20), shock]))
    assert off.kernel.risk.locks.active(off.now) == []


def test_reducing_action_lets_a_closing_order_pass_while_a_new_entry_is_denied() -> None:
    gap_bar = (1.11, 1.1105, 1.1095, 1.11)
    d = Desk(
        MarketBreakersConfig(gap_atr=D(5), action="reducing", lock_minutes=240), series([*calm(20), gap_bar])
    )
    lock = d.kernel.risk.locks.get("pair:EURUSD", "breaker:gap")
    assert lock is not None and lock.action is TradingState.REDUCING
    assert lock.until_ns == d.now + 240 * MINUTE
    d.hold(D(1000))
    assert d.denial("buy").startswith("CIRCUIT_BREAKER: breaker:gap on pair:EURUSD: reducing until ")
    assert d.send("sell", D(1000)) is not None  # closes the long: reduces risk


def test_halted_action_denies_a_plain_closing_order_too() -> None:
    d = Desk(MarketBreakersConfig(gap_atr=D(5)), series([*calm(20), (1.11, 1.1105, 1.1095, 1.11)]))
    d.hold(D(1000))
    assert d.denial("sell", D(1000)).startswith("CIRCUIT_BREAKER: breaker:gap on pair:EURUSD: halted")


# ---- guard:volatility --------------------------------------------------------------------------------------
def volatile_then_calm() -> list[Ohlc]:
    wild = [(1.1, 1.105, 1.095, 1.1)] * 12  # true range 0.0100
    return [*calm(15), *wild, *calm(20)]


def atr_pct_by_formula(bars: BarSeries, n: int) -> float:
    """ATR(14)% after the first n bars, from risk.sizing.atr_distance (the documented formula)."""
    return 100 * atr_distance(bars.high[:n], bars.low[:n], bars.close[:n], 14) / float(bars.close[n - 1])


def test_volatility_guard_halts_the_pair_with_guard_lock_while_atr_pct_is_above_the_limit() -> None:
    full = series(volatile_then_calm())
    limit = 0.5
    first = next(n for n in range(15, len(full) + 1) if atr_pct_by_formula(full, n) > limit)
    d = Desk(MarketBreakersConfig(max_atr_pct=D("0.5")), full.slice_time(None, int(full.ts[first - 1])))
    lock = d.kernel.risk.locks.get("pair:EURUSD", "guard:volatility")
    assert lock is not None
    assert (lock.action, lock.since_ns, lock.until_ns) == (TradingState.HALTED, d.now, None)
    pct = d.breakers.atr_pct("EURUSD")
    assert pct == pytest.approx(atr_pct_by_formula(full, first))
    assert lock.reason.startswith(f"ATR(14) {pct:.2f}% of close > 0.5% at {iso(d.now)}")
    assert d.denial("buy").startswith("GUARD_LOCK: guard:volatility on pair:EURUSD: halted")


def test_volatility_guard_clears_itself_when_atr_pct_normalises() -> None:
    full = series(volatile_then_calm())
    limit = 0.5
    pcts = [atr_pct_by_formula(full, n) for n in range(15, len(full) + 1)]
    above = [n for n, p in zip(range(15, len(full) + 1), pcts, strict=True) if p > limit]
    cleared_at = next(n for n in range(above[0], len(full) + 1) if atr_pct_by_formula(full, n) <= limit)
    d = Desk(MarketBreakersConfig(max_atr_pct=D("0.5")), full)
    close_of = full.ts_close
    # set once (not re-set on every elevated bar), cleared by the guard on the first bar back at or below
    assert d.history() == [
        ("set", "guard:volatility", int(close_of[above[0] - 1])),
        ("cleared", "guard:volatility", int(close_of[cleared_at - 1])),
    ]
    (cleared,) = [e for e in d.store.history if e.event == "cleared"]
    assert cleared.actor == "guard:volatility" and cleared.reason.endswith(
        "<= 0.5% at " + iso(int(close_of[cleared_at - 1]))
    )
    assert d.kernel.risk.locks.get("pair:EURUSD", "guard:volatility") is None
    assert d.breakers.atr_pct("EURUSD") == pytest.approx(atr_pct_by_formula(full, len(full)))
    assert d.send("buy") is not None


# ---- breaker:stale_data ------------------------------------------------------------------------------------
def test_stale_data_does_not_trip_over_a_weekend_gap_on_the_fx_calendar() -> None:
    friday = pd.Timestamp("2024-01-05 12:00", tz="UTC").value  # FX closes Friday 22:00 UTC (17:00 New York)
    sunday = pd.Timestamp("2024-01-07 22:00", tz="UTC").value  # and opens Sunday 22:00 UTC
    stamps = [friday + i * HOUR for i in range(10)] + [sunday + i * HOUR for i in range(5)]
    d = Desk(MarketBreakersConfig(stale_after_s=3600), series(calm(15), stamps=stamps))
    assert d.history() == []  # a 48-hour hole, all of it closed market
    assert d.breakers.check_stale(pd.Timestamp("2024-01-06 12:00", tz="UTC").value) == []
    assert d.send("buy") is not None


def test_stale_data_trips_on_a_hole_while_the_market_is_open() -> None:
    stamps = [WEDNESDAY + i * HOUR for i in range(10)] + [WEDNESDAY + (13 + i) * HOUR for i in range(3)]
    d = Desk(MarketBreakersConfig(stale_after_s=3600), series(calm(13), stamps=stamps))
    lock = d.kernel.risk.locks.get("pair:EURUSD", "breaker:stale_data")
    assert lock is not None
    trip = WEDNESDAY + 14 * HOUR  # the close of the first bar after the hole
    assert (lock.since_ns, lock.until_ns) == (trip, trip + 60 * MINUTE)
    assert lock.reason == (
        "no data for 3.0 h of open market (2024-01-03T10:00Z to 2024-01-03T13:00Z) > 3600 s at 2024-01-03T14:00Z"
    )
    d.kernel.cache.now_ns = trip + 30 * MINUTE
    assert d.denial("buy").startswith("CIRCUIT_BREAKER: breaker:stale_data on pair:EURUSD")


def test_check_stale_trips_a_silent_pair_only_after_enough_open_market_time() -> None:
    d = Desk(MarketBreakersConfig(stale_after_s=3600), series(calm(5)))  # last data: Wednesday 05:00
    assert d.breakers.check_stale(WEDNESDAY + 6 * HOUR) == []  # one hour silent: not more than the limit
    (lock,) = d.breakers.check_stale(WEDNESDAY + 6 * HOUR + MINUTE)
    assert (lock.source, lock.since_ns) == ("breaker:stale_data", WEDNESDAY + 6 * HOUR + MINUTE)
    assert d.breakers.check_stale(WEDNESDAY + 6 * HOUR + 2 * MINUTE) == []  # already held: not re-set


def test_check_stale_on_a_24_7_instrument_counts_every_hour() -> None:
    btc = get_instrument("BTCUSD")
    bars = BarSeries.from_arrays("BTCUSD", "1h", np.array([WEDNESDAY]), [1.0], [1.0], [1.0], [1.0])
    kernel = Kernel(account_currency="USD")
    kernel.add_data(btc, bars)
    mb = MarketBreakers(MarketBreakersConfig(stale_after_s=600), kernel.risk.locks, kernel.cache)
    mb.attach(kernel.bus)
    kernel.run()
    saturday = pd.Timestamp("2024-01-06 12:00", tz="UTC").value
    (lock,) = mb.check_stale(saturday)
    assert lock.scope == "pair:BTCUSD" and "no data for 83.0 h of open market" in lock.reason


# ---- spreads -----------------------------------------------------------------------------------------------
def test_spread_from_ticks_above_the_cap_sets_guard_spread_until_a_calm_minute() -> None:
    d = Desk(MarketBreakersConfig(max_spread_pips=D(3)), None)
    t0 = WEDNESDAY + HOUR
    d.kernel.cache.now_ns = t0
    (lock,) = d.breakers.on_tick("EURUSD", t0, D("1.10000"), D("1.10050"))
    assert d.breakers.spread_now("EURUSD") == pytest.approx(5.0)
    assert (lock.scope, lock.source, lock.action, lock.until_ns) == (
        "pair:EURUSD",
        "guard:spread",
        TradingState.HALTED,
        None,
    )
    assert lock.reason == "spread 5.0 pips > 3 pips at 2024-01-03T01:00Z"
    assert d.denial("buy").startswith("GUARD_LOCK: guard:spread on pair:EURUSD")
    d.breakers.on_tick("EURUSD", t0 + 30_000_000_000, 1.1, 1.10010)  # calm, but only 30 s after the wide one
    assert d.kernel.risk.locks.get("pair:EURUSD", "guard:spread") is not None
    d.breakers.on_tick("EURUSD", t0 + MINUTE, 1.1, 1.10010)
    assert d.kernel.risk.locks.get("pair:EURUSD", "guard:spread") is None
    assert d.breakers.spread_now("EURUSD") == pytest.approx(1.0)


def test_abnormal_spread_against_the_rolling_median_trips_breaker_spread() -> None:
    d = Desk(MarketBreakersConfig(spread_multiple=D(5), spread_window=10), None)
    t = WEDNESDAY
    for i in range(10):  # window filling: even a wide spread is not judged yet
        pips = 20 if i == 0 else 1
        assert d.breakers.on_tick("EURUSD", t + i * MINUTE, 1.1, 1.1 + pips * 0.0001) == []
    now = t + 10 * MINUTE
    (lock,) = d.breakers.on_tick("EURUSD", now, 1.1, 1.1006)
    assert (lock.source, lock.until_ns) == ("breaker:spread", now + 60 * MINUTE)
    assert lock.reason == "spread 6.0 pips = 6.0 x median 1.0 pips (last 10) > 5 x at 2024-01-03T00:10Z"
    d.kernel.cache.now_ns = now
    assert d.denial("buy").startswith("CIRCUIT_BREAKER: breaker:spread on pair:EURUSD")
    assert d.breakers.on_tick("EURUSD", now + MINUTE, 1.1, 1.1007) == []  # still held: not re-set


def test_a_crossed_quote_is_data_but_not_a_spread() -> None:
    d = Desk(MarketBreakersConfig(max_spread_pips=D(3), stale_after_s=60), None)
    assert d.breakers.on_tick("EURUSD", WEDNESDAY, 1.1005, 1.1) == []
    assert d.breakers.spread_now("EURUSD") is None
    assert d.breakers.check_stale(WEDNESDAY + MINUTE) == []


def test_spread_column_of_a_bar_series_feeds_the_spread_guard() -> None:
    spreads = [0.0001] * 20 + [0.0008, 0.0001]  # in price units: 1 pip, then 8 pips on one bar
    bars = series(calm(22), spread=spreads)
    d = Desk(MarketBreakersConfig(max_spread_pips=D(5)), bars)
    wide_close, calm_close = int(bars.ts_close[20]), int(bars.ts_close[21])
    assert d.history() == [("set", "guard:spread", wide_close), ("cleared", "guard:spread", calm_close)]
    (lock,) = [e.lock for e in d.store.history if e.event == "set"]
    assert lock.reason == f"spread 8.0 pips > 5 pips at {iso(wide_close)}"
    assert d.breakers.spread_now("EURUSD") == pytest.approx(1.0)


# ---- wiring, status and config -----------------------------------------------------------------------------
def test_detached_breakers_see_no_bars() -> None:
    kernel = Kernel(account_currency="USD")
    kernel.add_data(EURUSD, series([*calm(20), (1.11, 1.1105, 1.1095, 1.11)]))
    mb = MarketBreakers(MarketBreakersConfig(gap_atr=D(5)), kernel.risk.locks, kernel.cache)
    mb.attach(kernel.bus)
    mb.detach(kernel.bus)
    kernel.run()
    assert mb.status() == [] and not kernel.risk.locks


def test_status_lists_atr_pct_spread_last_data_and_locks_per_pair() -> None:
    d = Desk(MarketBreakersConfig(gap_atr=D(5)), series([*calm(20), (1.11, 1.1105, 1.1095, 1.11)]))
    (line,) = d.breakers.status()
    atr = 100 * (13 * 0.0010 + 0.0105) / 14 / 1.11  # 13 calm ranges and the gap bar's (high - previous close)
    assert line == (
        f"EURUSD: ATR(14) {atr:.3f}% of close, spread n/a, last data {iso(d.now)}, locked by breaker:gap"
    )


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("gap_atr", D(0), "gap_atr must be a positive number, got 0"),
        ("gap_atr", D("NaN"), "gap_atr\n  Input should be a finite number"),
        ("max_atr_pct", D(-1), "max_atr_pct must be a positive number"),
        ("max_atr_pct", D(150), "max_atr_pct is a percentage of the close, got 150"),
        ("stale_after_s", 0, "stale_after_s must be a positive number"),
        ("max_spread_pips", D(0), "max_spread_pips must be a positive number"),
        ("spread_multiple", D(1), "spread_multiple must be above 1"),
        ("spread_window", 2, "spread_window must be at least 5 observations"),
        ("atr_period", 1, "atr_period must be at least 2 bars, got 1"),
        ("lock_minutes", 0, "lock_minutes must be a positive number"),
        ("action", "flatten", "Input should be 'reducing' or 'halted'"),
        ("gap_atrr", D(5), "Extra inputs are not permitted"),
    ],
)
def test_invalid_config_is_refused_with_one_sentence_naming_the_fix(
    field: str, value: Any, message: str
) -> None:
    with pytest.raises(ValidationError, match=message.replace("(", r"\(").replace(")", r"\)")):
        MarketBreakersConfig(**{field: value})


def test_default_config_switches_everything_off() -> None:
    cfg = MarketBreakersConfig()
    assert (cfg.gap_atr, cfg.max_atr_pct, cfg.stale_after_s, cfg.max_spread_pips, cfg.spread_multiple) == (
        None,
        None,
        None,
        None,
        None,
    )
    d = Desk(cfg, series([*calm(20), (1.2, 1.2, 1.0, 1.05)]))
    assert d.history() == [] and d.breakers.atr_pct("EURUSD") is not None
