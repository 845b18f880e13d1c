"""Trades CSV and metrics JSON writers."""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import pandas as pd
import pytest

from traderbot.analytics.metrics import TRADE_COLUMNS
from traderbot.analytics.report_io import json_safe, write_metrics_json, write_trades_csv


def sample_trades() -> pd.DataFrame:
    frame = pd.DataFrame(
        {
            "bars_held": [3, 7],
            "pnl": [12.5, -3.25],
            "instrument": ["EURUSD", "XAUUSD"],
            "side": ["long", "short"],
            "quantity": [1000.0, 2.0],
            "entry_time": pd.to_datetime(["2024-01-02 10:00:00", "2024-01-03 11:30:15"], utc=True),
            "exit_time": pd.to_datetime(["2024-01-02 13:00", "2024-01-04 00:00"], utc=True),
            "entry_price": [1.1, 2050.0],
            "exit_price": [1.1125, 2051.625],
            "commission": [0.5, 1.0],
            "return_pct": [0.0113636, -0.000792],
            "extra": ["dropped", "dropped"],
        }
    )
    frame["entry_time"] = frame["entry_time"].dt.as_unit("us")  # pandas 3 default unit; must not matter
    return frame


def test_trades_csv_fixed_columns_and_iso_utc(tmp_path: Path) -> None:
    path = write_trades_csv(sample_trades(), tmp_path / "out" / "trades.csv")
    with path.open(newline="") as fh:
        rows = list(csv.reader(fh))
    assert rows[0] == list(TRADE_COLUMNS)
    first = dict(zip(rows[0], rows[1], strict=True))
    second = dict(zip(rows[0], rows[2], strict=True))
    assert first["entry_time"] == "2024-01-02T10:00:00Z" and first["exit_time"] == "2024-01-02T13:00:00Z"
    assert second["entry_time"] == "2024-01-03T11:30:15Z"
    assert float(second["pnl"]) == -3.25 and first["instrument"] == "EURUSD" and second["bars_held"] == "7"
    assert len(rows) == 3


def test_trades_csv_subsecond_and_non_utc_input(tmp_path: Path) -> None:
    trades = sample_trades().iloc[:1].copy()
    trades["entry_time"] = pd.to_datetime(["2024-01-02 11:00:00.250"]).tz_localize("Europe/Berlin")
    path = write_trades_csv(trades, tmp_path / "t.csv")
    row = next(iter(csv.DictReader(path.open())))
    assert row["entry_time"] == "2024-01-02T10:00:00.250000Z"


def test_trades_csv_empty_is_header_only(tmp_path: Path) -> None:
    empty = pd.DataFrame({c: [] for c in TRADE_COLUMNS})
    path = write_trades_csv(empty, tmp_path / "t.csv")
    assert path.read_text() == ",".join(TRADE_COLUMNS) + "\n"


def test_trades_csv_missing_column_raises(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="commission"):
        write_trades_csv(sample_trades().drop(columns=["commission"]), tmp_path / "t.csv")


def test_metrics_json_null_for_nan_and_string_inf(tmp_path: Path) -> None:
    metrics: dict[str, float | int] = {"sharpe": math.nan, "profit_factor": math.inf, "x": -math.inf}
    metrics |= {"trades": 3, "cagr": 0.125}
    path = write_metrics_json(tmp_path / "m.json", metrics, period={"start": "a", "end": "b"})

    def reject(token: str) -> float:
        raise AssertionError(f"non-standard JSON token {token}")

    document = json.loads(path.read_text(), parse_constant=reject)
    assert document == {
        "period": {"start": "a", "end": "b"},
        "metrics": {"sharpe": None, "profit_factor": "inf", "x": "-inf", "trades": 3, "cagr": 0.125},
    }
    assert isinstance(document["metrics"]["trades"], int)
    assert json_safe(2.0) == 2.0 and isinstance(json_safe(2.0), float)
