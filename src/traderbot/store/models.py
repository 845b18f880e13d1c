"""SQLAlchemy models. Money and quantities are stored as decimal TEXT so SQLite keeps them exact."""

from __future__ import annotations

from sqlalchemy import BigInteger, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


class OrderRecord(Base):
    """One order as last known: the intent (written before any venue call) and its current state."""

    __tablename__ = "orders"

    client_order_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    trader_id: Mapped[str] = mapped_column(String(32), index=True)
    strategy_id: Mapped[str] = mapped_column(String(64), index=True)
    instrument_id: Mapped[str] = mapped_column(String(32), index=True)
    side: Mapped[str] = mapped_column(String(8))
    type: Mapped[str] = mapped_column(String(16))
    quantity: Mapped[str] = mapped_column(String(40))
    price: Mapped[str | None] = mapped_column(String(40), nullable=True)
    trigger_price: Mapped[str | None] = mapped_column(String(40), nullable=True)
    time_in_force: Mapped[str] = mapped_column(String(8))
    reduce_only: Mapped[int] = mapped_column(Integer, default=0)
    status: Mapped[str] = mapped_column(String(20), index=True)
    filled_qty: Mapped[str] = mapped_column(String(40), default="0")
    filled_cost: Mapped[str] = mapped_column(String(60), default="0")
    venue_order_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    reason: Mapped[str] = mapped_column(Text, default="")
    ts_init: Mapped[int] = mapped_column(BigInteger)
    ts_last: Mapped[int] = mapped_column(BigInteger)
    seq: Mapped[int] = mapped_column(Integer)
    extra: Mapped[str] = mapped_column(Text, default="{}")  # bracket, trailing, tags: JSON


class IdSequence(Base):
    """The next client-order sequence number per (trader, strategy): ids stay unique across restarts."""

    __tablename__ = "id_sequences"

    trader_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    strategy_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    next_seq: Mapped[int] = mapped_column(Integer)


class FillRecord(Base):
    """One execution, stored with the order's new state in one transaction; positions are rebuilt from these."""

    __tablename__ = "fills"
    __table_args__ = (UniqueConstraint("trader_id", "client_order_id", "trade_id", name="uq_fills_trade"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    trader_id: Mapped[str] = mapped_column(String(32))
    client_order_id: Mapped[str] = mapped_column(String(64))
    trade_id: Mapped[str] = mapped_column(String(80))
    strategy_id: Mapped[str] = mapped_column(String(64))
    instrument_id: Mapped[str] = mapped_column(String(32))
    side: Mapped[str] = mapped_column(String(8))
    quantity: Mapped[str] = mapped_column(String(40))
    price: Mapped[str] = mapped_column(String(40))
    commission: Mapped[str] = mapped_column(String(40), default="0")
    commission_currency: Mapped[str] = mapped_column(String(8), default="")
    venue_order_id: Mapped[str] = mapped_column(String(64), default="")
    ts: Mapped[int] = mapped_column(BigInteger)
    external: Mapped[int] = mapped_column(Integer, default=0)


class TradingStateRecord(Base):
    """The current trading state of one scope (system, strategy:<id>, pair:<id>, kill_switch)."""

    __tablename__ = "trading_states"

    trader_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    scope: Mapped[str] = mapped_column(String(80), primary_key=True)
    state: Mapped[str] = mapped_column(String(16))
    actor: Mapped[str] = mapped_column(String(64))
    reason: Mapped[str] = mapped_column(Text)
    ts: Mapped[int] = mapped_column(BigInteger)


class TradingStateAudit(Base):
    """Every change of a trading state: who, why, when, from what to what."""

    __tablename__ = "trading_state_audit"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    trader_id: Mapped[str] = mapped_column(String(32), index=True)
    scope: Mapped[str] = mapped_column(String(80))
    old: Mapped[str] = mapped_column(String(16))
    new: Mapped[str] = mapped_column(String(16))
    actor: Mapped[str] = mapped_column(String(64))
    reason: Mapped[str] = mapped_column(Text)
    ts: Mapped[int] = mapped_column(BigInteger)


class RiskLockRecord(Base):
    """An active lock: a scope held REDUCING or HALTED by a protection, breaker or guard until a time."""

    __tablename__ = "risk_locks"

    trader_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    scope: Mapped[str] = mapped_column(String(80), primary_key=True)
    source: Mapped[str] = mapped_column(String(64), primary_key=True)
    action: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(Text)
    since: Mapped[int] = mapped_column(BigInteger)
    until: Mapped[int | None] = mapped_column(BigInteger, nullable=True)


class RiskLockHistory(Base):
    """Every lock set or cleared, with who and why."""

    __tablename__ = "risk_lock_history"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    trader_id: Mapped[str] = mapped_column(String(32), index=True)
    scope: Mapped[str] = mapped_column(String(80))
    source: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(16))
    event: Mapped[str] = mapped_column(String(16))
    actor: Mapped[str] = mapped_column(String(64))
    reason: Mapped[str] = mapped_column(Text)
    until: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    ts: Mapped[int] = mapped_column(BigInteger)


class RiskOverrideRecord(Base):
    """A manual override: one guard bypassed for a scope until a time."""

    __tablename__ = "risk_overrides"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    trader_id: Mapped[str] = mapped_column(String(32), index=True)
    scope: Mapped[str] = mapped_column(String(80))
    guard: Mapped[str] = mapped_column(String(32))
    since: Mapped[int] = mapped_column(BigInteger)
    until: Mapped[int] = mapped_column(BigInteger)
    actor: Mapped[str] = mapped_column(String(64))
    reason: Mapped[str] = mapped_column(Text)


class RiskDenialRecord(Base):
    """An order the risk engine denied, with its reason code and context."""

    __tablename__ = "risk_denials"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    trader_id: Mapped[str] = mapped_column(String(32), index=True)
    ts: Mapped[int] = mapped_column(BigInteger)
    client_order_id: Mapped[str] = mapped_column(String(64))
    strategy_id: Mapped[str] = mapped_column(String(64))
    instrument_id: Mapped[str] = mapped_column(String(32))
    side: Mapped[str] = mapped_column(String(8))
    quantity: Mapped[str] = mapped_column(String(40))
    code: Mapped[str] = mapped_column(String(40), index=True)
    reason: Mapped[str] = mapped_column(Text)
