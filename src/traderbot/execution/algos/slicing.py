"""Pure slicing arithmetic shared by the scheduled algorithms: slice sizes, slice times, settings parsing.

Quantities are Decimal and rounded down to the instrument's lots; times are integer UTC nanoseconds.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation

import pandas as pd

from traderbot.execution.algos.parent import AlgoConfigError
from traderbot.model.instrument import Instrument
from traderbot.model.timeframe import Timeframe

MAX_JITTER = 0.5  # of one interval: larger jitter would let neighbouring slices swap order
_FRACTION_QUANTUM = Decimal("1e-12")


def equal_slices(total: Decimal, n: int, inst: Instrument) -> list[Decimal]:
    """N slices of `total`: N-1 equal ones rounded down to lots, the last takes the rounding remainder.

    The sizes always sum to exactly `total` and none is negative; the last is never smaller than the others.
    """
    base = inst.round_quantity(total / n)
    return [base] * (n - 1) + [total - base * (n - 1)]


def weighted_slices(total: Decimal, weights: list[float], inst: Instrument) -> list[Decimal]:
    """Slices proportional to `weights` (e.g. expected volume): cumulative targets rounded down to lots.

    Rounding the running total (not each slice) keeps the error below one lot at every point, and the last
    slice takes what is left, so the sizes sum to exactly `total`. The running fraction is rounded to 12
    decimals first, so float noise in the weights (0.39999999999999997) cannot cost a lot.
    """
    s = sum(weights)
    out: list[Decimal] = []
    done = Decimal(0)
    cum = 0.0
    for k, w in enumerate(weights):
        cum += w
        frac = _d(cum / s).quantize(_FRACTION_QUANTUM, ROUND_HALF_EVEN)
        target = total if k == len(weights) - 1 else min(total, inst.round_quantity(total * frac))
        out.append(max(Decimal(0), target - done))
        done += out[-1]
    return out


def slice_times(start: int, end: int, n: int, jitter: float, rng: random.Random) -> list[int]:
    """Nominal slice times start + k * (end - start) / n, each moved by up to +-jitter of one interval.

    Moved times are clamped to [start, end]; with jitter <= 0.5 they stay in order.
    """
    span = end - start
    times = []
    for k in range(n):
        t = start + k * span // n
        if jitter:
            t += round(rng.uniform(-jitter, jitter) * span / n)
        times.append(min(max(t, start), end))
    return times


def cumulative(sizes: list[Decimal]) -> list[Decimal]:
    out: list[Decimal] = []
    run = Decimal(0)
    for q in sizes:
        run += q
        out.append(run)
    return out


# ---- settings ---------------------------------------------------------------------------------------------------
def parse_duration(value: str | int | timedelta, what: str = "duration") -> int:
    """'90m', '2h', '1d', a timedelta, or integer nanoseconds -> positive nanoseconds (AlgoConfigError else)."""
    if isinstance(value, bool):
        raise AlgoConfigError(f"{what} {value!r} is not a duration: use e.g. '30m', '2h' or a timedelta")
    if isinstance(value, timedelta):
        ns = int(value / timedelta(microseconds=1)) * 1000
    elif isinstance(value, int):
        ns = value
    elif isinstance(value, str):
        try:
            ns = Timeframe.parse(value).ns
        except ValueError:
            raise AlgoConfigError(
                f"{what} {value!r} is not a duration: use a positive number and a unit, e.g. '30m' or '2h'"
            ) from None
    else:
        raise AlgoConfigError(f"{what} {value!r} is not a duration: use e.g. '30m', '2h' or a timedelta")
    if ns <= 0:
        raise AlgoConfigError(f"{what} must be positive, got {value!r}")
    return ns


def parse_time(value: int | str | datetime | pd.Timestamp | None) -> int | None:
    """A start time as UTC nanoseconds: integer ns, an ISO string or a datetime (naive means UTC)."""
    if value is None:
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    try:
        ts = pd.Timestamp(value)
    except (ValueError, TypeError):
        raise AlgoConfigError(f"start {value!r} is not a time: use e.g. '2024-01-02 14:30' (UTC)") from None
    if ts is pd.NaT:
        raise AlgoConfigError(f"start {value!r} is not a time: use e.g. '2024-01-02 14:30' (UTC)")
    ts = ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")
    return int(ts.value)


def parse_slices(value: int, what: str = "slices") -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise AlgoConfigError(f"{what} must be a whole number of at least 1, got {value!r}")
    return value


def parse_fraction(value: float, what: str, high: float) -> float:
    """A float setting in [0, high] (NaN and infinities refused)."""
    try:
        f = float(value)
    except (TypeError, ValueError):
        raise AlgoConfigError(f"{what} must be a number between 0 and {high}, got {value!r}") from None
    if not (0.0 <= f <= high):  # also false for NaN
        raise AlgoConfigError(f"{what} must be between 0 and {high}, got {value!r}")
    return f


def parse_decimal(value: Decimal | float | int | str | None, what: str) -> Decimal | None:
    """A finite Decimal (floats via their shortest repr) or None."""
    if value is None:
        return None
    try:
        d = (
            value
            if isinstance(value, Decimal)
            else Decimal(repr(value) if isinstance(value, float) else value)
        )
    except (InvalidOperation, ValueError, TypeError):
        raise AlgoConfigError(f"{what} {value!r} is not a number") from None
    if not d.is_finite():
        raise AlgoConfigError(f"{what} must be a finite number, got {value!r}")
    return d


def iso(ns: int) -> str:
    """A UTC time for messages, e.g. '2013-10-11 14:00:00+00:00'."""
    return str(pd.Timestamp(ns, tz="UTC"))


def _d(x: float) -> Decimal:
    return Decimal(repr(x))
