"""The table of backtests run through the API (migration 0011): one row per job, its request, its outcome (the
summary as JSON, the HTML report) and which API process ran it."""

from __future__ import annotations

from sqlalchemy import BigInteger, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from traderbot.store.models import Base

ROW_ID = BigInteger().with_variant(Integer(), "sqlite")


class BacktestJobRecord(Base):
    """One backtest job: queued, running, succeeded or failed. `owner` (host:pid:instance) and `heartbeat` tell
    a later start whether the process that ran it is gone (then the job is marked failed)."""

    __tablename__ = "backtest_jobs"
    __table_args__ = (Index("ix_backtest_jobs_trader", "trader_id", "id"),)

    id: Mapped[int] = mapped_column(ROW_ID, primary_key=True, autoincrement=True)
    trader_id: Mapped[str] = mapped_column(String(32))
    created: Mapped[int] = mapped_column(BigInteger)
    started: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    finished: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    actor: Mapped[str] = mapped_column(String(120))
    status: Mapped[str] = mapped_column(String(16))
    request: Mapped[str] = mapped_column(Text)  # JSON
    summary: Mapped[str | None] = mapped_column(Text, nullable=True)  # JSON: metrics, orders, final equity
    report_html: Mapped[str | None] = mapped_column(Text, nullable=True)
    error: Mapped[str] = mapped_column(Text, default="")
    owner: Mapped[str] = mapped_column(String(120))
    heartbeat: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
