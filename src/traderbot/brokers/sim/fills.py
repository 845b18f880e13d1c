"""How the simulated venue books one fill: slippage, volume participation, sizing, margin, OCO follow-ups.

`FillBook` is the part of `SimulatedVenue` that turns "this order trades at this price in this bar" into an
OrderFilled event (or a rejection), and keeps OCO groups consistent afterwards. With a participation cap an
order may fill in several parts, each with its own trade id; the rest keeps working.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

from traderbot.brokers.sim.costs import VenueConfig
from traderbot.brokers.sim.funds import margin_problem, size_from_equity
from traderbot.brokers.sim.participation import fill_cap
from traderbot.brokers.sim.trailing import TrailingStops
from traderbot.core.ids import SequenceIdGenerator
from traderbot.core.messages import OrderCanceled, OrderEvent, OrderExpired, OrderFilled, OrderRejected
from traderbot.kernel.cache import Cache
from traderbot.model.enums import OrderSide, OrderType, TimeInForce
from traderbot.model.order import Order
from traderbot.portfolio.portfolio import Portfolio

STOPS = (OrderType.STOP, OrderType.STOP_LIMIT, OrderType.TRAILING_STOP)


class FillBook:
    cache: Cache
    portfolio: Portfolio
    config: VenueConfig
    emit: Callable[[OrderEvent], None]
    working: dict[str, list[Order]]
    _trade_ids: SequenceIdGenerator
    _trailing: TrailingStops
    _expiry: dict[str, int]
    _intrabar_entries: set[str]
    _has_slippage: bool
    _participation: Decimal | None
    _triggered: set[str]  # stops partly filled: the rest fills at the next opens, like a market order
    _arrived: dict[str, int]  # orders that reached the venue inside the bar being matched: arrival time

    def _fill_at(
        self, o: Order, px: Decimal, series_idx: int, i: int, *, slip: bool, ts: int | None = None
    ) -> None:
        s = self.cache.series[series_idx]
        inst = self.cache.instruments[o.instrument_id]
        fill_ts = int(s.ts[i]) if ts is None else ts
        if self._arrived and o.client_order_id in self._arrived:
            fill_ts = max(fill_ts, self._arrived[o.client_order_id])  # never before the order arrived
        if o.reduce_only and not self._cap_reduce_only(o):
            return
        cap = None
        if self._participation is not None:
            cap = fill_cap(inst, self._participation, float(s.volume[i]))
            if cap <= 0:
                if o.time_in_force is TimeInForce.FOK:
                    self._expire(o, "FOK: no volume in the bar to fill the whole order")
                return
        if slip and self._has_slippage:
            bar_range = inst.price_to_decimal(float(s.high[i])) - inst.price_to_decimal(float(s.low[i]))
            q = o.leaves_qty if cap is None else min(o.leaves_qty, cap)
            adverse = self.config.slippage.slippage(inst, q, bar_range, float(s.volume[i]))
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
        full = True
        if cap is not None and cap < qty:
            if o.time_in_force is TimeInForce.FOK:
                return self._expire(o, f"FOK: only {cap} of {qty} fillable in the bar (participation)")
            qty, full = cap, False
        if o.filled_qty:  # a further part of a partially filled order
            fee = self.config.commission.commission_part(
                o.filled_qty, o.filled_cost, qty, px, inst.multiplier
            )
        else:
            fee = self.config.commission.commission(qty, px, inst.multiplier)
        signed = qty if o.side is OrderSide.BUY else -qty
        reason = margin_problem(
            self.portfolio, inst, signed, px, self.portfolio.to_account(fee, inst.quote), equity
        )
        if reason:
            return self._reject(o, reason)
        if full:
            self._remove(o)
            if o.bracket is not None and o.type is not OrderType.MARKET:
                self._intrabar_entries.add(o.client_order_id)
        elif o.type in STOPS:
            self._triggered.add(o.client_order_id)
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
        """Refuse the order; a partly filled order has its rest canceled instead (it cannot be rejected)."""
        self._remove(o)
        cls = OrderCanceled if o.filled_qty > 0 else OrderRejected
        self.emit(cls(o.client_order_id, o.instrument_id, o.strategy_id, self.cache.now_ns, reason=reason))
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
            if self._triggered:
                self._triggered.discard(o.client_order_id)

    def _after_fill(self, o: Order, qty: Decimal) -> None:
        """OCO: a stop loss filling cancels its take profits; a take profit shrinks the stop loss."""
        if o.oco_group is None:
            return
        siblings = [x for x in self.working.get(o.instrument_id, []) if x.oco_group == o.oco_group]
        if o.type in STOPS:
            self._cancel_group(o)
            return
        for sl in (x for x in siblings if x.type in STOPS):
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
