"""The /api/v1 routes and the role each one needs: this table is the one place a route's role is declared
(tests enumerate it to prove every boundary)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Depends

from traderbot.api import routes_auth as auth
from traderbot.api import routes_pairs as pairs
from traderbot.api import routes_risk as risk
from traderbot.api.errors import error_body
from traderbot.api.role import Role
from traderbot.api.roles import require

PREFIX = "/api/v1"
VIEW, OPER, ADMIN = Role.VIEWER, Role.OPERATOR, Role.ADMIN


@dataclass(frozen=True, slots=True)
class Endpoint:
    method: str
    path: str  # under PREFIX
    role: Role
    handler: Callable[..., Any]
    name: str
    status: int = 200


ENDPOINTS: tuple[Endpoint, ...] = (
    Endpoint("POST", "/auth/token", VIEW, auth.issue_token, "auth.token"),
    Endpoint("GET", "/auth/whoami", VIEW, auth.whoami, "auth.whoami"),
    Endpoint("GET", "/pairs", VIEW, pairs.list_pairs, "pairs.list"),
    Endpoint("POST", "/pairs", OPER, pairs.add_pair, "pairs.add", 201),
    Endpoint("GET", "/pairs/{pair}/status", VIEW, pairs.pair_status, "pairs.status"),
    Endpoint("GET", "/pairs/{pair}/history", VIEW, pairs.pair_history, "pairs.history"),
    Endpoint("DELETE", "/pairs/{pair}", OPER, pairs.remove_pair, "pairs.remove"),
    Endpoint("PUT", "/pairs/{pair}/enable", OPER, pairs.enable_pair, "pairs.enable"),
    Endpoint("PUT", "/pairs/{pair}/disable", OPER, pairs.disable_pair, "pairs.disable"),
    Endpoint("POST", "/risk/kill-switch", OPER, risk.kill_switch, "risk.kill_switch"),
    Endpoint("POST", "/risk/rearm", OPER, risk.rearm, "risk.rearm"),
    Endpoint("GET", "/keys", ADMIN, auth.list_keys, "keys.list"),
    Endpoint("POST", "/keys", ADMIN, auth.create_key, "keys.create", 201),
    Endpoint("DELETE", "/keys/{key_id}", ADMIN, auth.revoke_key, "keys.revoke"),
)

_ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"description": text, "content": {"application/json": {"example": error_body(name, text)}}}
    for code, name, text in (
        (401, "unauthorized", "missing, wrong, revoked or expired credentials"),
        (403, "forbidden", "the key's role is too low for this route"),
        (429, "rate_limited", "too many calls for this key: see Retry-After"),
    )
}


def build_router() -> APIRouter:
    router = APIRouter(prefix=PREFIX)
    for e in ENDPOINTS:
        router.add_api_route(
            e.path, e.handler, methods=[e.method], name=e.name, status_code=e.status,
            dependencies=[Depends(require(e.role))], tags=[e.name.split(".")[0]],
            summary=f"{(e.handler.__doc__ or e.name).splitlines()[0]} [{e.role.value}]",
            openapi_extra={"x-required-role": e.role.value}, responses=_ERRORS,
        )  # fmt: skip
    return router
