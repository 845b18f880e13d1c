"""Missing-bar detection: compare bar stamps with the bars a market calendar expects."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from traderbot.data.sessions import DAY_NS, expected_session_labels, session_labels
from traderbot.model.calendar import get_calendar


def _empty() -> np.ndarray:
    return np.zeros(0, dtype=np.int64)


@dataclass(frozen=True, eq=False)
class GapScan:
    """Holes as arrays (start ns of first missing bar, end ns after the last one, bar count)."""

    expected: int = 0
    missing: int = 0
    starts_ns: np.ndarray = field(default_factory=_empty)
    ends_ns: np.ndarray = field(default_factory=_empty)
    bars: np.ndarray = field(default_factory=_empty)
    off_session: int = 0
    off_grid: int = 0


def _present(expected: np.ndarray, stamps: np.ndarray) -> np.ndarray:
    """Mask over `expected` (sorted) of values found in `stamps` (sorted)."""
    if len(stamps) == 0:
        return np.zeros(len(expected), dtype=bool)
    idx = np.searchsorted(stamps, expected)
    idx_c = np.minimum(idx, len(stamps) - 1)
    return (idx < len(stamps)) & (stamps[idx_c] == expected)


def _runs(expected: np.ndarray, present: np.ndarray, step_ns: np.ndarray | int) -> GapScan:
    """Group missing expected bars that are consecutive on the expected grid into holes."""
    pos = np.flatnonzero(~present)
    if len(pos) == 0:
        return GapScan(expected=len(expected))
    breaks = np.flatnonzero(np.diff(pos) != 1) + 1
    first = pos[np.r_[0, breaks]]
    last = pos[np.r_[breaks - 1, len(pos) - 1]]
    step = step_ns[last] if isinstance(step_ns, np.ndarray) else step_ns
    return GapScan(
        expected=len(expected),
        missing=len(pos),
        starts_ns=expected[first],
        ends_ns=expected[last] + step,
        bars=(last - first + 1).astype(np.int64),
    )


def _phase(stamps: np.ndarray, step_ns: int) -> int:
    values, counts = np.unique(stamps % step_ns, return_counts=True)
    return int(values[np.argmax(counts)])


def expected_intraday(first_ns: int, last_ns: int, step_ns: int, phase: int, calendar: str) -> np.ndarray:
    """Grid stamps (offset by `phase`) whose bar overlaps a session: open at its start or its last instant."""
    cal = get_calendar(calendar)
    start = first_ns + ((phase - first_ns) % step_ns)
    if phase == 0 and step_ns <= 60_000_000_000:  # 1m and finer: the calendar's own grid
        return cal.expected_bars(first_ns, last_ns, step_ns)
    grid = np.arange(start, last_ns + 1, step_ns, dtype=np.int64)
    return grid[cal.is_open(grid) | cal.is_open(grid + (step_ns - 1))]


def _intraday(stamps: np.ndarray, step_ns: int, calendar: str) -> GapScan:
    phase = _phase(stamps, step_ns)
    expected = expected_intraday(int(stamps[0]), int(stamps[-1]), step_ns, phase, calendar)
    scan = _runs(expected, _present(expected, stamps), step_ns)
    on_grid = stamps % step_ns == phase
    off_session = int((~_present(stamps[on_grid], expected)).sum())
    return GapScan(
        scan.expected,
        scan.missing,
        scan.starts_ns,
        scan.ends_ns,
        scan.bars,
        off_session=off_session,
        off_grid=int((~on_grid).sum()),
    )


def _daily(stamps: np.ndarray, calendar: str) -> GapScan:
    labels = session_labels(stamps, calendar)
    expected = expected_session_labels(int(labels[0]), int(labels[-1]), calendar)
    uniq = np.unique(labels)
    scan = _runs(expected, _present(expected, uniq), DAY_NS)
    off_session = int((~_present(uniq, expected)).sum())
    return GapScan(
        scan.expected,
        scan.missing,
        scan.starts_ns,
        scan.ends_ns,
        scan.bars,
        off_session=off_session,
        off_grid=len(stamps) - len(uniq),
    )


def scan_gaps(stamps: np.ndarray, step_ns: int | None, calendar: str) -> tuple[GapScan, str | None]:
    """Holes in sorted bar stamps for one timeframe; a note when gaps cannot be measured."""
    if step_ns is None or len(stamps) < 2:
        return GapScan(), "too few bars to measure gaps"
    if step_ns == DAY_NS:
        return _daily(stamps, calendar), None
    if step_ns > DAY_NS:
        return GapScan(), "gaps are not measured for timeframes longer than a day"
    return _intraday(stamps, step_ns, calendar), None
