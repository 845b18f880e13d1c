"""Validation of a cached series against the clock, on real EURUSD minute bars with planted defects."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from traderbot.data import cache_manifest
from traderbot.data.cache_validate import CacheConfig, validate
from traderbot.data.store import SCHEMA
from traderbot.errors import UserError

DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"
EURUSD = DATA / "histdata_fx_m1" / "EURUSD_1m.parquet"


def ns(text: str) -> int:
    return int(pd.Timestamp(text, tz="UTC").value)


NOW = ns("2023-08-16 12:00")


def real(start: str = "2023-08-09 12:00", end: str = "2023-08-16 12:00") -> pd.DataFrame:
    """Real bars with start <= ts < end; fails (never skips) when the shared data is missing."""
    if not EURUSD.is_file():
        pytest.fail(f"real data {EURUSD} is missing: mount the shared data next to the repository")
    lo, hi = pd.Timestamp(start, tz="UTC"), pd.Timestamp(end, tz="UTC")
    return pq.read_table(EURUSD, filters=[("ts", ">=", lo), ("ts", "<", hi)]).to_pandas()


def write_raw(df: pd.DataFrame, path: Path) -> Path:
    """Write bars as-is (the store refuses duplicates and disorder, a damaged cache file need not)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_pandas(df, schema=SCHEMA, preserve_index=False), path)
    cache_manifest.record(path)
    return path


def test_a_complete_real_week_is_valid_and_future_bars_are_ignored() -> None:
    later = real("2023-08-09 12:00", "2023-08-18")  # the replay store holds bars after the clock

    health = validate(later, "EURUSD", "1m", NOW)

    assert health.valid and health.last_bar_ns == ns("2023-08-16 11:59")
    assert health.rows == len(real()) and health.checksum == "unrecorded"
    assert health.score > 95.0  # an in-memory frame has no file: no checksum penalty


def test_a_duplicated_stamp_is_detected(tmp_path: Path) -> None:
    df = real()
    dup = pd.concat([df.iloc[:500], df.iloc[499:500], df.iloc[500:]], ignore_index=True)

    health = validate(write_raw(dup, tmp_path / "EURUSD" / "1m.parquet"), "EURUSD", "1m", NOW)

    assert not health.valid and health.duplicates == 1 and health.checksum == "ok"
    assert "1 duplicated bar stamp(s)" in health.failures


def test_a_high_below_the_low_is_a_bad_row_named_by_its_time(tmp_path: Path) -> None:
    df = real()
    df.loc[777, "high"] = df.loc[777, "low"] - 0.0005
    when = df.loc[777, "ts"].strftime("%Y-%m-%d %H:%M")

    health = validate(write_raw(df, tmp_path / "EURUSD" / "1m.parquet"), "EURUSD", "1m", NOW)

    assert not health.valid and health.bad_rows == 1
    assert health.failures[0].startswith("1 bar(s) with impossible prices") and when in health.failures[0]
    assert any(s <= ns(when) < e for s, e in health.missing_spans)  # the bad bar is refetched by a repair


def test_non_finite_and_non_positive_prices_are_bad_rows() -> None:
    df = real()
    df.loc[10, "close"] = float("nan")
    df.loc[20, "low"] = 0.0
    df.loc[30, "open"] = float("inf")

    assert validate(df, "EURUSD", "1m", NOW).bad_rows == 3


def test_unsorted_stamps_are_detected(tmp_path: Path) -> None:
    df = real()
    swapped = df.iloc[[*range(100), 101, 100, *range(102, len(df))]].reset_index(drop=True)

    health = validate(write_raw(swapped, tmp_path / "EURUSD" / "1m.parquet"), "EURUSD", "1m", NOW)

    assert not health.valid and health.unsorted == 1 and health.duplicates == 0
    assert "bar stamps out of order at 1 place(s)" in health.failures


def test_a_last_bar_an_hour_old_is_stale_while_the_market_is_open() -> None:
    health = validate(
        real(end="2023-08-16 11:00"), "EURUSD", "1m", NOW, CacheConfig(max_gap=timedelta(hours=2))
    )

    assert not health.valid and health.failures == [
        "stale: the last bar closed at 2023-08-16 11:00 UTC, 60 min before the clock (2023-08-16 12:00 UTC) "
        "while the fx market is open; allowed 5 min"
    ]


def test_at_the_weekend_the_last_bar_must_reach_the_friday_close() -> None:
    saturday = ns("2023-08-19 12:00")  # FX closed since Friday 21:00 UTC (17:00 New York, summer time)

    complete = validate(real("2023-08-12 12:00", "2023-08-19"), "EURUSD", "1m", saturday)
    early = validate(real("2023-08-12 12:00", "2023-08-18 20:00"), "EURUSD", "1m", saturday)

    assert complete.valid and complete.last_bar_ns == ns("2023-08-18 20:59")
    assert not early.valid
    assert any("before the last session close (2023-08-18 21:00 UTC)" in r for r in early.failures)


def test_missing_bars_under_the_tolerance_only_lower_the_score() -> None:
    df = real()
    holed = df[~((df["ts"] >= "2023-08-14 10:00") & (df["ts"] < "2023-08-14 10:20"))]

    health = validate(holed, "EURUSD", "1m", NOW)
    strict = validate(holed, "EURUSD", "1m", NOW, CacheConfig(max_gap=timedelta(minutes=10)))

    assert health.valid and health.score < validate(df, "EURUSD", "1m", NOW).score
    assert (ns("2023-08-14 10:00"), ns("2023-08-14 10:20")) in health.missing_spans
    assert not strict.valid and "2023-08-14 10:00 .. 10:20 UTC" in strict.failures[0]


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("max_missing_pct", -1.0),
        ("max_missing_pct", 150.0),
        ("window_days", 0.0),
        ("max_gap", timedelta(minutes=-5)),
        ("max_staleness", timedelta(0)),
        ("fx_holidays", ("easter_monday",)),
    ],
)
def test_impossible_thresholds_name_the_field_and_the_fix(field: str, value: object) -> None:
    with pytest.raises(UserError, match=f"cache config: {field} = .* is not allowed; use"):
        CacheConfig(**{field: value})  # type: ignore[arg-type]


def test_a_missing_file_is_a_user_error_naming_the_fix(tmp_path: Path) -> None:
    with pytest.raises(UserError, match=r"no cached file at .*traderbot cache refresh"):
        validate(tmp_path / "EURUSD" / "1m.parquet", "EURUSD", "1m", NOW)
