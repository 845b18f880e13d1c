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
    """(equity, exposure) indexed by bar close time (UTC); the first point is the starting cash.

    The portfolio's change points cut the schedule into segments with constant balance and holdings; each
    segment's values are repeated over its events (np.repeat), then each held instrument adds
    qty * (close - avg) * multiplier * rate over the events where it is held.
    """
    n = len(ts)
    cash0 = float(portfolio.starting_cash)
    eq = np.full(n, cash0)
    exposed = np.zeros(n, dtype=np.float64)
    marks = portfolio.marks
    if marks.event:
        starts = np.maximum(np.asarray(marks.event, dtype=np.int64), 0)
        ends = np.append(starts[1:], n)
        lengths = ends - starts
        first = int(starts[0])
        eq[first:] = np.repeat(np.array([float(b) for b in marks.balance]), lengths)
        held: dict[int, tuple[np.ndarray, np.ndarray, float]] = {}
        for j, holding in enumerate(marks.holdings):
            for k, qty_d, cost_d, mult_d in holding:
                if k not in held:
                    held[k] = (np.zeros(len(starts)), np.zeros(len(starts)), float(mult_d))
                held[k][0][j] = float(qty_d)
                held[k][1][j] = float(cost_d / abs(qty_d))
        for k, (qty_seg, avg_seg, mult) in held.items():
            qty = np.repeat(qty_seg, lengths)
            avg = np.repeat(avg_seg, lengths)
            quote = cache.instruments[cache.series[k].instrument_id].quote
            price = _last_close_per_event(cache, sid, row, k)[first:]
            rate = _rate_per_event(cache, quote, portfolio.currency, sid, row)[first:]
            live = qty != 0
            eq[first:][live] += (qty[live] * (price[live] - avg[live])) * mult * rate[live]
            exposed[first:][live] = 1.0
    keep = np.append(ts[1:] != ts[:-1], True)  # one point per timestamp: the state after its last event
    index = pd.DatetimeIndex(np.asarray(ts[keep], dtype="datetime64[ns]")).tz_localize("UTC")
    start_index = pd.DatetimeIndex([pd.Timestamp(min(start_ns, int(ts[0]) - 1), tz="UTC")]).as_unit("ns")
    full_index = start_index.append(index)
    equity = pd.Series(np.concatenate(([cash0], eq[keep])), index=full_index, name="equity")
    exposure = pd.Series(np.concatenate(([0.0], exposed[keep])), index=full_index, name="exposure")
    return equity, exposure
