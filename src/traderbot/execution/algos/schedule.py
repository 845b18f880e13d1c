"""A scheduled algorithm run (TWAP, VWAP): cumulative targets at slice times, then an optional final sweep.

At slice k the run cancels its children still working (their unfilled rest is carried forward), then sends one
child for `target_k - committed` (rounded down to lots, capped by the participation limit if one is set). At the
end time it cancels what still works and, with `final_sweep`, sends one market order for whatever is left once
every cancel has been confirmed (so a late fill can never make it buy or sell more than the total).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

from traderbot.execution.algos.base import AlgoRun
from traderbot.execution.algos.engine import AlgoEngine
from traderbot.execution.algos.parent import AlgoStatus, ParentOrder
from traderbot.model.enums import OrderSide, OrderType
from traderbot.model.instrument import Instrument
from traderbot.model.order import Order


@dataclass(frozen=True, slots=True)
class SliceStyle:
    """How each slice is sent: market, or limit at the last close -/+ `limit_offset` (buy/sell)."""

    order_type: OrderType = OrderType.MARKET
    limit_offset: Decimal = Decimal(0)  # price units; positive = passive (below the last close for a buy)
    final_sweep: bool = True
    max_participation: Decimal | None = None  # fraction of the volume traded during the previous interval
    max_failures: int = 3


class ScheduledRun(AlgoRun):
    def __init__(
        self,
        engine: AlgoEngine,
        parent: ParentOrder,
        inst: Instrument,
        *,
        times: list[int],
        targets: list[Decimal],
        end_ns: int,
        style: SliceStyle,
    ) -> None:
        super().__init__(engine, parent, inst, style.max_failures)
        self.times = times
        self.targets = targets  # cumulative quantity wanted by each slice
        self.end_ns = end_ns
        self.style = style
        self.interval_ns = max(1, (end_ns - parent.start_ns) // len(times))
        self.ended = False

    def start(self) -> None:
        # every timer is armed now, slices first and the end last: equal times then fire in this order
        for k, at in enumerate(self.times):
            self.engine.set_timer(self.parent, f"slice{k}", at, self._slice_cb(k))
        self.engine.set_timer(self.parent, "end", self.end_ns, self._on_end)

    def _slice_cb(self, k: int) -> Callable[[int], None]:
        return lambda at: self._on_slice(k, at)

    def _on_slice(self, k: int, at: int) -> None:
        eng, parent, inst = self.engine, self.parent, self.inst
        eng.cancel_children(parent)  # the previous slice's unfilled rest is carried into this one
        if not parent.is_working:
            return
        qty = inst.round_quantity(min(self.targets[k], parent.quantity) - eng.committed(parent))
        cap = self.style.max_participation
        if cap is not None:
            seen = eng.recent_volume(parent.instrument_id, at - self.interval_ns, at)
            qty = min(qty, inst.round_quantity(cap * seen))
        if qty <= 0 or qty < inst.min_quantity:
            return  # too small for one lot now: carried to the next slice
        price = None
        if self.style.order_type is OrderType.LIMIT:
            ref = eng.last_price(parent.instrument_id)
            if ref is None:
                return  # no price seen yet: carried
            off = self.style.limit_offset
            price = inst.round_price(ref - off if parent.side is OrderSide.BUY else ref + off)
            if price <= 0:
                return
        eng.send_child(parent, self.style.order_type, qty, price)

    def _on_end(self, at: int) -> None:
        self.ended = True
        self.engine.cancel_children(self.parent)
        self._after_end()

    def on_child_closed(self, child: Order, failed: bool) -> None:
        if self.ended:
            self._after_end()

    def _after_end(self) -> None:
        """Once nothing works any more: sweep the rest at market, or expire with the rest unfilled."""
        eng, parent, inst = self.engine, self.parent, self.inst
        if not parent.is_working or eng.has_open_children(parent):
            return  # wait for every cancel to be confirmed
        left = parent.quantity - eng.committed(parent)
        if left <= 0:
            return  # the last fill finishes the parent
        if not self.style.final_sweep:
            eng.finish(parent, AlgoStatus.EXPIRED, f"WINDOW_ENDED: {left} of {parent.quantity} not filled")
        elif left < inst.min_quantity or inst.round_quantity(left) != left:
            eng.finish(
                parent,
                AlgoStatus.EXPIRED,
                f"WINDOW_ENDED: the rest {left} is below one tradable lot (min {inst.min_quantity})",
            )
        else:
            eng.send_child(parent, OrderType.MARKET, left)
