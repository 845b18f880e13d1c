"""Locks: timed restrictions set by protections, guards and circuit breakers, persisted with reason and until.

A lock puts one scope ("system", "strategy:<id>", "pair:<instrument>") into REDUCING or HALTED until a time
(or until a person clears it when `until_ns` is None). Locks are separate from the trading states a person
sets: they expire on their own. `source` names what set the lock, e.g. "protection:daily_loss",
"breaker:gap", "guard:volatility"; a scope holds at most one lock per source (a new one replaces it).
Every lock is written to the store before it takes effect, so locks survive restarts.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from traderbot.errors import UserError
from traderbot.risk import events
from traderbot.risk.states import SYSTEM, TradingState, check_scope

if TYPE_CHECKING:
    from traderbot.core.bus import MessageBus

_RANK = {TradingState.ACTIVE: 0, TradingState.REDUCING: 1, TradingState.HALTED: 2}


@dataclass(frozen=True, slots=True)
class Lock:
    scope: str  # system | strategy:<id> | pair:<instrument>
    source: str  # what set it: protection:<name> | breaker:<name> | guard:<name> | manual
    action: TradingState  # REDUCING or HALTED
    reason: str
    since_ns: int
    until_ns: int | None  # None: until a person clears it

    def active_at(self, now_ns: int) -> bool:
        return self.until_ns is None or now_ns < self.until_ns

    def describe(self) -> str:
        until = "cleared by hand" if self.until_ns is None else _iso(self.until_ns)
        return f"{self.source} on {self.scope}: {self.action.value} until {until} ({self.reason})"


def _iso(ts_ns: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts_ns / 1e9))


@dataclass(frozen=True, slots=True)
class LockEvent:
    """One line of the lock history: a lock set, or cleared (by whom and why)."""

    lock: Lock
    event: str  # "set" | "cleared"
    actor: str
    reason: str
    ts: int


class LockStore(Protocol):
    def load_locks(self) -> list[Lock]: ...

    def save_lock(self, lock: Lock) -> None: ...

    def clear_lock(self, lock: Lock, *, actor: str, reason: str, ts: int) -> None: ...


class MemoryLockStore:
    """Backtests: locks and their history in memory."""

    def __init__(self) -> None:
        self.locks: dict[tuple[str, str], Lock] = {}
        self.history: list[LockEvent] = []

    def load_locks(self) -> list[Lock]:
        return list(self.locks.values())

    def save_lock(self, lock: Lock) -> None:
        self.locks[(lock.scope, lock.source)] = lock
        self.history.append(LockEvent(lock, "set", lock.source, lock.reason, lock.since_ns))

    def clear_lock(self, lock: Lock, *, actor: str, reason: str, ts: int) -> None:
        self.locks.pop((lock.scope, lock.source), None)
        self.history.append(LockEvent(lock, "cleared", actor, reason, ts))


class LockBook:
    """The active locks, by scope. `effective()` answers the most restrictive lock for an order's scopes."""

    def __init__(self, store: LockStore | None = None, now_ns: Callable[[], int] = time.time_ns) -> None:
        self.store: LockStore = store or MemoryLockStore()
        self.now_ns = now_ns
        self._locks: dict[tuple[str, str], Lock] = {
            (lk.scope, lk.source): lk for lk in self.store.load_locks()
        }
        self.listeners: list[Callable[[Lock], None]] = []  # told about every new lock (e.g. flatten actions)
        self._scoped: dict[tuple[str, str], tuple[Lock, ...]] = {}  # (strategy, pair) -> locks on its scopes
        self.bus: MessageBus | None = None  # set by the risk engine: LockEvents on topic "risk"

    def __bool__(self) -> bool:
        """False while there is no lock at all: the risk engine then skips the lookup."""
        return bool(self._locks)

    def add(
        self,
        scope: str,
        source: str,
        action: TradingState,
        reason: str,
        *,
        until_ns: int | None,
        now_ns: int | None = None,
    ) -> Lock:
        """Persist, then apply (replacing this source's earlier lock on the scope)."""
        check_scope(scope)
        if action is TradingState.ACTIVE:
            raise UserError(f"a lock restricts trading: use reducing or halted, not active ({source})")
        if not reason.strip():
            raise UserError(f"a lock needs a reason ({source} on {scope})")
        now = self.now_ns() if now_ns is None else now_ns
        if until_ns is not None and until_ns <= now:
            raise UserError(f"lock {source} on {scope} would end before it starts")
        lock = Lock(scope, source, action, reason, now, until_ns)
        self.store.save_lock(lock)
        self._locks[(scope, source)] = lock
        self._scoped.clear()
        for listener in self.listeners:
            listener(lock)
        events.publish(self.bus, LockEvent(lock, "set", source, reason, now))
        return lock

    def clear(self, scope: str, source: str | None = None, *, actor: str, reason: str) -> list[Lock]:
        """Remove one source's lock on a scope (or all of the scope's locks); returns what was removed."""
        if not actor.strip() or not reason.strip():
            raise UserError("clearing a lock needs who (actor) and why (reason)")
        gone = [
            lk for key, lk in self._locks.items() if key[0] == scope and (source is None or key[1] == source)
        ]
        if not gone:
            raise UserError(f"no lock on {scope}" + (f" from {source}" if source else ""))
        now = self.now_ns()
        for lk in gone:
            self.store.clear_lock(lk, actor=actor, reason=reason, ts=now)
            del self._locks[(lk.scope, lk.source)]
            self._scoped.clear()
            events.publish(self.bus, LockEvent(lk, "cleared", actor, reason, now))
        return gone

    def expire(self, now_ns: int) -> list[Lock]:
        """Drop locks whose time is up (recorded as cleared by 'expiry')."""
        done = [lk for lk in self._locks.values() if not lk.active_at(now_ns)]
        for lk in done:
            self.store.clear_lock(lk, actor="expiry", reason="time is up", ts=now_ns)
            del self._locks[(lk.scope, lk.source)]
            self._scoped.clear()
            events.publish(self.bus, LockEvent(lk, "cleared", "expiry", "time is up", now_ns))
        return done

    def active(self, now_ns: int | None = None) -> list[Lock]:
        now = self.now_ns() if now_ns is None else now_ns
        return sorted(
            (lk for lk in self._locks.values() if lk.active_at(now)), key=lambda x: (x.scope, x.source)
        )

    def get(self, scope: str, source: str) -> Lock | None:
        return self._locks.get((scope, source))

    def effective(self, strategy_id: str, instrument_id: str, now_ns: int) -> Lock | None:
        """The most restrictive active lock among the system's, the strategy's and the pair's, or None."""
        candidates = self._scoped.get((strategy_id, instrument_id))
        if candidates is None:  # the locks on an order's three scopes, kept until a lock is added or removed
            scopes = (SYSTEM, f"strategy:{strategy_id}", f"pair:{instrument_id}")
            if len(self._scoped) > 10_000:
                self._scoped.clear()
            candidates = self._scoped[(strategy_id, instrument_id)] = tuple(
                lk for (scope, _), lk in self._locks.items() if scope in scopes
            )
        best: Lock | None = None
        for lk in candidates:
            if lk.active_at(now_ns) and (best is None or _RANK[lk.action] > _RANK[best.action]):
                best = lk
        return best
