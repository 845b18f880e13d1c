"""Bars from NinjaTrader's documented historical-data text format (its Historical Data export/import).

Minute bars: `yyyyMMdd HHmmss;open;high;low;close;volume`; day bars: `yyyyMMdd;open;high;low;close;volume`.
NinjaTrader exports in UTC and stamps a bar with its end time (set `history_stamps_bar_end=False` for files
stamped with the start time). Files are looked up in `history_dir` as `<NinjaTrader instrument name>*.txt`
(e.g. `ES 12-26.Last.txt`). Longer timeframes are built from 1-minute bars on a UTC grid; a bucket is returned
only when complete (its last minute closes the bucket, or later data exists). Lines in other layouts (tick
exports) are counted and skipped.
"""

from __future__ import annotations

import glob
import logging
from datetime import UTC, datetime
from pathlib import Path

from traderbot.brokers.base import BrokerError
from traderbot.model.data import Bar
from traderbot.model.timeframe import Timeframe

_log = logging.getLogger("traderbot.brokers.ninjatrader")
MINUTE_NS = 60_000_000_000
DAY_NS = 86_400_000_000_000

Row = tuple[int, float, float, float, float, float]  # open time ns, o, h, l, c, v


def _stamp(text: str) -> tuple[int, bool]:
    """Nanoseconds since epoch (UTC) and whether the stamp is a whole day (yyyyMMdd)."""
    if len(text) == 8:
        return int(datetime.strptime(text, "%Y%m%d").replace(tzinfo=UTC).timestamp()) * 10**9, True
    dt = datetime.strptime(text, "%Y%m%d %H%M%S").replace(tzinfo=UTC)
    return int(dt.timestamp()) * 10**9, False


def parse_lines(lines: list[str], bar_end: bool) -> tuple[list[Row], list[Row], int]:
    """(minute rows, day rows, skipped lines); rows carry the bar's open time."""
    minutes: list[Row] = []
    days: list[Row] = []
    skipped = 0
    for line in lines:
        parts = line.strip().split(";")
        if len(parts) != 6:
            skipped += bool(line.strip())
            continue
        try:
            ts, whole_day = _stamp(parts[0].strip())
            o, h, lo, c, v = (float(p) for p in parts[1:])
        except ValueError:
            skipped += 1
            continue
        if whole_day:
            days.append((ts, o, h, lo, c, v))  # a daily bar is stamped with its session date
        else:
            minutes.append((ts - MINUTE_NS if bar_end else ts, o, h, lo, c, v))
    return minutes, days, skipped


def _aggregate(rows: list[Row], step: int) -> list[tuple[Row, bool]]:
    """Rows grouped on a UTC grid of `step` ns; each with whether its bucket is complete."""
    out: list[tuple[Row, bool]] = []
    bucket: list[Row] = []

    def flush(complete: bool) -> None:
        start = bucket[0][0] // step * step
        o, c = bucket[0][1], bucket[-1][4]
        h = max(r[2] for r in bucket)
        lo = min(r[3] for r in bucket)
        v = sum(r[5] for r in bucket)
        out.append(((start, o, h, lo, c, v), complete))

    for row in rows:
        if bucket and row[0] // step != bucket[0][0] // step:
            flush(True)  # later data exists
            bucket = []
        bucket.append(row)
    if bucket:
        start = bucket[0][0] // step * step
        flush(bucket[-1][0] + MINUTE_NS >= start + step)
    return out


def load_bars(
    history_dir: Path,
    nt_instrument: str,
    instrument_id: str,
    timeframe: str,
    start_ns: int,
    end_ns: int,
    bar_end: bool = True,
) -> list[Bar]:
    """Complete bars with open time in [start_ns, end_ns), oldest first."""
    tf = Timeframe.parse(timeframe)
    files = sorted(p for p in history_dir.glob(f"{glob.escape(nt_instrument)}*.txt") if p.is_file())
    if not files:
        raise BrokerError(
            f"no NinjaTrader export for {nt_instrument!r} in {history_dir}: export its history there "
            f"(Control Center > New > Historical Data > Export) as '{nt_instrument}.Last.txt'",
            code="NO_HISTORY",
        )
    minutes: list[Row] = []
    days: list[Row] = []
    for path in files:
        m, d, skipped = parse_lines(
            path.read_text(encoding="utf-8-sig", errors="replace").splitlines(), bar_end
        )
        minutes += m
        days += d
        if skipped:
            _log.warning(
                "%s: %d lines are not NinjaTrader minute or day bars and were skipped", path.name, skipped
            )
    if tf.ns >= DAY_NS and tf.ns % DAY_NS == 0 and days:
        grouped = (
            _aggregate(sorted(set(days)), tf.ns) if tf.ns > DAY_NS else [(r, True) for r in sorted(set(days))]
        )
    elif tf.ns % MINUTE_NS == 0:
        grouped = _aggregate(sorted(set(minutes)), tf.ns)
    else:
        raise BrokerError(
            f"timeframe {timeframe} cannot be built from NinjaTrader minute bars", code="UNSUPPORTED"
        )
    return [
        Bar(instrument_id, tf.name, r[0], r[0] + tf.ns, r[1], r[2], r[3], r[4], r[5])
        for r, complete in grouped
        if complete and start_ns <= r[0] < end_ns
    ]
