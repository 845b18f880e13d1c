"""Hit rates of QFH signals next to the base rates over the same bars, as the QFH spec asks to report them.

A BUY at bar t is a hit when close[t+1] - close[t] > threshold pips, a SELL when it is < -threshold pips.
The last bar (no next close) and bars whose next move is unknown (a NaN close) are excluded from every figure.
"""

from __future__ import annotations

import math
from decimal import Decimal
from typing import TypedDict

import numpy as np
from numpy.typing import ArrayLike

__all__ = ["QfhHitRates", "qfh_hit_rates"]


class QfhHitRates(TypedDict):
    """Per-pair signal quality; rates are NaN when their denominator is 0."""

    bars: int  # bars evaluated: those with a known next move
    buy_count: int
    sell_count: int
    buy_hit_rate: float  # P(next move > +threshold | BUY)
    sell_hit_rate: float  # P(next move < -threshold | SELL)
    hit_rate: float  # hits of BUY and SELL together / signals
    base_up: float  # P(next move > +threshold) over the evaluated bars
    base_down: float  # P(next move < -threshold) over the evaluated bars
    base_rate: (
        float  # what signals with this BUY/SELL mix would hit by chance: buy_share*base_up + sell_share*...
    )
    buy_share: float  # BUY / (BUY + SELL)
    signals_per_bar: float  # (BUY + SELL) / bars


def _rate(hits: int, total: int) -> float:
    return hits / total if total else math.nan


def qfh_hit_rates(
    close: ArrayLike, signal: ArrayLike, pip_size: float | Decimal, threshold_pips: float = 0.5
) -> QfhHitRates:
    """Hit rates of BUY/SELL signals on the next close, the base rates, counts, mix and signals per bar."""
    c = np.asarray(close, dtype=np.float64)
    s = np.asarray(signal)
    pip = float(pip_size)
    if c.ndim != 1 or s.shape != c.shape:
        raise ValueError(f"close and signal must be 1-D of one length; got shapes {c.shape} and {s.shape}")
    if not (math.isfinite(pip) and pip > 0):
        raise ValueError(f"pip_size must be a positive finite number, got {pip_size!r}")
    if not (math.isfinite(threshold_pips) and threshold_pips >= 0):
        raise ValueError(f"threshold_pips must be a finite number >= 0, got {threshold_pips!r}")
    if not np.isin(s, (-1, 0, 1)).all():
        raise ValueError("signal must hold only +1 (BUY), 0 (HOLD) and -1 (SELL)")
    move = (c[1:] - c[:-1]) / pip
    known = np.isfinite(move)
    move, sig = move[known], s[:-1][known]
    up, down = move > threshold_pips, move < -threshold_pips
    buy, sell = sig == 1, sig == -1
    n_buy, n_sell, n = int(buy.sum()), int(sell.sum()), int(move.size)
    base_up, base_down = _rate(int(up.sum()), n), _rate(int(down.sum()), n)
    buy_hits, sell_hits = int((buy & up).sum()), int((sell & down).sum())
    n_sig = n_buy + n_sell
    return QfhHitRates(
        bars=n,
        buy_count=n_buy,
        sell_count=n_sell,
        buy_hit_rate=_rate(buy_hits, n_buy),
        sell_hit_rate=_rate(sell_hits, n_sell),
        hit_rate=_rate(buy_hits + sell_hits, n_sig),
        base_up=base_up,
        base_down=base_down,
        base_rate=(n_buy * base_up + n_sell * base_down) / n_sig if n_sig else math.nan,
        buy_share=_rate(n_buy, n_sig),
        signals_per_bar=_rate(n_sig, n),
    )
