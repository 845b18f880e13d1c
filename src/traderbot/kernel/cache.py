"""The kernel's in-memory cache: instruments, bar series with the current visible length, orders, positions.

Only the kernel thread writes it. Readers (strategies, risk, venue) see bars up to the current time only.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

import numpy as np

from traderbot.data.series import BarSeries
from traderbot.errors import UserError
from traderbot.model.fill import Fill
from traderbot.model.instrument import Instrument
from traderbot.model.order import Order


class Cache:
    def __init__(self) -> None:
        self.instruments: dict[str, Instrument] = {}
        self.series: list[BarSeries] = []
        self.visible: list[int] = []  # bars of each series visible now (index of the last closed bar + 1)
        self.primary: dict[str, int] = {}  # instrument id -> index of its primary (finest) series
        self.orders: dict[str, Order] = {}
        self.open_ids: dict[str, Order] = {}  # open orders only, in submission order (kept by the OMS)
        self.fills: list[Fill] = []  # accepted fills in order; duplicate trade ids are dropped
        self.now_ns = 0
        self._px: dict[str, tuple[int, int, Decimal]] = {}
        self.order_listener: Callable[[Order], None] | None = (
            None  # told of every order change (risk book)  # last_price memo: (series, visible bars, price)
        )

    def add_series(self, instrument: Instrument, series: BarSeries) -> int:
        self.instruments.setdefault(instrument.id, instrument)
        self.series.append(series)
        self.visible.append(0)
        idx = len(self.series) - 1
        cur = self.primary.get(instrument.id)
        if cur is None or series.timeframe.ns < self.series[cur].timeframe.ns:
            self.primary[instrument.id] = idx
        return idx

    def instrument(self, instrument_id: str) -> Instrument:
        try:
            return self.instruments[instrument_id]
        except KeyError:
            known = ", ".join(sorted(self.instruments)) or "none"
            raise UserError(
                f"instrument {instrument_id!r} is not loaded; loaded instruments: {known}"
            ) from None

    def last_close(self, instrument_id: str) -> float | None:
        idx = self.primary.get(instrument_id)
        if idx is None:
            return None
        n = self.visible[idx]
        return float(self.series[idx].close[n - 1]) if n else None

    def last_price(self, instrument_id: str) -> Decimal | None:
        """The last closed bar's close as an exact Decimal (memoised until the next bar of the pair)."""
        idx = self.primary.get(instrument_id)
        if idx is None:
            return None
        n = self.visible[idx]
        if not n:
            return None
        memo = self._px.get(instrument_id)
        if memo is not None and memo[0] == idx and memo[1] == n:
            return memo[2]
        px = self.instruments[instrument_id].price_to_decimal(float(self.series[idx].close[n - 1]))
        self._px[instrument_id] = (idx, n, px)
        return px

    def rate(self, from_ccy: str, to_ccy: str) -> Decimal | None:
        """Conversion rate from one currency to another from the latest closes of loaded pairs, or None."""
        if from_ccy == to_ccy:
            return Decimal(1)
        direct = self.last_price(from_ccy + to_ccy)
        if direct:
            return direct
        inverse = self.last_price(to_ccy + from_ccy)
        if inverse:
            return Decimal(1) / inverse
        return None

    def open_orders(self, instrument_id: str | None = None, strategy_id: str | None = None) -> list[Order]:
        return [
            o
            for o in self.open_ids.values()
            if (instrument_id is None or o.instrument_id == instrument_id)
            and (strategy_id is None or o.strategy_id == strategy_id)
        ]

    def track(self, order: Order) -> None:
        """Keep `open_ids` in step with the order's status after any change."""
        if order.status.is_open:
            self.open_ids[order.client_order_id] = order
        else:
            self.open_ids.pop(order.client_order_id, None)
        if self.order_listener is not None:
            self.order_listener(order)

    def series_index(self, instrument_id: str, timeframe_ns: int | None = None) -> int:
        if timeframe_ns is None:
            if instrument_id in self.primary:
                return self.primary[instrument_id]
        else:
            for i, s in enumerate(self.series):
                if s.instrument_id == instrument_id and s.timeframe.ns == timeframe_ns:
                    return i
        known = ", ".join(sorted({f"{s.instrument_id} {s.timeframe}" for s in self.series}))
        raise UserError(f"no data loaded for {instrument_id}; loaded series: {known}")

    def visible_count(self, idx: int) -> int:
        return self.visible[idx]

    def visible_until(self, idx: int, now_ns: int) -> int:
        """Bars of series `idx` completed at `now_ns` (used for derived series that are not in the schedule)."""
        s = self.series[idx]
        return int(np.searchsorted(s.ts_close, now_ns, side="right"))
