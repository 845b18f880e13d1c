"""load_ohlcv_file: one-off CSV/Parquet files for `traderbot backtest --data FILE`."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from traderbot.data.loader import load_ohlcv_file
from traderbot.errors import UserError

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "data"


def test_backtesting_py_style_csv_is_sorted_and_deduplicated() -> None:
    df, report = load_ohlcv_file(FIXTURES / "backtesting_style.csv")
    assert df["ts"].dt.strftime("%H:%M").tolist() == ["21:00", "22:00", "23:00", "00:00"]
    assert df["close"].iloc[2] == 1.3061  # the last of the duplicated 23:00 rows wins
    assert (report.duplicates, report.out_of_order) == (1, 1)
    assert "duplicated stamps (last kept)            1" in report.to_text()


def test_nan_prices_are_refused_naming_the_lines() -> None:
    with pytest.raises(UserError) as err:
        load_ohlcv_file(FIXTURES / "nan_prices.csv")
    msg = str(err.value)
    assert "line 4: high is missing" in msg and "line 5: close is missing" in msg and "--drop-nan" in msg


def test_nan_prices_can_be_dropped_with_a_report() -> None:
    df, report = load_ohlcv_file(FIXTURES / "nan_prices.csv", drop_nan=True, instrument="SPY")
    assert len(df) == 3
    assert [b.where for b in report.bad_rows] == ["line 4", "line 5"]
    assert report.missing_bars == 2  # the two dropped sessions show up as gaps on the XNYS calendar


def test_drop_nan_does_not_hide_garbage(tmp_path: Path) -> None:
    f = tmp_path / "g.csv"
    f.write_text("Date,Open,High,Low,Close\n2020-01-02,1,2,0.5,abc\n2020-01-03,1,2,0.5,1\n")
    with pytest.raises(UserError, match="line 2: close 'abc' is not a number"):
        load_ohlcv_file(f, drop_nan=True)


def test_parquet_with_datetime_index_and_capitalised_columns(tmp_path: Path) -> None:
    idx = pd.DatetimeIndex(["2024-01-03", "2024-01-02", "2024-01-02"], name="Date")
    df = pd.DataFrame(
        {"Open": [2.0, 1.0, 1.1], "High": [3.0, 2, 2], "Low": [1.0, 0.5, 0.5], "Close": [2.5, 1, 1.2]}, idx
    )
    f = tmp_path / "x.parquet"
    df.to_parquet(f)
    out, report = load_ohlcv_file(f)
    assert out["close"].tolist() == [1.2, 2.5] and out["volume"].tolist() == [0.0, 0.0]
    assert str(out["ts"].dtype) == "datetime64[ns, UTC]"
    assert (report.duplicates, report.out_of_order) == (1, 1)


def test_parquet_nan_rows_named_by_time(tmp_path: Path) -> None:
    ts = pd.date_range("2024-01-01", periods=3, freq="1h", tz="UTC")
    df = pd.DataFrame(
        {"ts": ts, "open": 1.0, "high": 1.0, "low": 1.0, "close": [1.0, np.nan, 1.0], "volume": 0.0}
    )
    f = tmp_path / "n.parquet"
    df.to_parquet(f)
    with pytest.raises(UserError, match=r"1 bar\(s\) with missing prices \(at 2024-01-01 01:00:00\+00:00\)"):
        load_ohlcv_file(f)
    out, report = load_ohlcv_file(f, drop_nan=True)
    assert len(out) == 2 and len(report.bad_rows) == 1


def test_empty_and_broken_files(tmp_path: Path) -> None:
    empty = tmp_path / "e.csv"
    empty.write_text("")
    with pytest.raises(UserError, match="is empty"):
        load_ohlcv_file(empty)
    header_only = tmp_path / "h.csv"
    header_only.write_text("Date,Open,High,Low,Close\n")
    with pytest.raises(UserError, match="no usable bars"):
        load_ohlcv_file(header_only)
    broken = tmp_path / "b.parquet"
    broken.write_bytes(b"not parquet at all")
    with pytest.raises(UserError, match="not a readable Parquet file"):
        load_ohlcv_file(broken)
