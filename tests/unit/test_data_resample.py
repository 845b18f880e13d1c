"""Resampling: OHLCV aggregation, epoch-aligned bins, FX and exchange trading days, refusals."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from traderbot.data.resample import resample
from traderbot.errors import UserError
from traderbot.model.calendar import get_calendar


def frame(
    stamps: list[str] | pd.DatetimeIndex, ohlcv: list[tuple[float, float, float, float, float]]
) -> pd.DataFrame:
    ts = pd.DatetimeIndex(stamps).tz_localize("UTC") if isinstance(stamps, list) else stamps
    a = np.asarray(ohlcv, dtype=float)
    return pd.DataFrame(
        {
            "ts": ts.as_unit("ns"),
            "open": a[:, 0],
            "high": a[:, 1],
            "low": a[:, 2],
            "close": a[:, 3],
            "volume": a[:, 4],
        }
    )


def steady(stamps: pd.DatetimeIndex) -> pd.DataFrame:
    c = np.arange(len(stamps), dtype=float) + 100
    rows = [(x, x + 0.5, x - 0.5, x + 0.25, 1.0) for x in c]
    return frame(stamps, rows)


def test_one_minute_to_five_minutes_by_hand() -> None:
    df = frame(
        ["2024-01-02 10:01", "2024-01-02 10:02", "2024-01-02 10:04", "2024-01-02 10:05", "2024-01-02 10:09"],
        [(10, 12, 9, 11, 1), (11, 15, 10, 14, 2), (14, 14, 8, 9, 3), (9, 10, 9, 10, 4), (10, 11, 7, 8, 5)],
    )
    out = resample(df, "1m", "5m")
    assert out["ts"].tolist() == [
        pd.Timestamp("2024-01-02 10:00", tz="UTC"),
        pd.Timestamp("2024-01-02 10:05", tz="UTC"),
    ]
    assert out[["open", "high", "low", "close", "volume"]].to_numpy().tolist() == [
        [10, 15, 8, 9, 6],
        [9, 11, 7, 8, 9],
    ]


def test_empty_bins_are_not_emitted_and_bins_align_to_epoch() -> None:
    stamps = pd.DatetimeIndex(["2024-01-02 00:07", "2024-01-02 03:59", "2024-01-02 12:30"], tz="UTC")
    out = resample(steady(stamps), "1m", "4h")
    assert out["ts"].dt.strftime("%H:%M").tolist() == ["00:00", "12:00"]
    assert out["volume"].tolist() == [2.0, 1.0]
    assert str(out["ts"].dtype) == "datetime64[ns, UTC]"


def test_hourly_bins_are_utc_multiples_even_for_exchange_instruments() -> None:
    stamps = pd.date_range("2024-01-02 14:30", "2024-01-02 15:45", freq="15min", tz="UTC")
    out = resample(steady(stamps), "15m", "1h", instrument="SPY")
    assert out["ts"].dt.strftime("%H:%M").tolist() == ["14:00", "15:00"]


def test_fx_daily_bins_start_at_five_pm_new_york_across_the_dst_change() -> None:
    # US daylight time starts Sunday 2023-03-12: the FX day starts 22:00 UTC before, 21:00 UTC after.
    stamps = pd.date_range("2023-03-08 00:00", "2023-03-14 23:00", freq="1h", tz="UTC")
    stamps = stamps[get_calendar("fx").is_open(np.asarray(stamps.as_unit("ns").asi8))]
    df = steady(stamps)
    out = resample(df, "1h", "1d", instrument="EURUSD")
    labels = out["ts"].dt.strftime("%a %m-%d %H:%M").tolist()
    assert labels == [
        "Tue 03-07 22:00",  # Wednesday's session (the data starts inside it)
        "Wed 03-08 22:00",
        "Thu 03-09 22:00",  # Friday's session, closing Friday 17:00 New York = 22:00 UTC
        "Sun 03-12 21:00",  # Monday's session, now on US daylight time
        "Mon 03-13 21:00",
        "Tue 03-14 21:00",
    ]
    friday = out.iloc[2]
    window = df[(df["ts"] >= "2023-03-09 22:00") & (df["ts"] < "2023-03-10 22:00")]
    assert friday["open"] == window["open"].iloc[0] and friday["close"] == window["close"].iloc[-1]
    assert friday["high"] == window["high"].max() and friday["low"] == window["low"].min()
    assert friday["volume"] == 24 == len(window)
    assert out["volume"].sum() == len(df)


def test_fx_daily_weekend_bars_are_kept_in_their_own_bin() -> None:
    stamps = pd.DatetimeIndex(["2023-03-10 21:00", "2023-03-11 12:00", "2023-03-12 21:00"], tz="UTC")
    out = resample(steady(stamps), "1h", "1d", instrument="EURUSD")
    assert out["ts"].dt.strftime("%a %H:%M").tolist() == ["Thu 22:00", "Fri 22:00", "Sun 21:00"]


def test_fx_daily_bins_in_november_fall_back() -> None:
    stamps = pd.DatetimeIndex(
        ["2023-11-03 20:30", "2023-11-03 21:30", "2023-11-05 22:00", "2023-11-06 21:59"], tz="UTC"
    )
    out = resample(steady(stamps), "1m", "1d", instrument="EURUSD")
    # Friday 2023-11-03 is still EDT (close 21:00 UTC); from Sunday 2023-11-05 EST (open 22:00 UTC).
    assert out["ts"].dt.strftime("%m-%d %H:%M").tolist() == ["11-02 21:00", "11-03 21:00", "11-05 22:00"]
    assert out["volume"].tolist() == [1.0, 1.0, 2.0]


def test_exchange_daily_bins_use_the_session_date() -> None:
    stamps = pd.DatetimeIndex(
        ["2024-03-08 13:00", "2024-03-08 14:30", "2024-03-08 20:59", "2024-03-11 13:30", "2024-03-11 19:00"],
        tz="UTC",
    )  # 13:00 UTC is pre-market on the 8th (EST); the 11th is on US daylight time (open 13:30 UTC)
    out = resample(steady(stamps), "1m", "1d", instrument="SPY")
    assert out["ts"].dt.strftime("%Y-%m-%d %H:%M").tolist() == ["2024-03-08 00:00", "2024-03-11 00:00"]
    assert out["volume"].tolist() == [3.0, 2.0]


def test_daily_for_unknown_instrument_uses_utc_days() -> None:
    stamps = pd.DatetimeIndex(["2024-01-01 23:00", "2024-01-02 00:00", "2024-01-02 23:59"], tz="UTC")
    out = resample(steady(stamps), "1m", "1d", instrument="MYTOKEN")
    assert out["ts"].dt.strftime("%m-%d").tolist() == ["01-01", "01-02"]


@pytest.mark.parametrize(
    ("src", "dst", "message"),
    [
        ("15m", "5m", "only longer timeframes"),
        ("15m", "15m", "only longer timeframes"),
        ("15m", "20m", "not a whole multiple"),
        ("1h", "2d", "longer than 1d"),
        ("1m", "banana", "unknown timeframe"),
    ],
)
def test_refusals(src: str, dst: str, message: str) -> None:
    stamps = pd.date_range("2024-01-01", periods=8, freq="15min", tz="UTC")
    with pytest.raises(UserError, match=message):
        resample(steady(stamps), src, dst)


def test_data_finer_than_the_declared_source_is_refused() -> None:
    stamps = pd.date_range("2024-01-01", periods=30, freq="1min", tz="UTC")
    with pytest.raises(UserError, match="finer than 15m"):
        resample(steady(stamps), "15m", "1h")


def _reference(df: pd.DataFrame, minutes: int) -> pd.DataFrame:
    key = df["ts"].dt.floor(f"{minutes}min")
    g = df.groupby(key, sort=True)
    out = pd.DataFrame(
        {
            "open": g["open"].first(),
            "high": g["high"].max(),
            "low": g["low"].min(),
            "close": g["close"].last(),
            "volume": g["volume"].sum(),
        }
    )
    return out.rename_axis("ts").reset_index()


@settings(max_examples=40, deadline=None)
@given(
    offsets=st.lists(st.integers(min_value=0, max_value=5000), min_size=1, max_size=300, unique=True),
    minutes=st.sampled_from([2, 5, 15, 60, 240]),
)
def test_matches_a_pandas_groupby_reference(offsets: list[int], minutes: int) -> None:
    stamps = pd.DatetimeIndex(
        pd.Timestamp("2024-02-29 21:00", tz="UTC") + pd.to_timedelta(sorted(offsets), "min")
    )
    rng = np.random.default_rng(len(offsets) * minutes)
    o = rng.normal(100, 1, len(stamps))
    c = o + rng.normal(0, 0.2, len(stamps))
    h, lo = np.maximum(o, c) + rng.random(len(stamps)), np.minimum(o, c) - rng.random(len(stamps))
    df = frame(stamps, list(zip(o, h, lo, c, rng.integers(0, 9, len(stamps)).astype(float), strict=True)))
    got = resample(df, "1m", f"{minutes}m")
    want = _reference(df, minutes)
    want["ts"] = want["ts"].dt.as_unit("ns")
    pd.testing.assert_frame_equal(got, want, check_exact=True)
