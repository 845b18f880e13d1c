"""Shared pieces for the API tests: an app on a real database with one key per role, called through FastAPI's
TestClient (the real app, middlewares and database; nothing of ours replaced)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select

from traderbot.api.app import create_app
from traderbot.api.keys import KeyStore
from traderbot.api.settings import ApiSettings
from traderbot.store.api_models import ApiAuditRecord, ApiKeyRecord, ServiceCommandRecord
from traderbot.store.db import open_engine
from traderbot.store.pair_models import PairEventRow, PairParamsRow, PairRow


@dataclass
class Api:
    engine: Engine
    app: FastAPI
    client: TestClient
    admin: str
    operator: str
    viewer: str

    def key(self, role: str) -> str:
        return {"admin": self.admin, "operator": self.operator, "viewer": self.viewer}[role]


def as_key(key: str) -> dict[str, str]:
    return {"X-API-Key": key}


def bearer(credential: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {credential}"}


@contextmanager
def api_on(url: str, trader_id: str = "TB", **settings: Any) -> Iterator[Api]:
    """The API of `trader_id` on `url` with an admin, an operator and a viewer key."""
    # the tests send many wrong keys on purpose from one address: lockouts only where a test asks for them
    settings.setdefault("failed_auth_limit", 10_000)
    engine = open_engine(url)
    keys = KeyStore(engine, trader_id)
    admin, operator, viewer = (
        keys.create(role, f"{role}-test")[1] for role in ("admin", "operator", "viewer")
    )
    app = create_app(engine, trader_id, settings=ApiSettings(**settings))
    try:
        with TestClient(app, raise_server_exceptions=False) as client:
            yield Api(engine, app, client, admin, operator, viewer)
    finally:
        engine.dispose()


def table_counts(engine: Engine) -> dict[str, Any]:
    """What an API call could change (the audit log aside): row counts, the pairs as stored and which keys are
    revoked. Equal before and after = nothing changed."""
    tables = (PairRow, PairEventRow, PairParamsRow, ApiKeyRecord, ServiceCommandRecord)
    with engine.connect() as conn:
        counts: dict[str, Any] = {
            t.__tablename__: conn.execute(select(func.count()).select_from(t)).scalar_one() for t in tables
        }
        counts["revoked"] = conn.execute(
            select(ApiKeyRecord.id, ApiKeyRecord.revoked_at).order_by(ApiKeyRecord.id)
        ).all()
    counts["pairs_rows"] = pair_rows(engine)
    return counts


def pair_rows(engine: Engine) -> list[tuple[Any, ...]]:
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(select(PairRow).order_by(PairRow.pair)).all()]


def audit_count(engine: Engine) -> int:
    with engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(ApiAuditRecord)).scalar_one()
