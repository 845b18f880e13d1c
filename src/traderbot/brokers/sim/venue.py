"""The simulated venue: a bar-driven matching engine shared by backtests and paper trading.

Per bar of an instrument, in this order (conservative when the path inside the bar is unknown):
1. market orders waiting for this bar fill at its open (buys at the ask, sells at the bid, plus slippage);
2. stop orders (stop losses, stops, trailing stops) trigger on the bar's high/low; a gap through the trigger
   fills at the open; stops are checked before limits, so when a stop loss and a take profit both lie inside
   one bar, the stop loss wins;
3. limit orders fill at their limit (or a better open);
4. trailing stops then move with this bar's extreme (never within the bar that is being checked).
Members of an OCO group (a bracket's stop loss and take profits) cancel each other; a partial take profit
reduces the stop loss. Fill timestamps are the open time of the bar in which they happen.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import ROUND_DOWN, Decimal

from traderbot.brokers.sim.costs import VenueConfig
from traderbot.core.ids import SequenceIdGenerator
from traderbot.core.messages import (
    OrderAccepted,
    OrderCanceled,
    OrderCancelRejected,
    OrderEvent,
    OrderFilled,
    OrderRejected,
    OrderTriggered,
)
from traderbot.core.money import ZERO
from traderbot.kernel.cache import Cache
from traderbot.model.enums import OrderSide, OrderType
from traderbot.model.order import Order
from traderbot.portfolio.portfolio import Portfolio

_STOPS = (OrderType.STOP, OrderType.STOP_LIMIT, OrderType.TRAILING_STOP)


class SimulatedVenue:
    """Accepts orders and fills them against the bars of the kernel's cache."""

    def __init__(
        self, cache: Cache, portfolio: Portfolio, config: VenueConfig, emit: Callable[[OrderEvent], None]
    ) -> None:
        self.cache = cache
        self.portfolio = portfolio
        self.config = config
        self.emit = emit
        self.working: dict[str, list[Order]] = {}
        self._venue_ids = SequenceIdGenerator("V")
        self._trade_ids = SequenceIdGenerator("T")
        self._atr: dict[tuple[str, str], Decimal] = {}  # (order id) -> current ATR for ATR trailing stops
        self._bar = -1
        self.fill_on_close = config.fill_on == "close"

    # ---- commands ------------------------------------------------------------------------------------------
    def submit(self, order: Order) -> None:
        order.venue_order_id = self._venue_ids.generate()
        now = self.cache.now_ns
        self.emit(
            OrderAccepted(
                order.client_order_id,
                order.instrument_id,
                order.strategy_id,
                now,
                venue_order_id=order.venue_order_id,
            )
        )
        if not order.is_open:
            return
        if order.type is OrderType.TRAILING_STOP:
            self._init_trailing(order)
        if order.type is OrderType.MARKET and self.fill_on_close:
            idx = self.cache.primary[order.instrument_id]
            n = self.cache.visible[idx]
            if n:
                s = self.cache.series[idx]
                self._fill_at(
                    order,
                    self._dec(order, float(s.close[n - 1])),
                    idx,
                    n - 1,
                    slip=True,
                    ts=int(s.ts[n - 1]) + s.timeframe.ns,
                )
                return
        self.working.setdefault(order.instrument_id, []).append(order)

    def cancel(self, order: Order) -> None:
        lst = self.working.get(order.instrument_id, [])
        if order in lst:
            lst.remove(order)
            self.emit(
                OrderCanceled(
                    order.client_order_id, order.instrument_id, order.strategy_id, self.cache.now_ns
                )
            )
        else:
            self.emit(
                OrderCancelRejected(
                    order.client_order_id,
                    order.instrument_id,
                    order.strategy_id,
                    self.cache.now_ns,
                    reason="ORDER_NOT_WORKING",
                )
            )

    def has_work(self, instrument_id: str) -> bool:
        return bool(self.working.get(instrument_id))

    # ---- matching ------------------------------------------------------------------------------------------
    def on_bar(self, series_idx: int, i: int) -> None:
        """Match working orders of the series' instrument against bar i (called before strategies see it)."""
        s = self.cache.series[series_idx]
        inst_id = s.instrument_id
        seen: set[str] = set()
        for _ in range(4):  # orders created by fills in this bar (bracket exits) get matched in the same bar
            orders = [o for o in self.working.get(inst_id, []) if o.client_order_id not in seen]
            if not orders:
                break
            seen.update(o.client_order_id for o in orders)
            for o in orders:
                if o.type is OrderType.MARKET and o.is_open:
                    self._fill_at(o, self._dec(o, float(s.open[i])), series_idx, i, slip=True)
            for o in sorted((o for o in orders if o.type in _STOPS), key=_stop_priority):
                if o.is_open and o in self.working.get(inst_id, ()):
                    self._match_stop(o, series_idx, i)
            for o in orders:
                if o.type is OrderType.LIMIT and o.is_open and o in self.working.get(inst_id, ()):
                    self._match_limit(o, series_idx, i)
        for o in self.working.get(inst_id, []):
            if o.type is OrderType.TRAILING_STOP:
                self._trail(o, series_idx, i)

    def _prices(self, o: Order, series_idx: int, i: int) -> tuple[Decimal, Decimal, Decimal]:
        """Open, high, low on the side this order trades (ask for buys, bid for sells)."""
        s = self.cache.series[series_idx]
        return self._dec(o, float(s.open[i])), self._dec(o, float(s.high[i])), self._dec(o, float(s.low[i]))

    def _dec(self, o: Order, data_price: float) -> Decimal:
        inst = self.cache.instruments[o.instrument_id]
        px = inst.price_to_decimal(data_price)
        spread = self.config.spread.spread(inst, self._bar_spread(o.instrument_id))
        return self.config.spread.executable(px, o.side is OrderSide.BUY, spread)

    def _bar_spread(self, instrument_id: str) -> float | None:
        s = self.cache.series[self.cache.primary[instrument_id]]
        if s.spread is None:
            return None
        n = max(self.cache.visible[self.cache.primary[instrument_id]], 1)
        return float(s.spread[min(n, len(s.spread) - 1)])

    def _match_stop(self, o: Order, series_idx: int, i: int) -> None:
        op, hi, lo = self._prices(o, series_idx, i)
        trig = o.trigger_price
        assert trig is not None
        buy = o.side is OrderSide.BUY
        if (buy and hi < trig) or (not buy and lo > trig):
            return
        gap = (buy and op >= trig) or (not buy and op <= trig)
        px = op if gap else trig
        if o.type is OrderType.STOP_LIMIT:
            self.emit(OrderTriggered(o.client_order_id, o.instrument_id, o.strategy_id, self.cache.now_ns))
            o.type = OrderType.LIMIT
            self._match_limit(o, series_idx, i)
            return
        self._fill_at(o, px, series_idx, i, slip=True)

    def _match_limit(self, o: Order, series_idx: int, i: int) -> None:
        op, hi, lo = self._prices(o, series_idx, i)
        lim = o.price
        assert lim is not None
        if o.side is OrderSide.BUY:
            if lo <= lim:
                self._fill_at(o, min(op, lim), series_idx, i, slip=False)
        elif hi >= lim:
            self._fill_at(o, max(op, lim), series_idx, i, slip=False)

    # ---- fills ---------------------------------------------------------------------------------------------
    def _fill_at(
        self, o: Order, px: Decimal, series_idx: int, i: int, *, slip: bool, ts: int | None = None
    ) -> None:
        s = self.cache.series[series_idx]
        inst = self.cache.instruments[o.instrument_id]
        fill_ts = int(s.ts[i]) if ts is None else ts
        if o.reduce_only:
            net = self.portfolio.net_quantity(o.instrument_id)
            if net == 0 or (net > 0) == (o.side is OrderSide.BUY):
                self._remove(o)
                self.emit(
                    OrderCanceled(
                        o.client_order_id,
                        o.instrument_id,
                        o.strategy_id,
                        self.cache.now_ns,
                        reason="REDUCE_ONLY: no position left to reduce",
                    )
                )
                return None
            if o.leaves_qty > abs(net):
                o.quantity = o.filled_qty + abs(net)
        if slip:
            bar_range = inst.price_to_decimal(float(s.high[i])) - inst.price_to_decimal(float(s.low[i]))
            adverse = self.config.slippage.slippage(inst, o.leaves_qty, bar_range, float(s.volume[i]))
            if adverse:
                px = inst.round_price(px + adverse if o.side is OrderSide.BUY else px - adverse)
        if o.equity_fraction is not None and o.filled_qty == 0:  # sized on the actual fill price
            sized = self._size_from_equity(o, px)
            if sized <= 0:
                return self._reject(o, "INSUFFICIENT_FUNDS: equity too small for one lot at this price")
            o.quantity = sized
        qty = o.leaves_qty
        reason = self._margin_problem(o, qty, px)
        if reason:
            return self._reject(o, reason)
        fee = self.config.commission.commission(qty, px, inst.multiplier)
        self._remove(o)
        self.emit(
            OrderFilled(
                o.client_order_id,
                o.instrument_id,
                o.strategy_id,
                fill_ts,
                trade_id=self._trade_ids.generate(),
                side=o.side.value,
                quantity=qty,
                price=px,
                commission=fee,
                commission_currency=inst.quote,
                venue_order_id=o.venue_order_id or "",
            )
        )
        self._after_fill(o, qty)

    def _size_from_equity(self, o: Order, px: Decimal) -> Decimal:
        """Units for an equity-fraction order at the fill price, commission included, rounded down to lots."""
        inst = self.cache.instruments[o.instrument_id]
        assert o.equity_fraction is not None
        rate = self.portfolio.to_account(Decimal(1), inst.quote)
        c = self.config.commission
        budget = self.portfolio.equity() * o.equity_fraction - max(c.per_order, ZERO) * rate
        unit = (px * inst.multiplier * (1 + c.pct_notional) + c.per_unit) * rate
        if budget <= 0 or unit <= 0:
            return ZERO
        qty = budget / unit
        if inst.lot_size > 0:
            return (qty / inst.lot_size).to_integral_value(ROUND_DOWN) * inst.lot_size
        return qty.quantize(Decimal("1e-12"), ROUND_DOWN)

    def _margin_problem(self, o: Order, qty: Decimal, px: Decimal) -> str:
        """Reject position-increasing fills that the free margin cannot carry."""
        inst = self.cache.instruments[o.instrument_id]
        net = self.portfolio.net_quantity(o.instrument_id)
        signed = qty if o.side is OrderSide.BUY else -qty
        increase = (
            max(abs(net + signed) - abs(net), ZERO)
            if (net >= 0) == (signed >= 0) or net == 0
            else max(abs(signed) - abs(net), ZERO)
        )
        if increase == 0:
            return ""
        need = self.portfolio.to_account(increase * px * inst.multiplier * inst.margin_rate, inst.quote)
        fee = self.portfolio.to_account(
            self.config.commission.commission(qty, px, inst.multiplier), inst.quote
        )
        free = self.portfolio.free_margin() - fee
        if need > free + Decimal("1e-9"):
            return f"INSUFFICIENT_MARGIN: required={need:.2f} {self.portfolio.currency}, free={free:.2f}"
        return ""

    def _reject(self, o: Order, reason: str) -> None:
        self._remove(o)
        self.emit(
            OrderRejected(o.client_order_id, o.instrument_id, o.strategy_id, self.cache.now_ns, reason=reason)
        )
        self._cancel_group(o)

    def _remove(self, o: Order) -> None:
        lst = self.working.get(o.instrument_id)
        if lst and o in lst:
            lst.remove(o)

    def _after_fill(self, o: Order, qty: Decimal) -> None:
        """OCO: a stop loss filling cancels its take profits; a take profit shrinks the stop loss."""
        if o.oco_group is None:
            return
        siblings = [x for x in self.working.get(o.instrument_id, []) if x.oco_group == o.oco_group]
        if o.type in _STOPS:
            self._cancel_group(o)
            return
        for sl in (x for x in siblings if x.type in _STOPS):
            remaining = sl.quantity - qty
            if remaining <= 0:
                self._remove(sl)
                self.emit(
                    OrderCanceled(
                        sl.client_order_id,
                        sl.instrument_id,
                        sl.strategy_id,
                        self.cache.now_ns,
                        reason="OCO: position closed by take profits",
                    )
                )
            else:
                sl.quantity = remaining

    def _cancel_group(self, o: Order) -> None:
        if o.oco_group is None:
            return
        for x in [
            x for x in self.working.get(o.instrument_id, []) if x.oco_group == o.oco_group and x is not o
        ]:
            self._remove(x)
            self.emit(
                OrderCanceled(
                    x.client_order_id,
                    x.instrument_id,
                    x.strategy_id,
                    self.cache.now_ns,
                    reason=f"OCO: {o.client_order_id} filled",
                )
            )

    # ---- trailing stops ------------------------------------------------------------------------------------
    def _offset(self, o: Order) -> Decimal:
        if o.trailing_offset is not None:
            return o.trailing_offset
        assert o.trailing_atr_multiple is not None
        return o.trailing_atr_multiple * self._atr.get((o.client_order_id, ""), ZERO)

    def _init_trailing(self, o: Order) -> None:
        idx = self.cache.primary[o.instrument_id]
        n = self.cache.visible[idx]
        s = self.cache.series[idx]
        if o.trailing_atr_multiple is not None:
            self._atr[(o.client_order_id, "")] = _seed_atr(s, n, o.atr_period)
        if o.trigger_price is None and n:
            last = Decimal(repr(float(s.close[n - 1])))
            off = self._offset(o)
            o.trigger_price = last - off if o.side is OrderSide.SELL else last + off

    def _trail(self, o: Order, series_idx: int, i: int) -> None:
        s = self.cache.series[series_idx]
        key = (o.client_order_id, "")
        if o.trailing_atr_multiple is not None and key in self._atr:
            tr = _true_range(s, i)
            p = Decimal(o.atr_period)
            self._atr[key] = (self._atr[key] * (p - 1) + tr) / p
        inst = self.cache.instruments[o.instrument_id]
        off = self._offset(o)
        if o.side is OrderSide.SELL:
            cand = inst.round_price(Decimal(repr(float(s.high[i]))) - off)
            if o.trigger_price is None or cand > o.trigger_price:
                o.trigger_price = cand
        else:
            cand = inst.round_price(Decimal(repr(float(s.low[i]))) + off)
            if o.trigger_price is None or cand < o.trigger_price:
                o.trigger_price = cand


def _stop_priority(o: Order) -> int:
    return 0 if o.oco_group is not None else 1


def _true_range(s: object, i: int) -> Decimal:
    hi, lo, close = s.high, s.low, s.close  # type: ignore[attr-defined]
    h, low = float(hi[i]), float(lo[i])
    prev = float(close[i - 1]) if i > 0 else h
    return Decimal(repr(max(h - low, abs(h - prev), abs(low - prev))))


def _seed_atr(s: object, n: int, period: int) -> Decimal:
    """ATR at the latest closed bar: mean true range of the last `period` bars (Wilder's seed)."""
    if n == 0:
        return ZERO
    lo = max(1, n - period)
    trs = [_true_range(s, j) for j in range(lo, n)] or [_true_range(s, n - 1)]
    return sum(trs, ZERO) / Decimal(len(trs))
