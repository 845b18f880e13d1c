"""Property checks of compute_metrics on random-walk equity, and loop re-implementations of drawdown."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from traderbot.analytics.metrics import (
    TRADE_COLUMNS,
    compute_metrics,
    daily_returns,
    max_drawdown_duration_days,
)

NO_TRADES = pd.DataFrame({c: [] for c in TRADE_COLUMNS})


def random_walk(
    seed: int, *, freq: str = "h", years: float = 2.0, drift: float = 0.0, vol: float = 0.002
) -> pd.Series:
    rng = np.random.default_rng(seed)
    periods = int(years * 365 * 24) if freq == "h" else int(years * 252)
    if freq == "h":
        idx = pd.date_range("2022-01-03", periods=periods, freq="h", tz="UTC")
    else:
        idx = pd.bdate_range("2022-01-03", periods=periods, freq="C", tz="UTC") + pd.Timedelta(hours=21)
    log_path = np.concatenate([[0.0], np.cumsum(rng.normal(drift, vol, periods - 1))])
    return pd.Series(10_000.0 * np.exp(log_path), index=idx)


def loop_drawdown(values: list[float], days: list[float]) -> tuple[float, float]:
    """Max drawdown and longest peak-to-recovery span (days), by walking the bars one at a time."""
    peak, peak_day, worst, longest, under = values[0], days[0], 0.0, 0.0, False
    for v, d in zip(values, days, strict=True):
        if v >= peak:
            if under:
                longest = max(longest, d - peak_day)
            peak, peak_day, under = v, d, False
        else:
            under = True
            worst = min(worst, v / peak - 1)
    if under:
        longest = max(longest, days[-1] - peak_day)
    return worst, longest


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), drift=st.floats(-2e-4, 2e-4), vol=st.floats(1e-4, 5e-3))
def test_random_walk_properties(seed: int, drift: float, vol: float) -> None:
    eq = random_walk(seed, drift=drift, vol=vol)
    m = compute_metrics(eq, NO_TRADES)
    r = daily_returns(eq)
    assert m["periods_per_year"] == 365
    assert m["return_days"] == len(r) == 730
    assert -1.0 <= m["max_drawdown"] <= 0.0
    assert m["var_99"] <= m["var_95"]
    assert m["cvar_95"] <= m["var_95"] and m["cvar_99"] <= m["var_99"]
    assert m["cvar_99"] <= m["cvar_95"]
    assert 0.0 <= m["max_drawdown_duration_days"] <= m["duration_days"]
    assert m["volatility_ann"] > 0
    assert math.prod(1 + x for x in r) == pytest.approx(m["final_equity"] / m["initial_equity"], rel=1e-9)
    assert np.sign(m["sharpe"]) == np.sign(r.mean())
    if (r < 0).any():
        assert np.sign(m["sortino"]) == np.sign(r.mean())
    else:
        assert math.isnan(m["sortino"])  # documented: no downside deviation
    assert (m["cagr"] > 0) == (m["total_return"] > 0)
    if m["max_drawdown"] < 0:
        assert np.sign(m["calmar"]) == np.sign(m["cagr"])


def test_weekday_random_walk_uses_252() -> None:
    eq = random_walk(3, freq="B")
    m = compute_metrics(eq, NO_TRADES)
    r = daily_returns(eq)
    assert m["periods_per_year"] == 252
    assert m["volatility_ann"] == pytest.approx(float(np.std(r, ddof=1)) * math.sqrt(252))
    ordered = sorted(r.tolist())
    h = (len(ordered) - 1) * 0.05
    lo = math.floor(h)
    var_95 = ordered[lo] + (h - lo) * (ordered[lo + 1] - ordered[lo])
    tail = [x for x in ordered if x <= var_95]
    assert m["var_95"] == pytest.approx(var_95)
    assert m["cvar_95"] == pytest.approx(sum(tail) / len(tail))


@settings(max_examples=200, deadline=None)
@given(
    values=st.lists(st.floats(1.0, 1000.0), min_size=1, max_size=40),
    gaps=st.lists(st.integers(1, 5000), min_size=40, max_size=40),
)
def test_drawdown_matches_loop(values: list[float], gaps: list[int]) -> None:
    minutes = np.cumsum(gaps[: len(values)])
    idx = pd.DatetimeIndex(pd.Timestamp("2024-01-01", tz="UTC") + pd.to_timedelta(minutes, unit="min"))
    eq = pd.Series(values, index=idx)
    worst, longest = loop_drawdown(values, [float(x) / 1440 for x in minutes])
    m = compute_metrics(eq, NO_TRADES)
    assert m["max_drawdown"] == pytest.approx(worst, abs=1e-12)
    assert max_drawdown_duration_days(eq) == pytest.approx(longest, abs=1e-9)
