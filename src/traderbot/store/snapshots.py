"""Account snapshots (a time series of balance, equity and margin) and the table of current positions.

Both are read models for the API and for operators, written by the service from the portfolio; the portfolio
itself is rebuilt from the fills in the order journal on restart, never from these tables.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any, cast

from sqlalchemy import Connection, Engine, Select, Table, select, tuple_
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from traderbot.portfolio.portfolio import Portfolio
from traderbot.store.event_models import AccountSnapshotRecord as A
from traderbot.store.event_models import PositionRecord as P


@dataclass(frozen=True, slots=True)
class AccountSnapshot:
    """The account at `ts` (UTC ns), exact, in `currency`: free_margin = equity - margin_used."""

    ts: int
    currency: str
    balance: Decimal
    equity: Decimal
    margin_used: Decimal
    free_margin: Decimal
    open_positions: int


@dataclass(frozen=True, slots=True)
class StoredPosition:
    """A non-flat position as stored: signed quantity, average price, realised P&L in the quote currency."""

    strategy_id: str
    instrument_id: str
    quantity: Decimal
    avg_price: Decimal
    realized_pnl: Decimal
    updated: int


class AccountSnapshots:
    """Appends account snapshots for one trader and reads them back."""

    def __init__(self, engine: Engine, trader_id: str) -> None:
        self.engine = engine
        self.trader_id = trader_id

    def record(self, portfolio: Portfolio, ts: int) -> AccountSnapshot:
        """Store the portfolio's account now: balance, equity(), margin_used() and equity - margin_used."""
        equity = portfolio.equity()
        used = portfolio.margin_used()
        snap = AccountSnapshot(
            ts=ts,
            currency=portfolio.currency,
            balance=portfolio.balance,
            equity=equity,
            margin_used=used,
            free_margin=equity - used,
            open_positions=sum(1 for p in portfolio.positions.values() if p.quantity),
        )
        with self.engine.begin() as conn:
            conn.execute(
                cast(Table, A.__table__).insert(),
                {"trader_id": self.trader_id, "ts": ts, "currency": snap.currency, "balance": str(snap.balance),
                 "equity": str(equity), "margin_used": str(used), "free_margin": str(snap.free_margin),
                 "open_positions": snap.open_positions},
            )  # fmt: skip
        return snap

    def latest(self) -> AccountSnapshot | None:
        q = select(A).where(A.trader_id == self.trader_id).order_by(A.ts.desc(), A.id.desc()).limit(1)
        return next(iter(self._read(q)), None)

    def series(self, since: int | None = None, until: int | None = None) -> list[AccountSnapshot]:
        """Snapshots with since <= ts <= until (either bound optional), oldest first."""
        q = select(A).where(A.trader_id == self.trader_id)
        if since is not None:
            q = q.where(A.ts >= since)
        if until is not None:
            q = q.where(A.ts <= until)
        return self._read(q.order_by(A.ts, A.id))

    def _read(self, q: Select[Any]) -> list[AccountSnapshot]:
        with self.engine.connect() as conn:
            rows = conn.execute(q).mappings().all()
        return [
            AccountSnapshot(r["ts"], r["currency"], Decimal(r["balance"]), Decimal(r["equity"]),
                            Decimal(r["margin_used"]), Decimal(r["free_margin"]), r["open_positions"])
            for r in rows
        ]  # fmt: skip


class PositionsTable:
    """The current positions of one trader, kept equal to the portfolio by `sync`."""

    def __init__(self, engine: Engine, trader_id: str) -> None:
        self.engine = engine
        self.trader_id = trader_id

    def sync(self, portfolio: Portfolio, ts: int) -> int:
        """Upsert every non-flat (strategy, pair) position that changed and delete the rest, in one
        transaction; unchanged rows keep their `updated` time. Returns the number of rows written or deleted."""
        now: dict[tuple[str, str], dict[str, str]] = {
            key: {"quantity": str(p.quantity), "avg_price": str(p.avg_price),
                  "realized_pnl": str(p.realized_pnl_quote)}
            for key, p in portfolio.positions.items()
            if p.quantity
        }  # fmt: skip
        with self.engine.begin() as conn:
            stored = {
                (r["strategy_id"], r["instrument_id"]): r
                for r in conn.execute(select(P).where(P.trader_id == self.trader_id)).mappings()
            }
            gone = [key for key in stored if key not in now]
            changed = [
                {"trader_id": self.trader_id, "strategy_id": s, "instrument_id": i, "updated": ts, **v}
                for (s, i), v in now.items()
                if (s, i) not in stored or any(stored[(s, i)][c] != x for c, x in v.items())
            ]
            if gone:
                conn.execute(
                    cast(Table, P.__table__)
                    .delete()
                    .where(P.trader_id == self.trader_id, tuple_(P.strategy_id, P.instrument_id).in_(gone))
                )
            if changed:
                self._upsert(conn, changed)
        return len(gone) + len(changed)

    def _upsert(self, conn: Connection, rows: list[dict[str, object]]) -> None:
        """INSERT .. ON CONFLICT DO UPDATE (both SQLite and PostgreSQL have it): safe beside another writer."""
        table = cast(Table, P.__table__)
        dialect = conn.dialect.name
        if dialect not in ("sqlite", "postgresql"):
            raise RuntimeError(f"positions table: unsupported database {dialect!r}")
        ins = (sqlite_insert if dialect == "sqlite" else pg_insert)(table)
        stmt = ins.on_conflict_do_update(
            index_elements=["trader_id", "strategy_id", "instrument_id"],
            set_={c: ins.excluded[c] for c in ("quantity", "avg_price", "realized_pnl", "updated")},
        )
        conn.execute(stmt, rows)

    def load(self) -> list[StoredPosition]:
        """Stored positions, by strategy then pair."""
        q = select(P).where(P.trader_id == self.trader_id).order_by(P.strategy_id, P.instrument_id)
        with self.engine.connect() as conn:
            rows = conn.execute(q).mappings().all()
        return [
            StoredPosition(r["strategy_id"], r["instrument_id"], Decimal(r["quantity"]), Decimal(r["avg_price"]),
                           Decimal(r["realized_pnl"]), r["updated"])
            for r in rows
        ]  # fmt: skip
