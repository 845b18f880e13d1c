"""Generic OHLCV CSV importer: column mapping or auto-detection, date format, time zone, bad-row reporting."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import tzinfo
from pathlib import Path

import numpy as np
import pandas as pd

from traderbot.data.importers._common import (
    SKIP_HINT,
    check_readable,
    finish_import,
    parse_tz,
    refuse_bad_rows,
)
from traderbot.data.importers._fields import PRICE_FIELDS, FieldProblems, parse_numbers, parse_timestamps
from traderbot.data.importers.table import (
    TextTable,
    first_line,
    header_names,
    read_text_table,
    sniff_delimiter,
)
from traderbot.data.quality import BadRow, QualityReport
from traderbot.errors import UserError
from traderbot.model.instrument import Instrument

MAP_KEYS = ("ts", "date", "time", *PRICE_FIELDS, "volume")
TS_NAMES = ("ts", "timestamp", "datetime", "date_time", "date time", "gmt time", "local time", "time", "date")
ALIASES = {
    "open": ("open", "o"),
    "high": ("high", "h"),
    "low": ("low", "l"),
    "close": ("close", "c"),
    "volume": ("volume", "vol", "v", "tick_volume", "tickvol"),
}


@dataclass(frozen=True)
class ColumnPlan:
    """Which file column feeds each canonical field (ts, or a date + time pair)."""

    ts: str | None
    date: str | None
    time: str | None
    prices: dict[str, str]
    volume: str | None


def parse_mapping(text: str | None) -> dict[str, str]:
    """'ts=Date,open=Open' -> {'ts': 'Date', 'open': 'Open'}; bad keys raise UserError."""
    if not text or not text.strip():
        return {}
    out: dict[str, str] = {}
    for part in text.split(","):
        key, sep, value = part.partition("=")
        key = key.strip().lower()
        if not sep or not value.strip() or key not in MAP_KEYS:
            raise UserError(
                f"bad --map entry {part.strip()!r}; use FIELD=COLUMN with FIELD one of {', '.join(MAP_KEYS)}"
            )
        out[key] = value.strip()
    return out


def _find(header: list[str], wanted: str, source: str) -> str:
    lower = {h.lower(): h for h in header}
    if wanted in header or wanted.lower() in lower:
        return wanted if wanted in header else lower[wanted.lower()]
    raise UserError(
        f"column {wanted!r} from --map is not in {source} (columns: {', '.join(header)}); fix --map"
    )


def _auto_ts(header: list[str], raw_first: str) -> tuple[str | None, str | None, str | None]:
    lower = {h.lower(): h for h in header}
    if "date" in lower and "time" in lower and not {"ts", "timestamp", "datetime"} & lower.keys():
        return None, lower["date"], lower["time"]
    for name in TS_NAMES:
        if name in lower:
            return lower[name], None, None
    if not raw_first.strip() or raw_first.strip().lower() in {"index", "unnamed: 0"}:
        return header[0], None, None  # pandas-style unnamed index column holds the stamps
    return None, None, None


def plan_columns(header: list[str], mapping: dict[str, str], source: str, raw_first: str = "x") -> ColumnPlan:
    """Resolve the column plan from an explicit mapping, else by name (case-insensitive)."""
    m = {k: _find(header, v, source) for k, v in mapping.items()}
    ts, date, time = m.get("ts"), m.get("date"), m.get("time")
    if ts is None and not (date and time):
        ts, date, time = _auto_ts(header, raw_first) if not (date or time) else (date or time, None, None)
    lower = {h.lower(): h for h in header}
    prices: dict[str, str] = {}
    for key in PRICE_FIELDS:
        found = m.get(key) or next((lower[a] for a in ALIASES[key] if a in lower), None)
        if found:
            prices[key] = found
    volume = m.get("volume") or next((lower[a] for a in ALIASES["volume"] if a in lower), None)
    missing = [k for k in PRICE_FIELDS if k not in prices] + (["ts"] if ts is None and date is None else [])
    if missing:
        raise UserError(
            f"{source} has no column for {', '.join(missing)} (columns: {', '.join(header)}); "
            "name them with --map, e.g. --map ts=Date,open=Open,high=High,low=Low,close=Close"
        )
    return ColumnPlan(ts, date, time, prices, volume)


def _drop_policy(problems: FieldProblems, *, skip_bad_rows: bool, drop_missing: bool) -> set[int]:
    if skip_bad_rows:
        return set(problems.messages)
    if drop_missing:
        return {i for i in problems.messages if i not in problems.fatal_rows}
    return set()


def parse_cells(
    table: TextTable,
    plan: ColumnPlan,
    *,
    fmt: str | None,
    tz: tzinfo,
    source: str,
    skip_bad_rows: bool = False,
    drop_missing: bool = False,
    hint: str = SKIP_HINT,
) -> tuple[tuple[np.ndarray, ...], list[BadRow], list[str]]:
    """Arrays (ts_ns, o, h, l, c, v) from string cells; bad rows refused or dropped per the options."""
    cells, problems = table.cells, FieldProblems()
    if plan.ts is not None:
        stamps_text = cells[plan.ts]
    else:
        stamps_text = cells[str(plan.date)].str.strip() + " " + cells[str(plan.time)].str.strip()
    stamps, notes = parse_timestamps(stamps_text, problems, fmt=fmt, tz=tz)
    prices = [parse_numbers(cells[plan.prices[k]], k, problems, empty_value=None) for k in PRICE_FIELDS]
    volume = (
        parse_numbers(cells[plan.volume], "volume", problems, empty_value=0.0)
        if plan.volume
        else np.zeros(len(cells))
    )
    dropped = _drop_policy(problems, skip_bad_rows=skip_bad_rows, drop_missing=drop_missing)
    bad = problems.bad_rows_by_index(table.lines)
    remaining = [row for i, row in bad.items() if i not in dropped]
    refuse_bad_rows(
        sorted(table.ragged + remaining, key=_line_key), skip=skip_bad_rows, source=source, hint=hint
    )
    skipped = sorted(table.ragged + [bad[i] for i in dropped], key=_line_key)
    keep = np.ones(len(cells), dtype=bool)
    keep[sorted(dropped)] = False
    arrays = (stamps[keep], *(p[keep] for p in prices), volume[keep])
    return arrays, skipped, notes


def _line_key(row: BadRow) -> int:
    digits = "".join(ch for ch in row.where if ch.isdigit())
    return int(digits) if digits else 0


def import_csv(
    path: Path | str,
    *,
    mapping: dict[str, str] | None = None,
    date_format: str | None = None,
    tz: str | tzinfo | None = "UTC",
    delimiter: str | None = None,
    skip_bad_rows: bool = False,
    drop_missing: bool = False,
    instrument: Instrument | str | None = None,
    timeframe: str | None = None,
    calendar: str | None = None,
    hint: str = SKIP_HINT,
) -> tuple[pd.DataFrame, QualityReport]:
    """Import an OHLCV CSV with a header row; naive stamps are local to `tz` (UTC by default)."""
    p = check_readable(Path(path))
    head = first_line(p)
    delim = delimiter or sniff_delimiter(head)
    names = header_names(head, delim)
    raw_first = head.split(delim, 1)[0].strip().strip('"')
    if not mapping and raw_first[:1].isdigit() and not any(n.lower() in TS_NAMES for n in names):
        raise UserError(
            f"the first line of {p.name} looks like data, not column names; add a header line "
            "or use --format histdata for HistData files"
        )
    plan = plan_columns(names, mapping or {}, p.name, raw_first)
    table = read_text_table(p, names, delim, has_header=True)
    arrays, skipped, notes = parse_cells(
        table,
        plan,
        fmt=date_format,
        tz=parse_tz(tz),
        source=p.name,
        skip_bad_rows=skip_bad_rows,
        drop_missing=drop_missing,
        hint=hint,
    )
    return finish_import(
        arrays,
        source=p.name,
        instrument=instrument,
        timeframe=timeframe,
        calendar=calendar,
        bad_rows=skipped,
        notes=notes,
    )
