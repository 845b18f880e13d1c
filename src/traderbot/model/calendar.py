"""Trading-session calendars: when an instrument's market is open.

`fx` is the FX week (Sunday 17:00 to Friday 17:00 New York time, i.e. 22:00 UTC in winter and 21:00 UTC in
US daylight time), `24/7` is crypto, and any other name is an exchange calendar code from exchange_calendars
(e.g. `XNYS`, `CMES`).
"""

from __future__ import annotations

from functools import lru_cache
from typing import Protocol
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd

_NY = ZoneInfo("America/New_York")


class SessionCalendar(Protocol):
    """Answers which bar open times fall inside trading sessions."""

    name: str

    def is_open(self, ts_ns: np.ndarray) -> np.ndarray:
        """Boolean mask: True where the market is open at each timestamp (ns since epoch, UTC)."""
        ...

    def expected_bars(self, start_ns: int, end_ns: int, step_ns: int) -> np.ndarray:
        """Bar open times on the grid [start, end] at `step_ns` that fall in a session."""
        ...


class _GridCalendar:
    name: str = ""

    def is_open(self, ts_ns: np.ndarray) -> np.ndarray:  # pragma: no cover - overridden
        raise NotImplementedError

    def expected_bars(self, start_ns: int, end_ns: int, step_ns: int) -> np.ndarray:
        first = (start_ns // step_ns) * step_ns
        if first < start_ns:
            first += step_ns
        grid = np.arange(first, end_ns + 1, step_ns, dtype=np.int64)
        return grid[self.is_open(grid)]


class AlwaysOpen(_GridCalendar):
    """Crypto: 24 hours a day, 7 days a week."""

    name = "24/7"

    def is_open(self, ts_ns: np.ndarray) -> np.ndarray:
        return np.ones(len(ts_ns), dtype=bool)


class FxCalendar(_GridCalendar):
    """FX 24/5: open from Sunday 17:00 to Friday 17:00 America/New_York (DST handled by the zone)."""

    name = "fx"

    def is_open(self, ts_ns: np.ndarray) -> np.ndarray:
        if len(ts_ns) == 0:
            return np.zeros(0, dtype=bool)
        local = pd.DatetimeIndex(np.asarray(ts_ns, dtype="datetime64[ns]"), tz="UTC").tz_convert(_NY)
        dow = np.asarray(local.day_of_week)  # Monday=0 .. Sunday=6
        hour = np.asarray(local.hour)
        closed = (dow == 5) | ((dow == 4) & (hour >= 17)) | ((dow == 6) & (hour < 17))
        return ~closed


class ExchangeCalendar(_GridCalendar):
    """An exchange's sessions and holidays from exchange_calendars (loaded lazily, it is slow to import)."""

    def __init__(self, code: str) -> None:
        self.name = code

    def is_open(self, ts_ns: np.ndarray) -> np.ndarray:
        if len(ts_ns) == 0:
            return np.zeros(0, dtype=bool)
        cal = _exchange(self.name)
        idx = pd.DatetimeIndex(np.asarray(ts_ns, dtype="datetime64[ns]"), tz="UTC")
        lo, hi = cal.first_minute, cal.last_minute
        inside = (idx >= lo) & (idx <= hi)
        out = np.zeros(len(idx), dtype=bool)
        if inside.any():
            sessions = cal.schedule.loc[
                idx[inside].min().normalize().tz_localize(None) - pd.Timedelta(days=1) : idx[inside]
                .max()
                .normalize()
                .tz_localize(None)
                + pd.Timedelta(days=1)
            ]
            opens = sessions["open"].to_numpy(dtype="datetime64[ns]").astype(np.int64)
            closes = sessions["close"].to_numpy(dtype="datetime64[ns]").astype(np.int64)
            t = np.asarray(idx[inside].asi8)
            pos = np.searchsorted(opens, t, side="right") - 1
            ok = pos >= 0
            res = np.zeros(len(t), dtype=bool)
            res[ok] = t[ok] < closes[pos[ok]]
            out[np.asarray(inside)] = res
        return out


@lru_cache(maxsize=16)
def _exchange(code: str):  # type: ignore[no-untyped-def]
    import exchange_calendars as xcals

    try:
        return xcals.get_calendar(code, start="1990-01-01")
    except Exception as exc:  # exchange_calendars raises its own InvalidCalendarName
        raise ValueError(
            f"unknown market calendar {code!r}: use 'fx', '24/7' or an exchange code such as XNYS"
        ) from exc


@lru_cache(maxsize=32)
def get_calendar(name: str) -> SessionCalendar:
    """Return the calendar for `name` ('fx', '24/7', or an exchange code such as 'XNYS')."""
    key = name.strip()
    if key.lower() == "fx":
        return FxCalendar()
    if key.lower() in {"24/7", "crypto", "always"}:
        return AlwaysOpen()
    return ExchangeCalendar(key.upper())
