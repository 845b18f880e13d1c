"""The pair registry: which pairs exist, where each is in its lifecycle, its parameter versions, and why.

State lives only in the database (shared by the CLI and the running service). Every change is one transaction
with its audit row, applied only if the pair's row version is still the one read (optimistic lock); on a
conflict the registry re-reads and re-validates, so no change is lost and none is applied from a stale state.
Bus messages go out on topic "pairs" after the commit.
"""

from __future__ import annotations

import builtins
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from sqlalchemy import Engine

from traderbot.core.bus import MessageBus
from traderbot.errors import UserError
from traderbot.model.instrument import get_instrument
from traderbot.model.timeframe import Timeframe
from traderbot.pairs.events import (
    TOPIC,
    PairAdded,
    PairDisabled,
    PairEnabled,
    PairRemoved,
    PairStateChanged,
    ParamsActivated,
)
from traderbot.pairs.lifecycle import (
    EventKind,
    PairEvent,
    PairRecord,
    PairState,
    TransitionRefused,
    check_can_trade,
    check_transition,
    parse_state,
)
from traderbot.pairs.params import ParamsVersion, from_json, to_json
from traderbot.store.pair_store import PairWrite, SqlPairStore, event_row

_log = logging.getLogger("traderbot.pairs")
_MAX_ATTEMPTS = 50  # re-reads after conflicts before giving up (each one means another writer won)

Check = Callable[[str], str | None]


def normalize_pair(pair: str) -> str:
    """Canonical pair id: upper case without separators ('eur/usd' -> 'EURUSD')."""
    key = "".join(ch for ch in pair.strip().upper() if ch not in "/_- .:")
    if not key:
        raise UserError("a pair id cannot be empty: give an instrument such as EURUSD")
    return key


def _require_who_why(actor: str, reason: str) -> None:
    if not actor.strip() or not reason.strip():
        raise UserError(
            "a pair change needs who (--actor) and why (--reason); both are stored in its history"
        )


@dataclass(slots=True)
class _Plan:
    """What one operation writes, what it publishes after the commit, and what it returns."""

    write: PairWrite
    messages: list[object] = field(default_factory=list)
    result: Any = None


class PairRegistry:
    """Pairs, their lifecycle and parameter versions, persisted with an audit trail. Thread-safe."""

    def __init__(
        self,
        engine: Engine,
        trader_id: str = "TB",
        bus: MessageBus | None = None,
        *,
        cache_valid: Check | None = None,
        risk_lock: Check | None = None,
        now_ns: Callable[[], int] = time.time_ns,
    ) -> None:
        self.engine, self.trader_id = engine, trader_id
        self._store = SqlPairStore(engine, trader_id)
        self._bus = bus
        self._cache_valid = cache_valid
        self._risk_lock = risk_lock
        self._now_ns = now_ns
        self._lock = threading.RLock()

    # ---- queries -------------------------------------------------------------------------------------------
    def find(self, pair: str) -> PairRecord | None:
        row = self._store.get(normalize_pair(pair))
        return None if row is None else PairRecord.from_row(row)

    def get(self, pair: str) -> PairRecord:
        rec = self.find(pair)
        if rec is None:
            raise _unknown(normalize_pair(pair))
        return rec

    def list(self) -> builtins.list[PairRecord]:
        return [PairRecord.from_row(r) for r in self._store.all()]

    def in_state(self, state: PairState) -> builtins.list[PairRecord]:
        return [r for r in self.list() if r.state == state]

    def events_since(self, last_id: int, limit: int = 1000) -> builtins.list[PairEvent]:
        """Every pair's audit entries after `last_id`, oldest first: how a running service learns of changes made
        by another process (the CLI) on the same database."""
        return [PairEvent.from_row(r) for r in self._store.events_since(last_id, limit)]

    def history(self, pair: str, limit: int = 50) -> builtins.list[PairEvent]:
        """The newest `limit` audit entries of `pair`, oldest first (kept after the pair is removed)."""
        return [PairEvent.from_row(r) for r in self._store.history(normalize_pair(pair), limit)]

    def active_params(self, pair: str) -> ParamsVersion | None:
        rec = self.get(pair)
        if rec.active_version is None:
            return None
        row = self._store.version(rec.pair, rec.active_version)
        return None if row is None else ParamsVersion.from_row(row)

    def params_versions(self, pair: str) -> builtins.list[ParamsVersion]:
        """Every saved version of `pair`, oldest first (kept after the pair is removed)."""
        return [ParamsVersion.from_row(r) for r in self._store.versions(normalize_pair(pair))]

    def all_params_versions(self) -> builtins.list[ParamsVersion]:
        """Every saved version of every pair of this trader, by pair then version (one query, for listings)."""
        return [ParamsVersion.from_row(r) for r in self._store.versions()]

    # ---- membership ----------------------------------------------------------------------------------------
    @staticmethod
    def check_new(pair: str, timeframe: str = "1m", strategy: str = "qfh") -> tuple[str, str, str]:
        """The canonical (pair, timeframe, strategy) of a pair to add; a UserError names what is wrong."""
        key = normalize_pair(pair)
        try:
            get_instrument(key)
        except KeyError as exc:
            raise UserError(f"cannot add pair {key}: {exc.args[0]}") from None
        try:
            tf = Timeframe.parse(timeframe).name
        except ValueError as exc:
            raise UserError(f"cannot add pair {key}: {exc}") from None
        if not strategy.strip():
            raise UserError(f"cannot add pair {key}: give a strategy name (e.g. --strategy qfh)")
        return key, tf, strategy.strip()

    def add(
        self, pair: str, *, actor: str, reason: str, timeframe: str = "1m", strategy: str = "qfh"
    ) -> PairRecord:
        """Register a known instrument as a new, enabled, untrained pair."""
        key, tf, strategy = self.check_new(pair, timeframe, strategy)
        _require_who_why(actor, reason)

        def plan(rec: PairRecord | None) -> _Plan:
            if rec is not None:
                raise UserError(
                    f"pair {key} is already registered ({rec.state.value}): see traderbot pairs show {key}"
                )
            now = self._now_ns()
            new = PairRecord(key, PairState.UNTRAINED, True, tf, strategy, None, now, 1)
            row = {"state": new.state.value, "enabled": 1, "timeframe": tf, "strategy": new.strategy,
                   "active_version": None, "updated_ns": now, "row_version": 1}  # fmt: skip
            ev = event_row(now, actor, reason, EventKind.ADDED.value, None, new.state.value,
                           to_json("details", {"timeframe": tf, "strategy": new.strategy}))  # fmt: skip
            msg = PairAdded(key, new.state, tf, new.strategy, actor, reason, now)
            return _Plan(PairWrite(key, None, new_row=row, events=[ev]), [msg], new)

        return self._apply(key, plan, must_exist=False)

    def remove(self, pair: str, *, actor: str, reason: str) -> None:
        """Delete the pair (its history and parameter versions stay); refused while training or trading."""
        key = normalize_pair(pair)
        _require_who_why(actor, reason)

        def plan(rec: PairRecord) -> _Plan:
            if rec.state in (PairState.TRAINING, PairState.TRADING):
                how = (
                    "cancel its training job"
                    if rec.state == PairState.TRAINING
                    else f"traderbot pairs stop {key}"
                )
                raise TransitionRefused(
                    f"{key} cannot be removed while {rec.state.value}: stop it first ({how})"
                )
            now = self._now_ns()
            ev = event_row(now, actor, reason, EventKind.REMOVED.value, rec.state.value, None)
            return _Plan(PairWrite(key, rec.row_version, delete=True, events=[ev]),
                         [PairRemoved(key, rec.state, actor, reason, now)])  # fmt: skip

        self._apply(key, plan)

    def enable(self, pair: str, *, actor: str, reason: str) -> PairRecord:
        """Allow the pair to trade again (it does not start trading by itself). No-op when already enabled."""
        key = normalize_pair(pair)
        _require_who_why(actor, reason)

        def plan(rec: PairRecord) -> _Plan | None:
            if rec.enabled:
                return None
            now = self._now_ns()
            ev = event_row(now, actor, reason, EventKind.ENABLED.value, rec.state.value, rec.state.value)
            w = PairWrite(key, rec.row_version, values={"enabled": 1, "updated_ns": now}, events=[ev])
            return _Plan(w, [PairEnabled(key, actor, reason, now)], _bumped(rec, now, enabled=True))

        return self._apply(key, plan)

    def disable(self, pair: str, *, actor: str, reason: str) -> PairRecord:
        """Forbid trading the pair; a trading pair is stopped (moved to ready) in the same change."""
        key = normalize_pair(pair)
        _require_who_why(actor, reason)

        def plan(rec: PairRecord) -> _Plan | None:
            if not rec.enabled:
                return None
            now = self._now_ns()
            state = PairState.READY if rec.state == PairState.TRADING else rec.state
            ev = event_row(now, actor, reason, EventKind.DISABLED.value, rec.state.value, state.value)
            w = PairWrite(key, rec.row_version, values={"enabled": 0, "state": state.value, "updated_ns": now},
                          events=[ev])  # fmt: skip
            msgs: builtins.list[object] = [PairDisabled(key, actor, reason, now)]
            if state != rec.state:
                msgs.append(PairStateChanged(key, rec.state, state, actor, reason, now))
            return _Plan(w, msgs, _bumped(rec, now, enabled=False, state=state))

        return self._apply(key, plan)

    # ---- lifecycle -----------------------------------------------------------------------------------------
    def transition(
        self,
        pair: str,
        to: PairState | str,
        *,
        actor: str,
        reason: str,
        details: dict[str, Any] | None = None,
    ) -> PairRecord:
        """Move the pair to `to` if the lifecycle table allows it (and, for trading, every guard passes)."""
        key = normalize_pair(pair)
        target = parse_state(to)
        _require_who_why(actor, reason)
        details_json = to_json("details", details or {})

        def plan(rec: PairRecord) -> _Plan:
            check_transition(key, rec.state, target)
            if target == PairState.TRADING:
                check_can_trade(key, enabled=rec.enabled, active_version=rec.active_version,
                                cache_problem=self._cache_valid(key) if self._cache_valid else None,
                                lock_problem=self._risk_lock(key) if self._risk_lock else None)  # fmt: skip
            return self._move(rec, target, actor, reason, details_json)

        return self._apply(key, plan)

    def mark_cache_invalid(self, pair: str, reason: str) -> None:
        """The market-data cache of `pair` went bad: a trading pair stops (to ready). No-op otherwise."""
        self._auto(pair, {PairState.TRADING}, PairState.READY, "cache", reason)

    def mark_locked(self, pair: str, reason: str, *, actor: str = "risk") -> None:
        """A risk lock now holds `pair`: ready or trading goes to paused. No-op in other states."""
        self._auto(pair, {PairState.READY, PairState.TRADING}, PairState.PAUSED, actor, reason)

    def mark_unlocked(self, pair: str, reason: str = "risk lock cleared", *, actor: str = "risk") -> None:
        """The risk lock on `pair` was cleared: paused goes back to ready (never straight to trading)."""
        self._auto(pair, {PairState.PAUSED}, PairState.READY, actor, reason)

    def _auto(self, pair: str, sources: set[PairState], to: PairState, actor: str, reason: str) -> None:
        """A move the service makes on its own: silently nothing when the pair is absent or elsewhere."""
        key = normalize_pair(pair)

        def plan(rec: PairRecord | None) -> _Plan | None:
            if rec is None or rec.state not in sources:
                return None
            return self._move(rec, to, actor, reason or to.value, "{}")

        self._apply(key, plan, must_exist=False)

    def _move(self, rec: PairRecord, to: PairState, actor: str, reason: str, details_json: str) -> _Plan:
        now = self._now_ns()
        ev = event_row(
            now, actor, reason, EventKind.TRANSITION.value, rec.state.value, to.value, details_json
        )
        w = PairWrite(rec.pair, rec.row_version, values={"state": to.value, "updated_ns": now}, events=[ev])
        msg = PairStateChanged(rec.pair, rec.state, to, actor, reason, now)
        return _Plan(w, [msg], _bumped(rec, now, state=to))

    # ---- parameter versions --------------------------------------------------------------------------------
    def save_params(
        self,
        pair: str,
        strategy: str,
        params: dict[str, Any],
        metrics: dict[str, Any],
        *,
        source: str,
        actor: str | None = None,
        reason: str = "parameters saved",
    ) -> int:
        """Store a new parameter version (1, 2, 3... per pair) without activating it; returns its number."""
        key = normalize_pair(pair)
        params_json, metrics_json = to_json("params", params), to_json("metrics", metrics)
        who = actor or source
        _require_who_why(who, reason)
        if not strategy.strip():
            raise UserError(f"parameters of {key} need the strategy they are for (e.g. qfh)")

        def plan(rec: PairRecord) -> _Plan:
            version = (
                self._store.max_version(key) + 1
            )  # read after the pair row: a later save bumps its version
            now = self._now_ns()
            prow = {"version": version, "strategy": strategy, "params": params_json, "metrics": metrics_json,
                    "source": source, "created_ns": now}  # fmt: skip
            details = to_json("details", {"version": version, "strategy": strategy, "source": source})
            ev = event_row(
                now, who, reason, EventKind.PARAMS_SAVED.value, rec.state.value, rec.state.value, details
            )
            w = PairWrite(key, rec.row_version, values={"updated_ns": now}, params_row=prow, events=[ev])
            return _Plan(w, [], version)

        result: int = self._apply(key, plan)
        return result

    def activate_params(self, pair: str, version: int, *, actor: str, reason: str) -> PairRecord:
        """Make `version` the pair's active parameters; a running strategy switches on ParamsActivated."""
        key = normalize_pair(pair)
        _require_who_why(actor, reason)

        def plan(rec: PairRecord) -> _Plan | None:
            row = self._store.version(key, version)
            if row is None:
                n = self._store.max_version(key)
                saved = f"saved versions are 1..{n}" if n else "none is saved yet"
                raise UserError(
                    f"{key} has no parameter version {version}: {saved} (traderbot pairs show {key})"
                )
            if rec.active_version == version:
                return None
            if rec.state == PairState.TRADING and row["strategy"] != rec.strategy:
                raise TransitionRefused(
                    f"{key} trades strategy {rec.strategy} but version {version} is for {row['strategy']}: "
                    f"stop it first (traderbot pairs stop {key})"
                )
            now = self._now_ns()
            details = to_json("details", {"version": version, "previous_version": rec.active_version,
                                          "strategy": row["strategy"]})  # fmt: skip
            st = rec.state.value
            ev = event_row(now, actor, reason, EventKind.PARAMS_ACTIVATED.value, st, st, details)
            values = {"active_version": version, "strategy": row["strategy"], "updated_ns": now}
            msg = ParamsActivated(key, version, from_json(row["params"]), now, row["strategy"], actor, reason)
            new = _bumped(rec, now, active_version=version, strategy=row["strategy"])
            return _Plan(PairWrite(key, rec.row_version, values=values, events=[ev]), [msg], new)

        return self._apply(key, plan)

    # ---- the commit loop -----------------------------------------------------------------------------------
    def _apply(self, key: str, plan: Callable[[Any], _Plan | None], *, must_exist: bool = True) -> Any:
        """Read, plan (validate), write if the row version still matches, else re-read and re-plan."""
        with self._lock:
            for attempt in range(_MAX_ATTEMPTS):
                row = self._store.get(key)
                rec = None if row is None else PairRecord.from_row(row)
                if rec is None and must_exist:
                    raise _unknown(key)
                try:
                    p = plan(rec)
                except TransitionRefused as exc:
                    if attempt == 0:
                        raise
                    raise TransitionRefused(f"{exc} (another process changed {key} meanwhile)") from None
                if p is None:
                    return rec
                if self._store.write(p.write):
                    self._publish(p.messages)
                    return p.result
            raise TransitionRefused(f"{key} kept changing while this change was applied: try again")

    def _publish(self, messages: builtins.list[object]) -> None:
        """Deliver after the commit; a failing handler is logged, since the change itself is already saved."""
        if self._bus is None:
            return
        for m in messages:
            try:
                self._bus.publish(TOPIC, m)
            except Exception:
                _log.exception("a handler of %s on topic %r failed", type(m).__name__, TOPIC)


def _unknown(key: str) -> UserError:
    return UserError(f"unknown pair {key}: add it with traderbot pairs add {key}")


def _bumped(rec: PairRecord, now: int, **changes: Any) -> PairRecord:
    """The record as it is after a successful write of `changes`."""
    return replace(rec, updated_ns=now, row_version=rec.row_version + 1, **changes)
