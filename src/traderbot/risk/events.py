"""Risk events on the kernel bus, topic "risk": the kill switch engaged or re-armed, trading-state changes
(`StateChange`), denials (`Denial`), locks set or cleared (`LockEvent`). Published only when someone listens
(`bus.has_subscribers`), so the order path pays nothing otherwise."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, NamedTuple

if TYPE_CHECKING:
    from traderbot.core.bus import MessageBus

TOPIC = "risk"


class KillSwitchEngaged(NamedTuple):
    actor: str
    reason: str
    flatten: bool
    canceled: int  # open orders canceled
    flatten_orders: int  # closing orders sent
    ts: int


class KillSwitchRearmed(NamedTuple):
    actor: str
    reason: str
    ts: int


def publish(bus: MessageBus | None, message: Any) -> None:
    """Publish on "risk" when the bus has listeners (a denial, a lock or a state change is built anyway)."""
    if bus is not None and bus.has_subscribers(TOPIC):
        bus.publish(TOPIC, message)
