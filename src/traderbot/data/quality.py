"""Data-quality report for a bar series: span, gaps against the market calendar, and bad bars."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from traderbot.data.frame import CanonStats, ts_ns
from traderbot.data.gaps import GapScan, scan_gaps
from traderbot.data.sessions import resolve_calendar
from traderbot.data.store import parse_timeframe
from traderbot.model.instrument import Instrument
from traderbot.model.timeframe import Timeframe

MAX_EXAMPLES = 3
SPIKE_FACTOR = 10.0
SPIKE_WINDOW = 100
_UNITS = (("d", 86_400), ("h", 3_600), ("m", 60), ("s", 1))


@dataclass(frozen=True, slots=True)
class BadRow:
    """An input row that could not be read: where it is ('line 17') and what is wrong with it."""

    where: str
    message: str

    def __str__(self) -> str:
        return f"{self.where}: {self.message}"


@dataclass(frozen=True, slots=True)
class Gap:
    """A run of missing bars: open of the first missing bar, close of the last one, and their count."""

    start: pd.Timestamp
    end: pd.Timestamp
    bars: int

    @property
    def length(self) -> pd.Timedelta:
        """Wall-clock length of the hole (market closures inside it included)."""
        return self.end - self.start


@dataclass(frozen=True, eq=False)
class QualityReport:
    """What is in a bar series and what is wrong with it; counts are rows unless stated."""

    instrument: str | None
    timeframe: str | None
    timeframe_inferred: bool
    calendar: str
    rows: int
    first: pd.Timestamp | None
    last: pd.Timestamp | None
    gaps: GapScan
    duplicates: int = 0
    out_of_order: int = 0
    high_below_low: int = 0
    open_outside_range: int = 0
    close_outside_range: int = 0
    non_positive: int = 0
    nan_values: int = 0
    zero_range_bars: int = 0
    suspect_spikes: int = 0
    examples: dict[str, list[pd.Timestamp]] = field(default_factory=dict)
    bad_rows: list[BadRow] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    source: str | None = None

    @property
    def expected_bars(self) -> int:
        """Bars the calendar expects between the first and last stamp."""
        return self.gaps.expected

    @property
    def missing_bars(self) -> int:
        """Expected bars that are absent."""
        return self.gaps.missing

    @property
    def gap_runs(self) -> int:
        """Number of separate holes."""
        return len(self.gaps.starts_ns)

    @property
    def zero_range_share(self) -> float:
        """Share of bars with high == low."""
        return self.zero_range_bars / self.rows if self.rows else 0.0

    def gap_list(self) -> list[Gap]:
        """Every hole, in time order."""
        return [
            Gap(_ts(s), _ts(e), int(b))
            for s, e, b in zip(self.gaps.starts_ns, self.gaps.ends_ns, self.gaps.bars, strict=True)
        ]

    def largest_gaps(self, n: int = 10) -> list[Gap]:
        """The `n` holes with the most missing bars (earliest first among equals)."""
        order = np.argsort(-self.gaps.bars, kind="stable")[:n]
        return [
            Gap(_ts(self.gaps.starts_ns[i]), _ts(self.gaps.ends_ns[i]), int(self.gaps.bars[i])) for i in order
        ]

    def defect_counts(self) -> dict[str, int]:
        """Counts of each kind of bad bar (zero means clean)."""
        return {
            "duplicates": self.duplicates,
            "out_of_order": self.out_of_order,
            "high_below_low": self.high_below_low,
            "open_outside_range": self.open_outside_range,
            "close_outside_range": self.close_outside_range,
            "non_positive": self.non_positive,
            "nan_values": self.nan_values,
            "suspect_spikes": self.suspect_spikes,
            "bad_rows": len(self.bad_rows),
            "off_session_bars": self.gaps.off_session,
            "off_grid_bars": self.gaps.off_grid,
        }

    def to_dict(self, max_gaps: int = 10) -> dict[str, Any]:
        """JSON-ready summary (timestamps as ISO strings)."""
        return {
            "instrument": self.instrument,
            "source": self.source,
            "timeframe": self.timeframe,
            "timeframe_inferred": self.timeframe_inferred,
            "calendar": self.calendar,
            "rows": self.rows,
            "first": _iso(self.first),
            "last": _iso(self.last),
            "expected_bars": self.expected_bars,
            "missing_bars": self.missing_bars,
            "gap_runs": self.gap_runs,
            "largest_gaps": [
                {"start": _iso(g.start), "end": _iso(g.end), "bars": g.bars, "length": str(g.length)}
                for g in self.largest_gaps(max_gaps)
            ],
            **self.defect_counts(),
            "zero_range_bars": self.zero_range_bars,
            "zero_range_share": round(self.zero_range_share, 6),
            "examples": {k: [_iso(t) for t in v] for k, v in self.examples.items()},
            "bad_row_list": [str(b) for b in self.bad_rows],
            "notes": list(self.notes),
        }

    def to_text(self, max_gaps: int = 10) -> str:
        """Human-readable multi-line report."""
        from traderbot.data.quality_text import render_text

        return render_text(self, max_gaps)


def _ts(ns: int | np.integer) -> pd.Timestamp:
    return pd.Timestamp(int(ns), tz="UTC")


def _iso(ts: pd.Timestamp | None) -> str | None:
    return None if ts is None else ts.isoformat()


def infer_timeframe(stamps: np.ndarray) -> Timeframe | None:
    """Timeframe from the most common spacing of sorted stamps (None with fewer than two bars)."""
    if len(stamps) < 2:
        return None
    steps = np.diff(stamps)
    steps = steps[steps > 0]
    if len(steps) == 0:
        return None
    values, counts = np.unique(steps, return_counts=True)
    seconds = max(1, int(values[np.argmax(counts)]) // 1_000_000_000)
    for unit, size in _UNITS:
        if seconds % size == 0:
            return Timeframe.parse(f"{seconds // size}{unit}")
    return None  # pragma: no cover - the seconds unit always divides


def spike_mask(o: np.ndarray, h: np.ndarray, lo: np.ndarray, c: np.ndarray) -> np.ndarray:
    """Bars whose wick beyond the body exceeds SPIKE_FACTOR x the median range of their block of ~100 bars."""
    rng = h - lo
    positive = rng[rng > 0]
    floor = 0.5 * float(np.median(positive)) if len(positive) else 0.0
    full = len(rng) // SPIKE_WINDOW * SPIKE_WINDOW
    medians = np.median(rng[:full].reshape(-1, SPIKE_WINDOW), axis=1) if full else np.zeros(0)
    tail = rng[full:]
    local = np.repeat(medians, SPIKE_WINDOW)
    if len(tail):
        local = np.concatenate([local, np.full(len(tail), np.median(tail))])
    base = np.maximum(np.nan_to_num(local, nan=floor), floor)
    with np.errstate(invalid="ignore"):
        wick = np.maximum(h - np.maximum(o, c), np.minimum(o, c) - lo)
        return (wick > SPIKE_FACTOR * base) & (wick > 0)


def _bar_checks(df: pd.DataFrame) -> tuple[dict[str, int], dict[str, list[pd.Timestamp]]]:
    o, h, lo, c = (df[k].to_numpy(dtype=np.float64) for k in ("open", "high", "low", "close"))
    v = df["volume"].to_numpy(dtype=np.float64)
    with np.errstate(invalid="ignore"):
        masks = {
            "high_below_low": h < lo,
            "open_outside_range": (o > h) | (o < lo),
            "close_outside_range": (c > h) | (c < lo),
            "non_positive": (o <= 0) | (h <= 0) | (lo <= 0) | (c <= 0),
            "nan_values": np.isnan(o) | np.isnan(h) | np.isnan(lo) | np.isnan(c) | np.isnan(v),
            "zero_range_bars": h == lo,
            "suspect_spikes": spike_mask(o, h, lo, c),
        }
    counts = {k: int(m.sum()) for k, m in masks.items()}
    examples = {
        k: [df["ts"].iloc[i] for i in np.flatnonzero(m)[:MAX_EXAMPLES]]
        for k, m in masks.items()
        if k != "zero_range_bars" and m.any()
    }
    return counts, examples


def quality_report(
    df: pd.DataFrame,
    *,
    timeframe: str | Timeframe | None = None,
    instrument: Instrument | str | None = None,
    calendar: str | None = None,
    canon: CanonStats | None = None,
    bad_rows: list[BadRow] | None = None,
    notes: list[str] | None = None,
    source: str | None = None,
) -> QualityReport:
    """Assess a canonical frame; gaps are counted against the instrument's calendar (24/7 if unknown)."""
    stamps = ts_ns(df)
    cal_name, cal_note = resolve_calendar(instrument, calendar)
    all_notes = list(notes or []) + ([cal_note] if cal_note else [])
    tf = parse_timeframe(timeframe) if isinstance(timeframe, str) else timeframe
    inferred = tf is None
    if tf is None:
        tf = infer_timeframe(stamps)
    gaps, gap_note = scan_gaps(stamps, tf.ns if tf else None, cal_name)
    if gap_note:
        all_notes.append(gap_note)
    counts, examples = _bar_checks(df)
    inst_id = instrument.id if isinstance(instrument, Instrument) else instrument
    return QualityReport(
        instrument=inst_id,
        timeframe=tf.name if tf else None,
        timeframe_inferred=inferred and tf is not None,
        calendar=cal_name,
        rows=len(df),
        first=df["ts"].iloc[0] if len(df) else None,
        last=df["ts"].iloc[-1] if len(df) else None,
        gaps=gaps,
        duplicates=canon.duplicates_dropped if canon else 0,
        out_of_order=canon.out_of_order if canon else 0,
        examples=examples,
        bad_rows=list(bad_rows or []),
        notes=all_notes,
        source=source,
        **counts,
    )
