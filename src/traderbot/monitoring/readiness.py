"""Readiness checks (`/readyz`): the database answers, the service runs, the broker is connected and reconciled
(live), and every running pair's feed is flowing. Pure functions of a database ping and a `LiveSnapshot`."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from traderbot.model.calendar import get_calendar
from traderbot.monitoring.snapshot import LiveSnapshot, PairLive

FEED_STALE_MIN_S = 60.0  # a running pair without a bar for this long (wall time) is stale, at the least
FEED_STALE_BARS = 3  # ... or for this many of its bar intervals (scaled by the replay speed), if longer


@dataclass(frozen=True, slots=True)
class Check:
    name: str
    ok: bool
    detail: str
    skipped: bool = False  # does not apply here (paper has no broker; a standalone API has no service)

    def to_dict(self) -> dict[str, object]:
        return {"name": self.name, "ok": self.ok, "skipped": self.skipped, "detail": self.detail}


def stale_after_s(snap: LiveSnapshot, pair: PairLive) -> float:
    """Wall seconds without a bar after which `pair`'s feed counts as stale."""
    if snap.mode == "paper" and snap.replay_speed is None:
        return FEED_STALE_MIN_S  # as fast as possible: bars come back to back
    interval = pair.timeframe_s / (snap.replay_speed or 1.0) if snap.mode == "paper" else pair.timeframe_s
    return max(FEED_STALE_MIN_S, FEED_STALE_BARS * interval + FEED_STALE_MIN_S)


def market_open(calendar: str, now_ns: int) -> bool:
    try:
        return bool(get_calendar(calendar).is_open(np.array([now_ns], dtype=np.int64))[0])
    except ValueError:
        return True  # an unknown calendar: expect bars


def stale_feeds(snap: LiveSnapshot) -> dict[str, float]:
    """Running pairs whose bars stopped while their market is open: pair -> wall seconds since the last one."""
    if snap.mode == "paper" and snap.replay_finished:
        return {}
    return {
        p.pair: p.arrival_age_s
        for p in snap.pairs
        if p.arrival_age_s > stale_after_s(snap, p) and market_open(p.calendar, snap.now_ns)
    }


def checks(db_error: str | None, snap: LiveSnapshot | None) -> list[Check]:
    """Every readiness check; `snap` None: a standalone API (no service in this process)."""
    out = [Check("database", db_error is None, db_error or "reachable")]
    if snap is None:
        return [
            *out,
            Check("service", True, "standalone API: the trading service runs in its own process", True),
        ]
    running = snap.started and not snap.stopping
    state = "running" if running else ("stopping" if snap.stopping else "starting")
    out.append(Check("service", running, f"{snap.mode} service {state}"))
    if snap.mode == "live":
        out.append(Check("broker", bool(snap.broker_connected),
                         "connected" if snap.broker_connected else "the broker's stream is down"))  # fmt: skip
        out.append(Check("reconciliation", bool(snap.reconciled), snap.reconcile_detail or "done"))
    else:
        out.append(Check("broker", True, "paper: the simulated venue", True))
        out.append(Check("reconciliation", True, "paper: nothing to reconcile", True))
    stale = stale_feeds(snap)
    if stale:
        detail = "; ".join(f"{p}: no bar for {age:.0f} s" for p, age in sorted(stale.items()))
    elif snap.mode == "paper" and snap.replay_finished:
        detail = "the replay has finished"
    else:
        detail = f"{len(snap.pairs)} running pair(s) receiving bars"
    out.append(Check("feeds", not stale, detail))
    return out
