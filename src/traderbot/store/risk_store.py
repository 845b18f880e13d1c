"""Risk state in the database: locks and their history, manual overrides, denied orders.

A lock or an override is committed before it takes effect, so it survives a restart; denials are kept for the
risk report (`traderbot risk status`).
"""

from __future__ import annotations

from sqlalchemy import Engine, delete, insert, select

from traderbot.risk.engine import Denial
from traderbot.risk.locks import Lock, LockEvent
from traderbot.risk.overrides import Override
from traderbot.risk.states import TradingState
from traderbot.store.models import RiskDenialRecord, RiskLockHistory, RiskLockRecord, RiskOverrideRecord


class SqlRiskStore:
    def __init__(self, engine: Engine, trader_id: str) -> None:
        self.engine = engine
        self.trader_id = trader_id

    # ---- locks ---------------------------------------------------------------------------------------------
    def load_locks(self) -> list[Lock]:
        with self.engine.connect() as conn:
            rows = (
                conn.execute(select(RiskLockRecord).where(RiskLockRecord.trader_id == self.trader_id))
                .mappings()
                .all()
            )
        return [Lock(r["scope"], r["source"], TradingState(r["action"]), r["reason"], r["since"], r["until"])
                for r in rows]  # fmt: skip

    def save_lock(self, lock: Lock) -> None:
        """The lock (replacing the source's earlier one on the scope) and its history row, in one transaction."""
        key = (RiskLockRecord.trader_id == self.trader_id, RiskLockRecord.scope == lock.scope,
               RiskLockRecord.source == lock.source)  # fmt: skip
        with self.engine.begin() as conn:
            conn.execute(delete(RiskLockRecord).where(*key))
            conn.execute(
                insert(RiskLockRecord).values(
                    trader_id=self.trader_id,
                    scope=lock.scope,
                    source=lock.source,
                    action=lock.action.value,
                    reason=lock.reason,
                    since=lock.since_ns,
                    until=lock.until_ns,
                )
            )
            conn.execute(insert(RiskLockHistory).values(**self._event(lock, "set", lock.source, lock.reason,
                                                                      lock.since_ns)))  # fmt: skip

    def clear_lock(self, lock: Lock, *, actor: str, reason: str, ts: int) -> None:
        key = (RiskLockRecord.trader_id == self.trader_id, RiskLockRecord.scope == lock.scope,
               RiskLockRecord.source == lock.source)  # fmt: skip
        with self.engine.begin() as conn:
            conn.execute(delete(RiskLockRecord).where(*key))
            conn.execute(insert(RiskLockHistory).values(**self._event(lock, "cleared", actor, reason, ts)))

    def _event(self, lock: Lock, event: str, actor: str, reason: str, ts: int) -> dict[str, object]:
        return {"trader_id": self.trader_id, "scope": lock.scope, "source": lock.source,
                "action": lock.action.value, "event": event, "actor": actor, "reason": reason,
                "until": lock.until_ns, "ts": ts}  # fmt: skip

    def lock_history(self, limit: int = 50) -> list[LockEvent]:
        q = (select(RiskLockHistory).where(RiskLockHistory.trader_id == self.trader_id)
             .order_by(RiskLockHistory.id.desc()).limit(limit))  # fmt: skip
        with self.engine.connect() as conn:
            rows = conn.execute(q).mappings().all()
        return [
            LockEvent(
                Lock(r["scope"], r["source"], TradingState(r["action"]), r["reason"], r["ts"], r["until"]),
                r["event"],
                r["actor"],
                r["reason"],
                r["ts"],
            )
            for r in reversed(rows)
        ]

    # ---- overrides -----------------------------------------------------------------------------------------
    def load_overrides(self) -> list[Override]:
        with self.engine.connect() as conn:
            rows = (
                conn.execute(select(RiskOverrideRecord).where(RiskOverrideRecord.trader_id == self.trader_id))
                .mappings()
                .all()
            )
        return [
            Override(r["scope"], r["guard"], r["until"], r["actor"], r["reason"], r["since"]) for r in rows
        ]

    def save_override(self, override: Override) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                insert(RiskOverrideRecord).values(
                    trader_id=self.trader_id,
                    scope=override.scope,
                    guard=override.guard,
                    since=override.since_ns,
                    until=override.until_ns,
                    actor=override.actor,
                    reason=override.reason,
                )
            )

    # ---- denials -------------------------------------------------------------------------------------------
    def record_denial(self, denial: Denial) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                insert(RiskDenialRecord).values(
                    trader_id=self.trader_id,
                    ts=denial.ts,
                    client_order_id=denial.client_order_id,
                    strategy_id=denial.strategy_id,
                    instrument_id=denial.instrument_id,
                    side=denial.side,
                    quantity=denial.quantity,
                    code=denial.code,
                    reason=denial.reason,
                )
            )

    def recent_denials(self, limit: int = 20) -> list[Denial]:
        q = (select(RiskDenialRecord).where(RiskDenialRecord.trader_id == self.trader_id)
             .order_by(RiskDenialRecord.id.desc()).limit(limit))  # fmt: skip
        with self.engine.connect() as conn:
            rows = conn.execute(q).mappings().all()
        return [
            Denial(
                r["ts"],
                r["client_order_id"],
                r["strategy_id"],
                r["instrument_id"],
                r["side"],
                r["quantity"],
                r["code"],
                r["reason"],
            )
            for r in reversed(rows)
        ]
