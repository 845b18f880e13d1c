"""Repair of an invalid cached series: re-fetch what is missing or corrupt, merge, swap in, or quarantine.

Nothing already good is ever lost: the merged series is written through the store's atomic temp-file swap,
and a file that is replaced because it was corrupt, or that stays invalid after the repair, is moved (never
deleted) to `<root>/quarantine/<INSTRUMENT>_<tf>.<UTC stamp>.parquet` with a `.reason.txt` next to it.
After a failed repair the store keeps the best it has: the file's sane rows plus whatever the source supplied,
or, when the file was corrupt, only the source's bars (rows of a file that changed behind the cache's back are
never re-checksummed as good).
"""

from __future__ import annotations

import contextlib
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Protocol

import numpy as np
import pandas as pd
import pyarrow.parquet as pq

from traderbot.brokers.base import Broker
from traderbot.data import cache_manifest
from traderbot.data.cache_validate import CacheConfig, CacheHealth, validate
from traderbot.data.frame import COLUMNS, empty_frame, frame_from_arrays, ts_ns
from traderbot.data.store import ParquetBarStore, merge_frames, normalize_instrument, parse_timeframe
from traderbot.model.data import Bar

MAX_BARS_PER_REQUEST = 5000
COALESCE_NS = 6 * 3_600_000_000_000  # holes closer than this are fetched in one range
QUARANTINE = "quarantine"
RepairAction = Literal["none", "repaired", "quarantined"]


class CandleSource(Protocol):
    """Where missing bars come from: a broker, or a stored reference dataset for the simulated venue."""

    async def candles(self, instrument_id: str, timeframe: str, start_ns: int, end_ns: int) -> list[Bar]:
        """Complete bars with open time in [start_ns, end_ns), oldest first."""
        ...


class BrokerCandleSource:
    """Any Broker adapter as a candle source; long spans go out as requests of at most 5000 bars."""

    def __init__(self, broker: Broker, max_bars: int = MAX_BARS_PER_REQUEST) -> None:
        self.broker = broker
        self.max_bars = max_bars
        self.name = f"broker {type(broker).__name__}"

    async def candles(self, instrument_id: str, timeframe: str, start_ns: int, end_ns: int) -> list[Bar]:
        """Bars of [start, end) fetched chunk by chunk (each chunk at most max_bars bar lengths long)."""
        chunk = self.max_bars * parse_timeframe(timeframe).ns
        out: list[Bar] = []
        for lo in range(start_ns, end_ns, chunk):
            out.extend(await self.broker.candles(instrument_id, timeframe, lo, min(lo + chunk, end_ns)))
        return out


class StoreCandleSource:
    """A stored reference dataset (the simulated venue's history); a series it lacks yields no bars."""

    def __init__(self, store: ParquetBarStore) -> None:
        self.store = store
        self.name = f"store {store.root}"

    async def candles(self, instrument_id: str, timeframe: str, start_ns: int, end_ns: int) -> list[Bar]:
        """Stored bars of [start, end) as Bar tuples."""
        if not self.store.has(instrument_id, timeframe):
            return []
        tf = parse_timeframe(timeframe)
        df = self.store.read(instrument_id, timeframe, start_ns, end_ns)
        key = normalize_instrument(instrument_id)
        cols = [df[c].to_numpy(dtype=np.float64).tolist() for c in COLUMNS[1:]]
        stamps = ts_ns(df).tolist()
        return [
            Bar(key, tf.name, t, t + tf.ns, o, h, lo, c, v)
            for t, o, h, lo, c, v in zip(stamps, *cols, strict=True)
        ]


@dataclass(frozen=True)
class RepairResult:
    """What a repair did: health before and after, bars fetched and filled, rows dropped, files moved."""

    instrument: str
    timeframe: str
    action: RepairAction
    before: CacheHealth
    after: CacheHealth
    fetched: int = 0
    filled: int = 0
    dropped: int = 0
    quarantined: Path | None = None
    message: str = ""

    def to_dict(self) -> dict[str, object]:
        """JSON-ready summary."""
        return {
            "instrument": self.instrument,
            "timeframe": self.timeframe,
            "action": self.action,
            "fetched": self.fetched,
            "filled": self.filled,
            "dropped": self.dropped,
            "quarantined": str(self.quarantined) if self.quarantined else None,
            "message": self.message,
            "before": self.before.to_dict(),
            "after": self.after.to_dict(),
        }


async def repair(
    store: ParquetBarStore,
    instrument: str,
    timeframe: str,
    source: CandleSource,
    now_ns: int,
    config: CacheConfig | None = None,
    *,
    before: CacheHealth | None = None,
) -> RepairResult:
    """Fill the holes of an invalid series from `source`, write it atomically, record its checksum,
    re-validate; quarantine the old file when it was corrupt or when the series is still invalid."""
    cfg = config or CacheConfig()
    key, tf = normalize_instrument(instrument), parse_timeframe(timeframe).name
    path = store.path_for(key, tf)
    if before is None:
        before = _health(path, key, tf, now_ns, cfg)
    if before.valid:
        return RepairResult(key, tf, "none", before, before, message="valid: nothing to repair")
    corrupt = before.checksum in ("mismatch", "unreadable")
    good, dropped = _good_rows(path, before)
    spans = _spans_to_fetch(path, before, corrupt, now_ns, cfg)
    fetched = await fetch_frame(source, key, tf, spans, now_ns)
    # a file that changed behind our back is suspect: the source wins where it has bars; else ours win
    merged = merge_frames(good, fetched) if corrupt else merge_frames(fetched, good)
    filled = len(merged) - len(good)
    candidate = validate(merged, key, tf, now_ns, cfg)
    if candidate.valid:
        moved = (
            _quarantine(store, path, before, "replaced by a repair because it was corrupt")
            if corrupt
            else None
        )
        _write(store, key, tf, merged, source, restore_from=moved)
        after = validate(path, key, tf, now_ns, cfg)
        return RepairResult(
            key, tf, "repaired", before, after, len(fetched), filled, dropped, moved,
            f"filled {filled:,} bars from {_name(source)}" + (f"; old file kept at {moved}" if moved else ""),
        )  # fmt: skip
    reason = "still invalid after a repair from " + _name(source) + ": " + "; ".join(candidate.failures)
    moved = _quarantine(store, path, before, reason)
    keep = fetched if corrupt else merged  # never re-bless rows of a file that changed behind our back
    if len(keep):
        _write(store, key, tf, keep, source, restore_from=None)
    after = _health(path, key, tf, now_ns, cfg)
    return RepairResult(key, tf, "quarantined", before, after, len(fetched), filled, dropped, moved, reason)


def _health(path: Path, key: str, tf: str, now_ns: int, cfg: CacheConfig) -> CacheHealth:
    """Validation of the file, or of an empty series when there is no file."""
    if path.is_file():
        return validate(path, key, tf, now_ns, cfg)
    return validate(empty_frame(), key, tf, now_ns, cfg)


def _good_rows(path: Path, before: CacheHealth) -> tuple[pd.DataFrame, int]:
    """The readable rows of the file, sorted, without bad OHLC rows and duplicates; and how many were dropped."""
    if before.checksum == "unreadable" or not path.is_file():
        return empty_frame(), 0
    try:
        df = pq.read_table(path, columns=list(COLUMNS)).to_pandas()
    except Exception:  # unreadable after all: nothing to keep
        return empty_frame(), 0
    df["ts"] = pd.DatetimeIndex(df["ts"]).as_unit("ns")
    o, h, lo, c = (df[k].to_numpy(dtype=np.float64) for k in ("open", "high", "low", "close"))
    with np.errstate(invalid="ignore"):
        ok = np.isfinite(o) & np.isfinite(h) & np.isfinite(lo) & np.isfinite(c)
        ok &= (o > 0) & (h > 0) & (lo > 0) & (c > 0)
        ok &= (h >= np.maximum(o, c)) & (lo <= np.minimum(o, c))
    kept = df.loc[ok].sort_values("ts", kind="stable").drop_duplicates("ts", keep="first")
    return kept.reset_index(drop=True), len(df) - len(kept)


def _spans_to_fetch(
    path: Path, before: CacheHealth, corrupt: bool, now_ns: int, cfg: CacheConfig
) -> list[tuple[int, int]]:
    """Missing spans (coalesced); for a corrupt file the whole window, or the file's recorded span."""
    if corrupt:
        start = now_ns - cfg.window_ns
        entry = cache_manifest.load(path)
        if entry is not None and entry.first_ts_ns is not None:
            start = min(start, entry.first_ts_ns)
        return [(start, now_ns)]
    spans = sorted(before.missing_spans)  # bad rows count as missing there, so they are refetched too
    out: list[tuple[int, int]] = []
    for lo, hi in spans:
        if out and lo - out[-1][1] <= COALESCE_NS:
            out[-1] = (out[-1][0], max(out[-1][1], hi))
        else:
            out.append((lo, hi))
    return out


async def fetch_frame(
    source: CandleSource, key: str, tf: str, spans: list[tuple[int, int]], now_ns: int
) -> pd.DataFrame:
    """Bars of the spans from the source: only closed by now, sane OHLC, one per stamp."""
    bars: list[Bar] = []
    for start, end in spans:
        bars.extend(await source.candles(key, tf, start, end))
    if not bars:
        return empty_frame()
    stamps = np.fromiter((b.ts for b in bars), dtype=np.int64, count=len(bars))
    prices = np.array([(b.open, b.high, b.low, b.close, b.volume) for b in bars], dtype=np.float64)
    o, h, lo, c, v = (prices[:, i] for i in range(5))
    step = parse_timeframe(tf).ns
    with np.errstate(invalid="ignore"):
        keep = (stamps + step <= now_ns) & np.isfinite(o + h + lo + c) & (lo > 0)
        keep &= (h >= np.maximum(o, c)) & (lo <= np.minimum(o, c))
    df = frame_from_arrays(stamps[keep], o[keep], h[keep], lo[keep], c[keep], np.nan_to_num(v[keep]))
    df = df.sort_values("ts", kind="stable").drop_duplicates("ts", keep="last")
    return df.reset_index(drop=True)


def _write(
    store: ParquetBarStore,
    key: str,
    tf: str,
    frame: pd.DataFrame,
    source: CandleSource,
    restore_from: Path | None,
) -> None:
    """Replace the series atomically and record its checksum; put a moved file back if the write fails."""
    try:
        path = store.write(
            key, tf, frame, mode="replace", provenance={"operation": f"cache repair from {_name(source)}"}
        )
    except BaseException:
        target = store.path_for(key, tf)
        if restore_from is not None and not target.exists():
            os.replace(restore_from, target)
        raise
    cache_manifest.record(path)


def _quarantine(store: ParquetBarStore, path: Path, health: CacheHealth, reason: str) -> Path | None:
    """Move `path` (and its sidecar) to `<root>/quarantine/` with a reason file; None when there is no file."""
    if not path.is_file():
        return None
    folder = store.root / QUARANTINE
    folder.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    base = f"{path.parent.name}_{path.stem}.{stamp}"
    target, n = folder / f"{base}.parquet", 1
    while target.exists():
        n += 1
        target = folder / f"{base}-{n}.parquet"
    os.replace(path, target)
    side = cache_manifest.sidecar_path(path)
    with contextlib.suppress(FileNotFoundError):
        os.replace(side, cache_manifest.sidecar_path(target))
    lines = [
        f"file: {path}",
        f"moved: {time.strftime('%Y-%m-%d %H:%M:%S UTC', time.gmtime())}",
        f"clock: {pd.Timestamp(health.now_ns, tz='UTC').isoformat()}",
        f"reason: {reason}",
        f"checksum: {health.checksum}",
        *(f"finding: {r}" for r in health.reasons),
    ]
    target.with_name(target.stem + ".reason.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return target


def _name(source: CandleSource) -> str:
    return str(getattr(source, "name", type(source).__name__))
