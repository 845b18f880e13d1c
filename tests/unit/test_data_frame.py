"""Canonical bar frame: validation and canonicalisation."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from traderbot.data.frame import COLUMNS, canonicalize, validate_frame
from traderbot.errors import UserError


def _frame(stamps: list[str], closes: list[float], tz: str | None = "UTC") -> pd.DataFrame:
    ts = pd.DatetimeIndex(pd.to_datetime(stamps))
    ts = ts.tz_localize(tz) if tz else ts
    c = np.asarray(closes, dtype=float)
    return pd.DataFrame(
        {"ts": ts, "open": c, "high": c + 1, "low": c - 1, "close": c, "volume": np.ones(len(c))}
    )


def test_validate_frame_returns_canonical_types_and_order() -> None:
    df = _frame(["2024-01-01 00:00", "2024-01-01 00:01"], [1.0, 2.0]).astype({"volume": "int64"})
    out = validate_frame(df[["volume", "close", "low", "high", "open", "ts"]])
    assert list(out.columns) == list(COLUMNS)
    assert str(out["ts"].dtype) == "datetime64[ns, UTC]"
    assert all(out[c].dtype == np.float64 for c in COLUMNS[1:])


def test_validate_frame_localises_naive_stamps_as_utc() -> None:
    out = validate_frame(_frame(["2024-01-01 00:00"], [1.0], tz=None))
    assert out["ts"].iloc[0] == pd.Timestamp("2024-01-01 00:00", tz="UTC")


def test_validate_frame_converts_other_zones_to_utc() -> None:
    out = validate_frame(_frame(["2024-07-01 09:30"], [1.0], tz="America/New_York"))
    assert out["ts"].iloc[0] == pd.Timestamp("2024-07-01 13:30", tz="UTC")


def test_validate_frame_names_missing_columns() -> None:
    with pytest.raises(UserError, match="lacks column"):
        validate_frame(_frame(["2024-01-01"], [1.0]).drop(columns=["high"]))


@pytest.mark.parametrize("stamps", [["2024-01-01 00:01", "2024-01-01 00:00"], ["2024-01-01", "2024-01-01"]])
def test_validate_frame_refuses_unsorted_or_duplicated(stamps: list[str]) -> None:
    with pytest.raises(UserError, match="canonicalize"):
        validate_frame(_frame(stamps, [1.0, 2.0]))


def test_validate_frame_refuses_nan_prices_naming_the_bar() -> None:
    df = _frame(["2024-01-01 00:00", "2024-01-01 00:01"], [1.0, np.nan])
    with pytest.raises(UserError, match="2024-01-01 00:01"):
        validate_frame(df)


def test_validate_frame_refuses_text_prices() -> None:
    df = _frame(["2024-01-01"], [1.0]).astype({"close": "object"})
    df["close"] = ["x"]
    with pytest.raises(UserError, match="close"):
        validate_frame(df)


def test_canonicalize_sorts_and_keeps_last_duplicate() -> None:
    df = _frame(
        ["2024-01-01 00:02", "2024-01-01 00:00", "2024-01-01 00:02", "2024-01-01 00:01"], [3, 1, 33, 2]
    )
    out, stats = canonicalize(df)
    assert out["close"].tolist() == [1.0, 2.0, 33.0]
    assert stats.duplicates_dropped == 1
    assert stats.out_of_order == 2  # two descending steps
    assert stats.rows_in == 4
