"""Arrivals at the simulated venue: what happens when an order reaches it, and what it says when asked.

`Arrivals` is the part of `SimulatedVenue` that checks an arriving order (rejections.py), acknowledges it and
sets it up, keeps the record of received orders behind `query`, and, with latency or faults configured, runs
the per-bar path that delivers orders and cancels in flight (latency.py) and stays silent while disconnected
(faults.py).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from decimal import Decimal

from traderbot.brokers.base import StreamReconnected
from traderbot.brokers.sim.faults import FaultInjector
from traderbot.brokers.sim.fills import FillBook
from traderbot.brokers.sim.latency import InFlight
from traderbot.brokers.sim.rejections import MarketHours, precision_problem
from traderbot.core.ids import SequenceIdGenerator
from traderbot.core.messages import OrderAccepted, OrderRejected, OrderStatusReport
from traderbot.model.enums import OrderStatus, OrderType, TimeInForce
from traderbot.model.order import Order

_UNSETTLED = (OrderStatus.SUBMITTED, OrderStatus.PENDING_CANCEL, OrderStatus.PENDING_UPDATE)
_log = logging.getLogger("traderbot.brokers.sim")


class Arrivals(FillBook):
    _venue_ids: SequenceIdGenerator
    _received: dict[str, Order]  # every order that reached the venue, by client order id
    _arrivals: list[Order]  # the hot path appends here; indexed into _received on the first lookup
    _flight: InFlight | None
    faults: FaultInjector | None
    on_reconnect: Callable[[StreamReconnected], None] | None
    duplicate_submits: int
    fill_on_close: bool
    _checks: bool
    _check_precision: bool
    _hours: MarketHours | None
    _cancel_now: Callable[[Order, int], None]
    _match_bar: Callable[[int, int], None]
    _dec: Callable[[Order, float, int, int], Decimal]
    _next_rollover: Callable[[int], int]

    def _passes(self, order: Order) -> bool:
        """With faults or latency: False when the order does not reach the venue now (refused while
        disconnected, a copy, lost on the way, or in flight: it arrives with a later bar)."""
        cid = order.client_order_id
        if self.faults is not None:
            self.faults.check_up(self.cache.now_ns, f"order {cid}")  # down: refused, nothing received
        if self._knows(cid) or (self._flight is not None and cid in self._flight.orders):
            self._ignore_copy(order)
            return False
        if self.faults is not None and not self.faults.on_submit(cid):
            return False  # lost on the way: the venue never sees it
        if self._flight is not None:
            self._flight.send_order(order, self.cache.now_ns)
            self.working.setdefault(order.instrument_id, []).append(order)  # held until it arrives
            return False
        return True

    def _knows(self, client_order_id: str) -> bool:
        if self._arrivals:
            self._received.update((o.client_order_id, o) for o in self._arrivals)
            self._arrivals.clear()
        return client_order_id in self._received

    def _ignore_copy(self, order: Order) -> None:
        self.duplicate_submits += 1  # client order ids are idempotency keys here
        _log.warning(
            "order %s was sent again; the venue already has it and ignores the copy", order.client_order_id
        )

    def _arrive(self, order: Order, ts: int) -> bool:
        """The order reaches the venue at `ts` (latency, faults): refused with a reason code, or accepted."""
        self._received[order.client_order_id] = order
        if self._checks and self._refused(order, ts):
            return False
        order.venue_order_id = self._venue_ids.generate()
        self.emit(
            OrderAccepted(
                order.client_order_id,
                order.instrument_id,
                order.strategy_id,
                ts,
                venue_order_id=order.venue_order_id,
            )
        )
        if not order.is_open:
            return False
        self._set_up(order, ts)
        return True

    def _refused(self, order: Order, ts: int) -> bool:
        """Reject an order the venue refuses on arrival (precision, market hours); True when refused."""
        inst = self.cache.instruments[order.instrument_id]
        reason = precision_problem(inst, order) if self._check_precision else ""
        if not reason and self._hours is not None:
            reason = self._hours.problem(inst, ts)
        if not reason:
            return False
        order.venue_order_id = self._venue_ids.generate()
        self._remove(order)
        self.emit(
            OrderRejected(order.client_order_id, order.instrument_id, order.strategy_id, ts, reason=reason)
        )
        return True

    def _set_up(self, order: Order, ts: int) -> None:
        """Trailing stops take their first trigger from the last closed bar; DAY orders get their expiry."""
        if order.type is OrderType.TRAILING_STOP:
            idx = self.cache.primary[order.instrument_id]
            inst = self.cache.instruments[order.instrument_id]
            self._trailing.start(order, inst, self.cache.series[idx], self.cache.visible[idx])
        if order.time_in_force is TimeInForce.DAY:
            self._expiry[order.client_order_id] = self._next_rollover(ts)

    def _keep_rest(self, order: Order) -> None:
        """After a fill at the close: the rest of a partly filled order works on (IOC/FOK: expires)."""
        if not order.is_open or order in self.working.get(order.instrument_id, ()):
            return
        if order.time_in_force in (TimeInForce.IOC, TimeInForce.FOK):
            self._expire(order, f"{order.time_in_force.value.upper()}: rest not fillable at the close")
            return
        self.working.setdefault(order.instrument_id, []).append(order)

    def query(self, order: Order) -> None:
        """Report the venue's view of this client order id as an OrderStatusReport (found=False: never seen).

        The venue's status is the order's, minus what the OMS has not heard yet: an acknowledgement that was
        lost (the venue has the order: accepted) and a cancel still in flight (still working)."""
        now = self.cache.now_ns
        cid = order.client_order_id
        if self.faults is not None:
            self.faults.check_up(now, f"lookup of {cid}")
        known = self._received.get(cid) if self._knows(cid) else None
        if known is None:
            self.emit(OrderStatusReport(cid, order.instrument_id, order.strategy_id, now, found=False))
            return
        status = known.status
        if status in _UNSETTLED:
            status = OrderStatus.PARTIALLY_FILLED if known.filled_qty > 0 else OrderStatus.ACCEPTED
        self.emit(
            OrderStatusReport(
                cid,
                known.instrument_id,
                known.strategy_id,
                now,
                reason=known.reason if status.is_closed else "",
                found=True,
                status=status.value,
                filled_qty=known.filled_qty,
                avg_price=known.avg_px,
                venue_order_id=known.venue_order_id or "",
            )
        )

    def _reconnected(self, notice: StreamReconnected) -> None:
        if self.on_reconnect is not None:
            self.on_reconnect(notice)

    # ---- matching ------------------------------------------------------------------------------------------
    def _on_bar_in_flight(self, series_idx: int, i: int) -> None:
        """Latency and faults: deliver what arrives in this bar, match only what is at the venue, then apply
        cancels that arrived during the bar (a fill in the bar may have beaten them)."""
        if self.faults is not None and self.faults.is_down(self.cache.now_ns):
            return  # the venue is down: nothing is matched or reported
        fl = self._flight
        if fl is None:
            self._match_bar(series_idx, i)
            return
        s = self.cache.series[series_idx]
        iid = s.instrument_id
        bar_open = int(s.ts[i])
        bar_close = bar_open + s.timeframe.ns
        lst = self.working.setdefault(iid, [])
        self._arrived.clear()
        at_close: list[Order] = []
        for at, o in fl.arrived_orders(iid, bar_close):
            if not self._arrive(o, at):
                self._remove(o)
                continue
            self._arrived[o.client_order_id] = at
            if o.type is OrderType.MARKET and self.fill_on_close:
                at_close.append(o)  # fills at the close of the bar it arrived in
        for at, o in fl.arrived_cancels(iid, bar_open):
            self._cancel_now(o, at)
        closing = {o.client_order_id for o in at_close}
        held = [o for o in lst if o.client_order_id in fl.orders or o.client_order_id in closing]
        if held:  # not at the venue yet, or filling at the close: kept out of this bar's matching
            lst[:] = [
                o for o in lst if o.client_order_id not in fl.orders and o.client_order_id not in closing
            ]
        self._match_bar(series_idx, i)
        lst.extend(held)
        for at, o in fl.arrived_cancels(iid, bar_close):
            self._cancel_now(o, at)
        for o in at_close:
            if o in lst:
                lst.remove(o)
                px = self._dec(o, float(s.close[i]), series_idx, i)
                self._fill_at(o, px, series_idx, i, slip=True, ts=bar_close)
                self._keep_rest(o)
        self._arrived.clear()
