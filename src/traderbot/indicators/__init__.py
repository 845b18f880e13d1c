"""Numba-compiled, causal technical indicators, numerically equivalent to TA-Lib where TA-Lib has them.

Formulas, warm-ups, missing-value rules and the matching TA-Lib functions: docs/indicators.md.
"""

from traderbot.indicators.momentum import macd, roc, rsi
from traderbot.indicators.moving_averages import ema, sma, wma
from traderbot.indicators.qfh import qfh
from traderbot.indicators.statistics import rolling_volatility, zscore
from traderbot.indicators.stochastic import stoch, stoch_rsi
from traderbot.indicators.trend import adx
from traderbot.indicators.volatility import atr, bollinger

__all__ = [
    "adx",
    "atr",
    "bollinger",
    "ema",
    "macd",
    "qfh",
    "roc",
    "rolling_volatility",
    "rsi",
    "sma",
    "stoch",
    "stoch_rsi",
    "wma",
    "zscore",
]
