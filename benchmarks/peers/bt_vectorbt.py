"""vectorbt peer: `vbt.MA.run` + `vbt.Portfolio.from_signals`, engine pinned to numba.

* SMAs from `vbt.MA.run(close, window)`; crossover computed with numpy exactly as backtesting.py's
  `crossover` (vectorbt's own `ma_crossed_above` also fires on below -> equal -> above, so it is not used).
* Next-open fills done honestly: signals decided on bar t's close are shifted one bar forward and
  filled at `price=open`, i.e. at open[t+1]; a signal on the last bar is dropped by the shift.
* direction='longonly', accumulate=False (entries while long / exits while flat are ignored),
  size=np.inf (all cash, exact fractional cash / open), init_cash=10_000, fees=0, slippage=0.
  FractionalBacktest floors to whole 1e-8 units; that changes equity by < 1e-10 relative per trade
  (measured: 2e-11 after 19,585 trades on the 1M GBM case). Do NOT pass size_granularity=1e-8: vectorbt
  then ends ~1 unit short on every trade (8.5e-7 relative drift on the 1M case).
* final equity = `pf.final_value()` (cash + position * last close; open positions are not closed);
  trades = `pf.trades.count()` (closed + open).
* A tz-aware index is handed to vectorbt as naive UTC (see `_prices`).
* `vbt.settings["engine"] = "numba"`: vectorbt>=1.1 switches to its optional Rust engine when
  `vectorbt-rust` is installed (extra `vectorbt[rust]`); set BENCH_VBT_ENGINE=rust|auto to compare.
"""

from __future__ import annotations

import os
import time

import numpy as np
import pandas as pd
import vectorbt as vbt

from . import CASH, FAST, SLOW, PeerResult, cross_above

NAME = "vectorbt"
ENGINE = os.environ.get("BENCH_VBT_ENGINE", "numba")
vbt.settings["engine"] = ENGINE  # MA.run, from_signals and the records all dispatch on it


def _prices(df: pd.DataFrame) -> tuple[pd.Series, pd.Series]:
    """Close and Open; a tz-aware index is made naive UTC first: vectorbt's shape checks call
    np.asarray(index), which pandas answers for a tz-aware index with one Timestamp object per bar
    (~5 s of a 6.5 s run on the 1M-bar case). Done inside the timed region; it costs milliseconds."""
    close, open_ = df["Close"], df["Open"]
    if isinstance(df.index, pd.DatetimeIndex) and df.index.tz is not None:
        naive = df.index.tz_convert("UTC").tz_localize(None)
        close, open_ = close.set_axis(naive), open_.set_axis(naive)
    return close, open_


def _shift1(a: np.ndarray) -> np.ndarray:
    out = np.zeros_like(a)
    out[1:] = a[:-1]
    return out


def _portfolio(close: pd.Series, open_: pd.Series, entries: np.ndarray, exits: np.ndarray) -> vbt.Portfolio:
    return vbt.Portfolio.from_signals(
        close,
        entries=entries,
        exits=exits,
        price=open_.to_numpy() if entries.ndim == 1 else open_.to_numpy()[:, None],
        size=np.inf,
        init_cash=CASH,
        fees=0.0,
        slippage=0.0,
        direction="longonly",
        accumulate=False,
    )


def run(df: pd.DataFrame) -> PeerResult:
    start = time.perf_counter()
    close, open_ = _prices(df)
    fast = vbt.MA.run(close, FAST).ma.to_numpy()
    slow = vbt.MA.run(close, SLOW).ma.to_numpy()
    entries = _shift1(cross_above(fast, slow))
    exits = _shift1(cross_above(slow, fast))
    pf = _portfolio(close, open_, entries, exits)
    equity = float(pf.final_value())
    trades = int(pf.trades.count())
    seconds = time.perf_counter() - start
    return PeerResult(
        NAME, len(df), seconds, trades, equity, extra={"open_trades": int(pf.trades.open.count())}
    )


def sweep(df: pd.DataFrame, combos: list[tuple[int, int]]) -> PeerResult:
    """All combos in one go: one `MA.run` per side over the unique windows (vectorbt's parameter
    broadcasting), the shifted crossover written column by column into (bars x combos) Fortran-order
    signal matrices (no bars x combos float copies), one multi-column Portfolio (no cash sharing)."""
    start = time.perf_counter()
    close, open_ = _prices(df)
    n, k = len(df), len(combos)
    fast_w = sorted({f for f, _ in combos})
    slow_w = sorted({s for _, s in combos})
    fast_ma = vbt.MA.run(close, window=fast_w, short_name="fast").ma.to_numpy().reshape(n, -1)
    slow_ma = vbt.MA.run(close, window=slow_w, short_name="slow").ma.to_numpy().reshape(n, -1)
    fast_ma, slow_ma = np.asfortranarray(fast_ma), np.asfortranarray(slow_ma)
    entries = np.zeros((n, k), dtype=bool, order="F")
    exits = np.zeros((n, k), dtype=bool, order="F")
    for j, (f, s) in enumerate(combos):
        a, b = fast_ma[:, fast_w.index(f)], slow_ma[:, slow_w.index(s)]
        lt, gt = a < b, a > b  # NaN -> both False
        # cross at t = lt[t-1] & gt[t] (as cross_above), filled one bar later: row t+1
        entries[2:, j] = lt[:-2] & gt[1:-1]
        exits[2:, j] = gt[:-2] & lt[1:-1]
    pf = _portfolio(close, open_, entries, exits)
    equities = np.asarray(pf.final_value(), dtype=np.float64)
    trades = np.asarray(pf.trades.count(), dtype=np.int64)
    seconds = time.perf_counter() - start
    per_combo = {c: (int(t), float(e)) for c, t, e in zip(combos, trades, equities, strict=True)}
    return PeerResult(
        NAME,
        len(df),
        seconds,
        int(trades.sum()),
        sum(e for _, e in per_combo.values()),
        combos=len(combos),
        extra={"per_combo": per_combo},
    )
