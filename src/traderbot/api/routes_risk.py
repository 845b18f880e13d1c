"""/api/v1/risk: the kill switch and its re-arm, sent to the running service through the command channel."""

from __future__ import annotations

from typing import Any

from fastapi import Depends, Request

from traderbot.api.commands import (
    CommandKind,
    CommandStatus,
    ServiceNotAnswering,
    ServiceStillRunning,
    submit_and_wait,
)
from traderbot.api.context import ApiContext, Principal, api_context
from traderbot.api.errors import ApiError
from traderbot.api.roles import Caller
from traderbot.api.schemas import KillSwitch, ReasonBody

Ctx = Depends(api_context)


async def run_command(ctx: ApiContext, request: Request, who: Principal, kind: CommandKind,
                      payload: dict[str, Any]) -> dict[str, Any]:  # fmt: skip
    """Send `kind` to the service and answer with its result; 503 when no service answers in time."""
    s = ctx.settings
    try:
        command = await submit_and_wait(ctx.commands, kind, payload, f"api:{who.name}"[:120],
                                        timeout_s=s.command_timeout_s, poll_s=s.command_poll_s)  # fmt: skip
    except ServiceNotAnswering as exc:
        raise ApiError(503, f"the trading service is not running: {exc}; start it with `traderbot run` and "
                            "try again") from None  # fmt: skip
    except ServiceStillRunning as exc:
        raise ApiError(504, f"{exc}: check the service's log before sending it again") from None
    request.state.command_id = command.id
    if command.status is CommandStatus.FAILED:
        result = command.result or {}
        status = 409 if result.get("refused") else 502
        raise ApiError(status, f"the service refused {kind.value} (command {command.id}): {command.error}")
    request.state.outcome = f"command {command.id} {kind.value}: done"
    return {"command_id": command.id, "kind": kind.value, "status": command.status.value,
            "result": command.result}  # fmt: skip


async def kill_switch(body: KillSwitch, request: Request, ctx: ApiContext = Ctx,
                      who: Principal = Caller) -> dict[str, Any]:  # fmt: skip
    """Engage the kill switch: every open order canceled, with `flatten` every position closed; trading halted
    until re-armed. Sent to the running service (503 when it is not running)."""
    payload = {"reason": body.reason, "flatten": body.flatten}
    return await run_command(ctx, request, who, CommandKind.KILL_SWITCH, payload)


async def rearm(body: ReasonBody, request: Request, ctx: ApiContext = Ctx,
                who: Principal = Caller) -> dict[str, Any]:  # fmt: skip
    """Re-arm the kill switch and set the system active again (409 when it is not engaged)."""
    return await run_command(ctx, request, who, CommandKind.REARM, {"reason": body.reason})
