"""The simulated venue: a bar-driven matching engine shared by backtests and paper trading.

Per bar of an instrument, in this order (conservative when the path inside the bar is unknown):
0. overnight financing for positions held over a rollover, and expiry of DAY orders;
1. market orders waiting for this bar fill at its open (buys at the ask, sells at the bid, plus slippage);
   IOC/FOK orders get this one chance at the open and expire otherwise;
2. stop orders (stop losses, stops, trailing stops) trigger on the bar's high/low; a gap through the trigger
   fills at the open; stops are checked before limits, so when a stop loss and a take profit both lie inside
   one bar, the stop loss wins. A triggered stop-limit fills at the trigger price only if that is within its
   limit, and otherwise rests as a limit from the next bar on;
3. limit orders fill at their limit (or a better open). The take profit of an entry that itself filled inside
   this bar (a limit or stop entry) is not matched in the same bar: the bar's high/low may have come first;
4. trailing stops then move with this bar's extreme (never within the bar that is being checked).
Members of an OCO group (a bracket's stop loss and take profits) cancel each other; a partial take profit
reduces the stop loss. Fill timestamps are the open time of the bar in which they happen (the bar's close
time for fills at the close).
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

from traderbot.brokers.sim.costs import NoSlippage, VenueConfig
from traderbot.brokers.sim.funds import margin_problem, size_from_equity
from traderbot.brokers.sim.trailing import TrailingStops
from traderbot.core.ids import SequenceIdGenerator
from traderbot.core.messages import (
    OrderAccepted,
    OrderCanceled,
    OrderCancelRejected,
    OrderEvent,
    OrderExpired,
    OrderFilled,
    OrderRejected,
    OrderTriggered,
)
from traderbot.kernel.cache import Cache
from traderbot.model.enums import OrderSide, OrderType, TimeInForce
from traderbot.model.order import Order
from traderbot.portfolio.portfolio import Portfolio

_STOPS = (OrderType.STOP, OrderType.STOP_LIMIT, OrderType.TRAILING_STOP)
_DAY_NS = 86_400_000_000_000
_HOUR_NS = 3_600_000_000_000


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
        self._trailing = TrailingStops()
        self._expiry: dict[str, int] = {}  # DAY orders: expire at the next rollover
        self._last_bar_ts: dict[str, int] = {}  # per instrument, for financing rollovers
        self._intrabar_entries: set[str] = set()  # entries filled inside the bar being matched
        self._fixed_spread: dict[str, Decimal] = {}  # per instrument, when the data has no spread column
        self.fill_on_close = config.fill_on == "close"
        self._has_slippage = not isinstance(config.slippage, NoSlippage)
        self.financing_on = not config.financing.is_zero
        self._rollover_offset = config.financing.rollover_hour_utc * _HOUR_NS

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
        idx = self.cache.primary[order.instrument_id]
        n = self.cache.visible[idx]
        s = self.cache.series[idx]
        if order.type is OrderType.TRAILING_STOP:
            self._trailing.start(order, self.cache.instruments[order.instrument_id], s, n)
        if order.time_in_force is TimeInForce.DAY:
            self._expiry[order.client_order_id] = self._next_rollover(now)
        if order.type is OrderType.MARKET and self.fill_on_close and n:
            px = self._dec(order, float(s.close[n - 1]), idx, n - 1)
            self._fill_at(order, px, idx, n - 1, slip=True, ts=int(s.ts[n - 1]) + s.timeframe.ns)
            return
        self.working.setdefault(order.instrument_id, []).append(order)

    def cancel(self, order: Order) -> None:
        lst = self.working.get(order.instrument_id, [])
        if order in lst:
            self._remove(order)
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
        bar_ts = int(s.ts[i])
        if self.financing_on:
            self._finance(inst_id, series_idx, bar_ts)
        self._expire_day_orders(inst_id, bar_ts)
        working = self.working.get(inst_id, [])
        only_market = True
        for o in working:
            if o.type is not OrderType.MARKET or o.time_in_force is not TimeInForce.GTC:
                only_market = False
                break
        if only_market:
            for o in list(working):  # the common case: market orders at the open, nothing else to match
                if o.is_open:
                    self._fill_at(o, self._dec(o, float(s.open[i]), series_idx, i), series_idx, i, slip=True)
            if all(o.type is OrderType.MARKET for o in working):
                return  # these fills created no bracket exits to match in this bar
        self._intrabar_entries.clear()
        seen: set[str] = set()
        for _ in range(4):  # orders created by fills in this bar (bracket exits) get matched in the same bar
            orders = [o for o in self.working.get(inst_id, []) if o.client_order_id not in seen]
            if not orders:
                break
            seen.update(o.client_order_id for o in orders)
            for o in orders:
                if o.type is OrderType.MARKET and o.is_open:
                    self._fill_at(o, self._dec(o, float(s.open[i]), series_idx, i), series_idx, i, slip=True)
            for o in orders:
                if o.time_in_force in (TimeInForce.IOC, TimeInForce.FOK) and self._working(o):
                    self._immediate(o, series_idx, i)
            for o in sorted((o for o in orders if o.type in _STOPS), key=_stop_priority):
                if self._working(o):
                    self._match_stop(o, series_idx, i)
            for o in orders:
                if (
                    o.type is OrderType.LIMIT
                    and self._working(o)
                    and o.parent_id not in self._intrabar_entries
                ):
                    self._match_limit(o, series_idx, i)
        inst = self.cache.instruments[inst_id]
        for o in self.working.get(inst_id, []):
            if o.type is OrderType.TRAILING_STOP:
                self._trailing.move(o, inst, s, i)

    def _working(self, o: Order) -> bool:
        return o.is_open and o in self.working.get(o.instrument_id, ())

    def _dec(self, o: Order, data_price: float, series_idx: int, i: int) -> Decimal:
        """Executable price for this order's side on bar i of the series (the bar's own spread if given)."""
        inst = self.cache.instruments[o.instrument_id]
        px = inst.price_to_decimal(data_price)
        s = self.cache.series[series_idx]
        if s.spread is not None:
            spread = self.config.spread.spread(inst, float(s.spread[i]))
        elif inst.id in self._fixed_spread:
            spread = self._fixed_spread[inst.id]
        else:
            spread = self._fixed_spread[inst.id] = self.config.spread.spread(inst, None)
        if not spread:
            return px
        return self.config.spread.executable(px, o.side is OrderSide.BUY, spread)

    def _prices(self, o: Order, series_idx: int, i: int) -> tuple[Decimal, Decimal, Decimal]:
        """Open, high, low on the side this order trades (ask for buys, bid for sells)."""
        s = self.cache.series[series_idx]
        return (
            self._dec(o, float(s.open[i]), series_idx, i),
            self._dec(o, float(s.high[i]), series_idx, i),
            self._dec(o, float(s.low[i]), series_idx, i),
        )

    def _immediate(self, o: Order, series_idx: int, i: int) -> None:
        """IOC/FOK: one chance at this bar's open, then expiry (fills here are never partial)."""
        op, _, _ = self._prices(o, series_idx, i)
        buy = o.side is OrderSide.BUY
        ok = (
            o.type is OrderType.LIMIT and o.price is not None and (op <= o.price if buy else op >= o.price)
        ) or (
            o.type is OrderType.STOP
            and o.trigger_price is not None
            and (op >= o.trigger_price if buy else op <= o.trigger_price)
        )
        if ok:
            self._fill_at(o, op, series_idx, i, slip=o.type is OrderType.STOP)
        if self._working(o):
            self._expire(
                o, f"{o.time_in_force.value.upper()}: not fillable at the first price after submission"
            )

    def _match_stop(self, o: Order, series_idx: int, i: int) -> None:
        op, hi, lo = self._prices(o, series_idx, i)
        trig = o.trigger_price
        if trig is None:
            return
        buy = o.side is OrderSide.BUY
        if (buy and hi < trig) or (not buy and lo > trig):
            return
        gap = (buy and op >= trig) or (not buy and op <= trig)
        px = op if gap else trig
        if o.type is OrderType.STOP_LIMIT:
            self.emit(OrderTriggered(o.client_order_id, o.instrument_id, o.strategy_id, self.cache.now_ns))
            o.type = OrderType.LIMIT  # rests as a limit from now on
            assert o.price is not None
            if (buy and px <= o.price) or (not buy and px >= o.price):
                self._fill_at(o, px, series_idx, i, slip=False)
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
        if o.reduce_only and not self._cap_reduce_only(o):
            return
        if slip and self._has_slippage:
            bar_range = inst.price_to_decimal(float(s.high[i])) - inst.price_to_decimal(float(s.low[i]))
            adverse = self.config.slippage.slippage(inst, o.leaves_qty, bar_range, float(s.volume[i]))
            if adverse:
                px = inst.round_price(px + adverse if o.side is OrderSide.BUY else px - adverse)
        equity = None if o.reduce_only else self.portfolio.equity()  # once: sizing and margin share it
        if o.equity_fraction is not None and o.filled_qty == 0:  # sized on the actual fill price
            sized = size_from_equity(
                self.portfolio, inst, o.equity_fraction, px, self.config.commission, equity
            )
            if sized <= 0:
                return self._reject(o, "INSUFFICIENT_FUNDS: equity too small for one lot at this price")
            o.quantity = sized
        qty = o.leaves_qty
        fee = self.config.commission.commission(qty, px, inst.multiplier)
        signed = qty if o.side is OrderSide.BUY else -qty
        reason = margin_problem(
            self.portfolio, inst, signed, px, self.portfolio.to_account(fee, inst.quote), equity
        )
        if reason:
            return self._reject(o, reason)
        self._remove(o)
        if o.bracket is not None and o.type is not OrderType.MARKET:
            self._intrabar_entries.add(o.client_order_id)
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

    def _cap_reduce_only(self, o: Order) -> bool:
        """A reduce-only order never opens or grows a position: cancel it, or cut it to the position."""
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
            return False
        if o.leaves_qty > abs(net):
            o.quantity = o.filled_qty + abs(net)
        return True

    def _reject(self, o: Order, reason: str) -> None:
        self._remove(o)
        self.emit(
            OrderRejected(o.client_order_id, o.instrument_id, o.strategy_id, self.cache.now_ns, reason=reason)
        )
        self._cancel_group(o)

    def _expire(self, o: Order, reason: str) -> None:
        self._remove(o)
        self.emit(
            OrderExpired(o.client_order_id, o.instrument_id, o.strategy_id, self.cache.now_ns, reason=reason)
        )

    def _remove(self, o: Order) -> None:
        lst = self.working.get(o.instrument_id)
        if lst and o in lst:
            lst.remove(o)
            self._expiry.pop(o.client_order_id, None)
            self._trailing.forget(o)

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

    # ---- time ----------------------------------------------------------------------------------------------
    def _next_rollover(self, ts: int) -> int:
        return ((ts - self._rollover_offset) // _DAY_NS + 1) * _DAY_NS + self._rollover_offset

    def _expire_day_orders(self, instrument_id: str, bar_ts: int) -> None:
        if not self._expiry:
            return
        for o in list(self.working.get(instrument_id, [])):
            at = self._expiry.get(o.client_order_id)
            if at is not None and bar_ts >= at:
                self._expire(o, "DAY: the trading day ended")

    def _finance(self, instrument_id: str, series_idx: int, bar_ts: int) -> None:
        """Charge positions held over each rollover between the previous bar and this one."""
        prev = self._last_bar_ts.get(instrument_id)
        self._last_bar_ts[instrument_id] = bar_ts
        if prev is None:
            return
        off = self._rollover_offset
        days = (bar_ts - off) // _DAY_NS - (prev - off) // _DAY_NS
        if days <= 0:
            return
        px = self.cache.last_price(instrument_id)
        if px is None:
            return
        inst = self.cache.instruments[instrument_id]
        for (sid, iid), pos in list(self.portfolio.positions.items()):
            if iid == instrument_id and pos.quantity:
                amount = self.config.financing.charge(pos.quantity, px, inst.multiplier, int(days))
                if amount:
                    self.portfolio.charge_financing(sid, iid, amount)


def _stop_priority(o: Order) -> int:
    return 0 if o.oco_group is not None else 1
