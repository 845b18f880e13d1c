"""A spread that widens where real spreads do: around the daily FX rollover and on wide-range bars.

spread = pips * pip_size * (rollover_multiplier if the bar opens in the rollover hour else 1)
         + range_fraction * (high - low), rounded up to the tick.

The rollover hour is 17:00-18:00 New York time (21:00 or 22:00 UTC with US daylight time), when liquidity
providers roll positions and quotes widen. Bars with a spread column (bid/ask data) keep their own spread.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import ROUND_CEILING, Decimal
from functools import lru_cache
from zoneinfo import ZoneInfo

from traderbot.brokers.sim.costs import SpreadModel
from traderbot.core.money import ZERO
from traderbot.errors import UserError
from traderbot.model.instrument import Instrument

_HOUR_NS = 3_600_000_000_000
_NY = ZoneInfo("America/New_York")
ROLLOVER_HOUR_NY = 17


@lru_cache(maxsize=8192)
def _ny_hour(utc_hour: int) -> int:
    return datetime.fromtimestamp(utc_hour * 3600, tz=UTC).astimezone(_NY).hour


def in_rollover_hour(ts_ns: int) -> bool:
    """True when `ts_ns` lies in the hour after 17:00 New York time (DST handled by the zone)."""
    return _ny_hour(ts_ns // _HOUR_NS) == ROLLOVER_HOUR_NY


@dataclass(frozen=True, slots=True)
class DynamicSpread(SpreadModel):
    """The fixed spread (`pips`), times `rollover_multiplier` in the rollover hour, plus a fraction of the
    bar's range. `pips` and `price_side` mean what they mean for SpreadModel."""

    rollover_multiplier: Decimal = Decimal(1)
    range_fraction: Decimal = ZERO

    def __post_init__(self) -> None:
        if not (self.rollover_multiplier.is_finite() and self.rollover_multiplier >= 1):
            raise UserError(f"rollover_multiplier={self.rollover_multiplier} is not valid: use a number >= 1")
        if not (self.range_fraction.is_finite() and self.range_fraction >= 0):
            raise UserError(f"range_fraction={self.range_fraction} is not valid: use a fraction >= 0")

    def bar_spread(self, instrument: Instrument, bar_open_ns: int, bar_range: Decimal) -> Decimal:
        base = self.pips * instrument.pip_size
        if self.rollover_multiplier != 1 and in_rollover_hour(bar_open_ns):
            base *= self.rollover_multiplier
        total = base + self.range_fraction * bar_range
        tick = instrument.tick_size
        return (total / tick).to_integral_value(ROUND_CEILING) * tick
