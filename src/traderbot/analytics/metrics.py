"""Backtest performance metrics from an equity curve and a closed-trades table.

Every formula, unit and degenerate case is written down in docs/metrics.md; keep the two in step.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

NS_PER_DAY = 86_400 * 10**9
STD_EPSILON = 1e-12
"""A daily-return standard (or downside) deviation below this is treated as zero (ratio -> NaN)."""

TRADE_COLUMNS: tuple[str, ...] = (
    "instrument",
    "side",
    "quantity",
    "entry_time",
    "exit_time",
    "entry_price",
    "exit_price",
    "pnl",
    "commission",
    "return_pct",
    "bars_held",
)

METRIC_KEYS: tuple[str, ...] = (
    "duration_days",
    "initial_equity",
    "final_equity",
    "total_return",
    "cagr",
    "volatility_ann",
    "sharpe",
    "sortino",
    "calmar",
    "max_drawdown",
    "max_drawdown_duration_days",
    "var_95",
    "var_99",
    "cvar_95",
    "cvar_99",
    "trades",
    "win_rate",
    "profit_factor",
    "expectancy",
    "avg_win",
    "avg_loss",
    "best_trade",
    "worst_trade",
    "exposure",
    "periods_per_year",
    "risk_free",
    "return_days",
)

NAN = math.nan


def index_ns(index: pd.Index) -> np.ndarray:
    """UTC epoch nanoseconds of a tz-aware DatetimeIndex (unit-safe: converts to ns before .asi8)."""
    if not isinstance(index, pd.DatetimeIndex):
        raise ValueError("equity and prices must be indexed by a DatetimeIndex")
    if index.tz is None:
        raise ValueError("timestamps must be tz-aware (UTC); got a tz-naive DatetimeIndex")
    return np.asarray(index.as_unit("ns").asi8, dtype=np.int64)


def validate_equity(equity: pd.Series) -> None:
    """Raise ValueError unless equity is non-empty, finite, starts > 0, on a strictly increasing UTC index."""
    if len(equity) == 0:
        raise ValueError("equity is empty: the backtest produced no equity points")
    ns = index_ns(equity.index)
    if len(ns) > 1 and not bool(np.all(np.diff(ns) > 0)):
        raise ValueError("equity index must be strictly increasing (sorted, no duplicate timestamps)")
    values = equity.to_numpy(dtype=float)
    if not bool(np.all(np.isfinite(values))):
        raise ValueError("equity contains NaN or infinite values")
    if values[0] <= 0:
        raise ValueError(f"initial equity must be positive, got {values[0]}")


def daily_equity(equity: pd.Series) -> pd.Series:
    """Equity at the first bar and at the last bar of each UTC calendar day that has bars."""
    ns = index_ns(equity.index)
    day = ns // NS_PER_DAY
    last_of_day = np.flatnonzero(np.append(day[1:] != day[:-1], True))
    positions = np.unique(np.concatenate(([0], last_of_day)))
    return equity.iloc[positions].astype(float)


def daily_returns(equity: pd.Series) -> pd.Series:
    """Simple returns r_k = V_k / V_{k-1} - 1 of `daily_equity`; stops at the first point with V <= 0."""
    daily = daily_equity(equity)
    values = daily.to_numpy(dtype=float)
    ruined = np.flatnonzero(values[1:] <= 0)
    count = int(ruined[0]) + 1 if len(ruined) else len(values) - 1
    returns = values[1 : 1 + count] / values[:count] - 1.0
    return pd.Series(returns, index=daily.index[1 : 1 + len(returns)], dtype=float)


def infer_periods_per_year(equity: pd.Series) -> int:
    """252 if no bar falls on a Saturday or Sunday (UTC), else 365."""
    day = index_ns(equity.index) // NS_PER_DAY
    weekday = (day + 3) % 7  # 1970-01-01 was a Thursday; Monday = 0
    return 365 if bool(np.any(weekday >= 5)) else 252


def drawdown_series(equity: pd.Series) -> pd.Series:
    """Drawdown d_t = E_t / max_{s<=t} E_s - 1 at every bar (0 at a new high, negative below it)."""
    values = equity.to_numpy(dtype=float)
    peak = np.maximum.accumulate(values)
    return pd.Series(values / peak - 1.0, index=equity.index, dtype=float)


def max_drawdown_duration_days(equity: pd.Series) -> float:
    """Longest span in days from a peak to the first bar back at or above it (or to the last bar)."""
    values = equity.to_numpy(dtype=float)
    ns = index_ns(equity.index)
    n = len(values)
    at_peak = values >= np.maximum.accumulate(values)
    under = ~at_peak
    if not bool(under.any()):
        return 0.0
    pos = np.arange(n)
    last_peak = np.maximum.accumulate(np.where(at_peak, pos, 0))
    next_peak = np.minimum.accumulate(np.where(at_peak, pos, n)[::-1])[::-1]
    recovery = np.where(next_peak < n, next_peak, n - 1)
    spans = ns[recovery[under]] - ns[last_peak[under]]
    return float(spans.max()) / NS_PER_DAY


def _return_metrics(returns: np.ndarray, ppy: int, risk_free: float) -> dict[str, float]:
    """Annualised volatility, Sharpe and Sortino from daily returns (NaN with fewer than 2 returns)."""
    out = {"volatility_ann": NAN, "sharpe": NAN, "sortino": NAN}
    if len(returns) < 2:
        return out
    rf_period = (1.0 + risk_free) ** (1.0 / ppy) - 1.0
    excess = returns - rf_period
    root = math.sqrt(ppy)
    std = float(np.std(returns, ddof=1))
    out["volatility_ann"] = std * root
    mean_excess = float(np.mean(excess))
    excess_std = float(np.std(excess, ddof=1))
    if excess_std >= STD_EPSILON:
        out["sharpe"] = mean_excess / excess_std * root
    downside = math.sqrt(float(np.mean(np.minimum(excess, 0.0) ** 2)))
    if downside >= STD_EPSILON:
        out["sortino"] = mean_excess / downside * root
    return out


def _tail_metrics(returns: np.ndarray) -> dict[str, float]:
    """Historical VaR (5%/1% quantile, linear interpolation) and CVaR (mean of returns <= VaR)."""
    out: dict[str, float] = {}
    for level, tail in ((95, 0.05), (99, 0.01)):
        if len(returns) < 2:
            out[f"var_{level}"], out[f"cvar_{level}"] = NAN, NAN
            continue
        var = float(np.quantile(returns, tail))
        below = returns[returns <= var]
        out[f"var_{level}"] = var
        out[f"cvar_{level}"] = float(below.mean()) if len(below) else var
    return out


def _cagr(initial: float, final: float, duration_days: float) -> float:
    """CAGR = (final / initial) ** (365.25 / duration_days) - 1; -1 if final <= 0; NaN if undefined."""
    if duration_days <= 0:
        return NAN
    if final <= 0:
        return -1.0
    with np.errstate(over="ignore"):
        value = float(np.power(final / initial, 365.25 / duration_days)) - 1.0
    return value if math.isfinite(value) else NAN


def trade_metrics(trades: pd.DataFrame) -> dict[str, float | int]:
    """Per-trade statistics on the net `pnl` column (account currency); NaN where nothing to average."""
    pnl = trades["pnl"].to_numpy(dtype=float) if len(trades) else np.empty(0)
    n = len(pnl)
    wins, losses = pnl[pnl > 0], pnl[pnl < 0]
    gross_win, gross_loss = float(wins.sum()), float(-losses.sum())
    no_loss_value = math.inf if gross_win > 0 else NAN
    profit_factor = gross_win / gross_loss if gross_loss > 0 else no_loss_value
    return {
        "trades": n,
        "win_rate": len(wins) / n if n else NAN,
        "profit_factor": profit_factor,
        "expectancy": float(pnl.mean()) if n else NAN,
        "avg_win": float(wins.mean()) if len(wins) else NAN,
        "avg_loss": float(losses.mean()) if len(losses) else NAN,
        "best_trade": float(pnl.max()) if n else NAN,
        "worst_trade": float(pnl.min()) if n else NAN,
    }


def exposure_from_trades(equity: pd.Series, trades: pd.DataFrame) -> float:
    """Fraction of equity bars t with at least one trade open, i.e. entry_time <= t < exit_time."""
    ns = index_ns(equity.index)
    if len(trades) == 0:
        return 0.0
    entry = index_ns(pd.DatetimeIndex(trades["entry_time"]))
    exit_ = index_ns(pd.DatetimeIndex(trades["exit_time"]))
    counts = np.zeros(len(ns) + 1, dtype=np.int64)
    np.add.at(counts, np.searchsorted(ns, entry, side="left"), 1)
    np.add.at(counts, np.searchsorted(ns, exit_, side="left"), -1)
    open_positions = np.cumsum(counts[:-1])
    return float(np.mean(open_positions > 0))


def compute_metrics(
    equity: pd.Series,
    trades: pd.DataFrame,
    exposure: pd.Series | None = None,
    *,
    periods_per_year: int | None = None,
    risk_free: float = 0.0,
) -> dict[str, float | int]:
    """All backtest metrics (keys in METRIC_KEYS); `risk_free` is an annual rate, compounded per period."""
    validate_equity(equity)
    ns = index_ns(equity.index)
    values = equity.to_numpy(dtype=float)
    ppy = int(periods_per_year) if periods_per_year is not None else infer_periods_per_year(equity)
    if ppy <= 0:
        raise ValueError(f"periods_per_year must be positive, got {ppy}")
    initial, final = float(values[0]), float(values[-1])
    duration_days = float(ns[-1] - ns[0]) / NS_PER_DAY
    returns = daily_returns(equity).to_numpy(dtype=float)
    max_dd = float(drawdown_series(equity).min())
    cagr = _cagr(initial, final, duration_days)
    calmar = cagr / abs(max_dd) if max_dd < 0 and not math.isnan(cagr) else NAN
    if exposure is not None:
        finite = exposure.to_numpy(dtype=float)
        finite = finite[np.isfinite(finite)]
        exposure_value = float(finite.mean()) if len(finite) else NAN
    else:
        exposure_value = exposure_from_trades(equity, trades)
    metrics: dict[str, float | int] = {
        "duration_days": duration_days,
        "initial_equity": initial,
        "final_equity": final,
        "total_return": final / initial - 1.0,
        "cagr": cagr,
        **_return_metrics(returns, ppy, risk_free),
        "calmar": calmar,
        "max_drawdown": max_dd,
        "max_drawdown_duration_days": max_drawdown_duration_days(equity),
        **_tail_metrics(returns),
        **trade_metrics(trades),
        "exposure": exposure_value,
        "periods_per_year": ppy,
        "risk_free": float(risk_free),
        "return_days": len(returns),
    }
    return {key: metrics[key] for key in METRIC_KEYS}


def period_bounds(equity: pd.Series) -> dict[str, str]:
    """ISO-8601 UTC timestamps of the first and last equity points: {"start": ..., "end": ...}."""
    ns = index_ns(equity.index)
    if len(ns) == 0:
        raise ValueError("equity is empty: the backtest produced no equity points")
    start, end = pd.Timestamp(int(ns[0]), tz="UTC"), pd.Timestamp(int(ns[-1]), tz="UTC")
    return {"start": start.isoformat(), "end": end.isoformat()}
