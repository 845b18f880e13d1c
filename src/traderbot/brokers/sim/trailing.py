"""Trailing stops for the simulated venue: by a fixed distance or by a multiple of Wilder's ATR.

A trailing stop's trigger starts at the last close minus (sell) or plus (buy) the offset and then moves only
in the position's favour, with each bar's extreme, after that bar has been checked against the old trigger.
All arithmetic is Decimal and triggers are rounded to the instrument's tick.
"""

from __future__ import annotations

from decimal import Decimal

from traderbot.core.money import ZERO
from traderbot.data.series import BarSeries
from traderbot.model.enums import OrderSide
from traderbot.model.instrument import Instrument
from traderbot.model.order import Order


def true_range(inst: Instrument, s: BarSeries, i: int) -> Decimal:
    h, lo = inst.price_to_decimal(float(s.high[i])), inst.price_to_decimal(float(s.low[i]))
    prev = inst.price_to_decimal(float(s.close[i - 1])) if i > 0 else h
    return max(h - lo, abs(h - prev), abs(lo - prev))


def seed_atr(inst: Instrument, s: BarSeries, n: int, period: int) -> Decimal:
    """ATR at the latest closed bar: mean true range of the last `period` bars (Wilder's seed)."""
    if n == 0:
        return ZERO
    lo = max(1, n - period)
    trs = [true_range(inst, s, j) for j in range(lo, n)] or [true_range(inst, s, n - 1)]
    return sum(trs, ZERO) / Decimal(len(trs))


class TrailingStops:
    def __init__(self) -> None:
        self._atr: dict[str, Decimal] = {}

    def offset(self, o: Order) -> Decimal:
        if o.trailing_offset is not None:
            return o.trailing_offset
        assert o.trailing_atr_multiple is not None
        return o.trailing_atr_multiple * self._atr.get(o.client_order_id, ZERO)

    def start(self, o: Order, inst: Instrument, s: BarSeries, n: int) -> None:
        """Set the first trigger from the last closed bar (n bars visible)."""
        if o.trailing_atr_multiple is not None:
            self._atr[o.client_order_id] = seed_atr(inst, s, n, o.atr_period)
        if o.trigger_price is None and n:
            last = inst.price_to_decimal(float(s.close[n - 1]))
            off = self.offset(o)
            o.trigger_price = inst.round_price(last - off if o.side is OrderSide.SELL else last + off)

    def move(self, o: Order, inst: Instrument, s: BarSeries, i: int) -> None:
        """After bar i was checked: update ATR, then ratchet the trigger with the bar's extreme."""
        atr = self._atr.get(o.client_order_id)
        if o.trailing_atr_multiple is not None and atr is not None:
            p = Decimal(o.atr_period)
            self._atr[o.client_order_id] = (atr * (p - 1) + true_range(inst, s, i)) / p
        off = self.offset(o)
        if o.side is OrderSide.SELL:
            cand = inst.round_price(inst.price_to_decimal(float(s.high[i])) - off)
            if o.trigger_price is None or cand > o.trigger_price:
                o.trigger_price = cand
        else:
            cand = inst.round_price(inst.price_to_decimal(float(s.low[i])) + off)
            if o.trigger_price is None or cand < o.trigger_price:
                o.trigger_price = cand

    def forget(self, o: Order) -> None:
        self._atr.pop(o.client_order_id, None)
