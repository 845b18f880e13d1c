"""SQLAlchemy tables of the control-plane API (migration 0009): keys, the audit log of mutating calls, the
command channel between the API and the service, and the API's own secrets (token signing, first start)."""

from __future__ import annotations

from sqlalchemy import BigInteger, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from traderbot.store.models import Base

# BIGINT ids on PostgreSQL; SQLite autoincrements only an INTEGER primary key
ROW_ID = BigInteger().with_variant(Integer(), "sqlite")


class ApiKeyRecord(Base):
    """One API key: only the SHA-256 of its secret is stored; keys are revoked, never deleted."""

    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    trader_id: Mapped[str] = mapped_column(String(32), index=True)
    name: Mapped[str] = mapped_column(String(64))
    role: Mapped[str] = mapped_column(String(16))
    key_hash: Mapped[str] = mapped_column(String(64))
    created: Mapped[int] = mapped_column(BigInteger)
    revoked_at: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    last_used_at: Mapped[int | None] = mapped_column(BigInteger, nullable=True)


class ApiAuditRecord(Base):
    """One mutating API call (POST/PUT/PATCH/DELETE), refused ones included: who, what, when, result."""

    __tablename__ = "api_audit"
    __table_args__ = (Index("ix_api_audit_ts", "trader_id", "ts"),)

    id: Mapped[int] = mapped_column(ROW_ID, primary_key=True, autoincrement=True)
    trader_id: Mapped[str] = mapped_column(String(32))
    ts: Mapped[int] = mapped_column(BigInteger)
    key_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    key_name: Mapped[str] = mapped_column(String(64))
    role: Mapped[str] = mapped_column(String(16))
    method: Mapped[str] = mapped_column(String(8))
    path: Mapped[str] = mapped_column(Text)
    action: Mapped[str] = mapped_column(String(64))
    status_code: Mapped[int] = mapped_column(Integer)
    outcome: Mapped[str] = mapped_column(Text)


class ServiceCommandRecord(Base):
    """A command from the API to the running service: pending until a service claims it (running), then done
    or failed with a JSON result. The API never touches the kernel; the service runs these on its own thread."""

    __tablename__ = "service_commands"
    __table_args__ = (Index("ix_service_commands_status", "trader_id", "status", "id"),)

    id: Mapped[int] = mapped_column(ROW_ID, primary_key=True, autoincrement=True)
    trader_id: Mapped[str] = mapped_column(String(32))
    ts: Mapped[int] = mapped_column(BigInteger)
    actor: Mapped[str] = mapped_column(String(120))
    kind: Mapped[str] = mapped_column(String(32))
    payload: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16))
    owner: Mapped[str] = mapped_column(String(120))
    result: Mapped[str | None] = mapped_column(Text, nullable=True)
    started: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    finished: Mapped[int | None] = mapped_column(BigInteger, nullable=True)


class ApiSecretRecord(Base):
    """Values the API creates once per trader: the token signing secret, the first-start marker."""

    __tablename__ = "api_secrets"

    trader_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    value: Mapped[str] = mapped_column(Text)
    created: Mapped[int] = mapped_column(BigInteger)


class ApiUserRecord(Base):
    """A person who logs in (migration 0010): the scrypt hash of the password, never the password; users are
    disabled, never deleted. `password_changed` is bound into their tokens: a new password ends old tokens."""

    __tablename__ = "api_users"
    __table_args__ = (UniqueConstraint("trader_id", "username", name="uq_api_users_username"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    trader_id: Mapped[str] = mapped_column(String(32))
    username: Mapped[str] = mapped_column(String(64))
    role: Mapped[str] = mapped_column(String(16))
    password_hash: Mapped[str] = mapped_column(Text)
    created: Mapped[int] = mapped_column(BigInteger)
    disabled_at: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    password_changed: Mapped[int] = mapped_column(BigInteger)
