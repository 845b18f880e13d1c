"""Open-order quantities per pair and side (and per strategy), kept in step with every order change.

The cache calls `on_order` from `track` (after any status, fill or amendment of an order), so the exposure
checks read the open quantity on a side with one dictionary lookup instead of scanning every open order, and
the book sums (`book_sums.py`) are brought up to date for the changed pair as the change happens.
Reduce-only orders are left out: they can only shrink a position.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from decimal import Decimal

from traderbot.core.money import ZERO
from traderbot.model.enums import OrderSide
from traderbot.model.order import Order


class OpenOrderBook:
    def __init__(self) -> None:
        self._contrib: dict[str, tuple[str, str, OrderSide, Decimal]] = {}
        self.side: dict[tuple[str, OrderSide], Decimal] = {}  # (pair, side) -> open quantity
        self.by_strategy: dict[tuple[str, str, OrderSide], Decimal] = {}  # (strategy, pair, side) -> quantity
        self.version = 0
        self.shape = 0  # bumped when a (pair, side) gains its first open order or loses its last
        self.touched: set[str] = set()  # pairs changed since the exposure sums last looked
        self.on_change: Callable[[], None] | None = None  # told after each change (the sums catch up at once)

    def rebuild(self, orders: Iterable[Order]) -> None:
        self.touched.update(iid for iid, _ in self.side)
        self.shape += 1
        self._contrib.clear()
        self.side.clear()
        self.by_strategy.clear()
        for o in orders:
            self.on_order(o)

    def on_order(self, order: Order) -> None:
        cid = order.client_order_id
        old = self._contrib.get(cid)
        new = None
        if order.status.is_open and not order.reduce_only:
            new = (order.instrument_id, order.strategy_id, order.side, order.leaves_qty)
        if new == old:  # e.g. submitted -> accepted: nothing the checks count has changed
            return
        self.version += 1
        if old is not None:
            del self._contrib[cid]
            self._add(*old, sign=-1)
        if new is not None:
            self._contrib[cid] = new
            self._add(*new, sign=1)
        self.touched.add(order.instrument_id)
        if self.on_change is not None:
            self.on_change()

    def _add(self, iid: str, sid: str, side: OrderSide, qty: Decimal, *, sign: int) -> None:
        q = qty if sign > 0 else -qty
        k1 = (iid, side)
        v = self.side.get(k1, ZERO) + q
        if v:
            if k1 not in self.side:
                self.shape += 1
            self.side[k1] = v
        elif self.side.pop(k1, None) is not None:
            self.shape += 1
        k2 = (sid, iid, side)
        v = self.by_strategy.get(k2, ZERO) + q
        if v:
            self.by_strategy[k2] = v
        else:
            self.by_strategy.pop(k2, None)

    def pending(self, iid: str, side: OrderSide, strategy_id: str | None = None) -> Decimal:
        if strategy_id is None:
            return self.side.get((iid, side), ZERO)
        return self.by_strategy.get((strategy_id, iid, side), ZERO)

    def by_pair(self, strategy_id: str | None = None) -> dict[str, list[Decimal]]:
        out: dict[str, list[Decimal]] = {}
        if strategy_id is None:
            for (iid, side), q in self.side.items():
                out.setdefault(iid, [ZERO, ZERO])[0 if side is OrderSide.BUY else 1] += q
        else:
            for (sid, iid, side), q in self.by_strategy.items():
                if sid == strategy_id:
                    out.setdefault(iid, [ZERO, ZERO])[0 if side is OrderSide.BUY else 1] += q
        return out
