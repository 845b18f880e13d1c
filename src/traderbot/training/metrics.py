"""Statistics of one evaluation window (a fold's train or test span) and the objectives a search maximises.

Daily returns r_i = e_i / e_{i-1} - 1 of the day-end equity; annualisation multiplies by sqrt(periods_per_year).
Sharpe = mean(r) / std(r, ddof=1) * sqrt(ppy); Sortino = mean(r) / sqrt(mean(min(r, 0)^2)) * sqrt(ppy)
(risk-free rate 0; the same conventions as docs/metrics.md). Both are NaN with fewer than 2 returns or a
(downside) deviation below 1e-12. Calmar here is total_return / |max_drawdown| over the window, NOT annualised
(a one-week window has no meaningful CAGR); +inf with a gain and no drawdown, NaN with no gain and no drawdown.
Trade figures use the net P&L of each closed trade (after spread and commission, as the simulator books it).

A `WindowStats` also carries the sufficient statistics of its series (moments of the returns, drawdown extremes,
gross win/loss, hits), so `combine` of consecutive windows is exact, equal to `stats_from_series` on the
concatenated series, as long as each window was measured from the previous window's end equity.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np

from traderbot.errors import UserError

__all__ = ["OBJECTIVES", "WindowStats", "combine", "objective", "stats_from_series", "window_stats"]

STD_EPSILON = 1e-12
NAN = math.nan
OBJECTIVES: tuple[str, ...] = (
    "sharpe",
    "sortino",
    "calmar",
    "profit_factor",
    "expectancy",
    "hit_rate_above_base",
)


@dataclass(frozen=True)
class WindowStats:
    """Performance of one window. Ratios are NaN where undefined; the fields after `base_rate` are the
    sufficient statistics `combine` needs (returns: count `days`, `return_mean`, `return_m2` = sum of squared
    deviations, `downside_sq_sum` = sum of min(r, 0)^2; equity relative to the window's start: `peak_ratio`
    = max, `trough_ratio` = min, both counting the start itself)."""

    days: int  # number of daily returns in the window
    trades: int
    total_return: float
    sharpe: float
    sortino: float
    calmar: float
    max_drawdown: float  # <= 0, fraction of the running peak
    profit_factor: float
    expectancy: float  # mean net P&L per trade, account currency
    win_rate: float
    signals: int
    hit_rate: float  # hits / signals
    base_rate: float  # base_hits / signals: the hit rate expected by chance for the same signals
    periods_per_year: int = 252
    wins: int = 0
    gross_win: float = 0.0
    gross_loss: float = 0.0  # positive: the sum of |P&L| of losing trades
    hits: int = 0
    base_hits: float = 0.0
    return_mean: float = 0.0
    return_m2: float = 0.0
    downside_sq_sum: float = 0.0
    peak_ratio: float = 1.0
    trough_ratio: float = 1.0


def _ratio(num: float, den: float) -> float:
    """num / den for den > 0; +inf for a positive num over den == 0; NaN otherwise."""
    if den > 0:
        return num / den
    return math.inf if num > 0 else NAN


def _derived(s: WindowStats) -> WindowStats:
    """Fill every ratio field of `s` from its sufficient statistics."""
    root = math.sqrt(s.periods_per_year)
    sharpe = sortino = NAN
    if s.days >= 2:
        std = math.sqrt(max(s.return_m2, 0.0) / (s.days - 1))
        if std >= STD_EPSILON:
            sharpe = s.return_mean / std * root
        downside = math.sqrt(s.downside_sq_sum / s.days)
        if downside >= STD_EPSILON:
            sortino = s.return_mean / downside * root
    return replace(
        s,
        sharpe=sharpe,
        sortino=sortino,
        calmar=_ratio(s.total_return, -s.max_drawdown) if math.isfinite(s.total_return) else NAN,
        profit_factor=_ratio(s.gross_win, s.gross_loss) if s.trades else NAN,
        expectancy=(s.gross_win - s.gross_loss) / s.trades if s.trades else NAN,
        win_rate=s.wins / s.trades if s.trades else NAN,
        hit_rate=s.hits / s.signals if s.signals else NAN,
        base_rate=s.base_hits / s.signals if s.signals else NAN,
    )


def _until_ruin(returns: np.ndarray) -> np.ndarray:
    """Returns up to and including the first one <= -100 % (the account is gone; later ones are meaningless)."""
    ruin = np.flatnonzero(returns <= -1.0)
    return returns[: int(ruin[0]) + 1] if ruin.size else returns


def stats_from_series(
    daily_returns: np.ndarray,
    trade_pnl: np.ndarray,
    *,
    periods_per_year: int,
    hits: int,
    signals: int,
    base_hits: float,
) -> WindowStats:
    """WindowStats of a daily-return series and the net P&L of the trades closed in it (see the module doc)."""
    if periods_per_year <= 0:
        raise ValueError(f"periods_per_year must be positive, got {periods_per_year}")
    r = _until_ruin(np.asarray(daily_returns, dtype=np.float64).ravel())
    pnl = np.asarray(trade_pnl, dtype=np.float64).ravel()
    if not (np.all(np.isfinite(r)) and np.all(np.isfinite(pnl))):
        raise ValueError("daily returns and trade P&L must be finite numbers")
    equity = np.concatenate(([1.0], np.cumprod(1.0 + r)))
    mean = float(r.mean()) if r.size else 0.0
    base = WindowStats(
        days=int(r.size),
        trades=int(pnl.size),
        total_return=float(equity[-1]) - 1.0,
        sharpe=NAN,
        sortino=NAN,
        calmar=NAN,
        max_drawdown=float(np.min(equity / np.maximum.accumulate(equity))) - 1.0,
        profit_factor=NAN,
        expectancy=NAN,
        win_rate=NAN,
        signals=int(signals),
        hit_rate=NAN,
        base_rate=NAN,
        periods_per_year=int(periods_per_year),
        wins=int(np.count_nonzero(pnl > 0)),
        gross_win=float(pnl[pnl > 0].sum()),
        gross_loss=float(-pnl[pnl < 0].sum()),
        hits=int(hits),
        base_hits=float(base_hits),
        return_mean=mean,
        return_m2=float(np.sum((r - mean) ** 2)),
        downside_sq_sum=float(np.sum(np.minimum(r, 0.0) ** 2)),
        peak_ratio=float(equity.max()),
        trough_ratio=float(equity.min()),
    )
    return _derived(base)


def window_stats(
    equity: np.ndarray,
    trade_pnl: np.ndarray,
    *,
    periods_per_year: int,
    start_equity: float | None = None,
    hits: int = 0,
    signals: int = 0,
    base_hits: float = 0.0,
) -> WindowStats:
    """WindowStats of the day-end equity inside a window; e_0 = `start_equity` (the equity at the end of the
    previous window) when given, else the first element. Returns stop at the first equity <= 0 (ruin)."""
    e = np.asarray(equity, dtype=np.float64).ravel()
    if start_equity is not None:
        e = np.concatenate(([float(start_equity)], e))
    if e.size == 0:
        return stats_from_series(
            e, trade_pnl, periods_per_year=periods_per_year, hits=hits, signals=signals, base_hits=base_hits
        )
    if not (np.all(np.isfinite(e)) and e[0] > 0):
        raise ValueError(f"equity must be finite and start positive, got a start of {e[0]}")
    bad = np.flatnonzero(e[1:] <= 0)
    count = int(bad[0]) + 1 if bad.size else e.size - 1
    returns = e[1 : 1 + count] / e[:count] - 1.0
    return stats_from_series(
        returns, trade_pnl, periods_per_year=periods_per_year, hits=hits, signals=signals, base_hits=base_hits
    )


def _join(a: WindowStats, b: WindowStats) -> WindowStats:
    """Sufficient statistics of window `a` followed by window `b` (ratios left for `_derived`)."""
    n = a.days + b.days
    delta = b.return_mean - a.return_mean
    mean = a.return_mean + delta * b.days / n if n else 0.0
    m2 = a.return_m2 + b.return_m2 + (delta * delta * a.days * b.days / n if n else 0.0)
    growth_a = 1.0 + a.total_return
    cross_dd = growth_a * b.trough_ratio / a.peak_ratio - 1.0  # a peak inside a, then a trough inside b
    return replace(
        a,
        days=n,
        trades=a.trades + b.trades,
        total_return=growth_a * (1.0 + b.total_return) - 1.0,
        max_drawdown=min(a.max_drawdown, b.max_drawdown, cross_dd),
        signals=a.signals + b.signals,
        wins=a.wins + b.wins,
        gross_win=a.gross_win + b.gross_win,
        gross_loss=a.gross_loss + b.gross_loss,
        hits=a.hits + b.hits,
        base_hits=a.base_hits + b.base_hits,
        return_mean=mean,
        return_m2=m2,
        downside_sq_sum=a.downside_sq_sum + b.downside_sq_sum,
        peak_ratio=max(a.peak_ratio, growth_a * b.peak_ratio),
        trough_ratio=min(a.trough_ratio, growth_a * b.trough_ratio),
    )


def combine(windows: Sequence[WindowStats]) -> WindowStats:
    """The stats of consecutive windows taken as one: counts and gross figures summed, returns compounded,
    return moments pooled (Chan et al. parallel variance), drawdown tracked across the joins; ratios recomputed."""
    if not windows:
        raise ValueError("combine needs at least one window")
    ppy = {w.periods_per_year for w in windows}
    if len(ppy) != 1:
        raise ValueError(f"windows measured with different periods_per_year {sorted(ppy)} cannot be combined")
    total = windows[0]
    for w in windows[1:]:
        total = _join(total, w)
    return _derived(total)


def objective(stats: WindowStats, name: str, *, min_trades: int = 0) -> float:
    """Objective `name` of a window, higher is better; -inf below `min_trades` trades or when undefined (NaN).

    hit_rate_above_base = hit_rate - base_rate (the edge of the signals over chance, in rate points).
    """
    if name not in OBJECTIVES:
        raise UserError(f"unknown objective {name!r}: choose one of {', '.join(OBJECTIVES)}")
    if stats.trades < min_trades:
        return -math.inf
    value = stats.hit_rate - stats.base_rate if name == "hit_rate_above_base" else float(getattr(stats, name))
    return -math.inf if math.isnan(value) else value
