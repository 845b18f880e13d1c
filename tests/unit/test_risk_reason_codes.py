"""One scenario per denial reason code: the order is denied with that code (and context), and the same order
passes once the cause is removed. A code without a scenario here fails `test_every_reason_code_has_a_scenario`."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from decimal import Decimal as D
from itertools import count
from typing import Any

import numpy as np
import pandas as pd
import pytest

from traderbot.core.messages import OrderDenied, OrderFilled
from traderbot.data.series import BarSeries
from traderbot.kernel.kernel import Kernel
from traderbot.model.enums import OrderSide, OrderStatus, OrderType
from traderbot.model.instrument import get_instrument
from traderbot.model.order import Order
from traderbot.risk.config import RiskConfig
from traderbot.risk.config_sections import (
    CollarConfig,
    CorrelationConfig,
    FlowConfig,
    LimitsConfig,
    MarginConfig,
    PairLimits,
)
from traderbot.risk.news import Impact, NewsBlackout, NewsConfig, NewsEvent
from traderbot.risk.reasons import DenyReason
from traderbot.risk.states import TradingState

_ids = count(1)
H = 3_600_000_000_000
T0 = pd.Timestamp("2024-01-02 00:00", tz="UTC").value  # a Tuesday


def series(iid: str, closes: list[float] | np.ndarray, start_ns: int = T0) -> BarSeries:
    closes = np.asarray(closes, dtype=float)
    df = pd.DataFrame(
        {
            "ts": pd.to_datetime(start_ns + np.arange(len(closes)) * H, utc=True),
            "open": closes,
            "high": closes * 1.0005,
            "low": closes * 0.9995,
            "close": closes,
        }
    )
    return BarSeries.from_frame(df, iid, "1h")


class Desk:
    """A kernel whose pairs have `visible` closed bars, the clock at the last one's close, orders on the bus."""

    def __init__(
        self, config: RiskConfig | None = None, pairs: dict[str, Any] | None = None, cash: int = 100_000
    ):
        self.kernel = k = Kernel(account_currency="USD", starting_cash=D(cash))
        pairs = pairs or {"EURUSD": [1.1] * 30}
        for iid, closes in pairs.items():
            idx = k.add_data(get_instrument(iid), series(iid, closes))
            k.cache.visible[idx] = len(closes)
        k.cache.now_ns = T0 + (len(next(iter(pairs.values())))) * H
        self.events: list[Any] = []
        k.bus.subscribe("orders", self.events.append)
        if config is not None:
            k.risk.apply(config)

    def hold(self, iid: str, signed: D, price: D, strategy: str = "risk") -> None:
        fill = OrderFilled(f"F{next(_ids)}", iid, strategy, 0, trade_id=f"T{next(_ids)}",
                           side="buy" if signed > 0 else "sell", quantity=abs(signed), price=price)  # fmt: skip
        self.kernel.portfolio.on_fill(fill, 0)

    def send(self, o: Order) -> str | None:
        return self.kernel.send(o)


def order(side: str = "buy", qty: str = "1000", iid: str = "EURUSD", **kw: Any) -> Order:
    otype = kw.pop("otype", OrderType.MARKET)
    return Order(
        f"O-{next(_ids):06d}", iid, kw.pop("strategy", "risk"), OrderSide(side), otype, D(qty), 0, **kw
    )


def denied(d: Desk, o: Order, code: str) -> str:
    assert d.send(o) is None, f"expected {code}"
    (e,) = [e for e in d.events if isinstance(e, OrderDenied) and e.client_order_id == o.client_order_id]
    assert e.reason.split(":")[0] == code, e.reason
    assert o.status is OrderStatus.DENIED
    assert d.kernel.risk.denials[code] >= 1
    return e.reason


def passes(d: Desk, o: Order) -> None:
    assert d.send(o) == o.client_order_id, o.reason


# ---- one scenario per code ---------------------------------------------------------------------------------
def s_trading_halted() -> None:
    d = Desk()
    d.kernel.risk.states.set("pair:EURUSD", TradingState.HALTED, actor="t", reason="test")
    assert "scope=pair:EURUSD" in denied(d, order(), "TRADING_HALTED")
    d.kernel.risk.states.set("pair:EURUSD", TradingState.ACTIVE, actor="t", reason="over")
    passes(d, order())


def s_reduce_only_state() -> None:
    d = Desk()
    d.hold("EURUSD", D(1000), D("1.1"))
    d.kernel.risk.states.set("system", TradingState.REDUCING, actor="t", reason="test")
    denied(d, order("buy"), "REDUCE_ONLY_STATE")
    passes(d, order("sell", "1000"))


def s_unknown_instrument() -> None:
    d = Desk()
    assert "GBPUSD" in denied(d, order(iid="GBPUSD"), "UNKNOWN_INSTRUMENT")
    passes(d, order())


def s_invalid_quantity() -> None:
    d = Desk()
    denied(d, order(qty="NaN"), "INVALID_QUANTITY")
    denied(d, order(qty="-5"), "INVALID_QUANTITY")
    passes(d, order(qty="5"))


def s_invalid_price() -> None:
    d = Desk()
    denied(d, order(otype=OrderType.LIMIT, price=D("Infinity")), "INVALID_PRICE")
    passes(d, order(otype=OrderType.LIMIT, price=D("1.09")))


def s_quantity_precision() -> None:
    d = Desk()
    denied(d, order(qty="10.5"), "QUANTITY_PRECISION")
    passes(d, order(qty="10"))


def s_below_min_quantity() -> None:
    d = Desk()
    cache = d.kernel.cache
    cache.instruments["EURUSD"] = replace(
        cache.instruments["EURUSD"], min_quantity=D(1000)
    )  # a broker's minimum
    assert "min=1000" in denied(d, order(qty="999"), "BELOW_MIN_QUANTITY")
    passes(d, order(qty="1000"))


def s_price_precision() -> None:
    d = Desk()
    denied(d, order(otype=OrderType.LIMIT, price=D("1.090001")), "PRICE_PRECISION")
    passes(d, order(otype=OrderType.LIMIT, price=D("1.09")))


def s_quantity_exceeds_max() -> None:
    d = Desk(RiskConfig(limits=LimitsConfig(max_order_quantity=D(5000), pairs={"EURUSD": PairLimits()})))
    assert "max=5000" in denied(d, order(qty="5001"), "QUANTITY_EXCEEDS_MAX")
    passes(d, order(qty="5000"))


def s_notional_exceeds_max() -> None:
    d = Desk(RiskConfig(limits=LimitsConfig(max_order_notional=D(11_000))))
    assert "max=11000 USD, order=11001.10 USD" in denied(d, order(qty="10001"), "NOTIONAL_EXCEEDS_MAX")
    passes(d, order(qty="10000"))


def s_below_min_notional() -> None:
    d = Desk(RiskConfig(limits=LimitsConfig(min_order_notional=D(1_000))))
    denied(d, order(qty="900"), "BELOW_MIN_NOTIONAL")
    passes(d, order(qty="1000"))


def s_reduce_only_violation() -> None:
    d = Desk()
    d.hold("EURUSD", D(1000), D("1.1"))
    denied(d, order("sell", "2000", reduce_only=True), "REDUCE_ONLY_VIOLATION")
    passes(d, order("sell", "1000", reduce_only=True))


def s_duplicate_client_order_id() -> None:
    d = Desk()
    o = order()
    passes(d, o)
    again = order()
    again.client_order_id = o.client_order_id
    denied(d, again, "DUPLICATE_CLIENT_ORDER_ID")


def s_reconciling() -> None:
    d = Desk()
    d.kernel.risk.reconciling = "reconciliation with oanda is running"
    denied(d, order(), "RECONCILING")
    d.kernel.risk.reconciling = None
    passes(d, order())


def _lock(source: str, code: str) -> None:
    d = Desk()
    d.hold("EURUSD", D(1000), D("1.1"))
    until = d.kernel.cache.now_ns + H
    d.kernel.risk.locks.add("pair:EURUSD", source, TradingState.REDUCING, "test numbers", until_ns=until)
    assert source in denied(d, order("buy"), code)
    passes(d, order("sell", "500"))  # reducing passes a REDUCING lock
    d.kernel.cache.now_ns = until  # expired
    passes(d, order("buy"))


def s_protection_lock() -> None:
    _lock("protection:daily_loss", "PROTECTION_LOCK")


def s_circuit_breaker() -> None:
    _lock("breaker:gap", "CIRCUIT_BREAKER")


def s_guard_lock() -> None:
    _lock("guard:volatility", "GUARD_LOCK")


def s_manual_lock() -> None:
    _lock("manual", "MANUAL_LOCK")


def s_kill_switch_engaged() -> None:
    d = Desk()
    d.kernel.kill_switch.engage(actor="t", reason="test")
    denied(d, order(), "KILL_SWITCH_ENGAGED")
    d.kernel.kill_switch.rearm(actor="t", reason="over")
    passes(d, order())


def s_market_closed() -> None:
    # 30 hourly bars from Friday 2024-01-05 00:00 UTC: the clock ends Saturday 06:00 UTC, FX closed
    start = pd.Timestamp("2024-01-05 00:00", tz="UTC").value
    d = Desk(RiskConfig(market_hours=True))
    k = d.kernel
    k.cache.now_ns = start + 30 * H
    assert "closed" in denied(d, order(), "MARKET_CLOSED")
    k.cache.now_ns = start + 10 * H  # Friday 10:00 UTC
    passes(d, order())


def s_news_blackout() -> None:
    d = Desk()
    now = d.kernel.cache.now_ns
    cfg = NewsConfig(minutes_before=15, minutes_after=15)
    news = NewsBlackout([NewsEvent(now + 10 * 60 * 10**9, "USD", Impact.HIGH, "Non-Farm Payrolls")], cfg)
    d.kernel.risk.apply(RiskConfig(), news=news)
    assert "Non-Farm Payrolls" in denied(d, order(), "NEWS_BLACKOUT")
    d.kernel.cache.now_ns = now - 6 * 60 * 10**9  # 16 minutes before
    passes(d, order())


def s_no_reference_price() -> None:
    d = Desk(RiskConfig(collar=CollarConfig()))
    d.kernel.cache.visible[0] = 0
    denied(d, order(otype=OrderType.LIMIT, price=D("1.1")), "NO_REFERENCE_PRICE")
    d.kernel.risk.on_price("EURUSD", d.kernel.cache.now_ns, D("1.1"))
    passes(d, order(otype=OrderType.LIMIT, price=D("1.1")))


def s_stale_reference_price() -> None:
    d = Desk(RiskConfig(collar=CollarConfig(max_age_s=D(600))))
    d.kernel.cache.now_ns += 601 * 10**9
    assert "max=600 s" in denied(d, order(), "STALE_REFERENCE_PRICE")
    d.kernel.risk.on_price("EURUSD", d.kernel.cache.now_ns - 10**9, D("1.1"))
    passes(d, order())


def s_price_collar() -> None:
    d = Desk(RiskConfig(collar=CollarConfig(max_deviation_pct=D(2))))
    assert "max=2%" in denied(d, order(otype=OrderType.LIMIT, price=D("1.13")), "PRICE_COLLAR")
    passes(d, order(otype=OrderType.LIMIT, price=D("1.12")))


def s_position_limit() -> None:
    d = Desk(RiskConfig(limits=LimitsConfig(max_position_notional=D(22_000))))
    passes(d, order(qty="10000", otype=OrderType.LIMIT, price=D("1.09")))  # open order counts
    denied(d, order(qty="11000"), "POSITION_LIMIT")
    passes(d, order(qty="9000"))


def s_open_positions_limit() -> None:
    d = Desk(
        RiskConfig(limits=LimitsConfig(max_open_positions=1)),
        pairs={"EURUSD": [1.1] * 30, "GBPUSD": [1.3] * 30},
    )
    d.hold("EURUSD", D(1000), D("1.1"))
    assert "open=1" in denied(d, order(iid="GBPUSD"), "OPEN_POSITIONS_LIMIT")
    passes(d, order(iid="EURUSD"))
    # an open order that could open a position counts as one: two pairs' orders cannot both be working
    d = Desk(
        RiskConfig(limits=LimitsConfig(max_open_positions=1)),
        pairs={"EURUSD": [1.1] * 30, "GBPUSD": [1.3] * 30},
    )
    passes(d, order(iid="EURUSD", otype=OrderType.LIMIT, price=D("1.09")))
    assert "open=1" in denied(d, order(iid="GBPUSD"), "OPEN_POSITIONS_LIMIT")
    passes(d, order(iid="EURUSD"))  # the same pair: no new position


def s_strategy_exposure_limit() -> None:
    d = Desk(
        RiskConfig(limits=LimitsConfig(max_strategy_notional=D(20_000))),
        pairs={"EURUSD": [1.1] * 30, "GBPUSD": [1.3] * 30},
    )
    d.hold("EURUSD", D(10_000), D("1.1"))  # 11,000 USD
    denied(d, order(iid="GBPUSD", qty="8000"), "STRATEGY_EXPOSURE_LIMIT")  # +10,400
    passes(d, order(iid="GBPUSD", qty="8000", strategy="other"))


def s_portfolio_exposure_limit() -> None:
    d = Desk(
        RiskConfig(limits=LimitsConfig(max_portfolio_notional=D(20_000))),
        pairs={"EURUSD": [1.1] * 30, "GBPUSD": [1.3] * 30},
    )
    d.hold("EURUSD", D(10_000), D("1.1"), strategy="other")
    denied(d, order(iid="GBPUSD", qty="8000"), "PORTFOLIO_EXPOSURE_LIMIT")
    passes(d, order(iid="GBPUSD", qty="6000"))


def s_currency_exposure_limit() -> None:
    cfg = RiskConfig(limits=LimitsConfig(currency_limits={"EUR": D(15_000)}))
    d = Desk(cfg, pairs={"EURUSD": [1.1] * 30, "EURGBP": [0.85] * 30, "GBPUSD": [1.3] * 30})
    d.hold("EURUSD", D(10_000), D("1.1"))  # +11,000 USD of EUR
    reason = denied(d, order(iid="EURGBP", qty="5000"), "CURRENCY_EXPOSURE_LIMIT")  # +5,525 USD of EUR
    assert reason.startswith("CURRENCY_EXPOSURE_LIMIT: EUR max=15000 USD, could reach 16525.00 USD")
    passes(d, order(iid="EURGBP", qty="5000", side="sell"))  # selling EUR reduces the EUR exposure


def s_insufficient_margin() -> None:
    d = Desk(RiskConfig(margin=MarginConfig()), cash=1_000)  # EURUSD margin 3.33 %: 30,000 USD max
    passes(d, order(qty="20000", otype=OrderType.LIMIT, price=D("1.09")))  # ~727 USD margin, working
    assert "open orders included" in denied(d, order(qty="10000"), "INSUFFICIENT_MARGIN")
    passes(d, order(qty="1000"))


def s_correlation_limit() -> None:
    rng = np.random.default_rng(7)
    base = np.cumsum(rng.normal(0, 0.001, 200))
    eur = 1.1 * np.exp(base)
    gbp = 1.3 * np.exp(base + rng.normal(0, 0.0001, 200))
    jpy = 150 * np.exp(np.cumsum(rng.normal(0, 0.001, 200)))
    cfg = RiskConfig(correlation=CorrelationConfig(max_positions=1, threshold=D("0.8"), lookback_bars=100))
    d = Desk(cfg, pairs={"EURUSD": eur, "GBPUSD": gbp, "USDJPY": jpy})
    d.hold("EURUSD", D(1000), D("1.1"))
    assert "EURUSD long" in denied(d, order(iid="GBPUSD"), "CORRELATION_LIMIT")
    passes(d, order(iid="GBPUSD", side="sell"))  # the opposite bet is a hedge
    passes(d, order(iid="USDJPY"))


def s_duplicate_order() -> None:
    d = Desk(RiskConfig(flow=FlowConfig(duplicate_window_s=D(5))))
    passes(d, order())
    denied(d, order(), "DUPLICATE_ORDER")
    passes(d, order(qty="1001"))
    d.kernel.cache.now_ns += 5 * 10**9
    passes(d, order())


def s_repeated_execution() -> None:
    d = Desk(RiskConfig(flow=FlowConfig(max_repeats=2, repeat_window_s=D(60))))
    passes(d, order(qty="1"))
    passes(d, order(qty="2"))
    assert "max=2" in denied(d, order(qty="3"), "REPEATED_EXECUTION")
    passes(d, order("sell", "3"))
    d.kernel.cache.now_ns += 60 * 10**9
    passes(d, order(qty="3"))


def s_submit_rate_limit() -> None:
    d = Desk(RiskConfig(flow=FlowConfig(max_submits=3, rate_window_s=D(1))))
    for q in ("1", "2", "3"):
        passes(d, order(qty=q))
    denied(d, order(qty="4"), "SUBMIT_RATE_LIMIT")
    d.kernel.cache.now_ns += 10**9
    passes(d, order(qty="4"))


def s_cancel_rate_limit() -> None:
    d = Desk(RiskConfig(flow=FlowConfig(max_cancels=1, rate_window_s=D(1))))
    risk = d.kernel.risk
    a, b = order(otype=OrderType.LIMIT, price=D("1.09")), order(otype=OrderType.LIMIT, price=D("1.08"))
    passes(d, a)
    passes(d, b)
    assert risk.check_cancel(a) is None
    reason = risk.check_cancel(b)
    assert reason is not None and reason.startswith("CANCEL_RATE_LIMIT: max=1 per 1 s")
    assert risk.denials["CANCEL_RATE_LIMIT"] == 1
    d.kernel.cache.now_ns += 10**9
    assert risk.check_cancel(b) is None


SCENARIOS: dict[str, Callable[[], None]] = {
    name.removeprefix("s_").upper(): fn for name, fn in dict(globals()).items() if name.startswith("s_")
}


def test_every_reason_code_has_a_scenario() -> None:
    assert sorted(SCENARIOS) == sorted(r.name for r in DenyReason)


@pytest.mark.parametrize("code", sorted(r.name for r in DenyReason))
def test_reason_code_is_denied_with_context_and_passes_without_its_cause(code: str) -> None:
    SCENARIOS[code]()
