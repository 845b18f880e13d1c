"""An intraday volume profile learned from stored bars: the average share of a session's volume per time of day.

    share[b] = mean over the last N sessions d of  volume(d, bucket b) / volume(d)

Sessions are local calendar days (`tz`, default UTC) that have volume. Only bars that had closed by `before_ns`
are read, and only sessions that ended before the day of `before_ns` are used (today is incomplete), so a
profile can never see the future; `last_bar_close_ns` records the newest bar it was built from.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from traderbot.errors import UserError

DAY_NS = 86_400_000_000_000


class NoVolumeProfile(UserError):
    """There is nothing to learn a profile from (no bars with volume before the start)."""


@dataclass(frozen=True, slots=True)
class VolumeProfile:
    bucket_ns: int
    shares: tuple[float, ...]  # one per bucket of the local day; sums to 1
    sessions: int  # how many sessions were averaged
    tz: str
    last_bar_close_ns: int  # the newest bar used

    @staticmethod
    def learn(
        ts_open: np.ndarray,
        volume: np.ndarray,
        bar_ns: int,
        *,
        before_ns: int,
        sessions: int = 20,
        bucket_ns: int = 15 * 60 * 1_000_000_000,
        tz: str = "UTC",
    ) -> VolumeProfile:
        """Learn from bars (open times in UTC ns, volumes) of one instrument; NoVolumeProfile if none usable."""
        if bucket_ns < bar_ns:
            raise NoVolumeProfile(
                f"the profile bucket ({bucket_ns // 60_000_000_000}m) is shorter than the bars "
                f"({bar_ns // 60_000_000_000}m): use a bucket at least as long as one bar"
            )
        ts = np.asarray(ts_open, dtype=np.int64)
        vol = np.asarray(volume, dtype=np.float64)
        known = ts + bar_ns <= before_ns  # closed by the cut-off
        ts, vol = ts[known], vol[known]
        local = _local_ns(ts, tz)
        day = local // DAY_NS
        today = _local_ns(np.array([before_ns], dtype=np.int64), tz)[0] // DAY_NS
        ok = (day < today) & np.isfinite(vol) & (vol > 0)
        ts, day, local, vol = ts[ok], day[ok], local[ok], vol[ok]
        days = np.unique(day)[-sessions:] if sessions > 0 else np.unique(day)[:0]
        if len(days) == 0:
            raise NoVolumeProfile(
                "no complete session with volume before the start: VWAP needs stored bars with real volume "
                "(HistData FX minute files have volume 0) from earlier days"
            )
        keep = np.isin(day, days)
        n_buckets = DAY_NS // bucket_ns
        row = np.searchsorted(days, day[keep])
        col = (local[keep] % DAY_NS) // bucket_ns
        grid = np.zeros((len(days), n_buckets))
        np.add.at(grid, (row, col), vol[keep])
        shares = (grid / grid.sum(axis=1, keepdims=True)).mean(axis=0)
        last = int(ts[keep].max()) + bar_ns
        return VolumeProfile(bucket_ns, tuple(float(x) for x in shares), len(days), tz, last)

    @staticmethod
    def from_store(
        store: Any,
        instrument_id: str,
        timeframe: str,
        *,
        before_ns: int,
        sessions: int = 20,
        bucket_ns: int = 15 * 60 * 1_000_000_000,
        tz: str = "UTC",
    ) -> VolumeProfile:
        """Learn from a bar store (ParquetBarStore or the layered store), reading only bars before the cut-off."""
        from traderbot.model.timeframe import Timeframe

        bar_ns = Timeframe.parse(timeframe).ns
        df = store.read(instrument_id, timeframe, None, pd.Timestamp(before_ns, tz="UTC"))
        ts = np.asarray(pd.DatetimeIndex(df["ts"]).as_unit("ns").asi8, dtype=np.int64)
        return VolumeProfile.learn(
            ts,
            df["volume"].to_numpy(np.float64),
            bar_ns,
            before_ns=before_ns,
            sessions=sessions,
            bucket_ns=bucket_ns,
            tz=tz,
        )

    def mass(self, start_ns: int, end_ns: int) -> float:
        """Expected share of a day's volume traded in [start, end) by local time of day (whole days add 1)."""
        if end_ns <= start_ns:
            return 0.0
        a, b = (int(x) for x in _local_ns(np.array([start_ns, end_ns], dtype=np.int64), self.tz))
        b = max(b, a)
        shares, size, n = self.shares, self.bucket_ns, len(self.shares)
        total, t = 0.0, a
        while t < b:
            j = (t % DAY_NS) // size
            seg_end = min(t - t % size + size, b)
            total += shares[j % n] * (seg_end - t) / size
            t = seg_end
        return total


def _local_ns(ts: np.ndarray, tz: str) -> np.ndarray:
    """Local wall-clock nanoseconds of UTC stamps (identity for UTC)."""
    if tz.upper() == "UTC" or len(ts) == 0:
        return ts
    idx = pd.DatetimeIndex(pd.to_datetime(ts, utc=True)).tz_convert(tz).tz_localize(None)
    return np.asarray(idx.as_unit("ns").asi8, dtype=np.int64)
