"""Volume participation: how much of an order one bar can fill, as a fraction of the bar's traded volume.

cap = floor(participation * bar_volume / lot_size) * lot_size (no rounding for fractional instruments). The
rest of the order keeps working on the next bars; a bar without volume fills nothing. The volume is read in
the instrument's quantity units, so participation needs data with real volume (not FX tick counts of zero).
"""

from __future__ import annotations

from decimal import Decimal

from traderbot.core.money import ZERO
from traderbot.errors import UserError
from traderbot.model.instrument import Instrument


def check_participation(fraction: Decimal | None) -> Decimal | None:
    if fraction is None:
        return None
    value = Decimal(fraction)
    if not value.is_finite() or not Decimal(0) < value <= Decimal(1):
        raise UserError(f"participation={fraction} is not valid: use a fraction of bar volume in (0, 1]")
    return value


def fill_cap(inst: Instrument, participation: Decimal, bar_volume: float) -> Decimal:
    """Largest quantity one order may fill in a bar with this volume (0 for a bar without volume)."""
    if not bar_volume > 0:  # also NaN
        return ZERO
    return inst.round_quantity(participation * Decimal(repr(bar_volume)))
