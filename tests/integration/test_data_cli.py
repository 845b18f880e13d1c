"""`traderbot data ...` through traderbot.cli.main, on temporary stores."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from traderbot.cli import main
from traderbot.data.store import ParquetBarStore

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "data"


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_import_histdata_then_list_inspect_resample(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store = str(tmp_path / "store")
    code, out, err = run(
        capsys,
        "data",
        "import",
        str(FIXTURES / "histdata_eurusd_m1.txt"),
        "--instrument",
        "EURUSD",
        "--timeframe",
        "1m",
        "--format",
        "histdata",
        "--store",
        store,
    )
    assert code == 0, err
    assert "Quality report: EURUSD 1m (calendar fx)" in out
    assert "imported 15 1m bars of EURUSD (histdata)" in out
    assert (tmp_path / "store" / "EURUSD" / "1m.parquet").is_file()

    code, out, _ = run(capsys, "data", "list", "--store", store)
    assert code == 0 and "EURUSD" in out and "user" in out and "sample" in out

    code, out, _ = run(capsys, "data", "inspect", "EURUSD", "--timeframe", "1m", "--store", store, "--json")
    report = json.loads(out)
    assert code == 0 and report["rows"] == 15 and report["missing_bars"] == 1

    code, out, _ = run(capsys, "data", "resample", "EURUSD", "--from", "1m", "--to", "5m", "--store", store)
    assert code == 0 and "into 4 5m bars" in out
    five = ParquetBarStore(tmp_path / "store").read("EURUSD", "5m")
    assert five["ts"].dt.strftime("%H:%M").tolist() == ["22:00", "22:05", "22:10", "22:15"]
    assert five["volume"].sum() == 0 and five["open"].iloc[0] == 1.07012


def test_format_is_guessed_and_csv_options_work(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    f = tmp_path / "de.csv"
    f.write_text(
        "Tag;Zeit;Kurs_E;Kurs_H;Kurs_T;Kurs_S\n02.01.2024;09:00;10;11;9;10.5\n02.01.2024;10:00;10.5;12;10;11\n"
    )
    code, out, err = run(
        capsys,
        "data",
        "import",
        str(f),
        "-i",
        "DAX",
        "--map",
        "date=Tag,time=Zeit,open=Kurs_E,high=Kurs_H,low=Kurs_T,close=Kurs_S",
        "--date-format",
        "%d.%m.%Y %H:%M",
        "--tz",
        "Europe/Berlin",
        "--store",
        str(tmp_path / "s"),
    )
    assert code == 0, err
    bars = ParquetBarStore(tmp_path / "s").read("DAX", "1h")
    assert bars["ts"].iloc[0] == pd.Timestamp("2024-01-02 08:00", tz="UTC")
    assert "DAX is not a known instrument" in out


def test_oanda_json_is_guessed_from_the_extension(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(
        capsys, "data", "import", str(FIXTURES / "oanda_eur_usd_m15.json"), "--store", str(tmp_path / "s")
    )
    assert code == 0, err
    assert ParquetBarStore(tmp_path / "s").has("EURUSD", "15m")


def test_malformed_csv_exits_2_names_the_line_and_leaves_the_store_unchanged(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store = tmp_path / "store"
    first = tmp_path / "good.csv"
    first.write_text("timestamp,open,high,low,close\n2023-03-05T23:00:00Z,1,1,1,1\n")
    assert (
        run(capsys, "data", "import", str(first), "-i", "EURUSD", "-t", "1m", "--store", str(store))[0] == 0
    )
    path = store / "EURUSD" / "1m.parquet"
    before = path.read_bytes()

    code, out, err = run(
        capsys,
        "data",
        "import",
        str(FIXTURES / "generic_malformed.csv"),
        "-i",
        "EURUSD",
        "-t",
        "1m",
        "--format",
        "csv",
        "--store",
        str(store),
    )
    assert code == 2
    assert "line 5: high 'abc' is not a number" in err and "--skip-bad-rows" in err
    assert "Traceback" not in err and err.startswith("error: ")
    assert path.read_bytes() == before

    code, out, err = run(
        capsys,
        "data",
        "import",
        str(FIXTURES / "generic_malformed.csv"),
        "-i",
        "EURUSD",
        "-t",
        "1m",
        "--skip-bad-rows",
        "--store",
        str(store),
    )
    assert code == 0, err
    assert "bad rows skipped: 3" in out and "line 8: ts 'not-a-date' is not a date/time" in out
    assert len(ParquetBarStore(store).read("EURUSD", "1m")) == 1 + 5


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["data", "inspect", "NOSUCH", "--timeframe", "1m"], "no 1m data for NOSUCH"),
        (["data", "inspect", "EURUSD", "--timeframe", "fortnight"], "unknown timeframe 'fortnight'"),
        (["data", "resample", "EURUSD", "--from", "15m", "--to", "5m"], "only longer timeframes"),
        (["data", "import", "/no/such/file.csv", "-i", "EURUSD"], "does not exist"),
        (
            ["data", "import", str(FIXTURES / "histdata_eurusd_m1.txt"), "-i", "EURUSD", "--format", "xls"],
            "unknown import format 'xls'",
        ),
        (
            ["data", "import", str(FIXTURES / "histdata_eurusd_m1.txt"), "-i", "EURUSD", "--mode", "append"],
            "unknown --mode 'append'",
        ),
        (
            ["data", "import", str(FIXTURES / "backtesting_style.csv"), "-i", "EURUSD", "--map", "x=y"],
            "bad --map entry 'x=y'",
        ),
    ],
)
def test_user_errors_exit_2_with_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    code, _, err = run(capsys, *args, "--store", str(tmp_path / "s"))
    assert code == 2
    assert message in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "s").exists() or not any((tmp_path / "s").rglob("*.parquet"))


def test_list_json_includes_sample_data(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "data", "list", "--json", "--store", str(tmp_path / "s"))
    rows = json.loads(out)
    assert code == 0
    spy = [r for r in rows if r["instrument"] == "SPY"]
    assert (
        len(spy) == 1
        and spy[0]["timeframe"] == "1d"
        and spy[0]["source"] == "sample"
        and spy[0]["rows"] > 5000
    )


def test_resample_sample_data_into_the_user_store(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    store = tmp_path / "s"
    code, _, err = run(
        capsys, "data", "resample", "EURUSD", "--from", "4h", "--to", "1d", "--store", str(store)
    )
    assert code == 0, err
    daily = ParquetBarStore(store).read("EURUSD", "1d")
    hours = set(daily["ts"].dt.hour)
    assert hours == {21, 22}  # the FX day opens 17:00 New York: 21:00 UTC in summer, 22:00 UTC in winter
