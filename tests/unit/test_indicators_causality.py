"""Causality, missing-value semantics and O(n) cost of every indicator in traderbot.indicators."""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import traderbot.indicators as ti

Outputs = tuple[np.ndarray, ...]
Indicator = Callable[[np.ndarray, np.ndarray, np.ndarray], Outputs]


def _tuple(out: np.ndarray | tuple[np.ndarray, ...]) -> Outputs:
    return out if isinstance(out, tuple) else (out,)


# Small periods so short Hypothesis arrays still produce values past the warm-up; EMA/WMA variants of the
# MA-type arguments are covered too.
INDICATORS: dict[str, Indicator] = {
    "sma": lambda h, lo, c: _tuple(ti.sma(c, 4)),
    "ema": lambda h, lo, c: _tuple(ti.ema(c, 4)),
    "wma": lambda h, lo, c: _tuple(ti.wma(c, 4)),
    "rsi": lambda h, lo, c: _tuple(ti.rsi(c, 3)),
    "roc": lambda h, lo, c: _tuple(ti.roc(c, 2)),
    "macd": lambda h, lo, c: _tuple(ti.macd(c, 3, 5, 2)),
    "bollinger": lambda h, lo, c: _tuple(ti.bollinger(c, 4, 2.0, 1.5, 0)),
    "bollinger_ema": lambda h, lo, c: _tuple(ti.bollinger(c, 4, 2.0, 2.0, 1)),
    "stoch": lambda h, lo, c: _tuple(ti.stoch(h, lo, c, 3, 2, 0, 2, 0)),
    "stoch_wma_ema": lambda h, lo, c: _tuple(ti.stoch(h, lo, c, 3, 2, 2, 2, 1)),
    "stoch_rsi": lambda h, lo, c: _tuple(ti.stoch_rsi(c, 3, 3, 2, 0)),
    "stoch_rsi_ema": lambda h, lo, c: _tuple(ti.stoch_rsi(c, 3, 3, 2, 1)),
    "atr": lambda h, lo, c: _tuple(ti.atr(h, lo, c, 3)),
    "adx": lambda h, lo, c: _tuple(ti.adx(h, lo, c, 3)),
    "zscore": lambda h, lo, c: _tuple(ti.zscore(c, 4)),
    "rolling_volatility": lambda h, lo, c: _tuple(ti.rolling_volatility(c, 4, 252.0)),
}


@st.composite
def bars(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Random-walk OHLC bars (positive prices, some flat stretches) with NaN/inf holes in any column."""
    n = draw(st.integers(0, 80))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    steps = rng.normal(0.0, 1.0, n) * (rng.random(n) < 0.8)  # ~20% flat bars
    close = 100.0 + steps.cumsum()
    high = close + rng.random(n) * (rng.random(n) < 0.9)
    low = close - rng.random(n)
    holes = draw(st.lists(st.tuples(st.integers(0, 2), st.integers(0, 79)), max_size=6))
    columns = [high, low, close]
    for column, index in holes:
        if index < n:
            columns[column][index] = np.nan if index % 3 else np.inf
    return high, low, close


@pytest.mark.parametrize("name", sorted(INDICATORS))
@settings(max_examples=60, deadline=None)
@given(data=bars(), cut_fraction=st.floats(0.0, 1.0))
def test_prefix_gives_identical_values(
    name: str, data: tuple[np.ndarray, np.ndarray, np.ndarray], cut_fraction: float
) -> None:
    """Causality: the value at t depends only on bars <= t, so a truncated input reproduces the prefix."""
    high, low, close = data
    cut = round(cut_fraction * close.size)
    full = INDICATORS[name](high, low, close)
    prefix = INDICATORS[name](high[:cut], low[:cut], close[:cut])
    for whole, part in zip(full, prefix, strict=True):
        np.testing.assert_array_equal(part, whole[:cut])


@pytest.mark.parametrize("name", sorted(INDICATORS))
@settings(max_examples=60, deadline=None)
@given(data=bars())
def test_missing_bar_restarts_the_warmup(name: str, data: tuple[np.ndarray, np.ndarray, np.ndarray]) -> None:
    """A NaN/inf bar yields NaN and the indicator restarts on the next finite run, as if it began there."""
    high, low, close = data
    valid = np.isfinite(close)
    if name.startswith(("stoch", "atr", "adx")) and not name.startswith("stoch_rsi"):
        valid &= np.isfinite(high) & np.isfinite(low)  # only the high/low/close indicators read them
    if name == "rolling_volatility":
        valid &= close > 0.0
    full = INDICATORS[name](high, low, close)
    expected = [np.full(close.size, np.nan) for _ in full]
    edges = np.flatnonzero(np.diff(np.concatenate(([0], valid.astype(np.int8), [0]))))
    for start, stop in zip(edges[::2], edges[1::2], strict=True):
        run = INDICATORS[name](high[start:stop], low[start:stop], close[start:stop])
        for target, values in zip(expected, run, strict=True):
            target[start:stop] = values
    for got, want in zip(full, expected, strict=True):
        np.testing.assert_array_equal(got, want)
        assert np.isnan(got[~valid]).all()


def test_nan_only_blanks_the_windows_that_contain_it() -> None:
    x = np.arange(1.0, 41.0)
    x[10] = np.nan
    out = ti.sma(x, 5)
    assert np.isnan(out[:4]).all() and np.isnan(out[10:15]).all()
    np.testing.assert_allclose(out[4:10], np.arange(3.0, 9.0))
    np.testing.assert_allclose(out[15:], np.arange(14.0, 39.0))
    roc = ti.roc(x, 3)
    assert np.isnan(roc[10:14]).all() and not np.isnan(roc[14:]).any()


def test_all_missing_input_never_crashes() -> None:
    nan = np.full(50, np.nan)
    for name in ti.__all__:
        if name not in INDICATORS:
            continue
        for series in INDICATORS[name](nan, nan, nan):
            assert series.shape == (50,) and np.isnan(series).all()


def test_long_period_runs_in_linear_time() -> None:
    """With period 50 000 over 400 000 bars an O(n*period) kernel would need ~2e10 steps (minutes)."""
    rng = np.random.default_rng(5)
    close = 100.0 + rng.normal(0.0, 1.0, 400_000).cumsum()
    high, low = close + 1.0, close - 1.0
    p = 50_000
    calls: list[Callable[[], object]] = [
        lambda: ti.sma(close, p),
        lambda: ti.ema(close, p),
        lambda: ti.wma(close, p),
        lambda: ti.rsi(close, p),
        lambda: ti.roc(close, p),
        lambda: ti.macd(close, p - 1, p, p),
        lambda: ti.bollinger(close, p),
        lambda: ti.bollinger(close, p, 2.0, 2.0, 2),
        lambda: ti.stoch(high, low, close, p, p, 0, p, 2),
        lambda: ti.stoch_rsi(close, p, p, p),
        lambda: ti.atr(high, low, close, p),
        lambda: ti.adx(high, low, close, p),
        lambda: ti.zscore(close, p),
        lambda: ti.rolling_volatility(close, p),
    ]
    for call in calls:
        call()  # compile / load the numba cache outside the timed loop
    started = time.perf_counter()
    for call in calls:
        call()
    assert time.perf_counter() - started < 10.0
