"""What an execution algorithm is: its settings (`AlgoSpec`), one running instance (`AlgoRun`), and what the
algo engine needs from the kernel (`AlgoHost`). The machinery itself is `engine.AlgoEngine`.

An algorithm never touches a venue. It asks the engine for child orders, which go kernel.send -> risk engine ->
execution engine -> venue like any strategy order, and it is driven only by the clock's timers and by the order
events on the bus ("orders", "fills"). So the same algorithm runs unchanged on the simulated venue and on a real
broker.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from traderbot.core.bus import MessageBus
from traderbot.core.clock import Clock
from traderbot.execution.algos.parent import ParentOrder
from traderbot.kernel.cache import Cache
from traderbot.model.instrument import Instrument
from traderbot.model.order import Order

if TYPE_CHECKING:
    from traderbot.execution.algos.engine import AlgoEngine


class AlgoSpec(Protocol):
    """What `buy(qty, algo=...)` accepts (TWAP, VWAP, Iceberg): settings that plan one run for one parent."""

    name: str

    def plan(self, engine: AlgoEngine, parent: ParentOrder, inst: Instrument) -> AlgoRun | str:
        """A runnable algorithm for this parent, or a refusal text `CODE: context` (see AlgoRefusal)."""
        ...


class AlgoRun:
    """One running algorithm. Subclasses send children through `self.engine` and react to these hooks, which
    are called only while the parent is working."""

    def __init__(self, engine: AlgoEngine, parent: ParentOrder, inst: Instrument, max_failures: int) -> None:
        self.engine = engine
        self.parent = parent
        self.inst = inst
        self.max_failures = max_failures

    def start(self) -> None:
        """Arm timers or send the first child."""

    def on_child_filled(self, child: Order) -> None:
        """A child filled (partly or fully); the parent's figures already include the fill."""

    def on_child_closed(self, child: Order, failed: bool) -> None:
        """A child ended unfilled or partly filled (canceled, expired, denied, rejected): its rest is free."""


class OrderCanceller(Protocol):
    def cancel(self, order: Order) -> None:
        """Ask the venue to cancel a working order (the execution engine's cancel)."""
        ...


class AlgoHost(Protocol):
    """What the engine needs from the kernel. Read on every use: a live session swaps the kernel's clock."""

    @property
    def cache(self) -> Cache: ...

    @property
    def bus(self) -> MessageBus: ...

    @property
    def clock(self) -> Clock: ...

    def send(self, order: Order) -> str | None:
        """Risk engine, then execution engine; the client order id, or None when denied."""
        ...

    @property
    def execution(self) -> OrderCanceller: ...
