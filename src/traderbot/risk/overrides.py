"""Manual overrides: a person lets one guard be bypassed for a scope until a time, with who and why.

Only guards can be overridden (market hours, news blackout, the volatility and spread guards, the correlation
cap, the price collar); limits, protections, breakers, states and the kill switch cannot. Overrides are written
to the store before they take effect and expire on their own.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from traderbot.errors import UserError
from traderbot.risk.states import SYSTEM, check_scope

GUARDS = ("market_hours", "news", "volatility", "spread", "correlation", "collar")


@dataclass(frozen=True, slots=True)
class Override:
    scope: str
    guard: str
    until_ns: int
    actor: str
    reason: str
    since_ns: int


class OverrideStore(Protocol):
    def load_overrides(self) -> list[Override]: ...

    def save_override(self, override: Override) -> None: ...


class MemoryOverrideStore:
    def __init__(self) -> None:
        self.items: list[Override] = []

    def load_overrides(self) -> list[Override]:
        return list(self.items)

    def save_override(self, override: Override) -> None:
        self.items.append(override)


def check_guard(guard: str) -> str:
    if guard not in GUARDS:
        raise UserError(f"guard {guard!r} cannot be overridden: use one of {', '.join(GUARDS)}")
    return guard


class Overrides:
    def __init__(self, store: OverrideStore | None = None, now_ns: Callable[[], int] = time.time_ns) -> None:
        self.store: OverrideStore = store or MemoryOverrideStore()
        self.now_ns = now_ns
        self._by_guard: dict[str, list[Override]] = {}
        for o in self.store.load_overrides():
            self._by_guard.setdefault(o.guard, []).append(o)

    def __bool__(self) -> bool:
        return bool(self._by_guard)

    def add(self, scope: str, guard: str, *, until_ns: int, actor: str, reason: str) -> Override:
        check_scope(scope)
        check_guard(guard)
        if not actor.strip() or not reason.strip():
            raise UserError("an override needs who (actor) and why (reason)")
        now = self.now_ns()
        if until_ns <= now:
            raise UserError("an override must end in the future: give --minutes greater than 0")
        o = Override(scope, guard, until_ns, actor, reason, now)
        self.store.save_override(o)
        self._by_guard.setdefault(guard, []).append(o)
        return o

    def bypassed(self, guard: str, strategy_id: str, instrument_id: str, now_ns: int) -> bool:
        items = self._by_guard.get(guard)
        if not items:
            return False
        scopes = (SYSTEM, f"strategy:{strategy_id}", f"pair:{instrument_id}")
        return any(o.scope in scopes and o.since_ns <= now_ns < o.until_ns for o in items)

    def active(self, now_ns: int) -> list[Override]:
        return [o for items in self._by_guard.values() for o in items if o.since_ns <= now_ns < o.until_ns]
