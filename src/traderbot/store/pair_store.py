"""SQL access for the pair registry. Every change is one transaction: the pair row (checked against the row
version the caller read, so two processes cannot both apply a change from the same state), any parameter
version, and its audit rows. Rows go in and out as plain mappings; the registry owns the domain types."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, Engine, delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from traderbot.store.pair_models import PairEventRow, PairParamsRow, PairRow

Row = dict[str, Any]


class _Conflict(Exception):
    """The pair row changed since the caller read it."""


@dataclass(frozen=True, slots=True)
class PairWrite:
    """One atomic change of a pair. `expected_row_version` None means: insert `new_row` (the pair is new)."""

    pair: str
    expected_row_version: int | None
    new_row: Row | None = None
    values: Row | None = None
    delete: bool = False
    params_row: Row | None = None
    events: list[Row] = field(default_factory=list)


class SqlPairStore:
    def __init__(self, engine: Engine, trader_id: str) -> None:
        self.engine = engine
        self.trader_id = trader_id

    # ---- writes --------------------------------------------------------------------------------------------
    def write(self, w: PairWrite) -> bool:
        """Apply `w` in one transaction; False (nothing written) when the row version no longer matches, the
        pair already exists (insert) or the parameter version was taken meanwhile."""
        try:
            with self.engine.begin() as conn:
                if not self._write_pair(conn, w):
                    raise _Conflict  # leaves the block by rolling back: nothing of `w` is written
                if w.params_row is not None:
                    conn.execute(insert(PairParamsRow).values(trader_id=self.trader_id, pair=w.pair,
                                                              **w.params_row))  # fmt: skip
                for ev in w.events:
                    conn.execute(insert(PairEventRow).values(trader_id=self.trader_id, pair=w.pair, **ev))
        except (_Conflict, IntegrityError):
            return False
        return True

    def _write_pair(self, conn: Connection, w: PairWrite) -> bool:
        """The pair row first: on SQLite the first statement being a write takes the write lock at once."""
        if w.expected_row_version is None:
            conn.execute(insert(PairRow).values(trader_id=self.trader_id, pair=w.pair, **(w.new_row or {})))
            return True
        key = (PairRow.trader_id == self.trader_id, PairRow.pair == w.pair,
               PairRow.row_version == w.expected_row_version)  # fmt: skip
        if w.delete:
            return conn.execute(delete(PairRow).where(*key)).rowcount == 1
        values = dict(w.values or {}, row_version=w.expected_row_version + 1)
        return conn.execute(update(PairRow).where(*key).values(**values)).rowcount == 1

    # ---- reads ---------------------------------------------------------------------------------------------
    def get(self, pair: str) -> Row | None:
        q = select(PairRow).where(PairRow.trader_id == self.trader_id, PairRow.pair == pair)
        with self.engine.connect() as conn:
            row = conn.execute(q).mappings().first()
        return None if row is None else dict(row)

    def all(self) -> list[Row]:
        q = select(PairRow).where(PairRow.trader_id == self.trader_id).order_by(PairRow.pair)
        with self.engine.connect() as conn:
            return [dict(r) for r in conn.execute(q).mappings().all()]

    def history(self, pair: str, limit: int) -> list[Row]:
        """The newest `limit` audit rows of `pair`, oldest first."""
        q = (select(PairEventRow)
             .where(PairEventRow.trader_id == self.trader_id, PairEventRow.pair == pair)
             .order_by(PairEventRow.id.desc()).limit(limit))  # fmt: skip
        with self.engine.connect() as conn:
            rows = conn.execute(q).mappings().all()
        return [dict(r) for r in reversed(rows)]

    def events_since(self, last_id: int, limit: int = 1000) -> list[Row]:
        """Audit rows of every pair after `last_id`, oldest first (a service follows changes other processes
        make)."""
        q = (select(PairEventRow)
             .where(PairEventRow.trader_id == self.trader_id, PairEventRow.id > last_id)
             .order_by(PairEventRow.id).limit(limit))  # fmt: skip
        with self.engine.connect() as conn:
            return [dict(r) for r in conn.execute(q).mappings().all()]

    def max_version(self, pair: str) -> int:
        q = select(func.max(PairParamsRow.version)).where(
            PairParamsRow.trader_id == self.trader_id, PairParamsRow.pair == pair
        )
        with self.engine.connect() as conn:
            return int(conn.execute(q).scalar() or 0)

    def version(self, pair: str, version: int) -> Row | None:
        q = select(PairParamsRow).where(PairParamsRow.trader_id == self.trader_id, PairParamsRow.pair == pair,
                                        PairParamsRow.version == version)  # fmt: skip
        with self.engine.connect() as conn:
            row = conn.execute(q).mappings().first()
        return None if row is None else dict(row)

    def versions(self, pair: str | None = None) -> list[Row]:
        """Parameter versions of `pair` (of every pair when None), by pair then version."""
        q = select(PairParamsRow).where(PairParamsRow.trader_id == self.trader_id)
        if pair is not None:
            q = q.where(PairParamsRow.pair == pair)
        with self.engine.connect() as conn:
            rows = conn.execute(q.order_by(PairParamsRow.pair, PairParamsRow.version)).mappings().all()
        return [dict(r) for r in rows]


def event_row(ts: int, actor: str, reason: str, kind: str, previous: str | None, state: str | None,
              details: str = "{}") -> Row:  # fmt: skip
    """The columns of one audit row (trader and pair are added by the store)."""
    return {"ts": ts, "actor": actor, "reason": reason, "kind": kind, "previous": previous, "state": state,
            "details": details}  # fmt: skip


__all__ = ["PairWrite", "Row", "SqlPairStore", "event_row"]
