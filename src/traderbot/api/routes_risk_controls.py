"""/api/v1/risk/state, /risk/locks, /risk/overrides: the operator's risk commands of `traderbot risk state`,
`risk lock`, `risk unlock` and `risk override`, sent to the running service through the command channel.

The input is checked here with the CLI's own functions (scope, state, guard), so bad input is a 422 and no
command is sent; what the kernel refuses (clearing a lock that is not there, setting the system active while
the kill switch is engaged) is a 409. The kernel's clock counts `minutes` (in paper mode: the replay's time)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

from fastapi import Depends, Query, Request
from pydantic import Field

from traderbot.api.commands import CommandKind
from traderbot.api.context import ApiContext, Principal, api_context
from traderbot.api.errors import ApiError
from traderbot.api.roles import Caller
from traderbot.api.routes_risk import run_command
from traderbot.api.schemas import NO_NUL, Body, Text
from traderbot.errors import UserError
from traderbot.risk.overrides import GUARDS, check_guard
from traderbot.risk.states import TradingState, check_scope, parse_state

Ctx = Depends(api_context)
T = TypeVar("T")
MAX_MINUTES = 366 * 24 * 60  # a year: longer is a typo, or a trading state to set instead

SCOPE = "system, strategy:<id> or pair:<instrument>."


def _scope() -> Any:
    return Field(min_length=1, max_length=140, description=SCOPE, examples=["pair:EURUSD"])


def _reason() -> Any:
    return Field(min_length=1, max_length=500, description="Why (stored in the audit trail).")


def _minutes(default: Any) -> Any:
    return Field(default, ge=1, le=MAX_MINUTES, description="How long it lasts, on the service's clock.")


class SetState(Body):
    scope: Text = _scope()
    state: Text = Field(
        min_length=1, max_length=16, description="active, reducing or halted.", examples=["halted"]
    )
    reason: Text = _reason()


class AddLock(Body):
    scope: Text = _scope()
    state: Text = Field("halted", min_length=1, max_length=16, description="reducing or halted.")
    minutes: int | None = _minutes(None)
    until: Text | None = Field(None, min_length=1, max_length=40, examples=["2026-01-05T18:00:00Z"],
                               description="ISO 8601 end time (UTC without offset); or minutes.")  # fmt: skip
    reason: Text = _reason()


class AddOverride(Body):
    scope: Text = _scope()
    guard: Text = Field(min_length=1, max_length=32, description=" | ".join(GUARDS), examples=["news"])
    minutes: int = _minutes(...)
    reason: Text = _reason()


def _valid(check: Callable[[str], T], text: str) -> T:
    """The CLI's validation; its refusal is the 422's one sentence."""
    try:
        return check(text)
    except UserError as exc:
        raise ApiError(422, str(exc)) from None


def _why(reason: str) -> str:
    if not reason.strip():
        raise ApiError(422, "reason must say why (it is stored in the audit trail): give a non-blank reason")
    return reason


def _until_ns(text: str) -> int:
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        raise ApiError(
            422, f"until {text!r} is not an ISO 8601 time: use e.g. 2026-01-05T18:00:00Z"
        ) from None
    when = when if when.tzinfo is not None else when.replace(tzinfo=UTC)
    return int(when.timestamp()) * 10**9 + when.microsecond * 1000


async def set_state(body: SetState, request: Request, ctx: ApiContext = Ctx,
                    who: Principal = Caller) -> dict[str, Any]:  # fmt: skip
    """Set a trading state (active, reducing, halted) of the system, a strategy or a pair, as `traderbot risk
    state` does; stored with who and why before it takes effect (409 when the kernel refuses it)."""
    scope, state = _valid(check_scope, body.scope), _valid(parse_state, body.state)
    payload = {"scope": scope, "state": state.value, "reason": _why(body.reason)}
    return await run_command(ctx, request, who, CommandKind.RISK_STATE, payload)


async def add_lock(body: AddLock, request: Request, ctx: ApiContext = Ctx,
                   who: Principal = Caller) -> dict[str, Any]:  # fmt: skip
    """Lock a scope by hand (reducing or halted) for `minutes` or until a time, as `traderbot risk lock` does."""
    scope, state = _valid(check_scope, body.scope), _valid(parse_state, body.state)
    if state is TradingState.ACTIVE:
        raise ApiError(422, "a lock restricts trading: give state reducing or halted, not active")
    if (body.minutes is None) == (body.until is None):
        raise ApiError(422, "give how long the lock holds: either minutes or until, not both")
    payload: dict[str, Any] = {"scope": scope, "state": state.value, "reason": _why(body.reason)}
    if body.minutes is not None:
        payload["minutes"] = body.minutes
    else:
        assert body.until is not None
        payload["until_ns"] = _until_ns(body.until)
    return await run_command(ctx, request, who, CommandKind.RISK_LOCK, payload)


async def clear_locks(
    request: Request,
    scope: str = Query(min_length=1, max_length=140, pattern=NO_NUL, description=SCOPE),
    reason: str = Query(min_length=1, max_length=500, pattern=NO_NUL, description="Why (audit trail)."),
    source: str | None = Query(
        None,
        min_length=1,
        max_length=64,
        pattern=NO_NUL,
        description="Only this lock, e.g. manual or protection:daily_loss.",
    ),
    ctx: ApiContext = Ctx,
    who: Principal = Caller,
) -> dict[str, Any]:
    """Clear a scope's locks (or one source's), as `traderbot risk unlock` does (409 when there is none)."""
    payload = {"scope": _valid(check_scope, scope), "source": source, "reason": _why(reason)}
    return await run_command(ctx, request, who, CommandKind.RISK_UNLOCK, payload)


async def add_override(body: AddOverride, request: Request, ctx: ApiContext = Ctx,
                       who: Principal = Caller) -> dict[str, Any]:  # fmt: skip
    """Let one guard be bypassed for a scope for `minutes`, as `traderbot risk override` does (expires alone)."""
    payload = {"scope": _valid(check_scope, body.scope), "guard": _valid(check_guard, body.guard),
               "minutes": body.minutes, "reason": _why(body.reason)}  # fmt: skip
    return await run_command(ctx, request, who, CommandKind.RISK_OVERRIDE, payload)
