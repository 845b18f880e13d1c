"""A user store whose EURUSD 1-minute bars end now: real bars moved forward by whole weeks.

The cache is validated against the real clock (the trading guard), so a test that starts a pair needs bars of
the last 7 days. They are real HistData bars (2023-08 .. 2024-01) shifted by a whole number of weeks, taken from
a stretch with the same US daylight-saving state as the target days (the FX week opens and closes an hour
apart in summer and winter) and clear of the Christmas/New Year holidays, so the market calendar lines up.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pandas as pd

from traderbot.data.cache_manifest import record
from traderbot.data.loader import load_ohlcv_file
from traderbot.data.store import ParquetBarStore

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "histdata_fx_m1"
WEEK_NS = 7 * 86_400 * 10**9
SPAN_NS = 9 * 86_400 * 10**9  # a little more than the 7 days validated
SOURCE = (pd.Timestamp("2023-08-01", tz="UTC").value, pd.Timestamp("2023-12-20", tz="UTC").value)
_NY = ZoneInfo("America/New_York")


def _dst(ts_ns: int) -> bool:
    return bool(datetime.fromtimestamp(ts_ns / 1e9, tz=UTC).astimezone(_NY).dst())


def write_recent(root: Path, pair: str = "EURUSD", now_ns: int | None = None) -> Path:
    """Write `pair`'s shifted bars into the store at `root` (with their checksum) and return the file."""
    now = now_ns or time.time_ns()
    lo, hi = now - SPAN_NS, now + 3_600 * 10**9  # bars after now are ignored by the validation
    for k in range(1, 10_000):
        shift = k * WEEK_NS
        a, b = lo - shift, hi - shift
        if b > SOURCE[1]:
            continue
        if a < SOURCE[0]:
            raise RuntimeError("no stretch of the source data matches today's daylight-saving state")
        if all(_dst(t) == _dst(t + shift) for t in (a, (a + b) // 2, b)):
            break
    df, _ = load_ohlcv_file(DATA / f"{pair}_1m.parquet", instrument=pair, timeframe="1m")
    ts = df["ts"].astype("int64")
    part = df[(ts >= a) & (ts < b)].copy()
    part["ts"] = pd.to_datetime(part["ts"].astype("int64") + shift, utc=True)
    path = ParquetBarStore(root).write(pair, "1m", part.reset_index(drop=True), mode="replace")
    record(path)
    return path
