"""Machine-readable backtest outputs: the closed-trades CSV and the metrics JSON."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from traderbot.analytics.metrics import TRADE_COLUMNS, index_ns

JsonValue = float | int | str | None


def format_utc(times: pd.Series) -> list[str]:
    """ISO-8601 UTC text 'YYYY-MM-DDTHH:MM:SSZ' (with .ffffff when any value has sub-second precision)."""
    index = pd.DatetimeIndex(times)
    if len(index) == 0:
        return []
    ns = index_ns(index)
    fmt = "%Y-%m-%dT%H:%M:%S.%fZ" if bool(np.any(ns % 1_000_000_000 != 0)) else "%Y-%m-%dT%H:%M:%SZ"
    return [str(s) for s in index.tz_convert("UTC").strftime(fmt)]


def write_trades_csv(trades: pd.DataFrame, path: str | Path) -> Path:
    """Write exactly TRADE_COLUMNS, in that order, times as ISO-8601 UTC; a header-only file if empty."""
    missing = [c for c in TRADE_COLUMNS if c not in trades.columns]
    if missing:
        raise ValueError(f"trades table is missing columns {missing}; expected {list(TRADE_COLUMNS)}")
    out = trades.loc[:, list(TRADE_COLUMNS)].copy()
    for column in ("entry_time", "exit_time"):
        out[column] = format_utc(out[column])
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    out.to_csv(target, index=False, lineterminator="\n")
    return target


def json_safe(value: float | int) -> JsonValue:
    """JSON form of one metric: NaN -> null, +inf -> "inf", -inf -> "-inf", ints stay ints."""
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        return int(value)
    v = float(value)
    if math.isnan(v):
        return None
    if math.isinf(v):
        return "inf" if v > 0 else "-inf"
    return v


def metrics_to_jsonable(metrics: Mapping[str, float | int]) -> dict[str, JsonValue]:
    """The metrics dict with every value passed through `json_safe` (order kept)."""
    return {key: json_safe(value) for key, value in metrics.items()}


def write_metrics_json(
    path: str | Path, metrics: Mapping[str, float | int], *, period: Mapping[str, str] | None = None
) -> Path:
    """Write {"period": {...}, "metrics": {...}} as strict JSON (no NaN/Infinity tokens)."""
    document = {"period": dict(period or {}), "metrics": metrics_to_jsonable(metrics)}
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(document, indent=2, allow_nan=False) + "\n", encoding="utf-8")
    return target
