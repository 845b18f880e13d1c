"""Validation of one cached bar series relative to a clock (simulated time in replay, real time live).

Checks, in order: the file (readable Parquet, sha256 against the sidecar manifest), bar sanity (finite prices
> 0, high >= max(open, close), low <= min(open, close), high >= low), duplicated and unsorted stamps, coverage
of the last `window_days` before `now_ns` against the instrument's market calendar (data/gaps.py machinery,
FX 24/5 with the weekend shifting with US daylight time, plus the FX holidays in `CacheConfig.fx_holidays`),
the largest single hole, and staleness of the last bar. Only bars that have closed by `now_ns`
(ts + bar length <= now) are looked at, so a replay never judges the cache by bars from its future.

Score = 100 minus these penalties, floored at 0 (a corrupt file scores 0 outright):
    checksum mismatch or unreadable file ... score 0           (hard)
    no checksum recorded ................... -5                (warning)
    missing bars (any) ..................... -min(40, 5 x missing %)   (hard when missing % > max_missing_pct)
    a hole longer than max_gap ............. -15               (hard)
    stale last bar ......................... -20               (hard)
    bad OHLC rows .......................... -min(20, 5 x rows)   (hard)
    duplicated stamps ...................... -min(10, 5 x rows)   (hard)
    unsorted stamps ........................ -10               (hard)
valid = no hard failure. `reasons` lists every finding, hard failures first; `failures` only the hard ones.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
from dateutil.easter import easter

from traderbot.data import cache_manifest
from traderbot.data.cache_manifest import ChecksumStatus
from traderbot.data.frame import COLUMNS
from traderbot.data.gaps import expected_intraday
from traderbot.data.sessions import (
    DAY_NS,
    calendar_kind,
    expected_session_labels,
    resolve_calendar,
    session_labels,
)
from traderbot.data.store import parse_timeframe
from traderbot.errors import UserError

MINUTE_NS = 60_000_000_000
HOLIDAY_NAMES = ("new_year", "good_friday", "christmas")
_NY = "America/New_York"
_FX_ROLL = pd.Timedelta(hours=7)  # the FX day runs 17:00 .. 17:00 New York; +7h maps it onto a calendar date


@dataclass(frozen=True)
class CacheConfig:
    """Thresholds of the cache; an impossible value raises UserError naming the field and the fix."""

    window_days: float = 7.0
    max_missing_pct: float = 2.0
    max_gap: timedelta = timedelta(minutes=30)
    max_staleness: timedelta | None = None  # None: 3 bars' length, at least 5 minutes
    fx_holidays: tuple[str, ...] = HOLIDAY_NAMES

    def __post_init__(self) -> None:
        def bad(name: str, got: object, fix: str) -> UserError:
            return UserError(f"cache config: {name} = {got!r} is not allowed; {fix}")

        if not self.window_days > 0:
            raise bad("window_days", self.window_days, "use a positive number of days, e.g. 7")
        if not 0.0 <= self.max_missing_pct <= 100.0:
            raise bad("max_missing_pct", self.max_missing_pct, "use a percentage from 0 to 100, e.g. 2.0")
        if self.max_gap < timedelta(0):
            raise bad("max_gap", self.max_gap, "use a length >= 0, e.g. 30 minutes")
        if self.max_staleness is not None and self.max_staleness <= timedelta(0):
            raise bad("max_staleness", self.max_staleness, "use a positive length, e.g. 5 minutes")
        for name in self.fx_holidays:
            if name not in HOLIDAY_NAMES and not _is_month_day(name):
                raise bad("fx_holidays", name, f"use {', '.join(HOLIDAY_NAMES)} or a date as MM-DD")

    @property
    def window_ns(self) -> int:
        """The validation window in nanoseconds."""
        return int(self.window_days * DAY_NS)

    def staleness_ns(self, step_ns: int) -> int:
        """Allowed age of the last bar's close: the configured value, else max(3 bars, 5 minutes)."""
        if self.max_staleness is not None:
            return int(self.max_staleness.total_seconds() * 1e9)
        return max(3 * step_ns, 5 * MINUTE_NS)


@dataclass(frozen=True)
class CacheHealth:
    """Outcome of validating one series at `now_ns`; `missing_spans` are half-open ns ranges for repair."""

    instrument: str
    timeframe: str
    now_ns: int
    valid: bool
    score: float
    reasons: list[str]
    missing_spans: list[tuple[int, int]]
    bad_rows: int
    duplicates: int
    last_bar_ns: int | None
    checksum: ChecksumStatus
    failures: list[str] = field(default_factory=list)
    expected_bars: int = 0
    missing_bars: int = 0
    unsorted: int = 0
    rows: int = 0

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (stamps as ISO strings and ns)."""
        return {
            "instrument": self.instrument,
            "timeframe": self.timeframe,
            "now": _iso(self.now_ns),
            "valid": self.valid,
            "score": self.score,
            "checksum": self.checksum,
            "last_bar": _iso(self.last_bar_ns),
            "rows": self.rows,
            "expected_bars": self.expected_bars,
            "missing_bars": self.missing_bars,
            "bad_rows": self.bad_rows,
            "duplicates": self.duplicates,
            "unsorted": self.unsorted,
            "reasons": list(self.reasons),
            "failures": list(self.failures),
            "missing_spans": [[s, e] for s, e in self.missing_spans],
        }


@dataclass
class _Findings:
    """Accumulates reasons and penalties while the checks run."""

    failures: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    penalty: float = 0.0
    corrupt: bool = False

    def fail(self, reason: str, penalty: float) -> None:
        self.failures.append(reason)
        self.penalty += penalty

    def warn(self, reason: str, penalty: float) -> None:
        self.warnings.append(reason)
        self.penalty += penalty


@dataclass(frozen=True)
class _Coverage:
    expected: int
    missing: int
    starts: np.ndarray
    ends: np.ndarray
    bars: np.ndarray
    last_expected_close: int | None


def validate(
    source: pd.DataFrame | Path,
    instrument: str,
    timeframe: str,
    now_ns: int,
    config: CacheConfig | None = None,
    *,
    rehash: bool = True,
) -> CacheHealth:
    """Validate a stored file (checksum included) or an in-memory frame (no file: checksum 'unrecorded',
    not penalised) against the clock `now_ns`."""
    cfg = config or CacheConfig()
    tf = parse_timeframe(timeframe)
    found = _Findings()
    checksum: ChecksumStatus = "unrecorded"
    if isinstance(source, Path):
        frame, checksum = _load(source, rehash, found)
    else:
        frame = source
    stamps, o, h, lo, c = _arrays(frame)
    closed = stamps + tf.ns <= now_ns
    stamps, o, h, lo, c = stamps[closed], o[closed], h[closed], lo[closed], c[closed]
    bad = _bad_ohlc(o, h, lo, c)
    duplicates = len(stamps) - len(np.unique(stamps))
    unsorted = int((np.diff(stamps) < 0).sum()) if len(stamps) > 1 else 0
    _integrity_reasons(found, int(bad.sum()), duplicates, unsorted, stamps[bad])
    good = np.unique(stamps[~bad])
    cal_name, _ = resolve_calendar(instrument)
    cov = _coverage(good, tf.ns, now_ns, cal_name, cfg)
    _coverage_reasons(found, cov, tf.ns, cfg)
    last_bar = int(good[-1]) if len(good) else None
    _staleness_reason(found, last_bar, tf.ns, now_ns, cov.last_expected_close, cfg, cal_name)
    if isinstance(source, Path) and checksum == "unrecorded":
        found.warn("no checksum recorded (run traderbot cache validate --record)", 5.0)
    score = 0.0 if found.corrupt else max(0.0, round(100.0 - found.penalty, 1))
    return CacheHealth(
        instrument=instrument,
        timeframe=tf.name,
        now_ns=now_ns,
        valid=not found.failures,
        score=score,
        reasons=[*found.failures, *found.warnings],
        missing_spans=[(int(s), int(e)) for s, e in zip(cov.starts, cov.ends, strict=True)],
        bad_rows=int(bad.sum()),
        duplicates=duplicates,
        last_bar_ns=last_bar,
        checksum=checksum,
        failures=list(found.failures),
        expected_bars=cov.expected,
        missing_bars=cov.missing,
        unsorted=unsorted,
        rows=len(stamps),
    )


def _load(path: Path, rehash: bool, found: _Findings) -> tuple[pd.DataFrame, ChecksumStatus]:
    """Read a cached file; checksum problems and unreadable bytes are recorded as corrupt."""
    if not path.is_file():
        raise UserError(f"no cached file at {path}; fill the cache with 'traderbot cache refresh'")
    status = cache_manifest.check(path, rehash=rehash)
    if status == "mismatch":
        entry = cache_manifest.load(path)
        recorded = entry.sha256[:12] if entry else "?"
        found.fail(
            f"file {path.name} changed since the cache wrote it (sha256 differs from the recorded "
            f"{recorded}...): corrupt, run traderbot cache repair",
            100.0,
        )
        found.corrupt = True
    try:
        table = pq.read_table(path, columns=list(COLUMNS))
        frame = table.to_pandas()
    except Exception as exc:  # pyarrow raises several types for truncated or garbled files
        found.fail(
            f"file {path.name} cannot be read as Parquet ({type(exc).__name__}: {str(exc)[:120]}): "
            "corrupt, run traderbot cache repair",
            100.0,
        )
        found.corrupt = True
        empty = pd.DataFrame({"ts": pd.DatetimeIndex([], tz="UTC")} | {k: [] for k in COLUMNS[1:]})
        return empty, "unreadable"
    return frame, status


def _arrays(frame: pd.DataFrame) -> tuple[np.ndarray, ...]:
    stamps = np.asarray(pd.DatetimeIndex(frame["ts"]).as_unit("ns").asi8, dtype=np.int64)
    prices = [frame[k].to_numpy(dtype=np.float64) for k in ("open", "high", "low", "close")]
    return (stamps, *prices)


def _bad_ohlc(o: np.ndarray, h: np.ndarray, lo: np.ndarray, c: np.ndarray) -> np.ndarray:
    """Rows with a non-finite or non-positive price, or a high/low that does not bound open and close."""
    with np.errstate(invalid="ignore"):
        finite = np.isfinite(o) & np.isfinite(h) & np.isfinite(lo) & np.isfinite(c)
        positive = (o > 0) & (h > 0) & (lo > 0) & (c > 0)
        bounded = (h >= np.maximum(o, c)) & (lo <= np.minimum(o, c)) & (h >= lo)
    return ~(finite & positive & bounded)


def _integrity_reasons(found: _Findings, bad: int, dups: int, unsorted: int, bad_ts: np.ndarray) -> None:
    if bad:
        shown = ", ".join(_fmt(int(t)) for t in np.sort(bad_ts)[:3])
        found.fail(
            f"{bad:,} bar(s) with impossible prices (non-finite, <= 0, or high/low not bounding "
            f"open and close), e.g. at {shown} UTC",
            min(20.0, 5.0 * bad),
        )
    if dups:
        found.fail(f"{dups:,} duplicated bar stamp(s)", min(10.0, 5.0 * dups))
    if unsorted:
        found.fail(f"bar stamps out of order at {unsorted:,} place(s)", 10.0)


def _coverage(good: np.ndarray, step: int, now_ns: int, calendar: str, cfg: CacheConfig) -> _Coverage:
    """Expected bars closed within [now - window, now] versus the good unique stamps."""
    start = now_ns - cfg.window_ns
    if step == DAY_NS:
        expected = _expected_daily(start, now_ns, calendar)
    elif step > DAY_NS:
        raise UserError(f"the cache validates timeframes up to 1d, not {step // DAY_NS}d; use 1d or shorter")
    else:
        phase = _phase(good, step)
        expected = expected_intraday(start, now_ns - step, step, phase, calendar)
        expected = expected[(expected >= start) & (expected + step <= now_ns)]
        if calendar_kind(calendar) == "fx" and len(expected):
            expected = expected[~_fx_holiday_mask(expected, cfg.fx_holidays)]
    present = _present(expected, good if step != DAY_NS else np.unique(session_labels(good, calendar)))
    pos = np.flatnonzero(~present)
    last_close = int(expected[-1]) + step if len(expected) else None
    if len(pos) == 0:
        empty = np.zeros(0, dtype=np.int64)
        return _Coverage(len(expected), 0, empty, empty, empty, last_close)
    breaks = np.flatnonzero(np.diff(pos) != 1) + 1
    first, last = pos[np.r_[0, breaks]], pos[np.r_[breaks - 1, len(pos) - 1]]
    bars = (last - first + 1).astype(np.int64)
    return _Coverage(len(expected), len(pos), expected[first], expected[last] + step, bars, last_close)


def _expected_daily(start: int, now_ns: int, calendar: str) -> np.ndarray:
    lo, hi = session_labels(np.array([start, now_ns - DAY_NS], dtype=np.int64), calendar)
    labels = expected_session_labels(int(lo), int(hi), calendar)
    return labels[(labels >= start) & (labels + DAY_NS <= now_ns)]


def _phase(stamps: np.ndarray, step: int) -> int:
    """Most common offset of the stamps on the bar grid (0 without data or for 1m and shorter bars)."""
    if len(stamps) == 0 or step <= MINUTE_NS:
        return 0
    values, counts = np.unique(stamps % step, return_counts=True)
    return int(values[np.argmax(counts)])


def _present(expected: np.ndarray, stamps: np.ndarray) -> np.ndarray:
    if len(stamps) == 0:
        return np.zeros(len(expected), dtype=bool)
    idx = np.minimum(np.searchsorted(stamps, expected), len(stamps) - 1)
    return np.asarray(stamps[idx] == expected)


def _is_month_day(text: str) -> bool:
    try:
        pd.Timestamp(f"2000-{text}")
    except ValueError:
        return False
    return len(text) == 5 and text[2] == "-"


def _fx_holiday_mask(stamps: np.ndarray, holidays: tuple[str, ...]) -> np.ndarray:
    """True for bars of an FX day (17:00 .. 17:00 New York) that falls on a configured holiday."""
    local = pd.DatetimeIndex(stamps.astype("datetime64[ns]")).tz_localize("UTC").tz_convert(_NY)
    days = (local.tz_localize(None) + _FX_ROLL).normalize()
    years = range(int(days.year.min()), int(days.year.max()) + 1)
    dates: list[pd.Timestamp] = []
    for year in years:
        for name in holidays:
            if name == "new_year":
                dates.append(pd.Timestamp(year, 1, 1))
            elif name == "christmas":
                dates.append(pd.Timestamp(year, 12, 25))
            elif name == "good_friday":
                dates.append(pd.Timestamp(easter(year)) - pd.Timedelta(days=2))
            else:
                dates.append(pd.Timestamp(f"{year}-{name}"))
    return np.asarray(days.isin(pd.DatetimeIndex(dates)))


def _coverage_reasons(found: _Findings, cov: _Coverage, step: int, cfg: CacheConfig) -> None:
    if cov.missing == 0:
        return
    pct = 100.0 * cov.missing / cov.expected if cov.expected else 0.0
    big = int(np.argmax(cov.bars))
    over = pct > cfg.max_missing_pct
    text = (
        f"{cov.missing:,} of {cov.expected:,} bars missing in the last {cfg.window_days:g} days "
        f"({pct:.1f} % {'>' if over else '<='} {cfg.max_missing_pct:.1f} %); largest hole "
        f"{_span(int(cov.starts[big]), int(cov.ends[big]))} ({_minutes(int(cov.bars[big]) * step)})"
    )
    penalty = min(40.0, 5.0 * pct)
    if over:
        found.fail(text, penalty)
    else:
        found.warn(text, penalty)
    limit = int(cfg.max_gap.total_seconds() * 1e9)
    long_holes = np.flatnonzero(cov.bars * step > limit)
    if len(long_holes):
        shown = "; ".join(_span(int(cov.starts[i]), int(cov.ends[i])) for i in long_holes[:6])
        more = f" and {len(long_holes) - 6} more" if len(long_holes) > 6 else ""
        found.fail(
            f"{len(long_holes):,} hole(s) longer than the allowed {_minutes(limit)}: {shown}{more}", 15.0
        )


def _staleness_reason(
    found: _Findings,
    last_bar: int | None,
    step: int,
    now_ns: int,
    last_expected_close: int | None,
    cfg: CacheConfig,
    calendar: str,
) -> None:
    """The last bar must close within max_staleness of now (open market) or of the last session close."""
    if last_expected_close is None:
        return  # the market was closed for the whole window: nothing can be stale
    allowed = cfg.staleness_ns(step)
    if last_bar is None:
        found.fail(f"no bars in the last {cfg.window_days:g} days before {_fmt(now_ns)} UTC", 20.0)
        return
    last_close = last_bar + step
    if last_close >= last_expected_close - allowed:
        return
    market_open = last_expected_close >= now_ns - step
    where = (
        f"the clock ({_fmt(now_ns)} UTC) while the {calendar} market is open"
        if market_open
        else f"the last session close ({_fmt(last_expected_close)} UTC)"
    )
    found.fail(
        f"stale: the last bar closed at {_fmt(last_close)} UTC, "
        f"{_minutes(last_expected_close - last_close)} before {where}; allowed {_minutes(allowed)}",
        20.0,
    )


def _fmt(ns: int) -> str:
    return pd.Timestamp(ns, tz="UTC").strftime("%Y-%m-%d %H:%M")


def _span(start: int, end: int) -> str:
    """'2023-05-03 13:00 .. 14:00 UTC' (end time only when on the same day; 24:00 for midnight)."""
    a, b = pd.Timestamp(start, tz="UTC"), pd.Timestamp(end, tz="UTC")
    if b.normalize() == a.normalize():
        tail = b.strftime("%H:%M")
    elif b == a.normalize() + pd.Timedelta(days=1):
        tail = "24:00"
    else:
        tail = _fmt(end)
    return f"{_fmt(start)} .. {tail} UTC"


def _minutes(ns: int) -> str:
    minutes = ns / MINUTE_NS
    return f"{minutes:,.0f} min" if minutes < 600 else f"{minutes / 60:,.1f} h"


def _iso(ns: int | None) -> str | None:
    return None if ns is None else pd.Timestamp(ns, tz="UTC").isoformat()
