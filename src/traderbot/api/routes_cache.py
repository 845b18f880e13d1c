"""/api/v1/cache: market-data cache health per pair, and a refresh sent to the running service."""

from __future__ import annotations

from typing import Any

from fastapi import Depends, Request

from traderbot.api.cache_view import cache_status as health
from traderbot.api.commands import CommandKind
from traderbot.api.context import ApiContext, Principal, api_context
from traderbot.api.roles import Caller
from traderbot.api.routes_risk import run_command
from traderbot.api.schemas import ReasonBody

Ctx = Depends(api_context)


def cache_status(ctx: ApiContext = Ctx) -> dict[str, Any]:
    """Cache health of every registered pair (valid, score 0..100, last bar, reasons), and where it was read."""
    return health(ctx)


async def cache_refresh(body: ReasonBody, request: Request, ctx: ApiContext = Ctx,
                        who: Principal = Caller) -> dict[str, Any]:  # fmt: skip
    """Refresh every running pair's cache now (live mode; 409 in paper mode, 503 when no service runs)."""
    return await run_command(ctx, request, who, CommandKind.CACHE_REFRESH, {"reason": body.reason})
