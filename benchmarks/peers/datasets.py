"""Datasets for the peer benchmarks.

Peer frames ("bt frames") are what backtesting.py, backtrader and vectorbt consume: capitalised columns
Open/High/Low/Close/Volume (float64) with a DatetimeIndex. `to_canonical` / `from_canonical` convert
to and from traderbot's canonical bar frame (ts datetime64[ns, UTC], open, high, low, close, volume).

Only numpy and pandas are imported at module level, so this module (and its unit test) works in the
main venv; `backtesting` is imported lazily by the two loaders that need it.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

PEER_COLUMNS: tuple[str, ...] = ("Open", "High", "Low", "Close", "Volume")
CANONICAL_COLUMNS: tuple[str, ...] = ("ts", "open", "high", "low", "close", "volume")

GBM_START = "2020-01-01"
GBM_START_PRICE = 100.0
GBM_SIGMA = 0.0005  # per-minute volatility of log price; drift is 0
GBM_WICK_SIGMA = 0.00025  # scale of the half-normal noise that widens high/low beyond open/close


def _peer_frame(df: pd.DataFrame) -> pd.DataFrame:
    out = df.loc[:, list(PEER_COLUMNS)].astype(np.float64)
    out.index = pd.DatetimeIndex(df.index).as_unit("ns")
    return out


def load_backtesting_eurusd() -> pd.DataFrame:
    """backtesting.py's bundled EURUSD hourly bars (5,000 rows, naive DatetimeIndex), as a float64 copy."""
    from backtesting.test import EURUSD

    return _peer_frame(EURUSD)


def load_backtesting_goog() -> pd.DataFrame:
    """backtesting.py's bundled GOOG daily bars (2,148 rows, 2004-2013, naive DatetimeIndex), float64 copy."""
    from backtesting.test import GOOG

    return _peer_frame(GOOG)


def gbm_minute_bars(n: int = 1_000_000, seed: int = 42) -> pd.DataFrame:
    """Seeded geometric-Brownian-motion 1-minute OHLCV bars, deterministic for a given (n, seed).

    * index: continuous UTC minutes from 2020-01-01 00:00 (datetime64[ns, UTC]);
    * log close follows a random walk with drift 0 and per-minute sd `GBM_SIGMA` (5e-4), from 100;
    * open[0] = 100, open[i] = close[i-1];
    * high = max(open, close) * exp(u), low = min(open, close) * exp(-v), u, v >= 0 half-normal
      with scale `GBM_WICK_SIGMA`, so high >= max(open, close) and 0 < low <= min(open, close);
    * volume: positive whole numbers (float64), floor(lognormal(6, 0.75)) + 1.

    All draws come from one `numpy.random.default_rng(seed)` in a fixed order (returns, wicks, volume).
    """
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    rng = np.random.default_rng(seed)
    log_ret = rng.normal(0.0, GBM_SIGMA, size=n)
    wick_up = np.abs(rng.normal(0.0, GBM_WICK_SIGMA, size=n))
    wick_dn = np.abs(rng.normal(0.0, GBM_WICK_SIGMA, size=n))
    volume = np.floor(rng.lognormal(6.0, 0.75, size=n)) + 1.0

    close = GBM_START_PRICE * np.exp(np.cumsum(log_ret))
    open_ = np.empty(n)
    open_[0] = GBM_START_PRICE
    open_[1:] = close[:-1]
    high = np.maximum(open_, close) * np.exp(wick_up)
    low = np.minimum(open_, close) * np.exp(-wick_dn)
    # exp(u) >= 1 and exp(-v) <= 1 exactly in IEEE arithmetic, but guard the relations anyway.
    high = np.maximum(high, np.maximum(open_, close))
    low = np.minimum(low, np.minimum(open_, close))

    index = pd.date_range(GBM_START, periods=n, freq="min", tz="UTC", unit="ns")
    return pd.DataFrame(
        {"Open": open_, "High": high, "Low": low, "Close": close, "Volume": volume},
        index=index,
    )


def to_canonical(df: pd.DataFrame) -> pd.DataFrame:
    """Peer frame -> traderbot canonical frame (RangeIndex; ts = bar open time).

    A naive DatetimeIndex (backtesting.py's EURUSD/GOOG) is taken to be UTC; an aware one is converted.
    """
    idx = pd.DatetimeIndex(df.index)
    idx = idx.tz_localize("UTC") if idx.tz is None else idx.tz_convert("UTC")
    out: dict[str, object] = {"ts": idx.as_unit("ns")}
    for src in PEER_COLUMNS:
        out[src.lower()] = df[src].to_numpy(dtype=np.float64)
    return pd.DataFrame(out)


def from_canonical(frame: pd.DataFrame) -> pd.DataFrame:
    """Traderbot canonical frame -> peer frame (capitalised columns, UTC DatetimeIndex)."""
    index = pd.DatetimeIndex(frame["ts"]).as_unit("ns").rename(None)
    index = index.tz_localize("UTC") if index.tz is None else index.tz_convert("UTC")
    return pd.DataFrame(
        {src: frame[src.lower()].to_numpy(dtype=np.float64) for src in PEER_COLUMNS},
        index=index,
    )


def load_case(case: str, *, gbm_bars: int = 1_000_000, seed: int = 42) -> pd.DataFrame:
    """Peer frame for a benchmark case name: 'eurusd', 'goog' or 'gbm'."""
    if case == "eurusd":
        return load_backtesting_eurusd()
    if case == "goog":
        return load_backtesting_goog()
    if case == "gbm":
        return gbm_minute_bars(gbm_bars, seed)
    raise ValueError(f"unknown benchmark case {case!r}; expected eurusd, goog or gbm")
