"""weekly_folds on a real six-month span (2023-07-31 .. 2024-01-31): whole Sat->Sat weeks, no look-ahead."""

from __future__ import annotations

from itertools import pairwise

import pandas as pd
import pytest

from traderbot.errors import UserError
from traderbot.training.folds import WEEK_NS, Fold, week_start, weekly_folds


def ns(text: str) -> int:
    return int(pd.Timestamp(text, tz="UTC").value)


FIRST = ns("2023-07-31 00:00")  # a Monday
LAST = ns("2024-01-31 21:00")  # a Wednesday
FIRST_WHOLE = ns("2023-08-05")  # the first Saturday after the first bar
LAST_WHOLE_END = ns("2024-01-27")  # the Saturday before the last bar: its week is partial
WHOLE_WEEKS = 25  # 175 days from 2023-08-05 to 2024-01-27


def is_saturday_midnight(t: int) -> bool:
    stamp = pd.Timestamp(t, tz="UTC")
    return stamp.day_of_week == 5 and stamp == stamp.normalize()


def test_week_start_is_the_saturday_at_or_before() -> None:
    assert week_start(ns("2024-01-26 21:59")) == ns("2024-01-20")  # Friday evening, end of an FX week
    assert week_start(ns("2024-01-21 22:00")) == ns("2024-01-20")  # Sunday open
    assert week_start(ns("2024-01-20")) == ns("2024-01-20")  # exactly on the boundary
    assert week_start(ns("2024-01-20") - 1) == ns("2024-01-13")
    assert week_start(ns("1969-12-31 12:00")) == ns("1969-12-27")  # before the epoch, still a Saturday
    assert (LAST_WHOLE_END - FIRST_WHOLE) // WEEK_NS == WHOLE_WEEKS


def check_common(folds: list[Fold], train_weeks: int) -> None:
    assert [f.index for f in folds] == list(range(len(folds)))
    for f in folds:
        assert is_saturday_midnight(f.test_start) and is_saturday_midnight(f.train_start)
        assert f.test_end - f.test_start == WEEK_NS  # one whole Sat -> Sat week
        assert f.train_start < f.train_end <= f.test_start  # training strictly before testing: no look-ahead
        assert f.train_end - f.train_start >= train_weeks * WEEK_NS
        assert f.train_start >= FIRST and f.test_end <= LAST_WHOLE_END <= LAST
    for a, b in pairwise(folds):
        assert b.test_start == a.test_end  # consecutive test weeks tile without gaps
    assert folds[0].test_start == FIRST_WHOLE + train_weeks * WEEK_NS
    assert folds[-1].test_end == LAST_WHOLE_END


def test_rolling_folds_on_six_months() -> None:
    folds = weekly_folds(FIRST, LAST, train_weeks=8)
    assert len(folds) == WHOLE_WEEKS - 8  # 17
    check_common(folds, 8)
    for f in folds:
        assert f.train_end - f.train_start == 8 * WEEK_NS and f.train_end == f.test_start
    assert folds[0] == Fold(0, ns("2023-08-05"), ns("2023-09-30"), ns("2023-09-30"), ns("2023-10-07"))


def test_anchored_folds_grow_from_the_first_whole_week() -> None:
    folds = weekly_folds(FIRST, LAST, train_weeks=4, mode="anchored")
    assert len(folds) == WHOLE_WEEKS - 4  # 21
    check_common(folds, 4)
    assert {f.train_start for f in folds} == {FIRST_WHOLE}
    assert [(f.train_end - f.train_start) // WEEK_NS for f in folds] == list(range(4, WHOLE_WEEKS))


def test_step_and_test_weeks() -> None:
    folds = weekly_folds(FIRST, LAST, train_weeks=8, step_weeks=2)
    assert len(folds) == (WHOLE_WEEKS - 9) // 2 + 1  # 9
    assert all(b.test_start - a.test_start == 2 * WEEK_NS for a, b in pairwise(folds))
    wide = weekly_folds(FIRST, LAST, train_weeks=8, test_weeks=3, step_weeks=3)
    assert len(wide) == (WHOLE_WEEKS - 11) // 3 + 1 and all(
        f.test_end - f.test_start == 3 * WEEK_NS for f in wide
    )
    assert wide[-1].test_end <= LAST_WHOLE_END


def test_data_starting_and_ending_on_a_boundary_uses_every_week() -> None:
    folds = weekly_folds(ns("2024-01-06"), ns("2024-03-02"), train_weeks=6)  # exactly 8 whole weeks
    assert [f.test_start for f in folds] == [ns("2024-02-17"), ns("2024-02-24")]
    assert folds[0].train_start == ns("2024-01-06")


def test_too_little_data_names_the_numbers_and_the_fix() -> None:
    with pytest.raises(UserError) as err:
        weekly_folds(ns("2024-01-06"), ns("2024-02-17"), train_weeks=8)
    assert str(err.value) == (
        "6 whole weeks of data (2024-01-06 to 2024-02-17) cannot hold one fold of 8 training weeks + 1 test week: "
        "load more data or lower train_weeks"
    )
    with pytest.raises(UserError, match="2 test weeks"):
        weekly_folds(ns("2024-01-06"), ns("2024-02-17"), train_weeks=5, test_weeks=2)


def test_bad_parameters_are_user_errors() -> None:
    with pytest.raises(UserError, match="unknown walk-forward mode 'expanding': choose rolling or anchored"):
        weekly_folds(FIRST, LAST, train_weeks=8, mode="expanding")
    with pytest.raises(UserError, match="train_weeks must be a whole number of weeks >= 1, got 0"):
        weekly_folds(FIRST, LAST, train_weeks=0)
    with pytest.raises(UserError, match="step_weeks"):
        weekly_folds(FIRST, LAST, train_weeks=8, step_weeks=0)
    with pytest.raises(UserError, match=r"ends .* before it starts"):
        weekly_folds(LAST, FIRST, train_weeks=8)
