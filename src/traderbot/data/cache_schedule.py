"""When to refresh the cache (every N minutes while the market is open, and once ahead of the open), and the
refresh itself: fetch from the last stored bar to now and append."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pyarrow.parquet as pq

from traderbot.data import cache_manifest
from traderbot.data.cache_repair import CandleSource, fetch_frame
from traderbot.data.sessions import resolve_calendar
from traderbot.data.store import normalize_instrument, parse_timeframe
from traderbot.errors import UserError
from traderbot.model.calendar import get_calendar

if TYPE_CHECKING:
    from traderbot.data.market_cache import MarketDataCache

MINUTE_NS = 60_000_000_000
_SEARCH_CHUNK = 7 * 24 * 60  # minutes scanned per step when looking for the next open
_SEARCH_WEEKS = 8


def _ns(delta: timedelta) -> int:
    return int(delta.total_seconds() * 1e9)


@dataclass(frozen=True)
class RefreshSchedule:
    """Refresh every `every` while the market is open, and once `lead_before_open` before each open."""

    every: timedelta = timedelta(minutes=15)
    lead_before_open: timedelta = timedelta(minutes=15)

    def __post_init__(self) -> None:
        if self.every <= timedelta(0):
            raise UserError(f"refresh schedule: every = {self.every} is not allowed; use e.g. 15 minutes")
        if self.lead_before_open < timedelta(0):
            raise UserError(
                f"refresh schedule: lead_before_open = {self.lead_before_open} is not allowed; "
                "use a length >= 0, e.g. 15 minutes"
            )

    def next_due(self, instrument: str, now_ns: int, last_refresh_ns: int | None) -> int:
        """UTC ns of the next refresh (a value <= now means: due now).

        Never refreshed: now. Otherwise last + every when the market is open then; when it is closed then,
        the pre-open refresh (next open - lead), or the open itself once the pre-open refresh is done.
        """
        if last_refresh_ns is None:
            return now_ns
        calendar = get_calendar(resolve_calendar(instrument)[0])
        candidate = last_refresh_ns + _ns(self.every)
        if bool(calendar.is_open(np.array([candidate], dtype=np.int64))[0]):
            return candidate
        opens_at = next_open(instrument, candidate)
        if opens_at is None:  # no session within the search horizon: keep the plain interval
            return candidate
        pre_open = opens_at - _ns(self.lead_before_open)
        return pre_open if pre_open > last_refresh_ns else opens_at


def next_open(instrument: str, after_ns: int) -> int | None:
    """First whole minute at or after `after_ns` at which the instrument's market is open (None: > 8 weeks)."""
    calendar = get_calendar(resolve_calendar(instrument)[0])
    start = -(-after_ns // MINUTE_NS) * MINUTE_NS
    for week in range(_SEARCH_WEEKS):
        grid = start + (np.arange(_SEARCH_CHUNK, dtype=np.int64) + week * _SEARCH_CHUNK) * MINUTE_NS
        hits = np.flatnonzero(calendar.is_open(grid))
        if len(hits):
            return int(grid[hits[0]])
    return None


@dataclass(frozen=True)
class RefreshResult:
    """One pair's refresh: bars fetched, bars new to the store, the last stored bar afterwards."""

    instrument: str
    timeframe: str
    fetched: int
    appended: int
    last_bar_ns: int | None
    message: str

    def to_dict(self) -> dict[str, object]:
        """JSON-ready summary."""
        return {
            "instrument": self.instrument,
            "timeframe": self.timeframe,
            "fetched": self.fetched,
            "appended": self.appended,
            "last_bar_ns": self.last_bar_ns,
            "message": self.message,
        }


async def refresh(
    cache: MarketDataCache,
    source: CandleSource,
    pairs: Sequence[str],
    now_ns: int,
    timeframe: str = "1m",
) -> list[RefreshResult]:
    """For each pair fetch bars from after its last stored bar (or the validation window) to now and append.

    A file whose checksum no longer matches is left alone (appending would bless it): repair it first.
    """
    tf = parse_timeframe(timeframe)
    out: list[RefreshResult] = []
    for pair in pairs:
        key = normalize_instrument(pair)
        path = cache.store.path_for(key, tf.name)
        status = cache_manifest.check(path, rehash=False) if path.is_file() else "unrecorded"
        if status in ("mismatch", "unreadable"):
            msg = (
                f"{key} {tf.name}: the cached file is corrupt ({status}); run 'traderbot cache repair {key}'"
            )
            out.append(RefreshResult(key, tf.name, 0, 0, None, msg))
            continue
        last = _last_stamp(path)
        start = last + tf.ns if last is not None else now_ns - cache.config.window_ns
        fetched = (
            await fetch_frame(source, key, tf.name, [(start, now_ns)], now_ns) if start < now_ns else None
        )
        count = 0 if fetched is None else len(fetched)
        if fetched is not None and count:
            path = cache.store.write(
                key, tf.name, fetched, mode="merge", provenance={"operation": "cache refresh"}
            )
            cache_manifest.record(path)
        new_last = _last_stamp(path) if path.is_file() else None
        out.append(
            RefreshResult(key, tf.name, count, count, new_last, f"{key} {tf.name}: appended {count:,} bars")
        )
    return out


def _last_stamp(path: Path) -> int | None:
    """Newest bar stamp in a file (the manifest's when it is recorded and current, else read from the file)."""
    if not path.is_file():
        return None
    entry = cache_manifest.load(path)
    if entry is not None and cache_manifest.check(path, rehash=False) == "ok":
        return entry.last_ts_ns
    column = pq.read_table(path, columns=["ts"]).column("ts").cast("int64").to_numpy()
    return int(column.max()) if len(column) else None
