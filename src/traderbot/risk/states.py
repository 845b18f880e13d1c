"""Trading states at three levels: the whole system, one strategy, one pair. Persisted, every change audited.

ACTIVE: everything passes. REDUCING: only orders that reduce a position pass. HALTED: nothing new (cancels
always pass). An order meets the most restrictive of the system's, its strategy's and its pair's states.
Scopes are named "system", "strategy:<id>" and "pair:<instrument id>". A change is written to the store (with
who, why and when) before it takes effect, so it survives a restart.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Protocol

from traderbot.errors import UserError
from traderbot.risk import events

if TYPE_CHECKING:
    from traderbot.core.bus import MessageBus


class TradingState(StrEnum):
    ACTIVE = "active"
    REDUCING = "reducing"
    HALTED = "halted"


_RANK = {TradingState.ACTIVE: 0, TradingState.REDUCING: 1, TradingState.HALTED: 2}
SYSTEM = "system"


@dataclass(frozen=True, slots=True)
class StateChange:
    scope: str
    old: TradingState
    new: TradingState
    actor: str
    reason: str
    ts: int


class StateStore(Protocol):
    def load_states(self) -> dict[str, TradingState]: ...

    def save_state(self, change: StateChange) -> None: ...


class MemoryStateStore:
    """Backtests: states and their audit trail in memory."""

    def __init__(self) -> None:
        self.states: dict[str, TradingState] = {}
        self.audit: list[StateChange] = []

    def load_states(self) -> dict[str, TradingState]:
        return dict(self.states)

    def save_state(self, change: StateChange) -> None:
        self.states[change.scope] = change.new
        self.audit.append(change)


def check_scope(scope: str) -> str:
    kind, _, name = scope.partition(":")
    if scope == SYSTEM or (kind in ("strategy", "pair") and name):
        return scope
    raise UserError(
        f"trading-state scope {scope!r} is not valid: use system, strategy:<id> or pair:<instrument>"
    )


def require_who_why(actor: str, reason: str) -> None:
    if not actor.strip() or not reason.strip():
        raise UserError("a trading-state change needs who (actor) and why (reason)")


def parse_state(text: str) -> TradingState:
    try:
        return TradingState(text.strip().lower())
    except ValueError:
        raise UserError(f"trading state {text!r} is not valid: use active, reducing or halted") from None


class TradingStates:
    def __init__(self, store: StateStore | None = None, now_ns: Callable[[], int] = time.time_ns) -> None:
        self.store: StateStore = store or MemoryStateStore()
        self.now_ns = now_ns
        self._states = {
            s: st
            for s, st in self.store.load_states().items()
            if st is not TradingState.ACTIVE and s != "kill_switch"
        }
        self.guards: list[Callable[[str, TradingState], str | None]] = []  # e.g. the engaged kill switch
        self.bus: MessageBus | None = None  # the kernel's: each change is published on topic "risk"

    @property
    def restricted(self) -> bool:
        """False while every scope is ACTIVE: the risk engine then skips the lookup entirely."""
        return bool(self._states)

    def get(self, scope: str) -> TradingState:
        return self._states.get(scope, TradingState.ACTIVE)

    def all(self) -> dict[str, TradingState]:
        return dict(self._states)

    def set(self, scope: str, state: TradingState, *, actor: str, reason: str) -> StateChange | None:
        """Persist, then apply. Returns the change, or None when the scope already had this state."""
        check_scope(scope)
        require_who_why(actor, reason)
        old = self.get(scope)
        if old is state:
            return None
        for guard in self.guards:
            refusal = guard(scope, state)
            if refusal:
                raise UserError(f"cannot set {scope} to {state.value}: {refusal}")
        change = StateChange(scope, old, state, actor, reason, self.now_ns())
        self.store.save_state(change)
        if state is TradingState.ACTIVE:
            self._states.pop(scope, None)
        else:
            self._states[scope] = state
        events.publish(self.bus, change)
        return change

    def effective(self, strategy_id: str, instrument_id: str) -> tuple[TradingState, str]:
        """The most restrictive state among the system's, the strategy's and the pair's, with its scope."""
        best, where = TradingState.ACTIVE, SYSTEM
        for scope in (SYSTEM, f"strategy:{strategy_id}", f"pair:{instrument_id}"):
            st = self._states.get(scope)
            if st is not None and _RANK[st] > _RANK[best]:
                best, where = st, scope
        return best, where
