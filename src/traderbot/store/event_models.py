"""SQLAlchemy tables of the live service's record: the append-only event log, account snapshots and the
current positions. Money and quantities are decimal TEXT, as in every other table, so SQLite keeps them exact.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from traderbot.store.models import Base

# BIGINT ids on PostgreSQL (the log only grows); SQLite autoincrements only an INTEGER primary key (its rowid)
LOG_ID = BigInteger().with_variant(Integer(), "sqlite")


class EventLogRecord(Base):
    """One bus message as it was published: never updated, never deleted."""

    __tablename__ = "event_log"
    __table_args__ = (
        Index("ix_event_log_trader", "trader_id", "id"),
        Index("ix_event_log_topic", "trader_id", "topic", "id"),
    )

    id: Mapped[int] = mapped_column(LOG_ID, primary_key=True, autoincrement=True)
    trader_id: Mapped[str] = mapped_column(String(32))
    ts: Mapped[int] = mapped_column(BigInteger)  # the message's own time (UTC ns), else when it was logged
    topic: Mapped[str] = mapped_column(String(32))
    type: Mapped[str] = mapped_column(String(64))  # the message's class name
    payload: Mapped[str] = mapped_column(Text)  # core.jsonable.dumps of the message


class AccountSnapshotRecord(Base):
    """The account at one moment, in the account currency: free_margin = equity - margin_used."""

    __tablename__ = "account_snapshots"
    __table_args__ = (Index("ix_account_snapshots_ts", "trader_id", "ts"),)

    id: Mapped[int] = mapped_column(LOG_ID, primary_key=True, autoincrement=True)
    trader_id: Mapped[str] = mapped_column(String(32))
    ts: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(8))
    balance: Mapped[str] = mapped_column(String(60))
    equity: Mapped[str] = mapped_column(String(60))
    margin_used: Mapped[str] = mapped_column(String(60))
    free_margin: Mapped[str] = mapped_column(String(60))
    open_positions: Mapped[int] = mapped_column(Integer)


class PositionRecord(Base):
    """The current non-flat position of one strategy in one pair; realized_pnl is in the pair's quote currency."""

    __tablename__ = "positions"

    trader_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    strategy_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    instrument_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    quantity: Mapped[str] = mapped_column(String(40))  # signed: negative is short
    avg_price: Mapped[str] = mapped_column(String(60))
    realized_pnl: Mapped[str] = mapped_column(String(60))
    updated: Mapped[int] = mapped_column(BigInteger)  # UTC ns of the sync that last changed the row
