"""Monitoring routes: /metrics (Prometheus) and /readyz (readiness) beside /healthz, without authentication
like it; and GET /api/v1/system/health (the health score, viewer). See docs/monitoring.md."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4

from traderbot.monitoring.monitor import Monitor

_READY_DOC = {
    200: {"description": "ready: every check passed"},
    503: {"description": "not ready: the failing checks are listed"},
}


def monitor(request: Request) -> Monitor:
    m: Monitor = request.app.state.monitor
    return m


async def system_health(request: Request) -> dict[str, Any]:
    """The system health score (0-100) with a named deduction for each problem, and the component checks."""
    report = await monitor(request).health()
    return report.to_dict()


def install(app: FastAPI) -> None:
    """Add /metrics and /readyz to `app` (after `app.state.api` is set)."""
    ctx = app.state.api
    app.state.monitor = Monitor(ctx.engine, ctx.trader_id, ctx.service)

    @app.get("/metrics", tags=["health"], response_class=Response,
             summary="Prometheus metrics in the text exposition format (no authentication).",
             responses={200: {"content": {"text/plain": {}}}})  # fmt: skip
    async def metrics(request: Request) -> Response:
        body = await monitor(request).scrape()
        return Response(body, media_type=CONTENT_TYPE_PLAIN_0_0_4)  # read by Prometheus 2 and 3

    @app.get("/readyz", tags=["health"], responses=_READY_DOC,  # type: ignore[arg-type]
             summary="Readiness: database, service, broker, reconciliation, feeds (no authentication).")  # fmt: skip
    async def readyz(request: Request) -> JSONResponse:
        found = await monitor(request).readiness()
        failing = [c.name for c in found if not c.ok]
        body = {"status": "not ready" if failing else "ready", "failing": failing,
                "checks": [c.to_dict() for c in found]}  # fmt: skip
        return JSONResponse(body, status_code=503 if failing else 200)
