"""Latency of the simulated venue: how long an order or a cancel takes to reach it (seeded, deterministic).

Orders and cancels in flight wait in `InFlight`, keyed by client order id, and are delivered by the venue when
it matches the instrument's next bar (the venue is bar-driven and holds no clock: a queue checked per bar
gives the same arrivals a timer would, at no cost when latency is off). A cancel never overtakes its order:
one connection delivers in order.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from decimal import Decimal

from traderbot.errors import UserError
from traderbot.model.order import Order

_MS_NS = 1_000_000


@dataclass(frozen=True, slots=True)
class LatencyModel:
    """One-way delays in milliseconds; each message adds a uniform jitter in [0, jitter_ms] (seeded)."""

    submit_ms: Decimal = Decimal(0)
    cancel_ms: Decimal = Decimal(0)
    jitter_ms: Decimal = Decimal(0)
    seed: int = 0

    def __post_init__(self) -> None:
        for name in ("submit_ms", "cancel_ms", "jitter_ms"):
            value = Decimal(getattr(self, name))
            if not value.is_finite() or value < 0:
                raise UserError(f"latency {name}={value} is not valid: use a number of milliseconds >= 0")
            object.__setattr__(self, name, value)

    @property
    def is_zero(self) -> bool:
        return self.submit_ms == 0 and self.cancel_ms == 0 and self.jitter_ms == 0


@dataclass(slots=True)
class InFlight:
    """Orders and cancels sent but not yet at the venue: client order id -> (arrival time ns, order)."""

    model: LatencyModel
    orders: dict[str, tuple[int, Order]] = field(default_factory=dict)
    cancels: dict[str, tuple[int, Order]] = field(default_factory=dict)
    _rng: random.Random = field(init=False)

    def __post_init__(self) -> None:
        self._rng = random.Random(self.model.seed)

    def _delay(self, base_ms: Decimal) -> int:
        jitter = self.model.jitter_ms
        extra = Decimal(repr(self._rng.random())) * jitter if jitter else Decimal(0)
        return int((base_ms + extra) * _MS_NS)

    def send_order(self, order: Order, now_ns: int) -> int:
        at = now_ns + self._delay(self.model.submit_ms)
        self.orders[order.client_order_id] = (at, order)
        return at

    def send_cancel(self, order: Order, now_ns: int) -> int:
        """Arrival of a cancel; a repeated cancel keeps the first one's arrival (it is already on its way)."""
        at = now_ns + self._delay(self.model.cancel_ms)
        pending = self.orders.get(order.client_order_id)
        if pending is not None:
            at = max(at, pending[0])  # never before its order
        first = self.cancels.get(order.client_order_id)
        if first is not None:
            at = min(at, first[0])
        self.cancels[order.client_order_id] = (at, order)
        return at

    def arrived_orders(self, instrument_id: str, before_ns: int) -> list[tuple[int, Order]]:
        """Remove and return this instrument's orders arriving before `before_ns`, in arrival order."""
        due = [
            (at, o) for at, o in self.orders.values() if at < before_ns and o.instrument_id == instrument_id
        ]
        for _, o in due:
            del self.orders[o.client_order_id]
        due.sort(key=lambda x: x[0])
        return due

    def arrived_cancels(self, instrument_id: str, until_ns: int) -> list[tuple[int, Order]]:
        """Remove and return this instrument's cancels arriving at or before `until_ns`, in arrival order
        (a cancel whose order is still in flight waits for it)."""
        due = [
            (at, o)
            for at, o in self.cancels.values()
            if at <= until_ns and o.instrument_id == instrument_id and o.client_order_id not in self.orders
        ]
        for _, o in due:
            del self.cancels[o.client_order_id]
        due.sort(key=lambda x: x[0])
        return due
