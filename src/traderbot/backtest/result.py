"""What a backtest returns: plain pandas objects (equity, trades) plus the metrics computed from them."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from traderbot.analytics.metrics import TRADE_COLUMNS
from traderbot.core.messages import TradeClosed


def trades_frame(trades: list[TradeClosed]) -> pd.DataFrame:
    """One row per closed trade (a partial close is its own row); money as float for analysis."""
    df = pd.DataFrame(
        {
            "instrument": [t.instrument_id for t in trades],
            "side": [t.side for t in trades],
            "quantity": [float(t.quantity) for t in trades],
            "entry_time": pd.to_datetime(np.array([t.entry_ts for t in trades], dtype=np.int64), utc=True),
            "exit_time": pd.to_datetime(np.array([t.exit_ts for t in trades], dtype=np.int64), utc=True),
            "entry_price": [float(t.entry_price) for t in trades],
            "exit_price": [float(t.exit_price) for t in trades],
            "pnl": [float(t.pnl) for t in trades],
            "commission": [float(t.commission) for t in trades],
            "return_pct": [
                float(t.pnl / t.entry_notional) if t.entry_notional else float("nan") for t in trades
            ],
            "bars_held": np.array([t.bars_held for t in trades], dtype=np.int64),
        },
        columns=list(TRADE_COLUMNS),
    )
    for col in ("entry_time", "exit_time"):
        df[col] = pd.to_datetime(df[col], utc=True).dt.as_unit("ns")
    return df


@dataclass
class BacktestResult:
    strategy: str
    params: dict[str, Any]
    pairs: list[str]
    equity: pd.Series
    exposure: pd.Series
    trades: pd.DataFrame
    metrics: dict[str, Any]
    final_equity_exact: str  # the Decimal account equity at the end, as text
    settings: dict[str, str] = field(default_factory=dict)
    orders: int = 0
    denied: int = 0
    denials: dict[str, int] = field(default_factory=dict)  # orders denied per risk reason code
    rejected: int = 0
    bars: int = 0
    open_positions: int = 0  # positions still open at the end (marked to market, not closed)
    logs: list[str] = field(default_factory=list)

    def to_json_dict(self) -> dict[str, Any]:
        m = {k: _num(v) for k, v in self.metrics.items()}
        trade_list = [
            {
                "instrument": r["instrument"],
                "side": r["side"],
                "quantity": r["quantity"],
                "entry_time": pd.Timestamp(r["entry_time"]).isoformat(),
                "exit_time": pd.Timestamp(r["exit_time"]).isoformat(),
                "entry_price": r["entry_price"],
                "exit_price": r["exit_price"],
                "pnl": r["pnl"],
                "commission": r["commission"],
                "bars_held": int(r["bars_held"]),
            }
            for r in self.trades.to_dict("records")
        ]
        return {
            "strategy": self.strategy,
            "params": self.params,
            "pairs": self.pairs,
            "settings": self.settings,
            "bars": self.bars,
            "trades": len(self.trades),
            "final_equity": _num(float(self.equity.iloc[-1])),
            "final_equity_exact": self.final_equity_exact,
            "total_return": m.get("total_return"),
            "sharpe": m.get("sharpe"),
            "max_drawdown": m.get("max_drawdown"),
            "open_positions": self.open_positions,
            "orders": self.orders,
            "denied": self.denied,
            "denials": self.denials,
            "rejected": self.rejected,
            "metrics": m,
            "trade_list": trade_list,
        }

    def to_json(self) -> str:
        return json.dumps(self.to_json_dict(), sort_keys=False, allow_nan=False, default=str)


def _num(v: Any) -> Any:
    if isinstance(v, float) and (math.isnan(v) or math.isinf(v)):
        return None if math.isnan(v) else ("inf" if v > 0 else "-inf")
    if hasattr(v, "item"):
        return _num(v.item())
    return v
