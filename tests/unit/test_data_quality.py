"""Quality report: planted defects, calendar-aware gaps, rendering."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from traderbot.data.importers import import_csv
from traderbot.data.quality import infer_timeframe, quality_report

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "data"


def bars(stamps: pd.DatetimeIndex) -> pd.DataFrame:
    n = len(stamps)
    c = 1.1 + np.sin(np.arange(n)) * 0.001
    return pd.DataFrame(
        {
            "ts": stamps.as_unit("ns"),
            "open": c,
            "high": c + 0.0005,
            "low": c - 0.0005,
            "close": c,
            "volume": 1.0,
        }
    )


def hourly(start: str, end: str) -> pd.DatetimeIndex:
    return pd.date_range(start, end, freq="1h", tz="UTC")


def test_planted_defects_are_all_found() -> None:
    _, r = import_csv(FIXTURES / "generic_defects_1h.csv", instrument="EURUSD")
    assert (r.rows, r.timeframe, r.calendar) == (14, "1h", "fx")
    assert (r.duplicates, r.out_of_order) == (1, 1)
    assert (r.high_below_low, r.open_outside_range, r.close_outside_range) == (1, 2, 2)
    assert (r.non_positive, r.zero_range_bars, r.nan_values, r.suspect_spikes) == (1, 1, 0, 1)
    assert (r.missing_bars, r.gap_runs) == (3, 1)
    gap = r.gap_list()[0]
    assert gap.start == pd.Timestamp("2023-03-06 05:00", tz="UTC")
    assert gap.end == pd.Timestamp("2023-03-06 08:00", tz="UTC")
    assert gap.bars == 3 and gap.length == pd.Timedelta(hours=3)
    assert r.examples["high_below_low"] == [pd.Timestamp("2023-03-06 09:00", tz="UTC")]


def test_fx_weekend_is_not_a_gap_but_a_missing_monday_hour_is() -> None:
    # 2023-03-10 is a Friday in EST (close 22:00 UTC); DST starts 2023-03-12, so Sunday opens at 21:00 UTC.
    stamps = pd.DatetimeIndex(
        hourly("2023-03-10 00:00", "2023-03-10 21:00").append(hourly("2023-03-12 21:00", "2023-03-13 12:00"))
    )
    r = quality_report(bars(stamps), timeframe="1h", instrument="EURUSD")
    assert r.missing_bars == 0 and r.gaps.off_session == 0
    holed = stamps[stamps != pd.Timestamp("2023-03-13 05:00", tz="UTC")]
    r2 = quality_report(bars(holed), timeframe="1h", instrument="EURUSD")
    assert r2.missing_bars == 1
    assert r2.gap_list()[0].start == pd.Timestamp("2023-03-13 05:00", tz="UTC")


def test_weekend_bars_count_as_off_session_for_fx() -> None:
    stamps = hourly("2023-03-10 20:00", "2023-03-11 02:00")  # Saturday bars should not exist
    r = quality_report(bars(stamps), timeframe="1h", instrument="EURUSD")
    assert r.gaps.off_session == 5  # 22:00 .. 02:00 on a closed market


def test_unknown_instrument_uses_24_7_with_a_note() -> None:
    stamps = hourly("2023-03-10 00:00", "2023-03-13 00:00")
    r = quality_report(bars(stamps.delete(30)), instrument="MYTOKEN")
    assert r.calendar == "24/7" and r.missing_bars == 1
    assert any("MYTOKEN is not a known instrument" in n for n in r.notes)
    assert r.timeframe == "1h" and r.timeframe_inferred


def test_exchange_daily_gaps_follow_sessions_and_skip_holidays() -> None:
    sessions = pd.DatetimeIndex(
        ["2023-01-09", "2023-01-10", "2023-01-11", "2023-01-12", "2023-01-13", "2023-01-17", "2023-01-18"],
        tz="UTC",
    )  # 2023-01-16 is Martin Luther King Day: the exchange is closed
    r = quality_report(bars(sessions), timeframe="1d", instrument="SPY")
    assert (r.calendar, r.missing_bars, r.expected_bars) == ("XNYS", 0, 7)
    r2 = quality_report(bars(sessions.delete(2)), timeframe="1d", instrument="SPY")
    assert r2.missing_bars == 1 and r2.gap_list()[0].start == pd.Timestamp("2023-01-11", tz="UTC")


def test_fx_daily_bars_labelled_at_new_york_five_pm_have_no_gaps() -> None:
    labels = pd.DatetimeIndex(
        ["2023-03-08 22:00", "2023-03-09 22:00", "2023-03-12 21:00", "2023-03-13 21:00"], tz="UTC"
    )  # Thu, Fri, Mon (after the US DST change), Tue sessions
    r = quality_report(bars(labels), timeframe="1d", instrument="EURUSD")
    assert r.missing_bars == 0 and r.expected_bars == 4


def test_report_renders_as_text_and_json() -> None:
    _, r = import_csv(FIXTURES / "generic_defects_1h.csv", instrument="EURUSD")
    text = r.to_text()
    assert "Quality report: EURUSD 1h (calendar fx)" in text
    assert "3 missing in 1 gap(s)" in text
    assert "2023-03-06 05:00 .. 2023-03-06 08:00" in text
    d = json.loads(json.dumps(r.to_dict()))
    assert d["high_below_low"] == 1 and d["largest_gaps"][0]["bars"] == 3
    assert d["first"] == "2023-03-06T00:00:00+00:00"


def test_skipped_bad_rows_are_listed_in_the_report() -> None:
    _, r = import_csv(FIXTURES / "generic_malformed.csv", skip_bad_rows=True)
    assert [str(b) for b in r.bad_rows] == [
        "line 5: high 'abc' is not a number",
        "line 7: close is missing",
        "line 8: ts 'not-a-date' is not a date/time",
    ]
    assert "line 5: high 'abc' is not a number" in r.to_text()


@pytest.mark.parametrize(
    ("step", "expected"), [("1min", "1m"), ("15min", "15m"), ("4h", "4h"), ("1D", "1d"), ("90s", "90s")]
)
def test_infer_timeframe_uses_the_most_common_spacing(step: str, expected: str) -> None:
    stamps = pd.date_range("2024-01-01", periods=50, freq=step, tz="UTC").as_unit("ns")
    stamps = stamps.delete([5, 6, 7, 20])  # holes must not change the answer
    tf = infer_timeframe(np.asarray(stamps.asi8))
    assert tf is not None and tf.name == expected
