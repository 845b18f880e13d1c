"""Iceberg: a limit order that shows only part of its size; a new child replaces each one that fills.

    self.buy(20_000, algo=Iceberg(display_qty=1_000, limit="170.05"))
    self.sell(5_000, algo=Iceberg(500, limit=Decimal("1.0850"), display_jitter=0.3, seed=1))

One child is working at a time: `display_qty` (or, with `display_jitter`, a size drawn uniformly from
display * (1 -+ jitter), rounded down to lots, at least the instrument's minimum), never more than is left. When
it fills completely the next one goes out at the same limit price, until the total is filled or the parent is
canceled. A child the venue refuses or ends on its own is replaced at once, up to `max_failures` in a row.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from decimal import Decimal

from traderbot.execution.algos.base import AlgoRun
from traderbot.execution.algos.engine import AlgoEngine
from traderbot.execution.algos.parent import AlgoConfigError, AlgoRefusal, AlgoStatus, ParentOrder
from traderbot.execution.algos.slicing import parse_decimal, parse_fraction
from traderbot.execution.algos.twap import seeded_rng
from traderbot.model.enums import OrderStatus, OrderType
from traderbot.model.instrument import Instrument
from traderbot.model.order import Order

MAX_DISPLAY_JITTER = 0.9


@dataclass(frozen=True, slots=True, init=False)
class Iceberg:
    """Show `display_qty` of the total at `limit` at a time; replenish on each full fill."""

    display_qty: Decimal
    limit: Decimal
    display_jitter: float
    seed: int | None
    max_failures: int
    name = "iceberg"

    def __init__(
        self,
        display_qty: Decimal | float | int | str,
        limit: Decimal | float | int | str,
        *,
        display_jitter: float = 0.0,
        seed: int | None = None,
        max_failures: int = 3,
    ) -> None:
        shown = parse_decimal(display_qty, "display_qty")
        if shown is None or shown <= 0:
            raise AlgoConfigError(f"display_qty must be a positive quantity, got {display_qty!r}")
        price = parse_decimal(limit, "limit")
        if price is None or price <= 0:
            raise AlgoConfigError(f"limit must be a positive price, got {limit!r}")
        if isinstance(max_failures, bool) or not isinstance(max_failures, int) or max_failures < 1:
            raise AlgoConfigError(f"max_failures must be a whole number of at least 1, got {max_failures!r}")
        set_ = object.__setattr__
        set_(self, "display_qty", shown)
        set_(self, "limit", price)
        set_(self, "display_jitter", parse_fraction(display_jitter, "display_jitter", MAX_DISPLAY_JITTER))
        set_(self, "seed", seed)
        set_(self, "max_failures", max_failures)

    def plan(self, engine: AlgoEngine, parent: ParentOrder, inst: Instrument) -> AlgoRun | str:
        if self.limit % inst.tick_size != 0:
            return AlgoRefusal.INVALID_PRICE.text(f"tick_size={inst.tick_size}, limit={self.limit}")
        low = inst.round_quantity(self.display_qty * Decimal(repr(1 - self.display_jitter)))
        if low <= 0 or low < inst.min_quantity:
            return AlgoRefusal.BELOW_MIN_QUANTITY.text(
                f"display_qty={self.display_qty} (jitter {self.display_jitter}) can show {low}, below the "
                f"minimum {inst.min_quantity}"
            )
        parent.start_ns = engine.now()
        return IcebergRun(engine, parent, inst, self, seeded_rng(self.seed, parent.parent_id))


class IcebergRun(AlgoRun):
    def __init__(
        self, engine: AlgoEngine, parent: ParentOrder, inst: Instrument, spec: Iceberg, rng: random.Random
    ) -> None:
        super().__init__(engine, parent, inst, spec.max_failures)
        self.spec = spec
        self.rng = rng

    def start(self) -> None:
        self._replenish()

    def on_child_filled(self, child: Order) -> None:
        if child.status is OrderStatus.FILLED:
            self._replenish()

    def on_child_closed(self, child: Order, failed: bool) -> None:
        self._replenish()

    def next_display(self) -> Decimal:
        """The next child's size before capping by what is left."""
        j = self.spec.display_jitter
        if not j:
            return self.inst.round_quantity(self.spec.display_qty)
        factor = Decimal(repr(self.rng.uniform(1 - j, 1 + j)))
        return max(self.inst.round_quantity(self.spec.display_qty * factor), self.inst.min_quantity)

    def _replenish(self) -> None:
        eng, parent, inst = self.engine, self.parent, self.inst
        if not parent.is_working or eng.has_open_children(parent):
            return
        left = parent.quantity - eng.committed(parent)
        if left <= 0:
            return
        qty = min(self.next_display(), left)
        if qty < inst.min_quantity or inst.round_quantity(qty) != qty:
            eng.finish(parent, AlgoStatus.EXPIRED, f"REST_UNTRADABLE: {left} left, below one lot")
            return
        eng.send_child(parent, OrderType.LIMIT, qty, self.spec.limit)
