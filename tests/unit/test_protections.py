"""Protections: each limit sets its lock (scope, source, until, reason) from real fills and closed trades, the
risk engine then denies new entries with PROTECTION_LOCK while closing orders pass, per-pair overrides, the
day rollover, expiry, rebuilding the counters after a restart, and configuration errors."""

from __future__ import annotations

from decimal import Decimal as D
from itertools import count
from typing import Any

import pandas as pd
import pytest
from pydantic import ValidationError

from traderbot.brokers.sim.costs import VenueConfig
from traderbot.core.messages import OrderDenied
from traderbot.data.series import BarSeries
from traderbot.kernel.kernel import Kernel
from traderbot.model.enums import OrderSide, OrderStatus, OrderType
from traderbot.model.instrument import get_instrument
from traderbot.model.order import Order
from traderbot.risk.locks import Lock, LockBook, MemoryLockStore
from traderbot.risk.protections import (
    LowPerformanceConfig,
    Protections,
    ProtectionsConfig,
    ProtectionsSettings,
)
from traderbot.risk.states import TradingState

T0 = pd.Timestamp("2024-01-01", tz="UTC").value  # a Monday, 00:00 UTC
HOUR = 3_600_000_000_000
MINUTE = HOUR // 60
HOURS = 72  # three days of hourly bars
_ids = count(1)


def hours(h: float) -> int:
    return T0 + int(h * HOUR)


class Desk:
    """A kernel on hourly EURUSD and GBPUSD bars, with protections attached. `at(h)` moves the clock to h hours
    after T0 (the bar closing then is the last one visible); market orders fill at once at its close price,
    which is 1.1 unless `prices` ({hour: price}) says otherwise. No costs, so a trade's P&L is exact."""

    def __init__(self, settings: ProtectionsSettings, prices: dict[int, float] | None = None) -> None:
        closes = [1.1] * HOURS
        for h, px in (prices or {}).items():
            closes[h - 1] = px
        self.kernel = Kernel(starting_cash=D(10_000), venue=VenueConfig(fill_on="close"))
        for pair in ("EURUSD", "GBPUSD"):
            frame = pd.DataFrame(
                {
                    "ts": pd.date_range("2024-01-01", periods=HOURS, freq="1h", tz="UTC"),
                    **{col: closes for col in ("open", "high", "low", "close")},
                }
            )
            self.kernel.add_data(get_instrument(pair), BarSeries.from_frame(frame, pair, "1h"))
        self.locks: LockBook = self.kernel.risk.locks
        self.protections = Protections(settings, self.locks, self.kernel.portfolio, self.kernel.cache)
        self.protections.attach(self.kernel.bus)
        self.events: list[Any] = []
        self.kernel.bus.subscribe("orders", self.events.append)
        self.at(1)

    def at(self, h: float) -> None:
        self.kernel.cache.now_ns = hours(h)
        for k in range(len(self.kernel.cache.visible)):
            self.kernel.cache.visible[k] = int(h)

    def send(self, side: str, qty: int, pair: str = "EURUSD") -> Order:
        order = Order(
            f"O-TB-prot-{next(_ids):06d}",
            pair,
            "s1",
            OrderSide(side),
            OrderType.MARKET,
            D(qty),
            self.kernel.cache.now_ns,
        )
        self.kernel.send(order)
        return order

    def filled(self, side: str, qty: int, pair: str = "EURUSD") -> Order:
        order = self.send(side, qty, pair)
        assert order.status is OrderStatus.FILLED, order.reason
        return order

    def denied(self, side: str, qty: int, pair: str = "EURUSD") -> str:
        """Send an order that must be denied with PROTECTION_LOCK; returns the denial reason."""
        order = self.send(side, qty, pair)
        (denial,) = [
            e
            for e in self.events
            if isinstance(e, OrderDenied) and e.client_order_id == order.client_order_id
        ]
        assert denial.reason.startswith("PROTECTION_LOCK: "), denial.reason
        assert order.status is OrderStatus.DENIED
        return denial.reason

    def round_trip(self, entry_h: int, exit_h: int, qty: int = 10_000, pair: str = "EURUSD") -> None:
        self.at(entry_h)
        self.filled("buy", qty, pair)
        self.at(exit_h)
        self.filled("sell", qty, pair)

    def lock(self, scope: str, name: str) -> Lock:
        found = self.locks.get(scope, f"protection:{name}")
        assert found is not None, f"no {name} lock on {scope}; locks: {self.locks.active(hours(0))}"
        return found

    def protection_locks(self) -> list[tuple[str, str]]:
        return [(lk.scope, lk.source) for lk in self.locks.active() if lk.source.startswith("protection:")]


def settings(**limits: Any) -> ProtectionsSettings:
    return ProtectionsSettings(global_=ProtectionsConfig(**limits))


# ---- trades per day ----------------------------------------------------------------------------------------
def test_trades_per_day_limit_locks_the_account_until_the_next_day_and_denies_new_entries_only() -> None:
    d = Desk(settings(max_trades_per_day=2))
    d.round_trip(1, 2)
    assert d.protection_locks() == []  # one entry; the exit is not an entry
    d.at(3)
    d.filled("buy", 10_000)  # the second entry of the day
    lock = d.lock("system", "trades_per_day")
    assert (lock.action, lock.since_ns, lock.until_ns) == (TradingState.REDUCING, hours(3), hours(24))
    assert lock.reason == "entries today 2 >= max 2"
    d.at(4)
    reason = d.denied("buy", 1000)
    assert reason == (
        "PROTECTION_LOCK: protection:trades_per_day on system: reducing until 2024-01-02T00:00:00Z "
        "(entries today 2 >= max 2)"
    )
    d.filled("sell", 10_000)  # closing the position still passes
    d.at(23)
    d.denied("buy", 1000)
    d.at(24)  # the lock ends when the next UTC day starts, and the day's counter starts again
    d.filled("buy", 1000)
    assert "account entries today: 1 / max 2" in d.protections.status()


def test_a_reversal_through_flat_counts_as_an_entry() -> None:
    d = Desk(settings(max_trades_per_day=2))
    d.filled("buy", 10_000)
    d.at(2)
    d.filled("sell", 20_000)  # closes the long and opens a short
    assert d.lock("system", "trades_per_day").reason == "entries today 2 >= max 2"


def test_halted_action_denies_the_closing_order_too() -> None:
    d = Desk(settings(max_trades_per_day=1, action="halted"))
    d.filled("buy", 10_000)
    assert d.lock("system", "trades_per_day").action is TradingState.HALTED
    d.at(2)
    assert "halted until 2024-01-02T00:00:00Z" in d.denied("sell", 10_000)


def test_day_start_hour_moves_the_daily_boundary() -> None:
    d = Desk(settings(max_trades_per_day=1, day_start_utc_hour=22))
    d.at(21)
    d.filled("buy", 1000)
    assert d.lock("system", "trades_per_day").until_ns == hours(22)
    d.at(22)  # 22:00 UTC: a new trading day
    d.filled("sell", 1000)
    d.filled("buy", 1000)
    assert d.lock("system", "trades_per_day").until_ns == hours(46)


# ---- daily loss --------------------------------------------------------------------------------------------
def test_daily_loss_locks_the_account_and_a_closing_order_still_passes() -> None:
    d = Desk(settings(max_daily_loss=D(150)), prices={2: 1.09, 3: 1.085})
    d.filled("buy", 20_000)  # at 1.1
    d.at(2)
    d.filled("sell", 10_000)  # -100.00
    assert d.protection_locks() == []
    d.at(3)
    d.filled("sell", 5000)  # -75.00: 175 lost today
    lock = d.lock("system", "daily_loss")
    assert (lock.reason, lock.until_ns) == ("daily loss 175.00 USD >= max 150 USD", hours(24))
    d.at(4)
    assert d.denied("buy", 1000).startswith("PROTECTION_LOCK: protection:daily_loss on system: reducing")
    d.filled("sell", 5000)  # reduces the remaining long to flat


def test_daily_loss_percent_is_measured_on_the_day_start_balance() -> None:
    d = Desk(settings(max_daily_loss_pct=D(1)), prices={2: 1.09})
    d.round_trip(1, 2)  # -100.00 = 1% of 10000
    assert d.lock("system", "daily_loss").reason == (
        "daily loss 100.00 USD = 1.00% of the day-start balance 10000.00 USD >= max 1%"
    )
    d.at(3)
    d.denied("buy", 1000)


def test_daily_loss_counter_starts_again_on_the_next_day() -> None:
    d = Desk(settings(max_daily_loss=D(150)), prices={2: 1.09, 26: 1.09})
    d.round_trip(1, 2)  # -100 on day 1
    d.round_trip(25, 26)  # -100 on day 2: 100 today, under the limit
    assert d.protection_locks() == []
    assert "account daily loss: 100.00 / max 150 USD" in d.protections.status()


# ---- losing streak -----------------------------------------------------------------------------------------
def test_consecutive_losses_pause_the_account_then_the_lock_expires() -> None:
    d = Desk(settings(max_consecutive_losses=2, pause_minutes=30), prices={2: 1.09, 4: 1.09})
    d.round_trip(1, 2)
    d.round_trip(3, 4)
    lock = d.lock("system", "consecutive_losses")
    assert (lock.reason, lock.until_ns) == ("2 losing trades in a row >= max 2; pause 30 min", hours(4.5))
    d.denied("buy", 1000)
    d.at(4.5)
    d.filled("buy", 1000)


def test_a_winning_trade_ends_the_losing_streak() -> None:
    d = Desk(settings(max_consecutive_losses=2), prices={2: 1.09, 4: 1.11, 6: 1.09})
    d.round_trip(1, 2)
    d.round_trip(3, 4)
    d.round_trip(5, 6)
    assert d.protection_locks() == []
    assert "account losing streak: 1 / max 2" in d.protections.status()


# ---- cooldown ----------------------------------------------------------------------------------------------
def test_cooldown_locks_only_the_pair_from_its_exit_until_the_cooldown_ends() -> None:
    d = Desk(settings(cooldown_minutes=90))
    d.round_trip(1, 2)
    lock = d.lock("pair:EURUSD", "cooldown")
    assert lock.until_ns == hours(3.5)
    assert lock.reason == "trade on EURUSD closed at 2024-01-01T02:00:00Z: no new entry for 90 min"
    d.at(3)
    d.denied("buy", 1000)
    d.filled("buy", 1000, "GBPUSD")
    d.at(3.5)
    d.filled("buy", 1000)


# ---- drawdowns ---------------------------------------------------------------------------------------------
def test_account_drawdown_locks_until_cleared_by_hand_then_measures_afresh() -> None:
    d = Desk(settings(max_drawdown_pct=D(2)), prices={3: 1.07})
    d.filled("buy", 10_000)  # at 1.1: peak equity 10000
    d.at(3)
    d.filled("sell", 5000)  # at 1.07: -150 realised, -150 unrealised on the rest
    lock = d.lock("system", "drawdown")
    assert lock.until_ns is None
    assert lock.reason == "drawdown 3.00% (equity 9700.00 USD, peak 10000.00 USD) >= max 2%"
    d.at(30)  # a lock without an end outlives the day
    assert "until cleared by hand" in d.denied("buy", 1000)
    d.filled("sell", 5000)
    d.locks.clear("system", "protection:drawdown", actor="risk desk", reason="losses reviewed")
    d.filled("buy", 1000)  # equity 9850: no new lock, the peak restarted there
    assert d.protection_locks() == []


def test_pair_drawdown_locks_the_pair_until_the_next_day() -> None:
    d = Desk(settings(max_pair_drawdown_pct=D(1)), prices={2: 1.105, 4: 1.089})
    d.round_trip(1, 2)  # +50.00: the pair's peak
    d.round_trip(3, 4)  # -110.00
    lock = d.lock("pair:EURUSD", "pair_drawdown")
    assert lock.until_ns == hours(24)
    assert lock.reason == (
        "EURUSD closed-trade P&L 110.00 USD below its peak = 1.10% of the starting equity 10000.00 USD >= max 1%"
    )
    assert d.protection_locks() == [("pair:EURUSD", "protection:pair_drawdown")]
    d.at(5)
    d.denied("buy", 1000)
    d.filled("buy", 1000, "GBPUSD")


def test_low_performance_locks_a_pair_whose_last_trades_sum_below_the_minimum() -> None:
    low = LowPerformanceConfig(lookback_trades=2, min_profit=D(0), lock_minutes=120)
    d = Desk(settings(low_performance=low), prices={2: 1.103, 4: 1.095})
    d.round_trip(1, 2)  # +30.00
    assert d.protection_locks() == []
    d.round_trip(3, 4)  # -50.00
    lock = d.lock("pair:EURUSD", "low_performance")
    assert (lock.reason, lock.until_ns) == ("last 2 trades on EURUSD sum -20.00 USD < min 0 USD", hours(6))
    d.at(5)
    d.denied("buy", 1000)


# ---- per-pair overrides ------------------------------------------------------------------------------------
def test_pair_override_beats_the_global_value_for_that_pair_only() -> None:
    d = Desk(
        ProtectionsSettings.model_validate(
            {
                "global": {"cooldown_minutes": 60, "max_trades_per_day": 5},
                "pairs": {"EURUSD": {"cooldown_minutes": 10, "max_trades_per_day": 1}},
            }
        )
    )
    d.filled("buy", 1000)
    assert d.lock("pair:EURUSD", "trades_per_day").reason == "entries today on EURUSD 1 >= max 1"
    assert d.locks.get("system", "protection:trades_per_day") is None  # 1 of the account's 5
    d.filled("buy", 1000, "GBPUSD")  # other pairs are not locked
    d.at(2)
    d.filled("sell", 1000)
    d.filled("sell", 1000, "GBPUSD")
    assert d.lock("pair:EURUSD", "cooldown").until_ns == hours(2) + 10 * MINUTE
    assert d.lock("pair:GBPUSD", "cooldown").until_ns == hours(3)


def test_for_pair_replaces_set_fields_and_keeps_account_limits_for_the_account() -> None:
    s = ProtectionsSettings.model_validate(
        {
            "global": {"max_trades_per_day": 3, "cooldown_minutes": 30, "pause_minutes": 60},
            "pairs": {"EURUSD": {"max_consecutive_losses": 2, "pause_minutes": 15, "action": "halted"}},
        }
    )
    eur, gbp = s.for_pair("EURUSD"), s.for_pair("GBPUSD")
    assert (eur.max_consecutive_losses, eur.pause_minutes, eur.action, eur.cooldown_minutes) == (
        2,
        15,
        "halted",
        30,
    )
    assert eur.max_trades_per_day is None and gbp.max_trades_per_day is None  # 3 counts the whole account
    assert (gbp.max_consecutive_losses, gbp.pause_minutes, gbp.action) == (None, 60, "reducing")


# ---- wiring, status, restart -------------------------------------------------------------------------------
def test_nothing_configured_subscribes_to_nothing() -> None:
    kernel = Kernel()
    assert not kernel.bus.has_subscribers("trades") and not kernel.bus.has_subscribers("fills")
    protections = Protections(ProtectionsSettings(), kernel.risk.locks, kernel.portfolio, kernel.cache)
    protections.attach(kernel.bus)
    assert not kernel.bus.has_subscribers("trades") and not kernel.bus.has_subscribers("fills")
    assert protections.status() == []


def test_detach_stops_counting() -> None:
    d = Desk(settings(max_trades_per_day=1))
    d.protections.detach(d.kernel.bus)
    d.filled("buy", 1000)
    assert d.protection_locks() == []


def test_status_lists_each_counter_against_its_limit() -> None:
    d = Desk(
        settings(
            max_trades_per_day=3, max_daily_loss=D(500), max_consecutive_losses=4, max_drawdown_pct=D(10)
        ),
        prices={2: 1.09, 4: 1.09},
    )
    d.round_trip(1, 2)
    d.round_trip(3, 4)
    assert d.protections.status() == [
        "account entries today: 2 / max 3",
        "account daily loss: 200.00 / max 500 USD",
        "account losing streak: 2 / max 4",
        "account drawdown: 2.00% / max 10% (equity 9800.00 USD, peak 10000.00 USD)",
    ]


def test_rebuild_after_a_restart_restores_the_counters_from_the_trades() -> None:
    s = settings(max_trades_per_day=3, max_daily_loss=D(250), max_consecutive_losses=3)
    d = Desk(s, prices={2: 1.09, 4: 1.09, 6: 1.09})
    d.round_trip(1, 2)
    d.round_trip(3, 4)
    before = d.protections.status()
    d.protections.detach(d.kernel.bus)
    restarted = Protections(s, d.locks, d.kernel.portfolio, d.kernel.cache)
    restarted.rebuild(d.kernel.portfolio.trades, d.kernel.cache.now_ns)
    assert restarted.status() == before
    restarted.attach(d.kernel.bus)
    d.round_trip(5, 6)  # the third entry and the third loss of the day: 300 lost
    assert {name for _, name in d.protection_locks()} == {
        "protection:trades_per_day",
        "protection:daily_loss",
        "protection:consecutive_losses",
    }


def test_rebuild_sets_a_missing_lock_only_while_it_would_still_run() -> None:
    s = settings(max_consecutive_losses=2, pause_minutes=30, max_daily_loss=D(150), max_trades_per_day=5)
    d = Desk(ProtectionsSettings(), prices={2: 1.09, 4: 1.09})  # trades with no protection attached
    d.round_trip(1, 2)
    d.round_trip(3, 4)
    d.at(5)
    d.filled("buy", 1000)  # open at the restart
    fresh = LockBook(MemoryLockStore(), now_ns=lambda: d.kernel.cache.now_ns)  # the locks were lost
    restarted = Protections(s, fresh, d.kernel.portfolio, d.kernel.cache)
    restarted.rebuild(d.kernel.portfolio.trades, hours(5))
    active = {lk.source: lk for lk in fresh.active(hours(5))}
    assert set(active) == {"protection:daily_loss"}  # the 30-minute pause ended at 04:30
    assert (active["protection:daily_loss"].since_ns, active["protection:daily_loss"].until_ns) == (
        hours(5),
        hours(24),
    )
    assert "account entries today: 3 / max 5" in restarted.status()  # two closed, one still open


# ---- configuration -----------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("config", "where", "message"),
    [
        (
            {"global": {"max_trades_per_day": 0}},
            "global.max_trades_per_day",
            "must be a positive number, got 0",
        ),
        ({"global": {"max_daily_loss": -500}}, "global.max_daily_loss", "remove it to switch the limit off"),
        (
            {"global": {"max_daily_loss_pct": 0}},
            "global.max_daily_loss_pct",
            "a percentage in (0, 100], got 0",
        ),
        ({"global": {"max_drawdown_pct": 150}}, "global.max_drawdown_pct", "use e.g. 5 for 5%"),
        ({"global": {"pause_minutes": 0}}, "global.pause_minutes", "use e.g. 60"),
        ({"global": {"cooldown_minutes": -5}}, "global.cooldown_minutes", "got -5"),
        ({"global": {"day_start_utc_hour": 24}}, "global.day_start_utc_hour", "an hour from 0 to 23, got 24"),
        ({"global": {"day_start_utc_hour": -1}}, "global.day_start_utc_hour", "got -1"),
        (
            {"global": {"low_performance": {"lookback_trades": 0, "min_profit": 0, "lock_minutes": 60}}},
            "global.low_performance.lookback_trades",
            "must be a positive whole number, got 0",
        ),
        (
            {"pairs": {"EURUSD": {"max_pair_drawdown_pct": 101}}},
            "pairs.EURUSD.max_pair_drawdown_pct",
            "a percentage in (0, 100]",
        ),
        (
            {"pairs": {"EURUSD": {"max_drawdown_pct": 5}}},
            "pairs",
            "max_drawdown_pct is account-wide: set it under global, not under pairs.EURUSD "
            "(for one pair use max_pair_drawdown_pct)",
        ),
        ({"pairs": {"EURUSD": {"day_start_utc_hour": 1}}}, "pairs", "day_start_utc_hour is account-wide"),
        (
            {"global": {"max_trades_per_week": 3}},
            "global.max_trades_per_week",
            "Extra inputs are not permitted",
        ),
        ({"global": {"action": "flatten"}}, "global.action", "'reducing' or 'halted'"),
        ({"globl": {"max_trades_per_day": 1}}, "globl", "Extra inputs are not permitted"),
    ],
    ids=lambda v: None if isinstance(v, dict) else str(v)[:40],
)
def test_invalid_configuration_is_refused_naming_the_field_and_the_fix(
    config: dict[str, Any], where: str, message: str
) -> None:
    with pytest.raises(ValidationError) as err:
        ProtectionsSettings.model_validate(config)
    (error,) = err.value.errors()
    assert ".".join(str(part) for part in error["loc"]) == where
    assert message in error["msg"]


def test_valid_configuration_reads_global_by_its_yaml_name_and_keeps_limits_exact() -> None:
    s = ProtectionsSettings.model_validate(
        {"global": {"max_daily_loss": "500.10", "max_drawdown_pct": 100, "day_start_utc_hour": 23}}
    )
    assert s.global_.max_daily_loss == D("500.10") and s.global_.max_drawdown_pct == D(100)
    assert s.enabled and not ProtectionsSettings().enabled
