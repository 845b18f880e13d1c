"""News blackout: no new orders on an instrument from N minutes before to M minutes after an economic release.

The calendar is a CSV or iCalendar (.ics) file (parsers in `news_import`). Times with an offset or `Z` are
converted to UTC; times without one (naive ISO times, floating ICS times) are taken as UTC; an all-day date is
midnight UTC. An event counts for an instrument when its currency is the instrument's base or quote (FX,
metals, crypto) or its quote currency (equities, indices, futures, other), and its impact is configured.
"""

from __future__ import annotations

import time
from bisect import bisect_left
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from pydantic import field_validator

from traderbot.model.instrument import AssetClass, Instrument
from traderbot.risk.currencies import KNOWN_CURRENCIES
from traderbot.risk.section import Section

# The same currency list as the risk configuration, less ALL (Albanian lek): calendar exports use "All" for
# events that concern every country, which must be refused rather than read as the lek.
ISO_CURRENCIES: frozenset[str] = KNOWN_CURRENCIES - {"ALL"}

_NS_PER_MIN = 60_000_000_000
_FOREVER = 2**63
_BASE_AND_QUOTE = frozenset({AssetClass.FX, AssetClass.METAL, AssetClass.CRYPTO})


class Impact(StrEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"


@dataclass(frozen=True, slots=True)
class NewsEvent:
    """One scheduled release: when (UTC nanoseconds), which currency it moves, how much, and its name."""

    ts_ns: int
    currency: str  # upper-case code from ISO_CURRENCIES
    impact: Impact
    title: str

    def __post_init__(self) -> None:
        if self.currency not in ISO_CURRENCIES:
            raise ValueError(f"news event {self.title!r}: unknown currency {self.currency!r}")


def load_calendar(path: str | Path) -> list[NewsEvent]:
    """Read a .csv or .ics economic calendar, sorted by time; bad input raises a UserError naming file and row."""
    from traderbot.risk.news_import import read_calendar  # imported here: the parsers use this module's types

    return read_calendar(Path(path))


class NewsConfig(Section):
    """`risk.news`: the calendar file and the blackout window around each event of the listed impacts."""

    file: str | None = None
    minutes_before: int = 15
    minutes_after: int = 15
    impacts: tuple[Impact, ...] = (Impact.HIGH,)

    @field_validator("minutes_before", "minutes_after")
    @classmethod
    def _minutes_in_a_day(cls, value: int) -> int:
        if not 0 <= value <= 1440:
            raise ValueError(f"{value} minutes is outside 0 to 1440 (one day); use e.g. 15")
        return value

    @field_validator("impacts")
    @classmethod
    def _some_impact(cls, value: tuple[Impact, ...]) -> tuple[Impact, ...]:
        if not value:
            raise ValueError("no impact level listed; use e.g. [high] or [high, medium]")
        return value


class NewsBlackout:
    """Answers, per order, whether an instrument is inside the blackout window of a counted news event."""

    def __init__(self, events: Iterable[NewsEvent], config: NewsConfig) -> None:
        self.config = config
        self._before_ns = config.minutes_before * _NS_PER_MIN
        self._after_ns = config.minutes_after * _NS_PER_MIN
        counted = set(config.impacts)
        self._events = sorted((e for e in events if e.impact in counted), key=lambda e: e.ts_ns)
        self._ts = [e.ts_ns for e in self._events]
        # Per currency: window ends (sorted, since every window has the same length) and the events.
        self._by_ccy: dict[str, tuple[list[int], list[NewsEvent]]] = {}
        for e in self._events:
            ends, evs = self._by_ccy.setdefault(e.currency, ([], []))
            ends.append(e.ts_ns + self._after_ns)
            evs.append(e)
        self._ccys: dict[str, tuple[str, ...]] = {}  # instrument id -> its currencies that have events
        self._memo: dict[str, tuple[int, int, NewsEvent | None]] = {}  # instrument -> (from, until, answer)

    @classmethod
    def from_config(cls, config: NewsConfig) -> NewsBlackout | None:
        """Load the configured calendar; None when no file is configured (the check is then skipped)."""
        if not config.file or not config.file.strip():
            return None
        return cls(load_calendar(config.file), config)

    def __bool__(self) -> bool:
        """False when no event counts: the risk engine can then skip the check."""
        return bool(self._events)

    def active(self, instrument: Instrument, now_ns: int) -> NewsEvent | None:
        """The earliest counted event of the instrument's currencies whose window [ts - before, ts + after]
        contains now, else None."""
        memo = self._memo.get(instrument.id)
        if memo is not None and memo[0] <= now_ns < memo[1]:
            return memo[2]
        ccys = self._ccys.get(instrument.id)
        if ccys is None:
            ccys = self._ccys[instrument.id] = self._currencies(instrument)
        found: NewsEvent | None = None
        until = _FOREVER  # the answer holds from now until the next window of these currencies opens or ends
        for ccy in ccys:
            ends, evs = self._by_ccy[ccy]
            i = bisect_left(ends, now_ns)  # first window that has not ended
            if i < len(ends):
                event = evs[i]
                start = event.ts_ns - self._before_ns
                if start <= now_ns:
                    if found is None or event.ts_ns < found.ts_ns:
                        found = event
                    until = min(until, ends[i] + 1)
                else:
                    until = min(until, start)
        self._memo[instrument.id] = (now_ns, until, found)
        return found

    def describe(self, event: NewsEvent, now_ns: int) -> str:
        """Context for a denial, e.g. `USD high 'Non-Farm Payrolls' at 2024-01-05T13:30Z (in 10 min), blackout
        15 min before to 15 min after`."""
        title = f"'{event.title}'" if event.title else "event"
        return (
            f"{event.currency} {event.impact.value} {title} at {_iso_minutes(event.ts_ns)} "
            f"({_relative(event.ts_ns - now_ns)}), blackout {self.config.minutes_before} min before "
            f"to {self.config.minutes_after} min after"
        )

    def upcoming(self, now_ns: int, limit: int = 10) -> list[NewsEvent]:
        """The next `limit` counted events whose blackout has not ended yet (a current one included)."""
        i = bisect_left(self._ts, now_ns - self._after_ns)
        return self._events[i : i + max(limit, 0)]

    def _currencies(self, instrument: Instrument) -> tuple[str, ...]:
        if instrument.asset_class in _BASE_AND_QUOTE:
            candidates: tuple[str, ...] = (instrument.base, instrument.quote)
        else:
            candidates = (instrument.quote,)
        return tuple(c for c in dict.fromkeys(candidates) if c in self._by_ccy)


def _iso_minutes(ts_ns: int) -> str:
    """UTC time to the minute (seconds shown only when not zero), e.g. 2024-01-05T13:30Z."""
    secs = ts_ns // 1_000_000_000
    fmt = "%Y-%m-%dT%H:%MZ" if secs % 60 == 0 else "%Y-%m-%dT%H:%M:%SZ"
    return time.strftime(fmt, time.gmtime(secs))


def _relative(delta_ns: int) -> str:
    """`in 10 min`, `3 min ago`, `in 40 s`, `now` (whole units, truncated towards zero)."""
    secs = abs(delta_ns) // 1_000_000_000
    if secs == 0:
        return "now"
    text = f"{secs // 60} min" if secs >= 60 else f"{secs} s"
    return f"in {text}" if delta_ns > 0 else f"{text} ago"
