"""Shared import steps: time zones, bad-row policy, and turning parsed columns into a checked frame."""

from __future__ import annotations

import re
from datetime import UTC, timedelta, timezone, tzinfo
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np
import pandas as pd

from traderbot.data.frame import canonicalize, frame_from_arrays
from traderbot.data.quality import BadRow, QualityReport, infer_timeframe, quality_report
from traderbot.data.store import parse_timeframe
from traderbot.errors import UserError
from traderbot.model.instrument import Instrument

MAX_BAD_SHOWN = 5
_OFFSET_RE = re.compile(r"^(?:UTC|GMT)?\s*([+-])(\d{1,2})(?::?(\d{2}))?$", re.IGNORECASE)


def parse_tz(value: str | tzinfo | None) -> tzinfo:
    """A zone name ('America/New_York', 'UTC') or fixed offset ('-05:00', 'UTC-5', '+0130') as a tzinfo."""
    if value is None:
        return UTC
    if isinstance(value, tzinfo):
        return value
    text = value.strip()
    if text.upper() in {"UTC", "Z", "GMT", ""}:
        return UTC
    m = _OFFSET_RE.match(text)
    if m:
        sign = -1 if m.group(1) == "-" else 1
        hours, minutes = int(m.group(2)), int(m.group(3) or 0)
        if hours > 14 or minutes >= 60:
            raise UserError(f"time-zone offset {value!r} is out of range; use e.g. -05:00 or +09:30")
        return timezone(sign * timedelta(hours=hours, minutes=minutes))
    try:
        return ZoneInfo(text)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise UserError(
            f"unknown time zone {value!r}; "
            "use an IANA name such as America/New_York or an offset such as -05:00"
        ) from exc


def check_readable(path: Path) -> Path:
    """The path itself if it is a non-empty file; UserError otherwise."""
    p = Path(path)
    if not p.exists():
        raise UserError(f"file {p} does not exist; check the path")
    if not p.is_file():
        raise UserError(f"{p} is not a file; give the path of a data file")
    if p.stat().st_size == 0:
        raise UserError(f"file {p} is empty; there is nothing to import")
    return p


SKIP_HINT = "fix the file or pass --skip-bad-rows to drop those rows"


def refuse_bad_rows(bad: list[BadRow], *, skip: bool, source: str, hint: str = SKIP_HINT) -> None:
    """Raise a UserError naming the first bad rows unless they may be skipped."""
    if not bad or skip:
        return
    shown = "; ".join(str(b) for b in bad[:MAX_BAD_SHOWN])
    more = f" (and {len(bad) - MAX_BAD_SHOWN} more)" if len(bad) > MAX_BAD_SHOWN else ""
    raise UserError(f"{source} has {len(bad)} malformed row(s) - {shown}{more}; nothing was imported: {hint}")


def localize(naive: pd.DatetimeIndex, tz: tzinfo) -> tuple[np.ndarray, list[str]]:
    """Naive local stamps -> UTC ns; repeated DST hours: first occurrence is daylight time, later standard."""
    notes: list[str] = []
    if tz is UTC:
        return np.asarray(naive.as_unit("ns").asi8, dtype=np.int64), notes
    if isinstance(tz, timezone):  # fixed offset: no DST
        shifted = naive.as_unit("ns") - pd.Timedelta(tz.utcoffset(None))
        return np.asarray(shifted.asi8, dtype=np.int64), notes
    first_seen = ~pd.Series(naive).duplicated(keep="first").to_numpy()
    strict = naive.tz_localize(tz, ambiguous=first_seen, nonexistent="NaT")
    gap_count = int(np.count_nonzero(strict.isna()) - np.count_nonzero(naive.isna()))
    aware = naive.tz_localize(tz, ambiguous=first_seen, nonexistent="shift_forward") if gap_count else strict
    if gap_count:
        notes.append(f"{gap_count} stamp(s) fell in a daylight-saving gap of {tz} and were moved forward")
    return np.asarray(aware.tz_convert("UTC").as_unit("ns").asi8, dtype=np.int64), notes


def check_timeframe(stamps: np.ndarray, timeframe: str | None, source: str) -> tuple[str | None, list[str]]:
    """The given timeframe if the data is not finer than it, else the inferred one (with a note)."""
    inferred = infer_timeframe(np.sort(stamps))
    if timeframe is None:
        if inferred is None:
            return None, []
        return inferred.name, [f"timeframe inferred as {inferred.name} from the most common bar spacing"]
    tf = parse_timeframe(timeframe)
    if inferred is not None and inferred.ns < tf.ns:
        raise UserError(
            f"{source} holds {inferred.name} bars, finer than the given timeframe {tf.name}; "
            f"pass --timeframe {inferred.name} (and resample afterwards if needed)"
        )
    return tf.name, []


def finish_import(
    arrays: tuple[np.ndarray, ...],
    *,
    source: str,
    instrument: Instrument | str | None,
    timeframe: str | None,
    calendar: str | None = None,
    bad_rows: list[BadRow] | None = None,
    notes: list[str] | None = None,
) -> tuple[pd.DataFrame, QualityReport]:
    """Canonicalize parsed columns (ts_ns, o, h, l, c, v) and assess them; an empty result is refused."""
    if len(arrays[0]) == 0:
        hint = f" (first problem: {bad_rows[0]})" if bad_rows else ""
        raise UserError(f"{source} contains no usable bars{hint}; check the format and options")
    tf, tf_notes = check_timeframe(arrays[0], timeframe, source)
    df, canon = canonicalize(frame_from_arrays(*arrays))
    report = quality_report(
        df,
        timeframe=tf,
        instrument=instrument,
        calendar=calendar,
        canon=canon,
        bad_rows=bad_rows,
        notes=[*(notes or []), *tf_notes],
        source=source,
    )
    return df, report
