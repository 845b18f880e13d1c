"""The table of configuration versions (migration 0007): one row per load, reload, refusal or rollback."""

from __future__ import annotations

from sqlalchemy import BigInteger, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from traderbot.store.models import Base


class ConfigVersionRecord(Base):
    """A configuration the service saw: who, when, what happened (outcome), what changed, the text (secrets
    masked) and the sha256 of the file as it was on disk."""

    __tablename__ = "config_versions"

    version: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    ts: Mapped[int] = mapped_column(BigInteger, index=True)
    author: Mapped[str] = mapped_column(String(120))
    outcome: Mapped[str] = mapped_column(Text)
    applied: Mapped[int] = mapped_column(Integer)  # 1 when this text became the running configuration
    diff: Mapped[str] = mapped_column(Text)  # JSON list of lines
    text: Mapped[str] = mapped_column(Text)
    sha256: Mapped[str] = mapped_column(String(64))
    path: Mapped[str] = mapped_column(Text)
