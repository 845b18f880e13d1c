"""The API application: /api/v1 (router.py), OpenAPI at /docs, /healthz for liveness, and around every call
the body-size limit, the audit log of mutating calls, CORS (closed unless origins are configured) and one
error shape."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from sqlalchemy import Engine

import traderbot
from traderbot.api.audit import AuditLog, AuditMiddleware
from traderbot.api.bodylimit import BodyLimitMiddleware
from traderbot.api.context import ApiContext
from traderbot.api.dashboard import install_dashboard
from traderbot.api.errors import install_error_handlers
from traderbot.api.router import build_router
from traderbot.api.routes_monitoring import install as install_monitoring
from traderbot.api.settings import ApiSettings
from traderbot.api.ws import install_websocket

if TYPE_CHECKING:
    from traderbot.service.service import TradingService


def create_app(engine: Engine, trader_id: str = "TB", *, settings: ApiSettings | None = None,
               service: TradingService | None = None) -> FastAPI:  # fmt: skip
    """The API of `trader_id` on a migrated database (`store.db.open_engine`); `service`: the running service
    that serves it on its own loop (`traderbot run`), None for a standalone API (`traderbot api`)."""
    settings = settings or ApiSettings()
    app = FastAPI(title="traderbot API", version=traderbot.__version__,
                  description="Control plane of traderbot. Authenticate with `X-API-Key: <key>` or "
                              "`Authorization: Bearer <key or token>`; every route names the role it needs.",
                  docs_url="/docs", redoc_url=None, openapi_url="/openapi.json")  # fmt: skip
    app.state.api = ApiContext(engine, trader_id, settings, service)
    install_error_handlers(app)
    app.include_router(build_router())
    install_websocket(app, app.state.api)  # /api/v1/ws
    install_monitoring(app)  # /metrics, /readyz
    install_dashboard(app)

    @app.get("/healthz", tags=["health"], summary="Liveness: the API process answers (no authentication).")
    def healthz() -> dict[str, Any]:
        return {"status": "ok"}

    # added innermost first: CORS, then the body limit, then the audit log outside both (413s are audited too)
    if settings.cors_origins:
        app.add_middleware(CORSMiddleware, allow_origins=list(settings.cors_origins),
                           allow_methods=["GET", "POST", "PUT", "DELETE"],
                           allow_headers=["Authorization", "X-API-Key", "Content-Type"])  # fmt: skip
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.max_body_bytes)
    app.add_middleware(AuditMiddleware, audit=AuditLog(engine, trader_id))
    return app
