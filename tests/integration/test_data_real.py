"""Data layer on the real recorded market data in ../shared/data and on the bundled sample store."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import traderbot.data.importers.histdata as histdata_mod
from traderbot.data.ingest import import_file
from traderbot.data.quality import QualityReport, quality_report
from traderbot.data.resample import resample
from traderbot.data.store import ParquetBarStore
from traderbot.data.stores import sample_store

pytestmark = pytest.mark.shared_data
UTC = "UTC"


@pytest.fixture(scope="module")
def eurusd_1m(shared_data_dir: Path) -> pd.DataFrame:
    return pd.read_parquet(shared_data_dir / "histdata_fx_m1" / "EURUSD_1m.parquet")


@pytest.fixture(scope="module")
def eurusd_report(eurusd_1m: pd.DataFrame) -> QualityReport:
    return quality_report(eurusd_1m, timeframe="1m", instrument="EURUSD")


def _ts(text: str) -> pd.Timestamp:
    return pd.Timestamp(text, tz=UTC)


def test_histdata_hourly_holes_between_february_and_july(eurusd_report: QualityReport) -> None:
    gaps = eurusd_report.gap_list()
    window = [g for g in gaps if _ts("2023-02-19") <= g.start < _ts("2023-07-29")]
    hour_holes = [g for g in window if g.bars == 60 and g.length == pd.Timedelta(minutes=60)]
    assert 500 <= len(hour_holes) <= 700
    assert all(g.start.minute == 0 for g in hour_holes)  # whole clock hours
    assert sum(10 <= g.start.hour <= 23 for g in hour_holes) / len(hour_holes) > 0.95


def test_histdata_good_friday_closure_is_a_gap(eurusd_report: QualityReport) -> None:
    friday = [g for g in eurusd_report.gap_list() if g.start <= _ts("2023-04-07 12:00") < g.end]
    assert len(friday) == 1
    assert friday[0].bars >= 1200  # the whole FX day up to the 17:00 New York close
    assert friday[0].start.date() == pd.Timestamp("2023-04-07").date()


def test_histdata_after_july_only_holidays_and_known_short_holes(eurusd_report: QualityReport) -> None:
    late = [g for g in eurusd_report.gap_list() if g.start >= _ts("2023-07-31")]
    holidays = (_ts("2023-12-22"), _ts("2024-01-02"))
    big = [g for g in late if g.bars > 10 and not holidays[0] <= g.start < holidays[1]]
    # Found by this report and not listed in the data README: one 54-minute hole and three on 2024-01-15/16.
    assert [(str(g.start), g.bars) for g in big] == [
        ("2023-09-25 10:06:00+00:00", 54),
        ("2024-01-15 19:00:00+00:00", 60),
        ("2024-01-16 17:00:00+00:00", 60),
        ("2024-01-16 21:00:00+00:00", 180),
    ]
    assert sum(g.bars <= 5 for g in late) / len(late) > 0.9
    christmas = [g for g in late if g.start <= _ts("2023-12-25 12:00") < g.end]
    assert len(christmas) == 1 and christmas[0].bars > 600


def test_histdata_report_counts_are_consistent(eurusd_report: QualityReport, eurusd_1m: pd.DataFrame) -> None:
    r = eurusd_report
    assert r.rows == len(eurusd_1m) and r.calendar == "fx"
    assert r.missing_bars == sum(g.bars for g in r.gap_list())
    assert r.expected_bars - r.missing_bars == r.rows - r.gaps.off_session - r.gaps.off_grid
    assert (r.high_below_low, r.nan_values, r.non_positive) == (0, 0, 0)


def _write_histdata(df: pd.DataFrame, path: Path) -> None:
    local = (df["ts"].dt.tz_convert(None) - pd.Timedelta(hours=5)).dt.strftime("%Y%m%d %H%M%S")
    out = pd.DataFrame(
        {"dt": local, **{c: df[c].map("{:.6f}".format) for c in ("open", "high", "low", "close")}}
    )
    out["volume"] = "0"
    out.to_csv(path, sep=";", header=False, index=False)


def test_one_year_histdata_import_round_trips_on_the_fast_path(
    eurusd_1m: pd.DataFrame, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    text = tmp_path / "DAT_ASCII_EURUSD_M1_2023.csv"
    _write_histdata(eurusd_1m, text)

    def no_slow_path(*args: object, **kwargs: object) -> None:
        raise AssertionError("the per-line fallback must not run on a clean file")

    monkeypatch.setattr(histdata_mod, "read_text_table", no_slow_path)
    store = ParquetBarStore(tmp_path / "store")
    start = time.perf_counter()
    result = import_file(store, text, "histdata", instrument="EURUSD", timeframe="1m")
    elapsed = time.perf_counter() - start
    assert elapsed < 10  # the benchmark (benchmarks/bench_import.py) holds the real budget of 2 s
    back = store.read("EURUSD", "1m")
    assert result.rows_stored == len(eurusd_1m) == len(back)
    assert (back["ts"] == eurusd_1m["ts"]).all()
    np.testing.assert_allclose(back["close"].to_numpy(), eurusd_1m["close"].to_numpy(), rtol=0, atol=1e-9)


def test_resample_1m_to_15m_matches_an_independent_aggregation(eurusd_1m: pd.DataFrame) -> None:
    got = resample(eurusd_1m, "1m", "15m", instrument="EURUSD")
    ref = (
        eurusd_1m.set_index("ts")
        .resample("15min", label="left", closed="left")
        .agg({"open": "first", "high": "max", "low": "min", "close": "last", "volume": "sum"})
        .dropna(subset=["open"])
        .reset_index()
    )
    ref["ts"] = ref["ts"].dt.as_unit("ns")
    pd.testing.assert_frame_equal(got, ref, check_exact=True)


def test_resample_1m_to_fx_days(eurusd_1m: pd.DataFrame) -> None:
    days = resample(eurusd_1m, "1m", "1d", instrument="EURUSD")
    ny = days["ts"].dt.tz_convert("America/New_York")
    assert set(ny.dt.hour) == {17} and set(ny.dt.minute) == {0}
    assert 270 <= len(days) <= 285  # about 13 months of Monday..Friday sessions
    assert days["volume"].sum() == eurusd_1m["volume"].sum()
    jan3 = days[days["ts"] == _ts("2023-01-02 22:00")].iloc[0]  # Tuesday 2023-01-03's FX day
    window = eurusd_1m[
        (eurusd_1m["ts"] >= _ts("2023-01-02 22:00")) & (eurusd_1m["ts"] < _ts("2023-01-03 22:00"))
    ]
    assert jan3["high"] == window["high"].max() and jan3["close"] == window["close"].iloc[-1]


def test_a_year_of_minutes_reads_and_resamples_fast(eurusd_1m: pd.DataFrame, tmp_path: Path) -> None:
    store = ParquetBarStore(tmp_path)
    store.write("EURUSD", "1m", eurusd_1m)
    start = time.perf_counter()
    df = store.read("EURUSD", "1m")
    read_s = time.perf_counter() - start
    start = time.perf_counter()
    resample(df, "1m", "1h", instrument="EURUSD")
    resample_s = time.perf_counter() - start
    assert read_s < 1.0 and resample_s < 1.0
    part = store.read("EURUSD", "1m", start="2023-06-01", end="2023-07-01")
    assert (
        part["ts"].min() >= _ts("2023-06-01") and part["ts"].max() < _ts("2023-07-01") and len(part) > 20_000
    )


def test_sample_store_matches_its_sources(shared_data_dir: Path, sample_data_dir: Path) -> None:
    store = sample_store()
    pairs = {(e.instrument, e.timeframe) for e in store.list()}
    oanda = {(p.stem.split("_")[0], "15m") for p in (shared_data_dir / "oanda_fx_m15").glob("*.parquet")}
    expected = oanda | {(p, "4h") for p in ("EURUSD", "GBPUSD", "USDJPY", "EURJPY")} | {("SPY", "1d")}
    assert pairs == expected
    for instrument, tf, source in [
        ("EURUSD", "15m", "oanda_fx_m15/EURUSD_15m"),
        ("SPY", "1d", "lean_multi/SPY_1d"),
    ]:
        original = pd.read_parquet(shared_data_dir / f"{source}.parquet")
        pd.testing.assert_frame_equal(store.read(instrument, tf), original, check_exact=True)
    attribution = (sample_data_dir / "ATTRIBUTION.md").read_text()
    assert all(f"`{i}/{t}.parquet`" in attribution for i, t in pairs)
    assert "MIT" in attribution and "Apache-2.0" in attribution
    assert sum(p.stat().st_size for p in sample_data_dir.rglob("*.parquet")) < 8 * 1024 * 1024
    assert "histdata" not in attribution.lower()  # HistData has no redistribution licence


def test_sample_spy_report_flags_the_documented_bad_tick() -> None:
    r = quality_report(sample_store().read("SPY", "1d"), timeframe="1d", instrument="SPY")
    assert r.suspect_spikes >= 1 and _ts("2002-04-02") in r.examples["suspect_spikes"]
    assert r.missing_bars == 0  # every XNYS session 1998..2021 is present
