"""The system health score: 100 minus a named deduction for each problem found, never below 0.

Inputs are plain copies (database state, a service snapshot, the readiness checks), so the API, alert rules
and the dashboard all score the same way. The table `DEDUCTIONS` is the whole rule set: per occurrence points
and a cap per reason.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from traderbot.monitoring.db_state import DbState
from traderbot.monitoring.readiness import Check, stale_feeds
from traderbot.monitoring.snapshot import LiveSnapshot

# code -> (points per occurrence, cap)
DEDUCTIONS: dict[str, tuple[int, int]] = {
    "database_unreachable": (100, 100),
    "service_not_running": (40, 40),
    "kill_switch_engaged": (40, 40),
    "broker_disconnected": (30, 30),
    "not_reconciled": (20, 20),
    "pairs_locked": (10, 30),
    "cache_invalid": (10, 30),
    "feed_lag": (10, 30),
    "training_failures": (5, 15),
    "error_rate": (2, 20),
}
HEALTHY, DEGRADED = 90, 60  # score at or above: "healthy"; at or above: "degraded"; below: "critical"


@dataclass(frozen=True, slots=True)
class Deduction:
    code: str
    points: int
    detail: str

    def to_dict(self) -> dict[str, Any]:
        return {"code": self.code, "points": self.points, "detail": self.detail}


@dataclass(frozen=True, slots=True)
class HealthReport:
    score: int
    status: str
    reasons: tuple[Deduction, ...]
    checks: tuple[Check, ...]

    def to_dict(self) -> dict[str, Any]:
        return {"score": self.score, "status": self.status, "reasons": [r.to_dict() for r in self.reasons],
                "checks": [c.to_dict() for c in self.checks]}  # fmt: skip


def _deduct(code: str, count: int, detail: str) -> Deduction:
    each, cap = DEDUCTIONS[code]
    return Deduction(code, min(each * count, cap), detail)


def _names(items: list[str], limit: int = 5) -> str:
    more = len(items) - limit
    return ", ".join(items[:limit]) + (f" and {more} more" if more > 0 else "")


def score(db: DbState, snap: LiveSnapshot | None, checks: list[Check]) -> HealthReport:
    """Score the system from what the database and (when in this process) the service know."""
    found: list[Deduction] = []
    if not db.reachable:
        found.append(_deduct("database_unreachable", 1, f"the database cannot be read: {db.error}"))
    service = next((c for c in checks if c.name == "service"), None)
    if service is not None and not service.ok:
        found.append(
            _deduct("service_not_running", 1, f"the trading service is not running: {service.detail}")
        )
    if (snap is not None and snap.kill_switch) or db.kill_switch:
        why = f": {db.kill_reason}" if db.kill_reason else ""
        found.append(_deduct("kill_switch_engaged", 1, f"the kill switch is engaged{why}; re-arm it with "
                                                       "POST /api/v1/risk/rearm"))  # fmt: skip
    if snap is not None and snap.broker_connected is False:
        found.append(_deduct("broker_disconnected", 1, "the broker's transaction stream is down"))
    if snap is not None and snap.reconciled is False:
        found.append(_deduct("not_reconciled", 1, snap.reconcile_detail or "not reconciled with the broker"))
    if db.paused:
        items = [f"{p} ({why})" if why else p for p, why in sorted(db.paused.items())]
        found.append(_deduct("pairs_locked", len(items), f"{len(items)} pair(s) locked: {_names(items)}"))
    if snap is not None:
        invalid = [f"{p.pair} ({'; '.join(p.cache_reasons) or 'invalid'})" for p in snap.pairs
                   if p.cache_valid is False]  # fmt: skip
        if invalid:
            found.append(_deduct("cache_invalid", len(invalid),
                                 f"market-data cache invalid for {_names(invalid)}"))  # fmt: skip
        stale = [f"{p} (no bar for {age:.0f} s)" for p, age in sorted(stale_feeds(snap).items())]
        if stale:
            found.append(_deduct("feed_lag", len(stale), f"feeds stalled: {_names(stale)}"))
        if snap.errors_recent:
            found.append(_deduct("error_rate", snap.errors_recent,
                                 f"{snap.errors_recent} error(s) logged in the last 5 minutes"))  # fmt: skip
    if db.failed_recent:
        jobs = [f"job {j.id} {j.pair}" for j in db.failed_recent]
        found.append(_deduct("training_failures", len(jobs),
                             f"{len(jobs)} training job(s) failed in the last 24 h: {_names(jobs)}"))  # fmt: skip
    total = max(0, 100 - sum(d.points for d in found))
    status = "healthy" if total >= HEALTHY else ("degraded" if total >= DEGRADED else "critical")
    return HealthReport(total, status, tuple(found), tuple(checks))
