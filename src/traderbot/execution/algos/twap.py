"""TWAP: a total quantity spread over a time window in N equal slices.

    self.buy(30_000, algo=TWAP(duration="3h", slices=36))                     # market child every 5 minutes
    self.sell(10_000, algo=TWAP("1h", 12, order_type="limit", limit_offset="0.01", jitter=0.2, seed=7))

Slice k goes out at start + k * duration / N (moved by up to +-jitter of one interval, seeded, never outside
[start, start + duration]); N-1 slices are equal and rounded down to the instrument's lots, the last takes the
rounding remainder. What a slice does not fill is carried into the next one; at the end, `final_sweep` sends the
rest at market (or the parent expires with it).
"""

from __future__ import annotations

import random
import zlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from traderbot.execution.algos.base import AlgoRun
from traderbot.execution.algos.engine import AlgoEngine
from traderbot.execution.algos.parent import AlgoConfigError, AlgoRefusal, ParentOrder
from traderbot.execution.algos.schedule import ScheduledRun, SliceStyle
from traderbot.execution.algos.slicing import (
    MAX_JITTER,
    cumulative,
    equal_slices,
    iso,
    parse_decimal,
    parse_duration,
    parse_fraction,
    parse_slices,
    parse_time,
    slice_times,
)
from traderbot.model.enums import OrderType
from traderbot.model.instrument import Instrument

START_GRACE_NS = 1_000_000_000  # a start up to 1 s in the past (a live clock moved on) counts as "now"


def parse_style(
    order_type: str,
    limit_offset: Decimal | float | str,
    final_sweep: bool,
    max_failures: int,
    max_participation: Decimal | float | str | None = None,
) -> SliceStyle:
    """The shared slice settings of TWAP and VWAP, checked (AlgoConfigError with one sentence)."""
    try:
        otype = OrderType(str(order_type).lower())
    except ValueError:
        raise AlgoConfigError(f"order_type must be 'market' or 'limit', got {order_type!r}") from None
    if otype not in (OrderType.MARKET, OrderType.LIMIT):
        raise AlgoConfigError(f"order_type must be 'market' or 'limit', got {order_type!r}")
    offset = parse_decimal(limit_offset, "limit_offset") or Decimal(0)
    cap = parse_decimal(max_participation, "max_participation")
    if cap is not None and not (0 < cap <= 1):
        raise AlgoConfigError(f"max_participation must be in (0, 1], e.g. 0.1 for 10 %, got {cap}")
    if isinstance(max_failures, bool) or not isinstance(max_failures, int) or max_failures < 1:
        raise AlgoConfigError(f"max_failures must be a whole number of at least 1, got {max_failures!r}")
    return SliceStyle(otype, offset, bool(final_sweep), cap, max_failures)


def window(engine: AlgoEngine, start: int | None, duration_ns: int) -> tuple[int, int] | str:
    """(start, end) of an algorithm's window in UTC ns, or a refusal: a start in the past, or no time yet."""
    now = engine.now()
    if start is None:
        if now <= 0:
            return AlgoRefusal.NO_CLOCK_TIME.text("the algorithm was started before the first bar")
        start = now
    if start < now - START_GRACE_NS:
        return AlgoRefusal.START_IN_PAST.text(f"start={iso(start)}, now={iso(now)}")
    start = max(start, now)
    return start, start + duration_ns


def seeded_rng(seed: int | None, parent_id: str) -> random.Random:
    """The algorithm's random source: the given seed, else one derived from the parent id (reproducible)."""
    return random.Random(zlib.crc32(parent_id.encode()) if seed is None else seed)


@dataclass(frozen=True, slots=True, init=False)
class TWAP:
    """Time-weighted execution: `slices` equal children over `duration` from `start` (default: now)."""

    duration_ns: int
    slices: int
    start_ns: int | None
    style: SliceStyle
    jitter: float
    seed: int | None
    name = "twap"

    def __init__(
        self,
        duration: str | int | timedelta,
        slices: int,
        *,
        start: int | str | datetime | None = None,
        order_type: str = "market",
        limit_offset: Decimal | float | str = Decimal(0),
        jitter: float = 0.0,
        seed: int | None = None,
        final_sweep: bool = True,
        max_failures: int = 3,
    ) -> None:
        object.__setattr__(self, "duration_ns", parse_duration(duration))
        object.__setattr__(self, "slices", parse_slices(slices))
        object.__setattr__(self, "start_ns", parse_time(start))
        object.__setattr__(self, "style", parse_style(order_type, limit_offset, final_sweep, max_failures))
        object.__setattr__(self, "jitter", parse_fraction(jitter, "jitter", MAX_JITTER))
        object.__setattr__(self, "seed", seed)

    def plan(self, engine: AlgoEngine, parent: ParentOrder, inst: Instrument) -> AlgoRun | str:
        win = window(engine, self.start_ns, self.duration_ns)
        if isinstance(win, str):
            return win
        sizes = equal_slices(parent.quantity, self.slices, inst)
        if sizes[0] <= 0 or sizes[0] < inst.min_quantity:
            most = int(parent.quantity // max(inst.min_quantity, inst.lot_size or Decimal(1)))
            return AlgoRefusal.BELOW_MIN_QUANTITY.text(
                f"{parent.quantity} in {self.slices} slices gives {sizes[0]} per slice, below the minimum "
                f"{inst.min_quantity}: use at most {max(most, 1)} slices"
            )
        parent.start_ns, parent.end_ns = win
        times = slice_times(*win, self.slices, self.jitter, seeded_rng(self.seed, parent.parent_id))
        return ScheduledRun(
            engine, parent, inst, times=times, targets=cumulative(sizes), end_ns=win[1], style=self.style
        )
