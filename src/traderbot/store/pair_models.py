"""SQLAlchemy tables of the pair registry: pairs as last known, their audit trail and parameter versions."""

from __future__ import annotations

from sqlalchemy import BigInteger, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from traderbot.store.models import Base


class PairRow(Base):
    """One registered pair. `row_version` is bumped by every change: writers check it (optimistic lock)."""

    __tablename__ = "pairs"

    trader_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    pair: Mapped[str] = mapped_column(String(32), primary_key=True)
    state: Mapped[str] = mapped_column(String(16))
    enabled: Mapped[int] = mapped_column(Integer)
    timeframe: Mapped[str] = mapped_column(String(16))
    strategy: Mapped[str] = mapped_column(String(200))
    active_version: Mapped[int | None] = mapped_column(Integer, nullable=True)
    updated_ns: Mapped[int] = mapped_column(BigInteger)
    row_version: Mapped[int] = mapped_column(Integer)


class PairEventRow(Base):
    """Every change of a pair: kept when the pair is removed."""

    __tablename__ = "pair_events"
    __table_args__ = (Index("ix_pair_events_pair", "trader_id", "pair", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    trader_id: Mapped[str] = mapped_column(String(32))
    pair: Mapped[str] = mapped_column(String(32))
    ts: Mapped[int] = mapped_column(BigInteger)
    actor: Mapped[str] = mapped_column(String(64))
    reason: Mapped[str] = mapped_column(Text)
    kind: Mapped[str] = mapped_column(String(24))
    previous: Mapped[str | None] = mapped_column(String(16), nullable=True)
    state: Mapped[str | None] = mapped_column(String(16), nullable=True)
    details: Mapped[str] = mapped_column(Text, default="{}")


class PairParamsRow(Base):
    """One saved parameter version of a pair (JSON params and metrics); kept when the pair is removed."""

    __tablename__ = "pair_params"

    trader_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    pair: Mapped[str] = mapped_column(String(32), primary_key=True)
    version: Mapped[int] = mapped_column(Integer, primary_key=True)
    strategy: Mapped[str] = mapped_column(String(200))
    params: Mapped[str] = mapped_column(Text)
    metrics: Mapped[str] = mapped_column(Text)
    source: Mapped[str] = mapped_column(String(200))
    created_ns: Mapped[int] = mapped_column(BigInteger)
