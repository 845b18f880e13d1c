"""SQLAlchemy tables of the training queue: jobs (the queue itself) and runs (one row per attempt)."""

from __future__ import annotations

from sqlalchemy import BigInteger, Float, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from traderbot.store.models import Base


class TrainingJobRecord(Base):
    """One training job and its live state; `active_pair` is the pair while the job is active, NULL after,
    and is unique, so two processes cannot both queue a job for the same pair."""

    __tablename__ = "training_jobs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    pair: Mapped[str] = mapped_column(String(32), index=True)
    active_pair: Mapped[str | None] = mapped_column(String(32), unique=True, nullable=True)
    kind: Mapped[str] = mapped_column(String(32))
    fn: Mapped[str] = mapped_column(String(200))
    payload: Mapped[str] = mapped_column(Text, default="{}")
    priority: Mapped[int] = mapped_column(Integer, default=0)
    status: Mapped[str] = mapped_column(String(16), index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    max_attempts: Mapped[int] = mapped_column(Integer)
    timeout_s: Mapped[float] = mapped_column(Float)
    not_before: Mapped[int] = mapped_column(BigInteger)
    created: Mapped[int] = mapped_column(BigInteger)
    started: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    finished: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    progress: Mapped[float] = mapped_column(Float, default=0.0)
    message: Mapped[str] = mapped_column(Text, default="")
    eta_s: Mapped[float | None] = mapped_column(Float, nullable=True)
    error: Mapped[str] = mapped_column(Text, default="")
    result: Mapped[str | None] = mapped_column(Text, nullable=True)
    owner: Mapped[str] = mapped_column(String(120), default="")
    heartbeat: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    notified: Mapped[int] = mapped_column(Integer, default=0)  # final-outcome hook delivered


class TrainingRunRecord(Base):
    """One attempt of a training job: how it ended, its parameters and in/out-of-sample metrics."""

    __tablename__ = "training_runs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    job_id: Mapped[int] = mapped_column(Integer, index=True)
    pair: Mapped[str] = mapped_column(String(32), index=True)
    attempt: Mapped[int] = mapped_column(Integer)
    started: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    finished: Mapped[int] = mapped_column(BigInteger)
    duration_s: Mapped[float | None] = mapped_column(Float, nullable=True)
    status: Mapped[str] = mapped_column(String(16))
    error: Mapped[str] = mapped_column(Text, default="")
    params: Mapped[str | None] = mapped_column(Text, nullable=True)
    in_sample: Mapped[str | None] = mapped_column(Text, nullable=True)
    out_of_sample: Mapped[str | None] = mapped_column(Text, nullable=True)
    result: Mapped[str | None] = mapped_column(Text, nullable=True)
