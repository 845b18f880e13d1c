"""The equity curve, built once at the end from the portfolio's change points (vectorised).

equity[e] = balance after event e + sum over open positions of qty * (last close - avg price) * multiplier
* rate(quote -> account), where the last close and the conversion rate are those visible at event e.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from traderbot.kernel.cache import Cache
from traderbot.portfolio.portfolio import Portfolio


def _last_close_per_event(cache: Cache, sid: np.ndarray, row: np.ndarray, k: int) -> np.ndarray:
    idx = np.where(sid == k, row, -1)
    idx = np.maximum.accumulate(idx)
    close = cache.series[k].close
    out = np.full(len(sid), np.nan)
    ok = idx >= 0
    out[ok] = close[idx[ok]]
    return out


def _rate_per_event(cache: Cache, quote: str, account: str, sid: np.ndarray, row: np.ndarray) -> np.ndarray:
    if quote == account:
        return np.ones(len(sid))
    direct, inverse = cache.primary.get(quote + account), cache.primary.get(account + quote)
    if direct is not None:
        return _last_close_per_event(cache, sid, row, direct)
    if inverse is not None:
        return 1.0 / _last_close_per_event(cache, sid, row, inverse)
    return np.full(len(sid), np.nan)


def equity_curve(
    cache: Cache, portfolio: Portfolio, ts: np.ndarray, sid: np.ndarray, row: np.ndarray, *, start_ns: int
) -> tuple[pd.Series, pd.Series]:
    """(equity, exposure) indexed by bar close time (UTC); the first point is the starting cash."""
    n = len(ts)
    eq = np.full(n, float(portfolio.starting_cash))
    exposed = np.zeros(n, dtype=np.float64)
    marks = portfolio.marks
    prices: dict[int, np.ndarray] = {}
    rates: dict[str, np.ndarray] = {}
    for j, start in enumerate(marks.event):
        lo = max(start, 0)
        hi = marks.event[j + 1] if j + 1 < len(marks.event) else n
        if hi <= lo:
            continue
        seg = np.full(hi - lo, float(marks.balance[j]))
        for k, qty_d, cost_d, mult_d in marks.holdings[j]:
            qty, avg, mult = float(qty_d), float(cost_d / abs(qty_d)), float(mult_d)
            if k not in prices:
                prices[k] = _last_close_per_event(cache, sid, row, k)
            quote = cache.instruments[cache.series[k].instrument_id].quote
            if quote not in rates:
                rates[quote] = _rate_per_event(cache, quote, portfolio.currency, sid, row)
            seg += qty * (prices[k][lo:hi] - avg) * mult * rates[quote][lo:hi]
        eq[lo:hi] = seg
        if marks.holdings[j]:
            exposed[lo:hi] = 1.0
    index = pd.DatetimeIndex(pd.to_datetime(ts, utc=True)).as_unit("ns")
    equity = pd.Series(eq, index=index, name="equity")
    exposure = pd.Series(exposed, index=index, name="exposure")
    keep = ~equity.index.duplicated(keep="last")
    equity, exposure = equity[keep], exposure[keep]
    start_index = pd.DatetimeIndex([pd.Timestamp(min(start_ns, int(ts[0]) - 1), tz="UTC")]).as_unit("ns")
    first = pd.Series([float(portfolio.starting_cash)], index=start_index)
    return pd.concat([first, equity]), pd.concat([pd.Series([0.0], index=first.index), exposure])
