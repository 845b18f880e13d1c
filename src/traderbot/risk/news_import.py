"""Economic-calendar file parsers (CSV and iCalendar) for the news blackout.

CSV: a header row (names case-insensitive) with a time column (`time`, `datetime`, `timestamp`, `date_time`)
or `date` + `time`; `currency` (`country`, `ccy`); `impact`; optionally `title` (`event`, `name`). Times are
ISO 8601: with an offset or `Z` they are converted to UTC, naive times are UTC, a bare date is midnight UTC.
Row numbers count the header as row 1, as a spreadsheet does.

ICS (RFC 5545, the subset calendars use): VEVENTs with DTSTART in UTC (`...Z`), with `TZID=<IANA zone>`
(VTIMEZONE blocks are not read), floating (= UTC) or `VALUE=DATE` (= midnight UTC). Currency comes from
X-CURRENCY, else a currency code in CATEGORIES, else a leading code in SUMMARY (`USD ...`, `[USD] ...`);
impact from X-IMPACT, else a CATEGORIES word (high, medium, low), else PRIORITY (1-4 high, 5 medium, 6-9 low).
Cancelled events are left out; recurring ones (RRULE) are refused, since only their first date would count.

In both formats an impact of `holiday` or `non-economic` marks an event that moves no market: it is skipped.
"""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from traderbot.errors import UserError
from traderbot.risk.news import ISO_CURRENCIES, Impact, NewsEvent

_IMPACTS = {
    **dict.fromkeys(("high", "h", "3", "red"), Impact.HIGH),
    **dict.fromkeys(("medium", "m", "2", "orange"), Impact.MEDIUM),
    **dict.fromkeys(("low", "l", "1", "yellow"), Impact.LOW),
}
_SKIPPED = frozenset({"holiday", "non-economic"})  # impacts of events that move no market
_IMPACT_FIX = "use high, medium or low (or holiday / non-economic to skip the event)"

_TIME_COLUMNS = ("time", "datetime", "timestamp", "date_time")
_CURRENCY_COLUMNS = ("currency", "country", "ccy")
_TITLE_COLUMNS = ("title", "event", "name")

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_ICS_TIME = re.compile(r"(\d{4})(\d{2})(\d{2})(?:T(\d{2})(\d{2})(\d{2})(Z?))?")
_SUMMARY_CODE = re.compile(r"\s*(?:\[([A-Z]{3})\]\s*|([A-Z]{3})(?:\s*[:\-–]\s*|\s+))")
_ICS_ESCAPE = re.compile(r"\\([\\,;nN])")
_CATEGORY_IMPACT = re.compile(r"(high|medium|low)(?: impact)?")


class _Bad(Exception):
    """A problem in one row or line: `problem; fix`. The reader adds the file and the row or line number."""

    def __init__(self, problem: str, line: int | None = None) -> None:
        super().__init__(problem)
        self.problem = problem
        self.line = line


def read_calendar(path: Path) -> list[NewsEvent]:
    """Parse a calendar by its extension (.csv or .ics); the events sorted by time."""
    kind = path.suffix.lower()
    if kind not in (".csv", ".ics"):
        raise UserError(
            f"news calendar {path.name} is neither .csv nor .ics; export the calendar as CSV or iCalendar (.ics)"
        )
    if not path.exists():
        raise UserError(f"news calendar {path} does not exist; check the path of risk.news.file")
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise UserError(f"news calendar {path.name} is not UTF-8 text; save it as UTF-8") from exc
    except OSError as exc:
        raise UserError(f"news calendar {path} cannot be read ({exc.strerror}); check the path") from exc
    events = _parse_csv(path.name, text) if kind == ".csv" else _parse_ics(path.name, text)
    return sorted(events, key=lambda e: (e.ts_ns, e.currency, e.title))


def _impact(raw: str) -> Impact | None:
    """The impact level, None for a skipped (holiday) event, or _Bad."""
    key = raw.strip().lower().replace("_", "-").replace(" ", "-")
    if key in _SKIPPED:
        return None
    if key in _IMPACTS:
        return _IMPACTS[key]
    if not key:
        raise _Bad(f"impact is empty; {_IMPACT_FIX}")
    raise _Bad(f"impact {raw.strip()!r} is not valid; {_IMPACT_FIX}")


def _currency(raw: str) -> str:
    code = raw.strip().upper()
    if not code:
        raise _Bad("currency is empty; fill in a code such as USD")
    if code not in ISO_CURRENCIES:
        raise _Bad(f"currency {raw.strip()!r} is not a known currency code; use an ISO 4217 code such as USD")
    return code


def _ns(dt: datetime) -> int:
    """UTC nanoseconds; a naive time is UTC."""
    aware = dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt
    return (aware - _EPOCH) // timedelta(microseconds=1) * 1000


# --- CSV ---------------------------------------------------------------------------------------------------


def _parse_csv(name: str, text: str) -> list[NewsEvent]:
    if not text.strip():
        return []
    first = text.partition("\n")[0]
    if not first.strip():
        raise UserError(f"news calendar {name} row 1: the header row is empty; put the column names first")
    delimiter = max(",;\t", key=first.count)
    rows = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    header = [h.strip().lower().replace(" ", "_").replace("-", "_") for h in next(rows)]
    try:
        cols = _columns(header)
    except _Bad as exc:
        raise UserError(f"news calendar {name} row 1: {exc.problem}") from None
    events: list[NewsEvent] = []
    for number, row in enumerate(rows, start=2):
        if not any(cell.strip() for cell in row):
            continue
        try:
            event = _csv_event(row, header, cols)
        except _Bad as exc:
            raise UserError(f"news calendar {name} row {number}: {exc.problem}") from None
        if event is not None:
            events.append(event)
    return events


def _columns(header: list[str]) -> dict[str, int]:
    """Column positions by role: ts or date+clock, currency, impact, title (optional)."""

    def find(names: tuple[str, ...]) -> int | None:
        return next((header.index(n) for n in names if n in header), None)

    cols: dict[str, int] = {}
    single = find(_TIME_COLUMNS[1:])
    if single is None and "date" in header and "time" in header:
        cols["date"], cols["clock"] = header.index("date"), header.index("time")
    elif single is not None or "time" in header:
        cols["ts"] = single if single is not None else header.index("time")
    else:
        raise _Bad("there is no time column; name it time (or give date and time columns) in the header row")
    for role, names in (("currency", _CURRENCY_COLUMNS), ("impact", ("impact",))):
        found = find(names)
        if found is None:
            raise _Bad(f"there is no {role} column; add a column named {names[0]} to the header row")
        cols[role] = found
    title = find(_TITLE_COLUMNS)
    if title is not None:
        cols["title"] = title
    return cols


def _csv_event(row: list[str], header: list[str], cols: dict[str, int]) -> NewsEvent | None:
    extra = [c for c in row[len(header) :] if c.strip()]
    if len(row) < len(header) or extra:
        raise _Bad(
            f"it has {len(row)} fields but the header has {len(header)} columns; "
            "quote fields that contain the delimiter"
        )
    impact = _impact(row[cols["impact"]])
    if impact is None:
        return None
    if "ts" in cols:
        raw = row[cols["ts"]].strip()
    else:
        day, clock = row[cols["date"]].strip(), row[cols["clock"]].strip()
        raw = f"{day} {clock}" if clock else day
    if not raw:
        raise _Bad("the time is empty; give an ISO 8601 time such as 2024-01-05T13:30Z")
    try:
        ts = datetime.fromisoformat(raw)
    except ValueError:
        raise _Bad(f"time {raw!r} is not a valid ISO 8601 time; write it like 2024-01-05T13:30Z") from None
    title = row[cols["title"]].strip() if "title" in cols else ""
    return NewsEvent(_ns(ts), _currency(row[cols["currency"]]), impact, title)


# --- iCalendar ---------------------------------------------------------------------------------------------

_Prop = tuple[int, dict[str, str], str]  # line number, parameters, value


def _unfold(text: str) -> list[tuple[int, str]]:
    """Logical lines with the number of their first physical line (a line starting with space/tab continues)."""
    out: list[tuple[int, str]] = []
    for number, line in enumerate(re.split(r"\r\n|\n|\r", text), start=1):
        if line[:1] in (" ", "\t") and out:
            out[-1] = (out[-1][0], out[-1][1] + line[1:])
        elif line.strip():
            out.append((number, line))
    return out


def _split_line(line: str) -> tuple[str, dict[str, str], str]:
    """`NAME;P=V;...:value` -> (NAME, params, value); ':' and ';' inside quoted parameter values are text."""
    quoted, cuts, colon = False, [], -1
    for i, ch in enumerate(line):
        if ch == '"':
            quoted = not quoted
        elif ch == ";" and not quoted:
            cuts.append(i)
        elif ch == ":" and not quoted:
            colon = i
            break
    if colon <= 0:
        raise _Bad("it is not a NAME:value property; check that folded lines start with a space")
    bounds = [-1, *cuts, colon]
    parts = [line[a + 1 : b] for a, b in pairwise(bounds)]
    params = {}
    for part in parts[1:]:
        key, _, val = part.partition("=")
        params[key.strip().upper()] = val.strip().strip('"')
    return parts[0].strip().upper(), params, line[colon + 1 :]


def _unescape(value: str) -> str:
    return _ICS_ESCAPE.sub(lambda m: "\n" if m.group(1) in "nN" else m.group(1), value)


def _parse_ics(name: str, text: str) -> list[NewsEvent]:
    lines = _unfold(text)
    if not lines:
        return []
    if lines[0][1].strip().upper() != "BEGIN:VCALENDAR":
        raise UserError(
            f"news calendar {name} line {lines[0][0]}: it does not start with BEGIN:VCALENDAR; "
            "export the calendar as iCalendar (.ics)"
        )
    events: list[NewsEvent] = []
    stack: list[tuple[str, int]] = []
    props: dict[str, list[_Prop]] = {}
    for number, line in lines:
        try:
            key, params, value = _split_line(line)
            if key == "BEGIN":
                stack.append((value.strip().upper(), number))
                if stack[-1][0] == "VEVENT":
                    props = {}
            elif key == "END":
                what = value.strip().upper()
                if not stack or stack[-1][0] != what:
                    opened = f"{stack[-1][0]} begun on line {stack[-1][1]}" if stack else "nothing"
                    raise _Bad(f"END:{what} does not close {opened}; fix the BEGIN/END pairs")
                begun = stack.pop()[1]
                if what == "VEVENT":
                    event = _ics_event(props, begun)
                    if event is not None:
                        events.append(event)
            elif stack and stack[-1][0] == "VEVENT":
                props.setdefault(key, []).append((number, params, value))
        except _Bad as exc:
            at = number if exc.line is None else exc.line
            raise UserError(f"news calendar {name} line {at}: {exc.problem}") from None
    if stack:
        what, begun = stack[-1]
        raise UserError(f"news calendar {name} line {begun}: {what} is never closed; add END:{what}")
    return events


def _ics_event(props: dict[str, list[_Prop]], begun: int) -> NewsEvent | None:
    """One VEVENT, or None when it is cancelled or a holiday; a _Bad names the line of the faulty property."""
    if any(v.strip().upper() == "CANCELLED" for _, _, v in props.get("STATUS", [])):
        return None
    if "RRULE" in props:
        raise _Bad(
            "recurring events (RRULE) are not supported; export each occurrence as its own event",
            props["RRULE"][0][0],
        )
    if "DTSTART" not in props:
        raise _Bad("the event has no DTSTART; add DTSTART:20240105T133000Z (UTC)", begun)
    title = _unescape(props["SUMMARY"][0][2]).strip() if "SUMMARY" in props else ""
    categories = [
        _unescape(c).strip()
        for _, _, value in props.get("CATEGORIES", [])
        for c in re.split(r"(?<!\\),", value)
    ]
    line, params, value = props["DTSTART"][0]
    try:
        ts = _ics_time(value.strip(), params)
    except _Bad as exc:
        raise _Bad(exc.problem, line) from None
    impact = _ics_impact(props, categories, title, begun)
    if impact is None:
        return None
    currency = _ics_currency(props, categories, title, begun)
    prefix = _SUMMARY_CODE.match(title)
    if prefix and (prefix.group(1) or prefix.group(2)) == currency:
        title = title[prefix.end() :]
    return NewsEvent(ts, currency, impact, title)


def _ics_time(value: str, params: dict[str, str]) -> int:
    m = _ICS_TIME.fullmatch(value)
    if not m:
        raise _Bad(f"DTSTART {value!r} is not an iCalendar time; write it like 20240105T133000Z")
    y, mo, d, hh, mi, ss, z = m.groups()
    try:
        if hh is None or params.get("VALUE", "").upper() == "DATE":
            return _ns(datetime(int(y), int(mo), int(d)))
        tz = UTC if z else _zone(params.get("TZID"))
        return _ns(datetime(int(y), int(mo), int(d), int(hh), int(mi), int(ss), tzinfo=tz))
    except ValueError:
        raise _Bad(f"DTSTART {value!r} is not a valid date or time; check the digits") from None


def _zone(tzid: str | None) -> ZoneInfo | None:
    if tzid is None:
        return None  # floating time: UTC
    try:
        return ZoneInfo(tzid.lstrip("/"))
    except (ZoneInfoNotFoundError, ValueError):
        raise _Bad(f"time zone {tzid!r} is unknown; use an IANA name such as America/New_York") from None


def _ics_impact(
    props: dict[str, list[_Prop]], categories: list[str], title: str, begun: int
) -> Impact | None:
    if "X-IMPACT" in props:
        line, _, raw = props["X-IMPACT"][0]
        try:
            return _impact(raw)
        except _Bad as exc:
            raise _Bad(exc.problem, line) from None
    for c in categories:
        key = c.lower()
        if m := _CATEGORY_IMPACT.fullmatch(key):
            return _IMPACTS[m.group(1)]
        if key.replace(" ", "-") in _SKIPPED:
            return None
    if "PRIORITY" in props:
        line, _, raw = props["PRIORITY"][0]
        if not raw.strip().isdigit() or int(raw) > 9:
            raise _Bad(
                f"PRIORITY {raw.strip()!r} is not 0 to 9; use 1-4 (high), 5 (medium) or 6-9 (low)", line
            )
        level = int(raw)
        if level:  # 0 means undefined
            return Impact.HIGH if level <= 4 else Impact.MEDIUM if level == 5 else Impact.LOW
    raise _Bad(
        f"event {title!r} has no impact; add X-IMPACT:high (or a high/medium/low category or PRIORITY)", begun
    )


def _ics_currency(props: dict[str, list[_Prop]], categories: list[str], title: str, begun: int) -> str:
    if "X-CURRENCY" in props:
        line, _, raw = props["X-CURRENCY"][0]
        try:
            return _currency(raw)
        except _Bad as exc:
            raise _Bad(exc.problem, line) from None
    for c in categories:
        if c.upper() in ISO_CURRENCIES:
            return c.upper()
    m = _SUMMARY_CODE.match(title)
    code = m and (m.group(1) or m.group(2))
    if code and code in ISO_CURRENCIES:
        return code
    raise _Bad(
        f"event {title!r} has no currency; add X-CURRENCY:USD (or a currency code in CATEGORIES)", begun
    )
