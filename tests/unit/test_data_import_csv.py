"""Generic OHLCV CSV importer: detection, mapping, formats, time zones, bad rows."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from traderbot.data.importers import import_csv
from traderbot.data.importers.csv import parse_mapping
from traderbot.errors import UserError

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "data"


def write(tmp_path: Path, text: str, name: str = "bars.csv") -> Path:
    f = tmp_path / name
    f.write_text(text)
    return f


def test_auto_detects_lowercase_columns_without_volume(tmp_path: Path) -> None:
    f = write(
        tmp_path, "time,open,high,low,close\n2024-01-02 10:00,1,2,0.5,1.5\n2024-01-02 10:01,1.5,2,1,1.8\n"
    )
    df, report = import_csv(f)
    assert df["volume"].tolist() == [0.0, 0.0]
    assert df["ts"].iloc[1] == pd.Timestamp("2024-01-02 10:01", tz="UTC")
    assert report.timeframe == "1m"


def test_capitalised_columns_semicolons_and_tab(tmp_path: Path) -> None:
    for sep in (";", "\t"):
        f = write(
            tmp_path,
            f"Datetime{sep}Open{sep}High{sep}Low{sep}Close{sep}Volume\n2024-01-02{sep}1{sep}2{sep}0.5{sep}1{sep}7\n",
        )
        df, _ = import_csv(f)
        assert df["volume"].iloc[0] == 7.0


def test_explicit_mapping_and_date_format(tmp_path: Path) -> None:
    text = (
        "Tag,Eröffnung,Hoch,Tief,Schluss,Umsatz\n"
        "02.01.2024 09:00,10,11,9,10.5,100\n02.01.2024 10:00,10.5,12,10,11,50\n"
    )
    f = write(tmp_path, text)
    mapping = parse_mapping("ts=Tag,open=Eröffnung,high=Hoch,low=Tief,close=Schluss,volume=Umsatz")
    df, _ = import_csv(f, mapping=mapping, date_format="%d.%m.%Y %H:%M")
    assert df["ts"].iloc[0] == pd.Timestamp("2024-01-02 09:00", tz="UTC")
    assert df["volume"].tolist() == [100.0, 50.0]


def test_separate_date_and_time_columns(tmp_path: Path) -> None:
    f = write(
        tmp_path, "Date,Time,Open,High,Low,Close\n2024-01-02,09:30,1,2,0.5,1\n2024-01-02,09:31,1,2,0.5,1\n"
    )
    df, _ = import_csv(f, tz="America/New_York")
    assert df["ts"].iloc[0] == pd.Timestamp("2024-01-02 14:30", tz="UTC")


def test_naive_local_stamps_through_the_dst_fall_back(tmp_path: Path) -> None:
    # New York 2023-11-05: 01:00-01:59 happens twice (EDT, then EST).
    rows = [
        "2023-11-05 00:30",
        "2023-11-05 01:00",
        "2023-11-05 01:30",
        "2023-11-05 01:00",
        "2023-11-05 01:30",
        "2023-11-05 02:00",
    ]
    f = write(tmp_path, "ts,open,high,low,close\n" + "".join(f"{r},1,1,1,1\n" for r in rows))
    df, report = import_csv(f, tz="America/New_York")
    assert df["ts"].dt.strftime("%H:%M").tolist() == ["04:30", "05:00", "05:30", "06:00", "06:30", "07:00"]
    assert report.duplicates == 0


def test_stamps_in_the_spring_gap_are_moved_and_noted(tmp_path: Path) -> None:
    f = write(tmp_path, "ts,open,high,low,close\n2024-03-10 01:30,1,1,1,1\n2024-03-10 02:30,1,1,1,1\n")
    df, report = import_csv(f, tz="America/New_York")
    assert df["ts"].iloc[1] == pd.Timestamp("2024-03-10 07:00", tz="UTC")
    assert any("daylight-saving gap" in n for n in report.notes)


def test_offset_aware_and_unix_stamps(tmp_path: Path) -> None:
    aware = write(tmp_path, "ts,open,high,low,close\n2024-01-02T10:00:00+02:00,1,1,1,1\n", "a.csv")
    assert import_csv(aware, tz="Asia/Tokyo")[0]["ts"].iloc[0] == pd.Timestamp("2024-01-02 08:00", tz="UTC")
    unix = write(tmp_path, "timestamp,open,high,low,close\n1704189600,1,1,1,1\n1704189660,1,1,1,1\n", "u.csv")
    assert import_csv(unix)[0]["ts"].iloc[0] == pd.Timestamp("2024-01-02 10:00", tz="UTC")
    millis = write(tmp_path, "timestamp,open,high,low,close\n1704189600000,1,1,1,1\n", "m.csv")
    assert import_csv(millis)[0]["ts"].iloc[0] == pd.Timestamp("2024-01-02 10:00", tz="UTC")


def test_malformed_rows_are_refused_with_line_numbers() -> None:
    with pytest.raises(UserError) as err:
        import_csv(FIXTURES / "generic_malformed.csv")
    msg = str(err.value)
    assert msg.startswith("generic_malformed.csv has 3 malformed row(s)")
    assert "line 5: high 'abc' is not a number" in msg and "line 8: ts 'not-a-date'" in msg


def test_blank_lines_do_not_shift_line_numbers(tmp_path: Path) -> None:
    f = write(tmp_path, "ts,open,high,low,close\n2024-01-02 10:00,1,1,1,1\n\n2024-01-02 10:01,1,oops,1,1\n")
    with pytest.raises(UserError, match="line 4: high 'oops' is not a number"):
        import_csv(f)


def test_ragged_rows_are_found_by_the_line_scan(tmp_path: Path) -> None:
    f = write(tmp_path, "ts,open,high,low,close\n2024-01-02 10:00,1,1,1,1\n2024-01-02 10:01,1,1,1,1,9,9\n")
    with pytest.raises(UserError, match="line 3: expected 5 fields, found 7"):
        import_csv(f)
    df, report = import_csv(f, skip_bad_rows=True)
    assert len(df) == 1 and str(report.bad_rows[0]) == "line 3: expected 5 fields, found 7"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("ts,open,high,low\n2024-01-02,1,1,1\n", "no column for close"),
        ("20240102,1,1,1,1\n20240103,1,1,1,1\n", "looks like data"),
        ("ts,open,high,low,close\n", "no usable bars"),
    ],
)
def test_unusable_files(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(UserError, match=message):
        import_csv(write(tmp_path, text))


def test_bad_mapping_entries() -> None:
    with pytest.raises(UserError, match="bad --map entry 'price=Close'"):
        parse_mapping("ts=Date,price=Close")
    with pytest.raises(UserError, match="bad --map entry 'open'"):
        parse_mapping("open")


def test_mapping_to_a_missing_column(tmp_path: Path) -> None:
    f = write(tmp_path, "ts,open,high,low,close\n2024-01-02,1,1,1,1\n")
    with pytest.raises(UserError, match=r"column 'Schluss' from --map is not in bars\.csv"):
        import_csv(f, mapping={"close": "Schluss"})


def test_declared_timeframe_coarser_than_the_data_is_refused(tmp_path: Path) -> None:
    rows = "".join(f"2024-01-02 10:{m:02d},1,1,1,1\n" for m in range(10))
    f = write(tmp_path, "ts,open,high,low,close\n" + rows)
    with pytest.raises(UserError, match="holds 1m bars, finer than the given timeframe 15m"):
        import_csv(f, timeframe="15m")
