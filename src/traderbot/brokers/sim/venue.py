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

Optional realism (VenueConfig, all off by default; docs/simulated_venue.md): latency of orders and cancels
(held in flight and delivered per bar: latency.py, arrivals.py), volume participation (partial fills,
fills.py), rejections on arrival (rejections.py, arrivals.py), a session/volatility spread (spreads.py) and
injected faults (faults.py).
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

from traderbot.brokers.base import StreamReconnected
from traderbot.brokers.sim.arrivals import Arrivals
from traderbot.brokers.sim.costs import NoSlippage, VenueConfig
from traderbot.brokers.sim.faults import FaultInjector
from traderbot.brokers.sim.fills import STOPS
from traderbot.brokers.sim.latency import InFlight
from traderbot.brokers.sim.rejections import MarketHours
from traderbot.brokers.sim.spreads import DynamicSpread
from traderbot.brokers.sim.trailing import TrailingStops
from traderbot.core.ids import SequenceIdGenerator
from traderbot.core.messages import (
    OrderAccepted,
    OrderCanceled,
    OrderCancelRejected,
    OrderEvent,
    OrderTriggered,
)
from traderbot.kernel.cache import Cache
from traderbot.model.enums import OrderSide, OrderType, TimeInForce
from traderbot.model.order import Order
from traderbot.portfolio.portfolio import Portfolio

_DAY_NS = 86_400_000_000_000
_HOUR_NS = 3_600_000_000_000


class SimulatedVenue(Arrivals):
    """Accepts orders and fills them against the bars of the kernel's cache."""

    def __init__(
        self, cache: Cache, portfolio: Portfolio, config: VenueConfig, emit: Callable[[OrderEvent], None]
    ) -> None:
        self.cache = cache
        self.portfolio = portfolio
        self.config = config
        self.working: dict[str, list[Order]] = {}  # per instrument; also holds orders still in flight
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
        self._participation = config.participation
        self._triggered: set[str] = set()
        self._arrived: dict[str, int] = {}
        # every order that reached the venue, by client order id (the record behind `query`); the hot path
        # only appends to `_arrivals`, indexed on the first lookup
        self._received: dict[str, Order] = {}
        self._arrivals: list[Order] = []
        self.duplicate_submits = 0
        self._check_precision = config.check_precision
        self._hours = MarketHours() if config.enforce_market_hours else None
        self._checks = config.check_precision or config.enforce_market_hours
        self._dynamic_spread = isinstance(config.spread, DynamicSpread)
        self._bar_spread_key: tuple[str, int] = ("", -1)
        self._bar_spread = Decimal(0)
        lat = config.latency
        self._flight = InFlight(lat) if lat is not None and not lat.is_zero else None
        self.on_reconnect: Callable[[StreamReconnected], None] | None = None  # hooked by the OMS
        self.faults: FaultInjector | None = None
        self.emit = emit
        if config.faults is not None:
            self.faults = FaultInjector(config.faults, emit, self._reconnected)
            self.emit = self.faults.emit  # what reaches the OMS: acks dropped, fills duplicated as planned
        self._slow = self._flight is not None or self.faults is not None
        if self._slow:  # rebinding keeps the default per-bar path free of any extra check or call
            self.on_bar = self._on_bar_in_flight  # type: ignore[method-assign]

    # ---- commands ------------------------------------------------------------------------------------------
    def submit(self, order: Order) -> None:
        now = self.cache.now_ns
        if self._slow:  # latency or faults: the order may be refused, lost or late
            if not self._passes(order) or not self._arrive(order, now):
                return
        else:  # the hot path, inline: accepted at once (after the optional arrival checks)
            self._arrivals.append(order)
            if self._checks and self._refused(order, now):
                return
            order.venue_order_id = self._venue_ids.generate()
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
            if order.type is OrderType.TRAILING_STOP or order.time_in_force is TimeInForce.DAY:
                self._set_up(order, now)
        idx = self.cache.primary[order.instrument_id]
        n = self.cache.visible[idx]
        if order.type is OrderType.MARKET and self.fill_on_close and n:
            s = self.cache.series[idx]
            px = self._dec(order, float(s.close[n - 1]), idx, n - 1)
            self._fill_at(order, px, idx, n - 1, slip=True, ts=int(s.ts[n - 1]) + s.timeframe.ns)
            self._keep_rest(order)
            return
        self.working.setdefault(order.instrument_id, []).append(order)

    def cancel(self, order: Order) -> None:
        if self._slow:
            cid = order.client_order_id
            if self.faults is not None:
                self.faults.check_up(self.cache.now_ns, f"cancel of {cid}")
            if self._flight is not None and (self._knows(cid) or cid in self._flight.orders):
                self._flight.send_cancel(order, self.cache.now_ns)
                return
        self._cancel_now(order, self.cache.now_ns)

    def _cancel_now(self, order: Order, ts: int) -> None:
        if order in self.working.get(order.instrument_id, ()):
            self._remove(order)
            self.emit(OrderCanceled(order.client_order_id, order.instrument_id, order.strategy_id, ts))
        elif self._flight is not None and not order.is_open:
            return  # a fill won the race with the cancel: nothing left to cancel
        else:
            known = self._knows(order.client_order_id)
            self.emit(
                OrderCancelRejected(
                    order.client_order_id,
                    order.instrument_id,
                    order.strategy_id,
                    ts,
                    reason="ORDER_NOT_WORKING" if known else "ORDER_NOT_FOUND",
                )
            )

    def has_work(self, instrument_id: str) -> bool:
        return bool(self.working.get(instrument_id))

    def on_bar(self, series_idx: int, i: int) -> None:
        """Match working orders of the series' instrument against bar i (called before strategies see it).

        With latency or faults the venue's own `on_bar` is `_on_bar_in_flight` (set in __init__), which
        calls this one for the orders that are at the venue."""
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
            seen = {o.client_order_id for o in working if o.type is OrderType.MARKET}  # filled above
        else:
            seen = set()
        self._intrabar_entries.clear()
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
            for o in sorted((o for o in orders if o.type in STOPS), key=_stop_priority):
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

    _match_bar = on_bar  # the matching itself, also when `on_bar` is rebound to the in-flight path

    def _working(self, o: Order) -> bool:
        return o.is_open and o in self.working.get(o.instrument_id, ())

    def _dec(self, o: Order, data_price: float, series_idx: int, i: int) -> Decimal:
        """Executable price for this order's side on bar i of the series (the bar's own spread if given)."""
        inst = self.cache.instruments[o.instrument_id]
        px = inst.price_to_decimal(data_price)
        s = self.cache.series[series_idx]
        if s.spread is not None:
            spread = self.config.spread.spread(inst, float(s.spread[i]))
        elif self._dynamic_spread:
            spread = self._spread_of_bar(inst.id, series_idx, i)
        elif inst.id in self._fixed_spread:
            spread = self._fixed_spread[inst.id]
        else:
            spread = self._fixed_spread[inst.id] = self.config.spread.spread(inst, None)
        if not spread:
            return px
        return self.config.spread.executable(px, o.side is OrderSide.BUY, spread)

    def _spread_of_bar(self, instrument_id: str, series_idx: int, i: int) -> Decimal:
        s = self.cache.series[series_idx]
        key = (instrument_id, int(s.ts[i]))
        if key != self._bar_spread_key:
            inst = self.cache.instruments[instrument_id]
            rng = inst.price_to_decimal(float(s.high[i])) - inst.price_to_decimal(float(s.low[i]))
            model = self.config.spread
            assert isinstance(model, DynamicSpread)
            self._bar_spread_key, self._bar_spread = key, model.bar_spread(inst, key[1], rng)
        return self._bar_spread

    def _prices(self, o: Order, series_idx: int, i: int) -> tuple[Decimal, Decimal, Decimal]:
        """Open, high, low on the side this order trades (ask for buys, bid for sells)."""
        s = self.cache.series[series_idx]
        return (
            self._dec(o, float(s.open[i]), series_idx, i),
            self._dec(o, float(s.high[i]), series_idx, i),
            self._dec(o, float(s.low[i]), series_idx, i),
        )

    def _immediate(self, o: Order, series_idx: int, i: int) -> None:
        """IOC/FOK: one chance at this bar's open, then expiry of whatever is left (participation: an IOC may
        fill in part, a FOK only in full)."""
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
        if o.client_order_id in self._triggered:  # partly filled: the rest trades like a market order
            self._fill_at(o, op, series_idx, i, slip=True)
            return
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
