"""Walk-forward folds made of whole calendar weeks (Saturday 00:00 UTC to the next Saturday 00:00 UTC).

A week boundary on Saturday 00:00 UTC never cuts a trading week of FX (Sunday ~22:00 to Friday ~22:00 UTC) or of
stocks, so every test window holds whole trading weeks. All times are UTC epoch nanoseconds; windows are half-open.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from traderbot.errors import UserError

__all__ = ["WEEK_NS", "Fold", "week_start", "weekly_folds"]

DAY_NS = 86_400 * 10**9
WEEK_NS = 7 * DAY_NS
_FIRST_SATURDAY_NS = 2 * DAY_NS  # 1970-01-03 00:00 UTC; the epoch (1970-01-01) was a Thursday
MODES: tuple[str, ...] = ("rolling", "anchored")


@dataclass(frozen=True)
class Fold:
    """One walk-forward step: train on [train_start, train_end), then test on [test_start, test_end) (ns)."""

    index: int
    train_start: int
    train_end: int
    test_start: int
    test_end: int


def week_start(ts_ns: int) -> int:
    """The Saturday 00:00 UTC at or before `ts_ns` (floor division, so also right before 1970)."""
    return _FIRST_SATURDAY_NS + ((int(ts_ns) - _FIRST_SATURDAY_NS) // WEEK_NS) * WEEK_NS


def _day(ts_ns: int) -> str:
    return datetime.fromtimestamp(ts_ns / 1e9, tz=UTC).strftime("%Y-%m-%d")


def _check_params(mode: str, train_weeks: int, test_weeks: int, step_weeks: int) -> None:
    if mode not in MODES:
        raise UserError(f"unknown walk-forward mode {mode!r}: choose rolling or anchored")
    for name, value in (("train_weeks", train_weeks), ("test_weeks", test_weeks), ("step_weeks", step_weeks)):
        if int(value) != value or value < 1:
            raise UserError(
                f"{name} must be a whole number of weeks >= 1, got {value!r}: set it to 1 or more"
            )


def weekly_folds(
    first_ns: int,
    last_ns: int,
    *,
    train_weeks: int,
    mode: str = "rolling",
    test_weeks: int = 1,
    step_weeks: int = 1,
) -> list[Fold]:
    """Walk-forward folds over the whole weeks between the first and the last bar (`first_ns`, `last_ns`).

    Whole weeks run from the first Saturday 00:00 at or after `first_ns` to the Saturday 00:00 at or before
    `last_ns` (the week holding the last bar counts as partial, since nothing says its data is complete).
    Fold k tests on `test_weeks` weeks starting `train_weeks + k * step_weeks` weeks after the first whole week;
    the last test window ends at or before the end of the last whole week. Training always ends where testing
    starts (no look-ahead): `rolling` trains on the `train_weeks` weeks just before the test window, `anchored`
    on every whole week from the first one (a growing window).
    """
    _check_params(mode, train_weeks, test_weeks, step_weeks)
    if last_ns < first_ns:
        raise UserError(
            f"the data ends ({_day(last_ns)}) before it starts ({_day(first_ns)}): check the range"
        )
    first_week = week_start(first_ns)
    if first_week < first_ns:
        first_week += WEEK_NS
    n_weeks = max(0, (week_start(last_ns) - first_week) // WEEK_NS)
    need = train_weeks + test_weeks
    if n_weeks < need:
        plural = "s" if test_weeks != 1 else ""
        raise UserError(
            f"{n_weeks} whole weeks of data ({_day(first_ns)} to {_day(last_ns)}) cannot hold one fold of "
            f"{train_weeks} training weeks + {test_weeks} test week{plural}: load more data or lower train_weeks"
        )
    folds: list[Fold] = []
    for k in range((n_weeks - need) // step_weeks + 1):
        test_start = first_week + (train_weeks + k * step_weeks) * WEEK_NS
        train_start = test_start - train_weeks * WEEK_NS if mode == "rolling" else first_week
        folds.append(Fold(k, train_start, test_start, test_start, test_start + test_weeks * WEEK_NS))
    return folds
