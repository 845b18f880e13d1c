"""traderbot.indicators against TA-Lib (and pandas for zscore/volatility) on real market data.

Datasets: EURUSD 1-minute (a 50k-bar slice of HistData), SPY daily (LEAN, raw with bad ticks and splits),
USDJPY 4-hour (Dukascopy). Every TA-Lib-equivalent indicator runs on all three.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import talib as _talib

import traderbot.indicators as ti

# TA-Lib's stubs type MA types as an Enum, but its functions take the plain int codes used here.
talib: Any = _talib

pytestmark = pytest.mark.shared_data

DATASETS = {
    "EURUSD_1m": ("histdata_fx_m1/EURUSD_1m.parquet", 50_000),
    "SPY_1d": ("lean_multi/SPY_1d.parquet", None),
    "USDJPY_4h": ("dukascopy_multi/USDJPY_4h.parquet", None),
}

Bars = dict[str, np.ndarray]
Outputs = tuple[np.ndarray, ...]
Pair = tuple[Callable[[Bars], object], Callable[[Bars], object]]

# Each case: (ours, TA-Lib) on the same bars; TA-Lib arguments are always explicit.
CASES: dict[str, Pair] = {
    "sma": (lambda b: ti.sma(b["close"]), lambda b: talib.SMA(b["close"], 30)),
    "sma-1": (lambda b: ti.sma(b["close"], 1), lambda b: talib.SMA(b["close"], 1)),
    "ema": (lambda b: ti.ema(b["close"]), lambda b: talib.EMA(b["close"], 30)),
    "ema-200": (lambda b: ti.ema(b["close"], 200), lambda b: talib.EMA(b["close"], 200)),
    "wma": (lambda b: ti.wma(b["close"]), lambda b: talib.WMA(b["close"], 30)),
    "wma-2": (lambda b: ti.wma(b["close"], 2), lambda b: talib.WMA(b["close"], 2)),
    "rsi": (lambda b: ti.rsi(b["close"]), lambda b: talib.RSI(b["close"], 14)),
    "rsi-2": (lambda b: ti.rsi(b["close"], 2), lambda b: talib.RSI(b["close"], 2)),
    "stoch": (
        lambda b: ti.stoch(b["high"], b["low"], b["close"]),
        lambda b: talib.STOCH(b["high"], b["low"], b["close"], 5, 3, 0, 3, 0),
    ),
    "stoch-ema-wma": (
        lambda b: ti.stoch(b["high"], b["low"], b["close"], 14, 3, 1, 5, 2),
        lambda b: talib.STOCH(b["high"], b["low"], b["close"], 14, 3, 1, 5, 2),
    ),
    "stoch_rsi": (lambda b: ti.stoch_rsi(b["close"]), lambda b: talib.STOCHRSI(b["close"], 14, 5, 3, 0)),
    "stoch_rsi-ema": (
        lambda b: ti.stoch_rsi(b["close"], 14, 14, 3, 1),
        lambda b: talib.STOCHRSI(b["close"], 14, 14, 3, 1),
    ),
    "macd": (lambda b: ti.macd(b["close"]), lambda b: talib.MACD(b["close"], 12, 26, 9)),
    "macd-5-35-5": (lambda b: ti.macd(b["close"], 5, 35, 5), lambda b: talib.MACD(b["close"], 5, 35, 5)),
    "bollinger": (lambda b: ti.bollinger(b["close"]), lambda b: talib.BBANDS(b["close"])),
    "bollinger-20": (
        lambda b: ti.bollinger(b["close"], 20, 2.0, 2.0, 0),
        lambda b: talib.BBANDS(b["close"], 20, 2.0, 2.0, 0),
    ),
    "bollinger-ema-asym": (
        lambda b: ti.bollinger(b["close"], 20, 1.5, 2.5, 1),
        lambda b: talib.BBANDS(b["close"], 20, 1.5, 2.5, 1),
    ),
    "atr": (
        lambda b: ti.atr(b["high"], b["low"], b["close"]),
        lambda b: talib.ATR(b["high"], b["low"], b["close"], 14),
    ),
    "atr-1": (
        lambda b: ti.atr(b["high"], b["low"], b["close"], 1),
        lambda b: talib.ATR(b["high"], b["low"], b["close"], 1),
    ),
    "adx": (
        lambda b: ti.adx(b["high"], b["low"], b["close"]),
        lambda b: talib.ADX(b["high"], b["low"], b["close"], 14),
    ),
    "adx-50": (
        lambda b: ti.adx(b["high"], b["low"], b["close"], 50),
        lambda b: talib.ADX(b["high"], b["low"], b["close"], 50),
    ),
    "roc": (lambda b: ti.roc(b["close"]), lambda b: talib.ROC(b["close"], 10)),
    "roc-1": (lambda b: ti.roc(b["close"], 1), lambda b: talib.ROC(b["close"], 1)),
}


def _tuple(out: Any) -> Outputs:
    return out if isinstance(out, tuple) else (out,)


def assert_matches_talib(ours: Outputs, theirs: Outputs) -> None:
    """Identical NaN warm-up positions, then equal within 1e-9 relative (1e-12 absolute near zero)."""
    assert len(ours) == len(theirs)
    for got, want in zip(ours, theirs, strict=True):
        np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
        valid = ~np.isnan(want)
        assert valid.sum() > 0.9 * want.size
        np.testing.assert_allclose(got[valid], want[valid], rtol=1e-9, atol=1e-12)


def _load(root: Path, name: str) -> Bars:
    relative, rows = DATASETS[name]
    frame = pd.read_parquet(root / relative, columns=["open", "high", "low", "close"])
    if rows is not None:
        frame = frame.iloc[-rows:]  # the complete 2023-07-31 .. 2024-01-31 window of the M1 file
    bars = {column: frame[column].to_numpy(dtype=np.float64, copy=True) for column in frame.columns}
    assert np.isfinite(np.stack(list(bars.values()))).all()
    return bars


@pytest.fixture(scope="module", params=sorted(DATASETS))
def bars(request: pytest.FixtureRequest, shared_data_dir: Path) -> Bars:
    return _load(shared_data_dir, request.param)


@pytest.mark.parametrize("case", sorted(CASES))
def test_matches_talib_on_real_data(bars: Bars, case: str) -> None:
    ours, theirs = CASES[case]
    assert_matches_talib(_tuple(ours(bars)), _tuple(theirs(bars)))


@pytest.mark.parametrize(
    "case", ["sma", "ema", "rsi", "stoch", "stoch_rsi", "macd", "bollinger", "atr", "adx"]
)
def test_missing_bars_restart_like_talib_on_each_run(bars: Bars, case: str) -> None:
    """Real bars with holes: our output equals TA-Lib run separately on every gap-free stretch."""
    holes = {column: values.copy() for column, values in bars.items()}
    n = holes["close"].size
    holes["close"][[n // 5, n // 5 + 1, n // 2]] = np.nan
    holes["high"][3 * n // 4] = np.nan  # a gap only for the indicators that read high/low
    used = ["high", "low", "close"] if case in {"stoch", "atr", "adx"} else ["close"]
    valid = np.all([np.isfinite(holes[column]) for column in used], axis=0)
    ours, theirs = CASES[case]
    got = _tuple(ours(holes))
    want = [np.full(n, np.nan) for _ in got]
    edges = np.flatnonzero(np.diff(np.concatenate(([0], valid.astype(np.int8), [0]))))
    for start, stop in zip(edges[::2], edges[1::2], strict=True):
        run = {column: values[start:stop] for column, values in holes.items()}
        for target, values in zip(want, _tuple(theirs(run)), strict=True):
            target[start:stop] = values
    assert_matches_talib(got, tuple(want))


def _window_z(window: np.ndarray) -> float:
    """(x_t - mean) / std, NaN for a flat window: std <= 1e-14 * RMS (the data has 1-ulp price noise)."""
    mean, std = window.mean(), window.std(ddof=0)
    flat = std <= 1e-14 * np.sqrt(mean * mean + std * std)
    return np.nan if flat else float((window[-1] - mean) / std)


@pytest.mark.parametrize("period", [5, 20])
def test_zscore_matches_pandas_on_real_data(bars: Bars, period: int) -> None:
    close = bars["close"]
    want = pd.Series(close).rolling(period).apply(_window_z, raw=True).to_numpy()
    got = ti.zscore(close, period)
    np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
    valid = ~np.isnan(want)
    np.testing.assert_allclose(got[valid], want[valid], rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("period", [5, 20])
def test_rolling_volatility_matches_pandas_on_real_data(bars: Bars, period: int) -> None:
    close = pd.Series(bars["close"])
    log_returns = pd.Series(np.log(close / close.shift(1)))
    want = (log_returns.rolling(period).apply(lambda w: w.std(ddof=1), raw=True) * np.sqrt(252.0)).to_numpy()
    got = ti.rolling_volatility(bars["close"], period, 252.0)
    np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
    valid = ~np.isnan(want)
    np.testing.assert_allclose(got[valid], want[valid], rtol=1e-9, atol=1e-15)
