"""HistData M1 ASCII importer."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from traderbot.data.importers import import_histdata
from traderbot.errors import UserError

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "data"


def test_semicolon_file_is_converted_from_fixed_utc_minus_5() -> None:
    df, report = import_histdata(FIXTURES / "histdata_eurusd_m1.txt", instrument="EURUSD")
    assert len(df) == 15
    assert df["ts"].iloc[0] == pd.Timestamp("2023-01-02 22:00", tz="UTC")  # 17:00 EST
    assert df.iloc[0][["open", "high", "low", "close", "volume"]].tolist() == [
        1.07012,
        1.07022,
        1.07003,
        1.07018,
        0,
    ]
    assert report.timeframe == "1m" and report.calendar == "fx"
    assert (report.missing_bars, report.gap_runs) == (1, 1)  # 17:06 EST is absent in the file
    assert report.zero_range_bars == 1
    assert any("UTC-05:00" in n for n in report.notes)


def test_comma_variant_gives_the_same_bars() -> None:
    semi, _ = import_histdata(FIXTURES / "histdata_eurusd_m1.txt")
    comma, _ = import_histdata(FIXTURES / "histdata_eurusd_m1_comma.csv")
    pd.testing.assert_frame_equal(semi, comma)


@pytest.mark.parametrize(
    ("tz", "hour"), [("-04:00", 21), ("UTC", 17), ("America/New_York", 22), ("+01:00", 16)]
)
def test_source_zone_is_an_option(tz: str, hour: int) -> None:
    df, _ = import_histdata(FIXTURES / "histdata_eurusd_m1.txt", tz=tz)
    assert df["ts"].iloc[0] == pd.Timestamp(f"2023-01-02 {hour}:00", tz="UTC")


def test_unknown_zone_is_a_user_error() -> None:
    with pytest.raises(UserError, match="unknown time zone 'Mars/Olympus'"):
        import_histdata(FIXTURES / "histdata_eurusd_m1.txt", tz="Mars/Olympus")


def test_malformed_lines_are_named_and_nothing_is_returned() -> None:
    with pytest.raises(UserError) as err:
        import_histdata(FIXTURES / "histdata_malformed.txt")
    msg = str(err.value)
    assert "line 4: high 'abc' is not a number" in msg
    assert "line 6: close is missing" in msg
    assert "line 7: ts '2023010 170600' is not a date/time" in msg
    assert "--skip-bad-rows" in msg


def test_skip_bad_rows_drops_and_lists_them() -> None:
    df, report = import_histdata(FIXTURES / "histdata_malformed.txt", skip_bad_rows=True)
    assert len(df) == 5
    assert [b.where for b in report.bad_rows] == ["line 4", "line 6", "line 7"]


def test_wrong_field_count_is_reported_with_its_line(tmp_path: Path) -> None:
    f = tmp_path / "x.txt"
    f.write_text("20230102 170000;1.1;1.2;1.0;1.1;0\n20230102 170100;1.1;1.2;1.0;1.1;0;7;8\n")
    with pytest.raises(UserError, match=r"line 2: expected 6 fields, found 8"):
        import_histdata(f)


def test_not_histdata_and_empty_files_are_refused(tmp_path: Path) -> None:
    empty = tmp_path / "empty.txt"
    empty.write_text("")
    with pytest.raises(UserError, match="is empty"):
        import_histdata(empty)
    other = tmp_path / "other.txt"
    other.write_text("hello world\n")
    with pytest.raises(UserError, match="does not look like HistData"):
        import_histdata(other)
    with pytest.raises(UserError, match="does not exist"):
        import_histdata(tmp_path / "missing.txt")
