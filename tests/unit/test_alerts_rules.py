"""The alert rules over a real kernel: drawdown from the peak, a restricted system, the kill switch (which
replaces the restriction alert), the error rate, resolution and re-firing."""

from __future__ import annotations

import logging
from decimal import Decimal

from traderbot.alerts.config import ALL_RULES
from traderbot.alerts.dispatcher import AlertDispatcher
from traderbot.alerts.error_rate import ErrorRate
from traderbot.alerts.monitor import AlertMonitor, Sources, Thresholds
from traderbot.kernel.kernel import Kernel
from traderbot.risk.states import SYSTEM, TradingState


class Clock:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


def monitor(kernel: Kernel, *, errors: ErrorRate | None = None, rate: int = 5) -> AlertMonitor:
    dispatcher = AlertDispatcher([], cooldown_s=600, max_per_minute=10)
    thresholds = Thresholds(frozenset(ALL_RULES), Decimal(5), rate)
    return AlertMonitor(dispatcher, Sources(kernel, errors=errors), thresholds)


def keys(m: AlertMonitor) -> list[str]:
    return [a.key for a in m.check()]


def test_drawdown_is_measured_from_the_peak_equity_and_resolves_when_it_recovers() -> None:
    k = Kernel(account_currency="USD", starting_cash=Decimal(100_000))
    m = monitor(k)
    assert keys(m) == []
    k.portfolio.balance = Decimal(95_001)  # 4.999%: under the threshold
    assert keys(m) == []
    k.portfolio.balance = Decimal(94_000)
    [alert] = m.check()
    assert alert.message == "Drawdown 6.00% >= 5% (equity 94000.00 USD, peak 100000.00 USD)."
    assert alert.severity.value == "critical" and "drawdown" in m.dispatcher.dedupe._sent
    k.portfolio.balance = Decimal(110_000)  # a new peak: resolved
    assert keys(m) == [] and "drawdown" not in m.dispatcher.dedupe._sent
    k.portfolio.balance = Decimal(104_000)  # 5.45% from the new peak
    [alert] = m.check()
    assert alert.message.startswith("Drawdown 5.45% >= 5% (equity 104000.00 USD, peak 110000.00 USD)")


def test_a_system_lock_alerts_as_restricted_trading_until_the_kill_switch_takes_over() -> None:
    k = Kernel(account_currency="USD", starting_cash=Decimal(100_000))
    m = monitor(k)
    k.risk.locks.add(SYSTEM, "breaker:disconnect", TradingState.HALTED, "stream down 60 s", until_ns=None)
    [alert] = m.check()
    assert alert.key == "trading_halted" and "breaker:disconnect on system" in alert.message
    k.kill_switch.engage(actor="desk", reason="incident")
    assert keys(m) == ["kill_switch"]
    assert m.active["kill_switch"].message.startswith("Engaged")
    k.kill_switch.rearm(actor="desk", reason="clear")
    k.risk.locks.clear(SYSTEM, actor="desk", reason="clear")
    assert keys(m) == []


def test_the_error_rate_counts_error_records_of_the_last_minute_but_not_its_own() -> None:
    clock = Clock()
    errors = ErrorRate(clock)
    logger = logging.getLogger("traderbot.test_alerts_rules")
    errors.install(logger)
    try:
        k = Kernel(account_currency="USD", starting_cash=Decimal(100_000))
        m = monitor(k, errors=errors, rate=2)
        logger.error("one")
        logger.warning("not an error")
        logger.error("two")
        logging.getLogger("traderbot.alerts.x").error("a notifier's own failure")
        assert errors.per_minute() == 2 and keys(m) == []
        logger.critical("three")
        [alert] = m.check()
        assert alert.key == "error_rate"
        assert alert.message == ("3 errors logged in the last minute (threshold 2). Latest: "
                                 "traderbot.test_alerts_rules: one | traderbot.test_alerts_rules: two | "
                                 "traderbot.test_alerts_rules: three")  # fmt: skip
        clock.t += 61
        assert errors.per_minute() == 0 and keys(m) == []
    finally:
        errors.remove(logger)
