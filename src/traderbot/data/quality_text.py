"""Plain-text rendering of a QualityReport."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pandas as pd

if TYPE_CHECKING:
    from traderbot.data.quality import QualityReport

MAX_BAD_ROWS_SHOWN = 20
_LABELS = {
    "duplicates": "duplicated stamps (last kept)",
    "out_of_order": "rows out of order (sorted)",
    "high_below_low": "high < low",
    "open_outside_range": "open outside [low, high]",
    "close_outside_range": "close outside [low, high]",
    "non_positive": "non-positive prices",
    "nan_values": "NaN values",
    "suspect_spikes": "suspect spikes (wick > 10x local)",
    "off_session_bars": "bars while the calendar is closed",
    "off_grid_bars": "bars off the timeframe grid",
}


def _fmt_ts(ts: pd.Timestamp | None) -> str:
    if ts is None:
        return "-"
    return ts.strftime("%Y-%m-%d %H:%M") if (ts.second, ts.microsecond) == (0, 0) else ts.isoformat()


def _header(r: QualityReport) -> list[str]:
    title = f"Quality report: {r.instrument or 'data'} {r.timeframe or '?'} (calendar {r.calendar})"
    lines = [title]
    if r.source:
        lines.append(f"  source       {r.source}")
    tf_note = " (inferred from the most common bar spacing)" if r.timeframe_inferred else ""
    lines += [
        f"  rows         {r.rows:,}",
        f"  span         {_fmt_ts(r.first)} .. {_fmt_ts(r.last)} UTC",
        f"  timeframe    {r.timeframe or 'unknown'}{tf_note}",
    ]
    return lines


def _gap_lines(r: QualityReport, max_gaps: int) -> list[str]:
    if r.expected_bars == 0:
        return ["  gaps         not measured"]
    coverage = 100.0 * (1 - r.missing_bars / r.expected_bars)
    lines = [
        f"  coverage     {coverage:.2f}% of {r.expected_bars:,} expected bars; "
        f"{r.missing_bars:,} missing in {r.gap_runs:,} gap(s)"
    ]
    if r.gap_runs:
        lines.append(f"  largest gaps (up to {max_gaps}): start .. end UTC, missing bars, wall-clock length")
        for g in r.largest_gaps(max_gaps):
            lines.append(f"    {_fmt_ts(g.start)} .. {_fmt_ts(g.end)}  {g.bars:>7,} bars  {g.length}")
    return lines


def _defect_lines(r: QualityReport) -> list[str]:
    lines = []
    for key, count in r.defect_counts().items():
        if key == "bad_rows" or key not in _LABELS:
            continue
        examples = r.examples.get(key, [])
        shown = f"  e.g. {', '.join(_fmt_ts(t) for t in examples)}" if count and examples else ""
        lines.append(f"  {_LABELS[key]:<34}{count:>8,}{shown}")
    lines.append(
        f"  {'zero-range bars (high == low)':<34}{r.zero_range_bars:>8,}  ({100 * r.zero_range_share:.2f}%)"
    )
    return lines


def render_text(r: QualityReport, max_gaps: int = 10) -> str:
    """Multi-line report: header, coverage and largest gaps, defect counts, skipped rows, notes."""
    lines = _header(r) + _gap_lines(r, max_gaps) + _defect_lines(r)
    if r.bad_rows:
        lines.append(f"  bad rows skipped: {len(r.bad_rows):,}")
        lines += [f"    {b}" for b in r.bad_rows[:MAX_BAD_ROWS_SHOWN]]
        if len(r.bad_rows) > MAX_BAD_ROWS_SHOWN:
            lines.append(f"    ... and {len(r.bad_rows) - MAX_BAD_ROWS_SHOWN:,} more")
    lines += [f"  note: {n}" for n in r.notes]
    return "\n".join(lines)
