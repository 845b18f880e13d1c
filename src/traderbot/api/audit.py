"""The audit log: every mutating call (POST, PUT, PATCH, DELETE), refused ones included, with who (key id,
name, role), what (method, path, action), when, the status code and the outcome. The row is written before
the response leaves, so a client that got an answer knows its call is on record."""

from __future__ import annotations

import json
import logging
import re
import time
from dataclasses import dataclass, replace
from typing import Any

import anyio.to_thread
from sqlalchemy import Engine, insert, select
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from traderbot.store.api_models import ApiAuditRecord as A

log = logging.getLogger("traderbot.api")
_CLAIMED_ID = re.compile(r"^(?:tb_|tbt\.)([0-9]{1,9})[_.]")
MUTATING = frozenset({"POST", "PUT", "PATCH", "DELETE"})


@dataclass(frozen=True, slots=True)
class AuditEntry:
    ts_ns: int
    key_id: int | None
    key_name: str
    role: str
    method: str
    path: str
    action: str
    status_code: int
    outcome: str


class AuditLog:
    """Append-only: no method updates or deletes a row."""

    def __init__(self, engine: Engine, trader_id: str = "TB") -> None:
        self.engine, self.trader_id = engine, trader_id

    def record(self, entry: AuditEntry) -> None:
        entry = _printable(entry)
        values = dict(trader_id=self.trader_id, ts=entry.ts_ns, key_id=entry.key_id, key_name=entry.key_name[:64],
                      role=entry.role, method=entry.method, path=entry.path, action=entry.action[:64],
                      status_code=entry.status_code, outcome=entry.outcome[:2000])  # fmt: skip
        with self.engine.begin() as conn:
            conn.execute(insert(A).values(values))

    def read(self, limit: int = 100) -> list[AuditEntry]:
        """The newest `limit` entries, oldest first."""
        q = select(A).where(A.trader_id == self.trader_id).order_by(A.id.desc()).limit(limit)
        with self.engine.connect() as conn:
            rows = conn.execute(q).all()
        return [AuditEntry(r.ts, r.key_id, r.key_name, r.role, r.method, r.path, r.action, r.status_code,
                           r.outcome) for r in reversed(rows)]  # fmt: skip


def _printable(entry: AuditEntry) -> AuditEntry:
    """NUL (a refused path may hold one) escaped: PostgreSQL cannot store it, and the row must be written."""
    fields = {
        f: getattr(entry, f).replace("\x00", "\\x00") for f in ("key_name", "path", "action", "outcome")
    }
    return replace(entry, **fields)


def _who(scope: Scope) -> tuple[int | None, str, str]:
    """The caller `require` admitted; else the key id the credential claims (unverified), if any."""
    state: dict[str, Any] = scope.get("state") or {}
    principal = state.get("principal")
    if principal is not None:
        return principal.key_id, principal.name, principal.role.value
    claimed = state.get("claimed_key_id")
    if claimed is None:  # refused before authentication (malformed JSON, body too large): read the header
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers") or []}
        presented = (
            headers.get("x-api-key") or headers.get("authorization", "").removeprefix("Bearer ").strip()
        )
        claimed = claimed_key_id(presented)
    return claimed, "unauthenticated" if claimed is None else "unverified", "-"


def claimed_key_id(presented: str) -> int | None:
    """The key id a credential claims (unverified; for the audit rows of refused calls)."""
    m = _CLAIMED_ID.match(presented)
    return int(m.group(1)) if m else None


def _message(body: bytes) -> str:
    try:
        return str(json.loads(body)["error"]["message"])
    except (ValueError, KeyError, TypeError):
        return ""


class AuditMiddleware:
    """ASGI middleware: buffers the answer of a mutating call, writes its audit row, then sends the answer."""

    def __init__(self, app: ASGIApp, audit: AuditLog) -> None:
        self.app, self.audit = app, audit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in MUTATING:
            await self.app(scope, receive, send)
            return
        held: list[Message] = []

        async def hold(message: Message) -> None:
            held.append(message)

        status = 500
        try:
            await self.app(scope, receive, hold)
            status = next((m["status"] for m in held if m["type"] == "http.response.start"), 500)
        finally:
            body = b"".join(m.get("body", b"") for m in held if m["type"] == "http.response.body")
            await anyio.to_thread.run_sync(self._write, scope, status, body)
        for message in held:
            await send(message)

    def _write(self, scope: Scope, status: int, body: bytes) -> None:
        state: dict[str, Any] = scope.get("state") or {}
        key_id, name, role = _who(scope)
        route = scope.get("route")
        methods = getattr(route, "methods", None) or ()
        action = route.name if route is not None and scope["method"] in methods else "unrouted"
        outcome = state.get("outcome") or ("ok" if status < 400 else _message(body) or f"HTTP {status}")
        entry = AuditEntry(time.time_ns(), key_id, name, role, scope["method"], scope["path"], action, status,
                           outcome)  # fmt: skip
        try:
            self.audit.record(entry)
        except Exception:  # the call already happened: losing its audit row is logged loudly, never hidden
            log.exception("could not write the audit row of %s %s (%s)", entry.method, entry.path, status)
