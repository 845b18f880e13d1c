"""Trading states and their audit trail in the database: a change is committed before it takes effect."""

from __future__ import annotations

from sqlalchemy import Engine, delete, insert, select

from traderbot.risk.states import StateChange, TradingState
from traderbot.store.models import TradingStateAudit, TradingStateRecord


class SqlStateStore:
    def __init__(self, engine: Engine, trader_id: str) -> None:
        self.engine = engine
        self.trader_id = trader_id

    def load_states(self) -> dict[str, TradingState]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(TradingStateRecord.scope, TradingStateRecord.state).where(
                    TradingStateRecord.trader_id == self.trader_id
                )
            ).all()
        return {scope: TradingState(state) for scope, state in rows}

    def save_state(self, change: StateChange) -> None:
        """The new state and its audit row in one transaction."""
        with self.engine.begin() as conn:
            conn.execute(
                delete(TradingStateRecord).where(
                    TradingStateRecord.trader_id == self.trader_id, TradingStateRecord.scope == change.scope
                )
            )
            row = {"trader_id": self.trader_id, "scope": change.scope, "actor": change.actor,
                   "reason": change.reason, "ts": change.ts}  # fmt: skip
            conn.execute(insert(TradingStateRecord).values(state=change.new.value, **row))
            conn.execute(insert(TradingStateAudit).values(old=change.old.value, new=change.new.value, **row))

    def history(self, scope: str | None = None) -> list[StateChange]:
        q = select(TradingStateAudit).where(TradingStateAudit.trader_id == self.trader_id)
        if scope is not None:
            q = q.where(TradingStateAudit.scope == scope)
        with self.engine.connect() as conn:
            rows = conn.execute(q.order_by(TradingStateAudit.id)).mappings().all()
        return [
            StateChange(
                r["scope"], TradingState(r["old"]), TradingState(r["new"]), r["actor"], r["reason"], r["ts"]
            )
            for r in rows
        ]
