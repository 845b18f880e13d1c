"""Configuration versions in the database: append a row per outcome, list the history, fetch one version."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from traderbot.store.config_models import ConfigVersionRecord


@dataclass(frozen=True)
class ConfigVersion:
    """One stored configuration version. `text` has its secrets masked; `sha256` is of the file on disk."""

    version: int
    ts: int
    author: str
    outcome: str
    applied: bool
    diff: list[str] = field(default_factory=list)
    text: str = ""
    sha256: str = ""
    path: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _version(r: ConfigVersionRecord) -> ConfigVersion:
    return ConfigVersion(
        version=r.version, ts=r.ts, author=r.author, outcome=r.outcome, applied=bool(r.applied),
        diff=list(json.loads(r.diff)), text=r.text, sha256=r.sha256, path=r.path,
    )  # fmt: skip


class SqlConfigStore:
    """Append-only: a version is never changed once written."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def add(
        self, *, ts: int, author: str, outcome: str, applied: bool, diff: list[str], text: str, sha256: str,
        path: str,
    ) -> int:  # fmt: skip
        """Store one version; returns its number (1, 2, ...)."""
        with Session(self.engine) as s, s.begin():
            row = ConfigVersionRecord(
                ts=ts, author=author[:120], outcome=outcome, applied=int(applied), diff=json.dumps(diff),
                text=text, sha256=sha256, path=path,
            )  # fmt: skip
            s.add(row)
            s.flush()
            return int(row.version)

    def history(self, limit: int = 20) -> list[ConfigVersion]:
        """The newest `limit` versions, newest first."""
        with Session(self.engine) as s:
            q = select(ConfigVersionRecord).order_by(ConfigVersionRecord.version.desc()).limit(limit)
            return [_version(r) for r in s.scalars(q)]

    def get(self, version: int) -> ConfigVersion | None:
        with Session(self.engine) as s:
            row = s.get(ConfigVersionRecord, version)
            return None if row is None else _version(row)

    def last_applied(self) -> ConfigVersion | None:
        """The newest version that became the running configuration."""
        with Session(self.engine) as s:
            q = (
                select(ConfigVersionRecord)
                .where(ConfigVersionRecord.applied == 1)
                .order_by(ConfigVersionRecord.version.desc())
                .limit(1)
            )
            row = s.scalars(q).first()
            return None if row is None else _version(row)
