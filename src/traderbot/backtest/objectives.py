"""Objectives for parameter searches, computed from the sweep simulator's statistics.

Every objective is "higher is better"; `max_drawdown` is a negative fraction, so a shallower drawdown wins.
"""

from __future__ import annotations

import math

import numpy as np

from traderbot.backtest import _sweep_kernel as K
from traderbot.errors import UserError


def _ratio(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(b > 0, a / np.where(b > 0, b, 1.0), np.where(a > 0, math.inf, math.nan))


def objective_values(name: str, stats: np.ndarray) -> np.ndarray:
    trades = stats[:, K.S_TRADES]
    net = stats[:, K.S_GROSS_WIN] - stats[:, K.S_GROSS_LOSS]
    with np.errstate(divide="ignore", invalid="ignore"):
        table = {
            "sharpe": stats[:, K.S_SHARPE],
            "sortino": stats[:, K.S_SORTINO],
            "total_return": stats[:, K.S_RETURN],
            "final_equity": stats[:, K.S_FINAL],
            "max_drawdown": stats[:, K.S_MAXDD],
            "calmar": _ratio(stats[:, K.S_RETURN], -stats[:, K.S_MAXDD]),
            "profit_factor": _ratio(stats[:, K.S_GROSS_WIN], stats[:, K.S_GROSS_LOSS]),
            "expectancy": np.where(trades > 0, net / np.maximum(trades, 1), np.nan),
            "win_rate": np.where(trades > 0, stats[:, K.S_WINS] / np.maximum(trades, 1), np.nan),
        }
    if name not in table:
        raise UserError(f"unknown objective {name!r}: choose one of {', '.join(sorted(table))}")
    return np.asarray(table[name], dtype=np.float64)


OBJECTIVES = (
    "sharpe",
    "sortino",
    "calmar",
    "total_return",
    "final_equity",
    "max_drawdown",
    "profit_factor",
    "expectancy",
    "win_rate",
)
