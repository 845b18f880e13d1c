"""compute_metrics against hand-computed examples (expected values built independently with plain Python)."""

from __future__ import annotations

import math
import statistics
from datetime import datetime
from typing import Literal

import numpy as np
import pandas as pd
import pytest

from traderbot.analytics.metrics import (
    METRIC_KEYS,
    TRADE_COLUMNS,
    compute_metrics,
    daily_returns,
    max_drawdown_duration_days,
    period_bounds,
)


def equity_at(times: list[str], values: list[float]) -> pd.Series:
    return pd.Series(values, index=pd.DatetimeIndex(pd.to_datetime(times, utc=True)), dtype=float)


def trades_with_pnl(pnls: list[float]) -> pd.DataFrame:
    n = len(pnls)
    t0 = pd.Timestamp("2024-01-01 10:00", tz="UTC")
    return pd.DataFrame(
        {
            "instrument": ["EURUSD"] * n,
            "side": ["long"] * n,
            "quantity": [1.0] * n,
            "entry_time": pd.DatetimeIndex([t0] * n).as_unit("ns"),
            "exit_time": pd.DatetimeIndex([t0 + pd.Timedelta(hours=1)] * n).as_unit("ns"),
            "entry_price": [1.0] * n,
            "exit_price": [1.0] * n,
            "pnl": pnls,
            "commission": [0.0] * n,
            "return_pct": [p / 100.0 for p in pnls],
            "bars_held": [1] * n,
        },
        columns=list(TRADE_COLUMNS),
    )


NO_TRADES = trades_with_pnl([])
WEEK = ["2024-01-01 21:00", "2024-01-02 21:00", "2024-01-03 21:00", "2024-01-04 21:00", "2024-01-05 21:00"]
WEEK_VALUES = [100.0, 110.0, 99.0, 121.0, 115.5]


def quantile_linear(xs: list[float], q: float) -> float:
    s = sorted(xs)
    h = (len(s) - 1) * q
    lo = math.floor(h)
    hi = min(lo + 1, len(s) - 1)
    return s[lo] + (h - lo) * (s[hi] - s[lo])


def test_weekday_example_matches_hand_computation() -> None:
    m = compute_metrics(equity_at(WEEK, WEEK_VALUES), NO_TRADES)
    r = [WEEK_VALUES[i] / WEEK_VALUES[i - 1] - 1 for i in range(1, 5)]
    mean = sum(r) / 4
    std = math.sqrt(sum((x - mean) ** 2 for x in r) / 3)
    downside = math.sqrt(sum(min(x, 0.0) ** 2 for x in r) / 4)
    cagr = 1.155 ** (365.25 / 4) - 1
    assert m["periods_per_year"] == 252 and m["return_days"] == 4
    assert m["duration_days"] == 4.0
    assert m["total_return"] == pytest.approx(0.155)
    assert m["cagr"] == pytest.approx(cagr)
    assert m["volatility_ann"] == pytest.approx(std * math.sqrt(252))
    assert m["sharpe"] == pytest.approx(mean / std * math.sqrt(252))
    assert m["sortino"] == pytest.approx(mean / downside * math.sqrt(252))
    assert m["max_drawdown"] == pytest.approx(99 / 110 - 1)
    assert m["calmar"] == pytest.approx(cagr / 0.1)
    assert m["max_drawdown_duration_days"] == pytest.approx(2.0)  # Tue peak 110 -> Thu 121
    # sorted r = [-0.1, -0.04545, 0.1, 0.2222]; h = 3 * 0.05 = 0.15
    assert m["var_95"] == pytest.approx(-0.1 + 0.15 * (-1 / 22 + 0.1))
    assert m["var_95"] == pytest.approx(quantile_linear(r, 0.05))
    assert m["cvar_95"] == pytest.approx(-0.1)
    assert m["var_99"] == pytest.approx(quantile_linear(r, 0.01))
    assert m["cvar_99"] == pytest.approx(-0.1)


def test_intraday_with_weekend_uses_last_bar_per_day_and_365() -> None:
    times = [
        "2024-01-05 08:00",  # Fri: starting cash
        "2024-01-05 16:00",
        "2024-01-05 23:00",
        "2024-01-06 01:00",  # Sat
        "2024-01-08 00:00",  # Mon (Sunday has no bars: skipped, not filled)
        "2024-01-08 12:00",
    ]
    values = [1000.0, 1010.0, 1005.0, 990.0, 1001.0, 1020.0]
    eq = equity_at(times, values)
    by_day: dict[str, float] = {}
    for t, v in zip(times, values, strict=True):
        by_day[t[:10]] = v  # last value of each calendar day wins
    points = [values[0], *by_day.values()]
    expected_r = [points[i] / points[i - 1] - 1 for i in range(1, len(points))]
    assert daily_returns(eq).tolist() == pytest.approx(expected_r)
    assert math.prod(1 + x for x in expected_r) == pytest.approx(1020 / 1000)
    m = compute_metrics(eq, NO_TRADES, risk_free=0.05)
    rf = 1.05 ** (1 / 365) - 1
    x = [v - rf for v in expected_r]
    sharpe = statistics.mean(x) / statistics.stdev(x) * math.sqrt(365)
    assert m["periods_per_year"] == 365 and m["return_days"] == 3
    assert m["sharpe"] == pytest.approx(sharpe)
    assert m["volatility_ann"] == pytest.approx(statistics.stdev(expected_r) * math.sqrt(365))
    assert m["duration_days"] == pytest.approx((3 * 24 + 4) / 24)


def test_periods_per_year_override_and_risk_free_lower_sharpe() -> None:
    eq = equity_at(WEEK, WEEK_VALUES)
    base = compute_metrics(eq, NO_TRADES)
    assert compute_metrics(eq, NO_TRADES, periods_per_year=365)["sharpe"] == pytest.approx(
        base["sharpe"] * math.sqrt(365 / 252)
    )
    assert compute_metrics(eq, NO_TRADES, risk_free=0.10)["sharpe"] < base["sharpe"]
    with pytest.raises(ValueError, match="periods_per_year"):
        compute_metrics(eq, NO_TRADES, periods_per_year=0)


def test_trade_statistics() -> None:
    m = compute_metrics(equity_at(WEEK, WEEK_VALUES), trades_with_pnl([10.0, -5.0, 20.0, 0.0, -15.0]))
    assert m["trades"] == 5
    assert m["win_rate"] == pytest.approx(2 / 5)
    assert m["profit_factor"] == pytest.approx(30 / 20)
    assert m["expectancy"] == pytest.approx(2.0)
    assert m["avg_win"] == pytest.approx(15.0)
    assert m["avg_loss"] == pytest.approx(-10.0)
    assert m["best_trade"] == 20.0 and m["worst_trade"] == -15.0


def test_profit_factor_edge_cases() -> None:
    eq = equity_at(WEEK, WEEK_VALUES)
    only_wins = compute_metrics(eq, trades_with_pnl([3.0, 4.0]))
    assert only_wins["profit_factor"] == math.inf and math.isnan(only_wins["avg_loss"])
    all_zero = compute_metrics(eq, trades_with_pnl([0.0, 0.0]))
    assert math.isnan(all_zero["profit_factor"]) and all_zero["win_rate"] == 0.0
    only_losses = compute_metrics(eq, trades_with_pnl([-1.0]))
    assert only_losses["profit_factor"] == 0.0 and math.isnan(only_losses["avg_win"])


def test_no_trades_gives_nan_trade_stats_and_all_keys() -> None:
    m = compute_metrics(equity_at(WEEK, WEEK_VALUES), NO_TRADES)
    assert tuple(m) == METRIC_KEYS
    assert m["trades"] == 0 and m["exposure"] == 0.0
    for key in (
        "win_rate",
        "profit_factor",
        "expectancy",
        "avg_win",
        "avg_loss",
        "best_trade",
        "worst_trade",
    ):
        assert math.isnan(m[key]), key


def test_flat_equity() -> None:
    m = compute_metrics(equity_at(WEEK, [100.0] * 5), NO_TRADES)
    assert m["total_return"] == 0.0 and m["cagr"] == 0.0 and m["volatility_ann"] == 0.0
    assert m["max_drawdown"] == 0.0 and m["max_drawdown_duration_days"] == 0.0
    for key in ("sharpe", "sortino", "calmar"):
        assert math.isnan(m[key]), key


def test_single_point_and_single_day() -> None:
    one = compute_metrics(equity_at(["2024-01-02 10:00"], [100.0]), NO_TRADES)
    assert one["duration_days"] == 0.0 and one["return_days"] == 0
    assert math.isnan(one["cagr"]) and math.isnan(one["sharpe"]) and math.isnan(one["var_95"])
    day = compute_metrics(equity_at(["2024-01-02 10:00", "2024-01-02 11:00"], [100.0, 101.0]), NO_TRADES)
    assert day["return_days"] == 1 and day["total_return"] == pytest.approx(0.01)
    for key in ("volatility_ann", "sharpe", "sortino", "var_95", "cvar_99"):
        assert math.isnan(day[key]), key
    assert not any(math.isinf(float(v)) for v in day.values())


def test_equity_hitting_zero_and_negative() -> None:
    ruined = compute_metrics(equity_at(WEEK, [100.0, 50.0, 0.0, 0.0, 0.0]), NO_TRADES)
    assert ruined["cagr"] == -1.0 and ruined["max_drawdown"] == -1.0
    assert ruined["return_days"] == 2  # -50%, -100%, then undefined
    assert ruined["var_99"] == pytest.approx(quantile_linear([-0.5, -1.0], 0.01))
    negative = compute_metrics(equity_at(WEEK, [100.0, -20.0, 10.0, 30.0, 40.0]), NO_TRADES)
    assert negative["cagr"] == pytest.approx(((40 / 100) ** (365.25 / 4)) - 1)
    assert negative["max_drawdown"] == pytest.approx(-1.2) and negative["return_days"] == 1
    for m in (ruined, negative):
        assert not any(math.isinf(float(v)) for v in m.values())


def test_cagr_overflow_is_nan_not_inf() -> None:
    m = compute_metrics(equity_at(["2024-01-02 10:00", "2024-01-02 10:01"], [100.0, 1000.0]), NO_TRADES)
    assert math.isnan(m["cagr"]) and math.isnan(m["calmar"])


def test_drawdown_duration_unrecovered_runs_to_end_and_equal_counts_as_recovered() -> None:
    times = ["2024-01-01", "2024-01-03", "2024-01-04", "2024-01-10", "2024-01-11", "2024-01-31"]
    eq = equity_at(times, [100.0, 120.0, 90.0, 120.0, 119.0, 110.0])
    # peak 120 on Jan 3 -> back to exactly 120 on Jan 10 (7 days);
    # peak Jan 10 never recovered -> Jan 31 (21 days)
    assert max_drawdown_duration_days(eq) == pytest.approx(21.0)
    assert max_drawdown_duration_days(eq.iloc[:4]) == pytest.approx(7.0)


def test_exposure_from_series_and_from_trades() -> None:
    idx = pd.date_range("2024-01-01", periods=10, freq="h", tz="UTC")
    eq = pd.Series(np.linspace(100, 110, 10), index=idx)
    trades = trades_with_pnl([1.0, 2.0])
    trades["entry_time"] = pd.DatetimeIndex([idx[2], idx[4]]).as_unit("ns")
    trades["exit_time"] = pd.DatetimeIndex([idx[5], idx[7]]).as_unit("ns")
    assert compute_metrics(eq, trades)["exposure"] == pytest.approx(5 / 10)  # bars 2..6 open
    series = pd.Series([0.0, 1.0, 1.0, np.nan, 0.5] + [0.0] * 5, index=idx)
    assert compute_metrics(eq, trades, series)["exposure"] == pytest.approx(2.5 / 9)


@pytest.mark.parametrize("unit", ["s", "ms", "us", "ns"])
def test_index_unit_does_not_change_results(unit: Literal["s", "ms", "us", "ns"]) -> None:
    eq = equity_at(WEEK, WEEK_VALUES)
    index = pd.DatetimeIndex(eq.index).as_unit(unit)
    other = pd.Series(np.array(WEEK_VALUES), index=index)
    a, b = compute_metrics(eq, NO_TRADES), compute_metrics(other, NO_TRADES)
    assert a == pytest.approx(b, nan_ok=True)
    assert period_bounds(other) == {"start": "2024-01-01T21:00:00+00:00", "end": "2024-01-05T21:00:00+00:00"}


def test_invalid_equity_raises_value_error() -> None:
    good = equity_at(WEEK, WEEK_VALUES)
    naive = pd.Series(WEEK_VALUES, index=pd.DatetimeIndex([datetime(2024, 1, d) for d in range(1, 6)]))
    with pytest.raises(ValueError, match="tz-aware"):
        compute_metrics(naive, NO_TRADES)
    with pytest.raises(ValueError, match="strictly increasing"):
        compute_metrics(good.iloc[::-1], NO_TRADES)
    with pytest.raises(ValueError, match="empty"):
        compute_metrics(good.iloc[:0], NO_TRADES)
    with pytest.raises(ValueError, match="positive"):
        compute_metrics(equity_at(WEEK, [0.0, *WEEK_VALUES[1:]]), NO_TRADES)
    with pytest.raises(ValueError, match="NaN"):
        compute_metrics(equity_at(WEEK, [100.0, math.nan, 1.0, 1.0, 1.0]), NO_TRADES)


def test_var_on_an_order_statistic_includes_it_in_cvar() -> None:
    # 21 daily returns: h = 20 * 0.05 = 1 exactly: VaR95 is the 2nd-smallest return, CVaR95 averages two.
    returns = [-0.05, -0.03] + [0.001 * k for k in range(19)]
    values = [100.0]
    for r in returns:
        values.append(values[-1] * (1 + r))
    times = [str(pd.Timestamp("2024-01-01 12:00") + pd.Timedelta(days=d)) for d in range(22)]
    m = compute_metrics(equity_at(times, values), NO_TRADES)
    assert m["periods_per_year"] == 365 and m["return_days"] == 21
    assert m["var_95"] == pytest.approx(-0.03)
    assert m["cvar_95"] == pytest.approx((-0.05 - 0.03) / 2)
    assert m["var_99"] == pytest.approx(-0.05 + 0.2 * 0.02)  # h = 0.2
    assert m["cvar_99"] == pytest.approx(-0.05)
