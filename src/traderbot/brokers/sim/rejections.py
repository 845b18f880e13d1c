"""Why the simulated venue refuses an order when it arrives: a reason code, then its context.

- INVALID_QUANTITY_PRECISION: the quantity is not a whole number of lots;
- QUANTITY_BELOW_MINIMUM: the quantity is below the instrument's minimum;
- INVALID_PRICE_PRECISION: a limit or trigger price is not a multiple of the tick size;
- MARKET_CLOSED: the instrument's session calendar says closed at the order's arrival (opt-in);
- INSUFFICIENT_MARGIN / INSUFFICIENT_FUNDS: decided at fill time (see funds.py).

The risk engine denies most malformed orders before they are sent; these checks are the venue's own, as a real
exchange has them, for orders that reach it by another path (a resend, a live bridge, a hand-made order).
"""

from __future__ import annotations

from enum import StrEnum

import numpy as np
import pandas as pd

from traderbot.model.calendar import get_calendar
from traderbot.model.instrument import Instrument
from traderbot.model.order import Order

_MINUTE_NS = 60_000_000_000


class VenueRejectReason(StrEnum):
    """Reason codes the simulated venue puts at the start of OrderRejected.reason."""

    INSUFFICIENT_MARGIN = "the equity cannot margin the position after the fill"
    INSUFFICIENT_FUNDS = "an equity-fraction order is too small for one lot at the fill price"
    MARKET_CLOSED = "the instrument's market is closed when the order arrives"
    INVALID_QUANTITY_PRECISION = "the quantity is not a whole number of lots"
    QUANTITY_BELOW_MINIMUM = "the quantity is below the instrument's minimum quantity"
    INVALID_PRICE_PRECISION = "a limit or trigger price is not a multiple of the tick size"


def reject_reason_table() -> str:
    """The reason-code table for docs/simulated_venue.md, generated from the enum so they cannot drift."""
    rows = ["| code | meaning |", "| --- | --- |"]
    rows += [f"| `{r.name}` | {r.value} |" for r in VenueRejectReason]
    return "\n".join(rows)


def precision_problem(inst: Instrument, order: Order) -> str:
    """The reason to refuse an order whose quantity or prices the instrument cannot represent, or ""."""
    q = order.quantity
    if order.equity_fraction is None or q:  # an equity-fraction order is sized (in whole lots) at the fill
        if inst.lot_size > 0 and q % inst.lot_size:
            return f"INVALID_QUANTITY_PRECISION: lot_size={inst.lot_size}, quantity={q}"
        if q < inst.min_quantity:
            return f"QUANTITY_BELOW_MINIMUM: min_quantity={inst.min_quantity}, quantity={q}"
    if order.price is not None and order.price % inst.tick_size:
        return f"INVALID_PRICE_PRECISION: tick_size={inst.tick_size}, price={order.price}"
    if order.trigger_price is not None and order.trigger_price % inst.tick_size:
        return f"INVALID_PRICE_PRECISION: tick_size={inst.tick_size}, trigger_price={order.trigger_price}"
    return ""


class MarketHours:
    """Is this instrument's market open at ts? From its session calendar, memoised per minute, a day at a time;
    the open stretch of the day that contains the last open answer is remembered per calendar, so the common
    question (open, and still in the same stretch) costs two comparisons."""

    def __init__(self) -> None:
        self._days: dict[
            tuple[str, int], list[bool]
        ] = {}  # (calendar, UTC day) -> open per minute of the day
        self._open: dict[str, tuple[int, int]] = {}  # calendar -> [start, end) ns of a known open stretch

    def problem(self, inst: Instrument, ts_ns: int) -> str:
        name = inst.calendar
        span = self._open.get(name)
        if span is not None and span[0] <= ts_ns < span[1]:
            return ""
        if name.strip().lower() in {"24/7", "crypto", "always"}:
            return ""
        day, minute = divmod(ts_ns // _MINUTE_NS, 1440)
        minutes = self._days.get((name, day))
        if minutes is None:  # the whole UTC day in one calendar call: one miss per day, not per minute
            grid = (day * 1440 + np.arange(1440, dtype=np.int64)) * _MINUTE_NS
            if len(self._days) > 4_000:
                self._days.clear()
            minutes = self._days[(name, day)] = get_calendar(name).is_open(grid).tolist()
        if minutes[minute]:
            lo = hi = minute
            while lo > 0 and minutes[lo - 1]:
                lo -= 1
            while hi + 1 < 1440 and minutes[hi + 1]:
                hi += 1
            base = day * 1440
            self._open[name] = ((base + lo) * _MINUTE_NS, (base + hi + 1) * _MINUTE_NS)
            return ""
        when = pd.Timestamp(ts_ns, tz="UTC")
        return f"MARKET_CLOSED: {inst.id} calendar {name} is closed at {when}"
