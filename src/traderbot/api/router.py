"""The /api/v1 routes and the role each one needs: this table is the one place a route's role is declared
(tests enumerate it to prove every boundary)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Depends
from fastapi.responses import HTMLResponse, JSONResponse

from traderbot.api import routes_auth as auth
from traderbot.api import routes_backtests as backtests
from traderbot.api import routes_bars as bars
from traderbot.api import routes_cache as cache
from traderbot.api import routes_config as config
from traderbot.api import routes_monitoring as monitoring
from traderbot.api import routes_pairs as pairs
from traderbot.api import routes_risk as risk
from traderbot.api import routes_risk_controls as riskctl
from traderbot.api import routes_riskstatus as riskstatus
from traderbot.api import routes_trading as trading
from traderbot.api import routes_training as training
from traderbot.api import routes_users as users
from traderbot.api.errors import ErrorResponse
from traderbot.api.role import Role
from traderbot.api.roles import require

PREFIX = "/api/v1"
VIEW, OPER, ADMIN = Role.VIEWER, Role.OPERATOR, Role.ADMIN
SERVICE = (409, 502, 503, 504)  # the errors of a command sent to the running service (commands.py)


@dataclass(frozen=True, slots=True)
class Endpoint:
    method: str
    path: str  # under PREFIX
    role: Role
    handler: Callable[..., Any]
    name: str
    status: int = 200
    errors: tuple[int, ...] = ()  # its own error statuses (404, 409, 503...) beyond those of every route
    html: bool = False  # answers text/html (a report), not JSON


ENDPOINTS: tuple[Endpoint, ...] = (
    Endpoint("POST", "/auth/token", VIEW, auth.issue_token, "auth.token"),
    Endpoint("GET", "/auth/whoami", VIEW, auth.whoami, "auth.whoami"),
    Endpoint("GET", "/pairs", VIEW, pairs.list_pairs, "pairs.list"),
    Endpoint("POST", "/pairs", OPER, pairs.add_pair, "pairs.add", 201, errors=(409,)),
    Endpoint("GET", "/pairs/{pair}/status", VIEW, pairs.pair_status, "pairs.status"),
    Endpoint("GET", "/pairs/{pair}/history", VIEW, pairs.pair_history, "pairs.history"),
    Endpoint("GET", "/pairs/{pair}/bars", VIEW, bars.pair_bars, "pairs.bars", errors=(404, 503)),
    Endpoint("DELETE", "/pairs/{pair}", OPER, pairs.remove_pair, "pairs.remove", errors=(409,)),
    Endpoint("PUT", "/pairs/{pair}/enable", OPER, pairs.enable_pair, "pairs.enable", errors=(409,)),
    Endpoint("PUT", "/pairs/{pair}/disable", OPER, pairs.disable_pair, "pairs.disable", errors=(409,)),
    Endpoint("PUT", "/pairs/{pair}/start", OPER, pairs.start_pair, "pairs.start", errors=(404, 409)),
    Endpoint("PUT", "/pairs/{pair}/stop", OPER, pairs.stop_pair, "pairs.stop", errors=(404, 409)),
    Endpoint(
        "POST", "/pairs/{pair}/train", OPER, training.start_training, "training.start", 202, errors=(409,)
    ),
    Endpoint("GET", "/training/jobs", VIEW, training.training_jobs, "training.jobs", errors=(404,)),
    Endpoint(
        "POST",
        "/training/jobs/{job_id}/cancel",
        OPER,
        training.cancel_job,
        "training.cancel",
        errors=(404, 409),
    ),
    Endpoint("GET", "/cache/status", VIEW, cache.cache_status, "cache.status"),
    Endpoint("POST", "/cache/refresh", OPER, cache.cache_refresh, "cache.refresh", errors=SERVICE),
    Endpoint("GET", "/config", VIEW, config.get_config, "config.get"),
    Endpoint("GET", "/config/history", VIEW, config.config_history, "config.history"),
    Endpoint("POST", "/config/validate", OPER, config.validate_config, "config.validate"),
    Endpoint("POST", "/config/reload", OPER, config.reload_config, "config.reload", errors=SERVICE),
    Endpoint("PUT", "/config", ADMIN, config.put_config, "config.put", errors=SERVICE),
    Endpoint("POST", "/backtests", OPER, backtests.submit_backtest, "backtests.submit", 202, errors=(409,)),
    Endpoint("GET", "/backtests", VIEW, backtests.list_backtests, "backtests.list"),
    Endpoint("GET", "/backtests/{job_id}", VIEW, backtests.get_backtest, "backtests.get"),
    Endpoint(
        "GET",
        "/backtests/{job_id}/report",
        VIEW,
        backtests.backtest_report,
        "backtests.report",
        errors=(409,),
        html=True,
    ),
    Endpoint("POST", "/risk/kill-switch", OPER, risk.kill_switch, "risk.kill_switch", errors=SERVICE),
    Endpoint("POST", "/risk/rearm", OPER, risk.rearm, "risk.rearm", errors=SERVICE),
    Endpoint("POST", "/risk/state", OPER, riskctl.set_state, "risk.state", errors=SERVICE),
    Endpoint("POST", "/risk/locks", OPER, riskctl.add_lock, "risk.lock", errors=SERVICE),
    Endpoint("DELETE", "/risk/locks", OPER, riskctl.clear_locks, "risk.unlock", errors=SERVICE),
    Endpoint("POST", "/risk/overrides", OPER, riskctl.add_override, "risk.override", errors=SERVICE),
    Endpoint("GET", "/risk/status", VIEW, riskstatus.risk_status, "risk.status"),
    Endpoint("GET", "/orders", VIEW, trading.list_orders, "trading.orders", errors=(404,)),
    Endpoint("GET", "/positions", VIEW, trading.list_positions, "trading.positions", errors=(404,)),
    Endpoint("GET", "/trades", VIEW, trading.list_trades, "trading.trades", errors=(404,)),
    Endpoint("GET", "/trading/performance", VIEW, trading.performance, "trading.performance"),
    Endpoint("GET", "/system/health", VIEW, monitoring.system_health, "system.health"),
    Endpoint("GET", "/keys", ADMIN, auth.list_keys, "keys.list"),
    Endpoint("POST", "/keys", ADMIN, auth.create_key, "keys.create", 201),
    Endpoint("DELETE", "/keys/{key_id}", ADMIN, auth.revoke_key, "keys.revoke", errors=(409,)),
    Endpoint("GET", "/users", ADMIN, users.list_users, "users.list"),
    Endpoint("POST", "/users", ADMIN, users.create_user, "users.create", 201, errors=(409,)),
    Endpoint("DELETE", "/users/{username}", ADMIN, users.disable_user, "users.disable", errors=(409,)),
)

# routes that need no credentials (they check their own): kept out of ENDPOINTS, whose every route is guarded
PUBLIC: tuple[Endpoint, ...] = (
    Endpoint("POST", "/auth/login", VIEW, users.login, "auth.login"),  # role: the least a login grants
)

_TEXTS = {
    400: "malformed JSON, or input the stores refuse",
    401: "missing, wrong, revoked or expired credentials",
    403: "the key's role is too low for this route",
    404: "no such resource (pair, key, user, job)",
    409: "the resource is not in a state that allows this",
    413: "the request body is larger than the limit",
    422: "a missing, unknown or mistyped field",
    429: "too many calls for this key, or too many failed authentications: see Retry-After",
    502: "the service refused or failed the command",
    503: "the trading service is not running (or not answering)",
    504: "the service took the command but did not finish in time",
}


def _responses(e: Endpoint, public: bool = False) -> dict[int | str, dict[str, Any]]:
    """Every error status the route can answer, each with the one error shape (checked by schemathesis)."""
    codes = {400, 401, 422, 429, *e.errors} | (set() if public else {403})
    codes |= {413} if e.method in ("POST", "PUT", "PATCH", "DELETE") else set()
    codes |= {404} if "{" in e.path else set()
    if e.html:  # the page is HTML, its errors JSON: named explicitly (a model would be put under text/html)
        json = {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorResponse"}}}
        return {c: {"content": json, "description": _TEXTS.get(c, "error")} for c in sorted(codes)}
    return {c: {"model": ErrorResponse, "description": _TEXTS.get(c, "error")} for c in sorted(codes)}


def build_router() -> APIRouter:
    router = APIRouter(prefix=PREFIX)
    for e in ENDPOINTS:
        router.add_api_route(
            e.path, e.handler, methods=[e.method], name=e.name, status_code=e.status,
            dependencies=[Depends(require(e.role))], tags=[e.name.split(".")[0]],
            summary=f"{(e.handler.__doc__ or e.name).splitlines()[0]} [{e.role.value}]",
            openapi_extra={"x-required-role": e.role.value}, responses=_responses(e),
            response_class=HTMLResponse if e.html else JSONResponse,
        )  # fmt: skip
    for e in PUBLIC:
        router.add_api_route(
            e.path, e.handler, methods=[e.method], name=e.name, status_code=e.status, tags=[e.name.split(".")[0]],
            summary=f"{(e.handler.__doc__ or e.name).splitlines()[0]} [public]",
            openapi_extra={"x-required-role": "none"}, responses=_responses(e, public=True),
        )  # fmt: skip
    return router
