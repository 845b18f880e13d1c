"""JSON views of stored records for the API (times as ISO-8601 UTC next to their nanoseconds)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from traderbot.api.keys import ApiKey
from traderbot.api.users import User
from traderbot.pairs import PairEvent, PairRecord, ParamsVersion


def iso(ts_ns: int | None) -> str | None:
    return None if ts_ns is None else datetime.fromtimestamp(ts_ns / 1e9, tz=UTC).isoformat()


def pair_json(rec: PairRecord) -> dict[str, Any]:
    return {"pair": rec.pair, "state": rec.state.value, "enabled": rec.enabled, "timeframe": rec.timeframe,
            "strategy": rec.strategy, "active_version": rec.active_version, "updated": iso(rec.updated_ns),
            "row_version": rec.row_version}  # fmt: skip


def version_json(v: ParamsVersion) -> dict[str, Any]:
    return {"version": v.version, "strategy": v.strategy, "params": v.params, "metrics": v.metrics,
            "source": v.source, "saved": iso(v.created_ns)}  # fmt: skip


def event_json(e: PairEvent) -> dict[str, Any]:
    return {"id": e.id, "time": iso(e.ts_ns), "ts_ns": e.ts_ns, "event": e.kind.value,
            "from": None if e.previous is None else e.previous.value,
            "to": None if e.state is None else e.state.value, "actor": e.actor, "reason": e.reason,
            "details": e.details}  # fmt: skip


def key_json(k: ApiKey) -> dict[str, Any]:
    return {"id": k.id, "name": k.name, "role": k.role.value, "created": iso(k.created_ns),
            "revoked": iso(k.revoked_ns), "last_used": iso(k.last_used_ns)}  # fmt: skip


def user_json(u: User) -> dict[str, Any]:
    return {"username": u.username, "role": u.role.value, "created": iso(u.created_ns),
            "disabled": iso(u.disabled_ns), "password_changed": iso(u.password_changed_ns)}  # fmt: skip
