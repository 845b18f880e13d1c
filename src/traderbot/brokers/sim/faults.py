"""Fault injection for the simulated venue: what real venues do to an order management system, on purpose.

Faults are chosen per order, either by order number (the n-th `submit` call the venue gets, counting from 1,
bracket children and resends included) or at random with a seeded generator, so a run is reproducible:

- `ack_timeout`: the venue receives and works the order, but its acknowledgement never comes;
- `lost`: the order never reaches the venue (a lookup reports found=False, so it is safe to send again);
- `drop_ack`: the acknowledgement is lost, fills still arrive (the order goes SUBMITTED -> FILLED);
- `duplicate_fills`: every fill of the order is reported twice with the same trade id;
- `disconnects`: windows [start_ns, end_ns) of simulated time in which the venue is down: commands raise
  BrokerUnavailable, nothing is matched or reported; the first venue activity at or after the end
  hands a StreamReconnected notice to `SimulatedVenue.on_reconnect`.

At the venue `ack_timeout` and `drop_ack` behave alike (the order works, the ack is never sent); they are
separate knobs because they test different paths of the OMS (a silent order versus a fill before any ack).
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from itertools import pairwise

from traderbot.brokers.base import BrokerUnavailable, StreamReconnected
from traderbot.core.messages import OrderAccepted, OrderEvent, OrderFilled
from traderbot.errors import UserError

_log = logging.getLogger("traderbot.brokers.sim")

KINDS = ("lost", "ack_timeout", "drop_ack", "duplicate_fills")


@dataclass(frozen=True, slots=True)
class FaultPlan:
    """Which orders suffer which fault: explicit order numbers, and/or a seeded probability per order."""

    ack_timeout: frozenset[int] = frozenset()
    lost: frozenset[int] = frozenset()
    drop_ack: frozenset[int] = frozenset()
    duplicate_fills: frozenset[int] = frozenset()
    ack_timeout_rate: float = 0.0
    lost_rate: float = 0.0
    drop_ack_rate: float = 0.0
    duplicate_fills_rate: float = 0.0
    disconnects: tuple[tuple[int, int], ...] = ()
    seed: int = 0

    def __post_init__(self) -> None:
        for kind in KINDS:
            object.__setattr__(self, kind, frozenset(getattr(self, kind)))
            rate = getattr(self, f"{kind}_rate")
            if not 0.0 <= rate <= 1.0:
                raise UserError(f"fault rate {kind}_rate={rate} is not valid: use a probability in [0, 1]")
        windows = tuple(sorted((int(a), int(b)) for a, b in self.disconnects))
        for a, b in windows:
            if b <= a:
                raise UserError(f"disconnect window [{a}, {b}) is empty: the end must be after the start")
        for (_, b), (a2, _) in pairwise(windows):
            if a2 < b:
                raise UserError("disconnect windows overlap: merge them into one window")
        object.__setattr__(self, "disconnects", windows)


@dataclass(slots=True)
class FaultInjector:
    """Applies a FaultPlan: decides each order's faults, filters the venue's events, tracks outages."""

    plan: FaultPlan
    sink: Callable[[OrderEvent], None]
    on_reconnect: Callable[[StreamReconnected], None] | None = None
    injected: list[tuple[str, str]] = field(default_factory=list)  # (fault kind, client order id), in order
    submits: int = 0
    _silent_acks: set[str] = field(default_factory=set)
    _duplicated: set[str] = field(default_factory=set)
    _next_window: int = 0
    _rng: random.Random = field(init=False)

    def __post_init__(self) -> None:
        self._rng = random.Random(self.plan.seed)

    def on_submit(self, client_order_id: str) -> bool:
        """Count the submit and pick its faults; False when the order is lost on the way."""
        self.submits += 1
        n, p = self.submits, self.plan
        draws = {kind: self._rng.random() for kind in KINDS}  # always four draws: reproducible per order
        hit = {kind: n in getattr(p, kind) or draws[kind] < getattr(p, f"{kind}_rate") for kind in KINDS}
        if hit["lost"]:
            self._note("lost", client_order_id)
            return False
        for kind in ("ack_timeout", "drop_ack"):
            if hit[kind]:
                self._note(kind, client_order_id)
                self._silent_acks.add(client_order_id)
        if hit["duplicate_fills"]:
            self._note("duplicate_fills", client_order_id)
            self._duplicated.add(client_order_id)
        return True

    def emit(self, event: OrderEvent) -> None:
        """The venue's events as they reach the OMS: silenced acks dropped, duplicated fills sent twice."""
        cls = type(event)
        if cls is OrderAccepted and event.client_order_id in self._silent_acks:
            return
        self.sink(event)
        if cls is OrderFilled and event.client_order_id in self._duplicated:
            self.sink(event)

    def is_down(self, now_ns: int) -> bool:
        """True inside a disconnect window; hands out the reconnect notice of every window that has ended."""
        windows = self.plan.disconnects
        while self._next_window < len(windows) and windows[self._next_window][1] <= now_ns:
            start, end = windows[self._next_window]
            self._next_window += 1
            notice = StreamReconnected("sim", end, reason=f"simulated outage {start}..{end} ended")
            self._note("reconnected", str(end))
            if self.on_reconnect is not None:
                self.on_reconnect(notice)
        if self._next_window < len(windows):
            start, _ = windows[self._next_window]
            return start <= now_ns
        return False

    def check_up(self, now_ns: int, what: str) -> None:
        if self.is_down(now_ns):
            end = self.plan.disconnects[self._next_window][1]
            self._note("unavailable", what)
            raise BrokerUnavailable(
                f"the simulated venue is disconnected until {end} ns; {what} was not sent"
            )

    def _note(self, kind: str, what: str) -> None:
        self.injected.append((kind, what))
        _log.info("simulated fault %s: %s", kind, what)
