"""Trading days: which calendar applies to an instrument and which session (day) each bar belongs to."""

from __future__ import annotations

import warnings
from functools import lru_cache
from typing import Any

import numpy as np
import pandas as pd

from traderbot.errors import UserError
from traderbot.model.instrument import Instrument, get_instrument

DAY_NS = 86_400_000_000_000
HOUR_NS = 3_600_000_000_000
_FX_ZONE = "America/New_York"
_FX_ROLL_NS = 7 * HOUR_NS  # 17:00 New York + 7h = midnight: the FX day starts at 17:00 NY


def resolve_calendar(
    instrument: Instrument | str | None, calendar: str | None = None
) -> tuple[str, str | None]:
    """Calendar name for an instrument (explicit `calendar` wins); a note when falling back to 24/7."""
    if calendar:
        name = calendar.strip()
        kind = calendar_kind(name)
        if kind == "exchange":
            exchange_calendar(name.upper())  # fails early with a clear message for unknown codes
            return name.upper(), None
        return kind, None
    if isinstance(instrument, Instrument):
        return instrument.calendar, None
    if instrument:
        try:
            return get_instrument(instrument).calendar, None
        except KeyError:
            return (
                "24/7",
                f"{instrument} is not a known instrument: gaps are measured against a 24/7 calendar",
            )
    return "24/7", None


def calendar_kind(name: str) -> str:
    """'fx', '24/7' or 'exchange'."""
    key = name.strip().lower()
    if key == "fx":
        return "fx"
    if key in {"24/7", "crypto", "always"}:
        return "24/7"
    return "exchange"


@lru_cache(maxsize=16)
def exchange_calendar(code: str, start_year: int = 2006) -> Any:
    """exchange_calendars calendar covering `start_year` onwards (imported lazily: it is slow)."""
    import exchange_calendars as xcals

    try:
        with warnings.catch_warnings():  # exchange_calendars trips pandas deprecation warnings
            warnings.simplefilter("ignore")
            return xcals.get_calendar(code.upper(), start=f"{start_year}-01-01")
    except Exception as exc:  # InvalidCalendarName and out-of-bounds errors
        raise UserError(
            f"cannot use market calendar {code!r} ({exc}); use 'fx', '24/7' or e.g. XNYS"
        ) from exc


def _calendar_for(code: str, ts_ns: np.ndarray) -> Any:
    first_year = pd.Timestamp(int(ts_ns.min()), tz="UTC").year if len(ts_ns) else 2006
    return exchange_calendar(code, min(2006, first_year))


def fx_session_labels(ts_ns: np.ndarray) -> np.ndarray:
    """Open time (UTC ns) of the FX day holding each bar: the preceding 17:00 New York."""
    if len(ts_ns) == 0:
        return np.zeros(0, dtype=np.int64)
    utc = pd.DatetimeIndex(np.asarray(ts_ns, dtype="datetime64[ns]")).tz_localize("UTC")
    local = np.asarray(utc.tz_convert(_FX_ZONE).tz_localize(None).as_unit("ns").asi8, dtype=np.int64)
    days = np.unique((local + _FX_ROLL_NS) // DAY_NS)
    opens_local = days * DAY_NS - _FX_ROLL_NS
    opens = pd.DatetimeIndex(opens_local.astype("datetime64[ns]")).tz_localize(_FX_ZONE).tz_convert("UTC")
    opens_ns = np.asarray(opens.as_unit("ns").asi8, dtype=np.int64)
    return opens_ns[np.searchsorted(days, (local + _FX_ROLL_NS) // DAY_NS)]


def fx_expected_labels(first_label_ns: int, last_label_ns: int) -> np.ndarray:
    """FX day open times (UTC ns) from the first to the last label for the Monday..Friday trading days."""
    first_day = (
        pd.Timestamp(first_label_ns + DAY_NS, tz="UTC").tz_convert(_FX_ZONE).normalize().tz_localize(None)
    )
    last_day = (
        pd.Timestamp(last_label_ns + DAY_NS, tz="UTC").tz_convert(_FX_ZONE).normalize().tz_localize(None)
    )
    days = pd.date_range(first_day, last_day, freq="D", unit="ns")
    days = days[np.asarray(days.day_of_week) < 5]
    opens = (days - pd.Timedelta(hours=7)).tz_localize(_FX_ZONE).tz_convert("UTC")
    return np.asarray(opens.as_unit("ns").asi8, dtype=np.int64)


def exchange_session_labels(ts_ns: np.ndarray, code: str) -> np.ndarray:
    """Session date (00:00 UTC, ns) per bar: its session, else the one on its local date, else the next."""
    if len(ts_ns) == 0:
        return np.zeros(0, dtype=np.int64)
    cal = _calendar_for(code, ts_ns)
    sched = cal.schedule
    opens = np.asarray(sched["open"].to_numpy(dtype="datetime64[ns]").astype(np.int64))
    closes = np.asarray(sched["close"].to_numpy(dtype="datetime64[ns]").astype(np.int64))
    dates = np.asarray(pd.DatetimeIndex(sched.index).as_unit("ns").asi8, dtype=np.int64)
    t = np.asarray(ts_ns, dtype=np.int64)
    pos = np.clip(np.searchsorted(opens, t, side="right") - 1, 0, len(opens) - 1)
    inside = (t >= opens[pos]) & (t < closes[pos])
    local = (
        pd.DatetimeIndex(t.astype("datetime64[ns]")).tz_localize("UTC").tz_convert(cal.tz).tz_localize(None)
    )
    local_day = np.asarray(local.as_unit("ns").asi8, dtype=np.int64) // DAY_NS * DAY_NS
    midnight_utc = t % DAY_NS == 0  # daily bars already labelled by session date
    day = np.where(midnight_utc, t, local_day)
    nxt = np.clip(np.searchsorted(dates, day, side="left"), 0, len(dates) - 1)
    return np.where(inside & ~midnight_utc, dates[pos], dates[nxt])


def exchange_expected_labels(first_label_ns: int, last_label_ns: int, code: str) -> np.ndarray:
    """Session dates (00:00 UTC, ns) of the exchange between two session dates."""
    cal = _calendar_for(code, np.array([first_label_ns], dtype=np.int64))
    lo = max(pd.Timestamp(first_label_ns), pd.Timestamp(cal.first_session))
    hi = min(pd.Timestamp(last_label_ns), pd.Timestamp(cal.last_session))
    if lo > hi:
        return np.zeros(0, dtype=np.int64)
    sessions = pd.DatetimeIndex(cal.sessions_in_range(lo, hi))
    return np.asarray(sessions.as_unit("ns").asi8, dtype=np.int64)


def session_labels(ts_ns: np.ndarray, calendar: str) -> np.ndarray:
    """Daily label (UTC ns) of each bar: FX day open, exchange session date, or the UTC date (24/7)."""
    kind = calendar_kind(calendar)
    if kind == "fx":
        return fx_session_labels(ts_ns)
    if kind == "exchange":
        return exchange_session_labels(ts_ns, calendar)
    return np.asarray(ts_ns, dtype=np.int64) // DAY_NS * DAY_NS


def expected_session_labels(first_label_ns: int, last_label_ns: int, calendar: str) -> np.ndarray:
    """Every daily label the calendar expects between two labels (inclusive)."""
    kind = calendar_kind(calendar)
    if kind == "fx":
        return fx_expected_labels(first_label_ns, last_label_ns)
    if kind == "exchange":
        return exchange_expected_labels(first_label_ns, last_label_ns, calendar)
    return np.arange(first_label_ns, last_label_ns + 1, DAY_NS, dtype=np.int64)
