"""When the cache refreshes: every N minutes in an open market, once ahead of the open, nothing else."""

from __future__ import annotations

from datetime import timedelta

import pandas as pd
import pytest

from traderbot.data.cache_schedule import RefreshSchedule, next_open
from traderbot.errors import UserError

SCHEDULE = RefreshSchedule(every=timedelta(minutes=15), lead_before_open=timedelta(minutes=15))


def ns(text: str) -> int:
    return int(pd.Timestamp(text, tz="UTC").value)


def due(schedule: RefreshSchedule, instrument: str, now: str, last: str) -> str:
    when = pd.Timestamp(schedule.next_due(instrument, ns(now), ns(last)), tz="UTC")
    return when.strftime("%a %Y-%m-%d %H:%M")


def test_during_the_week_the_next_refresh_is_last_plus_every() -> None:
    assert due(SCHEDULE, "EURUSD", "2023-08-16 12:05", "2023-08-16 12:00") == "Wed 2023-08-16 12:15"


def test_friday_evening_the_next_refresh_is_before_sundays_open() -> None:
    # summer: FX closes Friday 21:00 UTC and reopens Sunday 21:00 UTC (17:00 New York)
    assert due(SCHEDULE, "EURUSD", "2023-08-18 20:55", "2023-08-18 20:50") == "Sun 2023-08-20 20:45"


def test_over_the_weekend_nothing_runs_but_the_pre_open_refresh() -> None:
    hourly = RefreshSchedule(every=timedelta(hours=1), lead_before_open=timedelta(minutes=15))
    assert due(hourly, "EURUSD", "2023-08-19 12:00", "2023-08-18 20:00") == "Sun 2023-08-20 20:45"
    # once the pre-open refresh ran, the next one is the interval again (now inside the session)
    assert due(hourly, "EURUSD", "2023-08-20 20:50", "2023-08-20 20:45") == "Sun 2023-08-20 21:45"
    # an interval shorter than the lead: after the pre-open refresh, the next one is at the open itself
    fast = RefreshSchedule(every=timedelta(minutes=5), lead_before_open=timedelta(minutes=30))
    assert due(fast, "EURUSD", "2023-08-20 20:31", "2023-08-20 20:30") == "Sun 2023-08-20 21:00"


def test_the_pre_open_refresh_moves_with_us_daylight_time() -> None:
    # US DST starts Sunday 2023-03-12: Friday closes 22:00 UTC (EST), Sunday opens 21:00 UTC (EDT)
    assert due(SCHEDULE, "EURUSD", "2023-03-10 22:00", "2023-03-10 21:55") == "Sun 2023-03-12 20:45"
    # US DST ends Sunday 2023-11-05: Friday closes 21:00 UTC (EDT), Sunday opens 22:00 UTC (EST)
    assert due(SCHEDULE, "EURUSD", "2023-11-03 21:00", "2023-11-03 20:50") == "Sun 2023-11-05 21:45"
    assert next_open("EURUSD", ns("2023-11-04 00:00")) == ns("2023-11-05 22:00")


def test_an_exchange_holiday_pushes_the_pre_open_refresh_to_the_next_session() -> None:
    # NYSE is closed on Good Friday 2023-04-07; it reopens Monday 09:30 New York = 13:30 UTC
    assert due(SCHEDULE, "SPY", "2023-04-06 20:00", "2023-04-06 19:55") == "Mon 2023-04-10 13:15"


def test_a_pair_never_refreshed_is_due_now() -> None:
    assert SCHEDULE.next_due("EURUSD", ns("2023-08-19 12:00"), None) == ns("2023-08-19 12:00")


def test_impossible_schedules_are_user_errors() -> None:
    with pytest.raises(UserError, match="every = 0:00:00 is not allowed"):
        RefreshSchedule(every=timedelta(0))
    with pytest.raises(UserError, match=r"lead_before_open = .* is not allowed"):
        RefreshSchedule(lead_before_open=timedelta(minutes=-1))
