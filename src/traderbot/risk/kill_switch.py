"""The kill switch: one command cancels every open order and, optionally, flattens every position.

Engaging it is written to the store first (scope "kill_switch"), then the system goes HALTED, every open order
is canceled and, with `flatten`, one reduce-only market order per open position is sent (the only orders a
HALTED system lets through besides protective exits). It stays engaged across restarts: the system cannot be
set ACTIVE again until a person re-arms it explicitly, with a reason.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING

from traderbot.core.ids import ClientOrderIdGenerator
from traderbot.errors import UserError
from traderbot.model.enums import OrderSide, OrderType
from traderbot.model.order import Order
from traderbot.risk import events
from traderbot.risk.states import SYSTEM, StateChange, TradingState, require_who_why

if TYPE_CHECKING:
    from traderbot.kernel.kernel import Kernel

SCOPE = "kill_switch"


@dataclass(frozen=True, slots=True)
class KillReport:
    canceled: list[str]
    flatten_orders: list[str]
    denied: list[str]  # flatten orders the risk engine refused (should be none)


class KillSwitch:
    def __init__(self, kernel: Kernel) -> None:
        self.kernel = kernel
        states = kernel.risk.states
        self.engaged = states.store.load_states().get(SCOPE) is TradingState.HALTED
        states.guards.append(self._guard)
        self._ids: ClientOrderIdGenerator | None = None

    def _guard(self, scope: str, state: TradingState) -> str | None:
        if self.engaged and scope == SYSTEM and state is not TradingState.HALTED:
            return "the kill switch is engaged: re-arm it first (traderbot risk rearm --reason ...)"
        return None

    def engage(self, *, actor: str, reason: str, flatten: bool = False) -> KillReport:
        require_who_why(actor, reason)
        k = self.kernel
        states = k.risk.states
        if not self.engaged:
            states.store.save_state(
                StateChange(SCOPE, TradingState.ACTIVE, TradingState.HALTED, actor, reason, states.now_ns())
            )
            self.engaged = True
        states.set(SYSTEM, TradingState.HALTED, actor=actor, reason=f"kill switch: {reason}")
        canceled = []
        for order in list(k.cache.open_ids.values()):
            k.execution.cancel(order)
            canceled.append(order.client_order_id)
        sent: list[str] = []
        denied: list[str] = []
        if flatten:
            for (sid, iid), pos in sorted(k.portfolio._open.items()):
                if pos.quantity == 0:
                    continue
                order = self._close(sid, iid, pos.quantity)
                (sent if k.send(order) is not None else denied).append(order.client_order_id)
        events.publish(k.bus, events.KillSwitchEngaged(actor, reason, flatten, len(canceled), len(sent),
                                                       states.now_ns()))  # fmt: skip
        return KillReport(canceled, sent, denied)

    def rearm(self, *, actor: str, reason: str) -> None:
        """Explicit re-arm by a person: the kill switch off and the system ACTIVE again."""
        require_who_why(actor, reason)
        states = self.kernel.risk.states
        if not self.engaged:
            raise UserError("the kill switch is not engaged: nothing to re-arm")
        states.store.save_state(
            StateChange(SCOPE, TradingState.HALTED, TradingState.ACTIVE, actor, reason, states.now_ns())
        )
        self.engaged = False
        states.set(SYSTEM, TradingState.ACTIVE, actor=actor, reason=f"kill switch re-armed: {reason}")
        events.publish(self.kernel.bus, events.KillSwitchRearmed(actor, reason, states.now_ns()))

    def _close(self, strategy_id: str, instrument_id: str, quantity: Decimal) -> Order:
        k = self.kernel
        if self._ids is None:
            reserve = getattr(k.execution.journal, "reserve", None)
            self._ids = ClientOrderIdGenerator(k.trader_id, "KILL", reserve=reserve)
        return Order(
            client_order_id=self._ids.generate(),
            instrument_id=instrument_id,
            strategy_id=strategy_id,
            side=OrderSide.SELL if quantity > 0 else OrderSide.BUY,
            type=OrderType.MARKET,
            quantity=abs(quantity),
            ts_init=k.cache.now_ns,
            reduce_only=True,
            tag="kill_switch",
        )
