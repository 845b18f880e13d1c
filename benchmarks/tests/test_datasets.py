"""Benchmark datasets (benchmarks/peers/datasets.py) and the executable strategy spec (reference_run)."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:  # benchmarks/ is not an installed package
    sys.path.insert(0, str(ROOT))

from benchmarks.peers import FULL_EQUITY, reference_run  # noqa: E402
from benchmarks.peers.datasets import (  # noqa: E402
    from_canonical,
    gbm_minute_bars,
    to_canonical,
)


def test_gbm_same_seed_gives_identical_frames() -> None:
    a = gbm_minute_bars(20_000, seed=7)
    b = gbm_minute_bars(20_000, seed=7)
    pd.testing.assert_frame_equal(a, b, check_exact=True)
    c = gbm_minute_bars(20_000, seed=8)
    assert not np.array_equal(a["Close"].to_numpy(), c["Close"].to_numpy())


def test_gbm_prefix_does_not_depend_on_n_for_index_and_first_open() -> None:
    df = gbm_minute_bars(10, seed=1)
    assert df["Open"].iloc[0] == 100.0
    assert df.index[0] == pd.Timestamp("2020-01-01", tz="UTC")


def test_gbm_ohlc_relations_and_index() -> None:
    n = 50_000
    df = gbm_minute_bars(n, seed=42)
    o, h, lo, c, v = (df[k].to_numpy() for k in ("Open", "High", "Low", "Close", "Volume"))
    assert list(df.columns) == ["Open", "High", "Low", "Close", "Volume"]
    assert all(df[k].dtype == np.float64 for k in df.columns)
    assert len(df) == n
    assert (h >= np.maximum(o, c)).all()
    assert (lo <= np.minimum(o, c)).all()
    assert (lo > 0).all()
    assert (v > 0).all()
    assert o[0] == 100.0
    np.testing.assert_array_equal(o[1:], c[:-1])
    assert str(df.index.dtype) == "datetime64[ns, UTC]"
    assert (np.diff(df.index.asi8) == 60_000_000_000).all()
    assert df.index[0] == pd.Timestamp("2020-01-01 00:00", tz="UTC")
    r = np.diff(np.log(np.concatenate([[100.0], c])))
    assert abs(r.std() / 0.0005 - 1) < 0.02
    assert abs(r.mean()) < 5 * 0.0005 / np.sqrt(n)


def test_canonical_round_trip_and_traderbot_validation() -> None:
    df = gbm_minute_bars(1_000, seed=3)
    frame = to_canonical(df)
    assert list(frame.columns) == ["ts", "open", "high", "low", "close", "volume"]
    assert str(frame["ts"].dtype) == "datetime64[ns, UTC]"
    assert all(frame[k].dtype == np.float64 for k in frame.columns[1:])
    assert isinstance(frame.index, pd.RangeIndex)
    pd.testing.assert_frame_equal(from_canonical(frame), df, check_freq=False)
    from traderbot.data.frame import validate_frame

    pd.testing.assert_frame_equal(validate_frame(frame), frame)


def test_naive_index_is_taken_as_utc() -> None:
    df = gbm_minute_bars(5, seed=0)
    df.index = df.index.tz_localize(None).as_unit("us")
    frame = to_canonical(df)
    assert frame["ts"].iloc[0] == pd.Timestamp("2020-01-01", tz="UTC")
    assert str(frame["ts"].dtype) == "datetime64[ns, UTC]"


def test_backtesting_bundled_frames() -> None:
    import backtesting  # noqa: F401 - the bench extra is installed wherever these tests run (make bench)

    from benchmarks.peers.datasets import load_backtesting_eurusd, load_backtesting_goog

    for df, rows in ((load_backtesting_eurusd(), 5_000), (load_backtesting_goog(), 2_148)):
        assert len(df) == rows
        assert list(df.columns) == ["Open", "High", "Low", "Close", "Volume"]
        assert isinstance(df.index, pd.DatetimeIndex) and df.index.is_monotonic_increasing
        assert str(to_canonical(df)["ts"].dtype) == "datetime64[ns, UTC]"


def test_reference_run_fills_next_open_and_floors_to_1e8_units() -> None:
    # fast=1, slow=2: up-cross at t <=> close fell at t-1 and rose at t; down-cross is the mirror.
    close = [10.0, 9.0, 10.0, 11.0, 10.0, 12.0]
    open_ = [10.0, 10.0, 9.0, 10.0, 11.0, 12.0]
    df = pd.DataFrame(
        {"Open": open_, "Close": close}, index=pd.date_range("2020-01-01", periods=6, freq="min", tz="UTC")
    )
    res = reference_run(df, fast=1, slow=2)
    # up at t=2 -> buy at open[3]=10; down at t=4 -> sell at open[5]=12; up at t=5 (last bar) never fills.
    units = int((10_000.0 * FULL_EQUITY) // (10.0 * 1e-8))
    assert units == 99_999_999_999
    assert res.trades == 1
    assert res.final_equity == pytest.approx(10_000.0 + units * 2e-8, rel=1e-13)
    assert res.final_equity < 12_000.0
