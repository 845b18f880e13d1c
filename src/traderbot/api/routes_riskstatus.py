"""GET /api/v1/risk/status: the system's trading state, the kill switch (who, why, when), locks, overrides,
recent denials by reason code and exposure against the configured limits.

From the running kernel when the service serves the call (denials: the last ones of this run), else from the
database (denials: the last ones stored; locks in force at the service's last known time; limits: the [risk]
section of the last applied configuration file)."""

from __future__ import annotations

from typing import Any

from fastapi import Depends, Query
from starlette.concurrency import run_in_threadpool

from traderbot.api import trading_live as live
from traderbot.api import trading_stored as stored
from traderbot.api.context import ApiContext, api_context
from traderbot.api.trading_views import denial_json, exposure_json
from traderbot.api.views import iso

Ctx = Depends(api_context)
WINDOW = 200  # denials counted by reason


async def risk_status(denials: int = Query(20, ge=0, le=WINDOW, description="How many recent denials to list."),
                      ctx: ApiContext = Ctx) -> dict[str, Any]:  # fmt: skip
    """Trading state, kill switch, locks, overrides, recent denials by reason, exposure against limits."""
    engine, trader, service = ctx.engine, ctx.trader_id, ctx.service
    if service is not None:
        kill = await run_in_threadpool(stored.kill_switch_record, engine, trader)
        k = service.kernel  # after the read: the kernel as it is now, on its own thread
        state = live.risk_state(k, WINDOW)
        facts = live.position_facts(k)
    else:

        def read() -> tuple[dict[str, Any], dict[str, Any], list[Any]]:
            import time

            now = stored.clock_ns(engine, trader) or time.time_ns()
            return (stored.kill_switch_record(engine, trader), stored.risk_state(engine, trader, WINDOW, now),
                    stored.position_facts(engine, trader)[0])  # fmt: skip

        kill, state, facts = await run_in_threadpool(read)
    kill["engaged"] = state["kill_switch_engaged"]  # the kernel's own flag when it serves the call
    recent = state["denials"]
    config = state["config"]
    return {
        "source": "database" if service is None else "service",
        "as_of": iso(state["now_ns"] or None),
        "system_state": state["system_state"],
        "states": state["states"],
        "kill_switch": kill,
        "reconciling": state["reconciling"],
        "locks": state["locks"],
        "overrides": state["overrides"],
        "denials": {"window": len(recent), "by_reason": dict(sorted(state["by_reason"].items())),
                    "recent": [denial_json(d) for d in reversed(recent[-denials:] if denials else [])]},
        "exposure": exposure_json(facts, None if config is None else config.limits),
    }  # fmt: skip
