"""Who may call what: `require(role)` is the dependency every /api/v1 route carries (see router.py's table).

Credentials come as `X-API-Key: <key>` or `Authorization: Bearer <key or token>`. A missing, wrong, revoked or
expired credential is a 401; a valid one with too low a role a 403; too many calls a 429. Each answer says
what is wrong and how to fix it."""

from __future__ import annotations

import math
from collections.abc import Callable

from fastapi import Depends, Request, Security
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from traderbot.api.audit import claimed_key_id
from traderbot.api.context import Principal, api_context
from traderbot.api.errors import ApiError
from traderbot.api.keys import CredentialError
from traderbot.api.role import Role

_api_key = APIKeyHeader(name="X-API-Key", auto_error=False, description="An API key (tb_<id>_<secret>).")
_bearer = HTTPBearer(auto_error=False, description="An API key or a token from POST /api/v1/auth/token.")
_CHALLENGE = {"WWW-Authenticate": "Bearer"}


def _a(role: Role) -> str:
    return f"{'an' if role.value[0] in 'aeiou' else 'a'} {role.value}"


def require(needed: Role) -> Callable[..., Principal]:
    """The dependency that admits callers with at least `needed` and stores them in request.state.principal."""

    def dependency(
        request: Request,
        api_key: str | None = Security(_api_key),
        bearer: HTTPAuthorizationCredentials | None = Security(_bearer),
    ) -> Principal:
        ctx = api_context(request)
        presented = (api_key or (bearer.credentials if bearer else "") or "").strip()
        if not presented:
            raise ApiError(401, "no credentials: send your API key in the X-API-Key header, or "
                                "`Authorization: Bearer <key or token>` (an admin creates keys with "
                                "`traderbot keys create`)", headers=_CHALLENGE)  # fmt: skip
        request.state.claimed_key_id = claimed_key_id(presented)
        try:
            who = ctx.authenticate(presented)
        except CredentialError as exc:
            raise ApiError(401, str(exc), headers=_CHALLENGE) from None
        request.state.principal = who
        wait = ctx.limiter.take(str(who.key_id))
        if wait > 0:
            s = ctx.settings
            raise ApiError(429, f"API key {who.key_id} ({who.name}) made more than {s.rate_per_s:g} calls a second "
                                f"(burst {s.burst}): retry in {wait:.2f} s",
                           headers={"Retry-After": str(max(1, math.ceil(wait)))})  # fmt: skip
        if not who.role.allows(needed):
            fix = f"use a key with that role (an admin creates one with `traderbot keys create --role {needed.value}`)"
            raise ApiError(403, f"{request.method} {request.url.path} needs the {needed.value} role but API key "
                                f"{who.key_id} ({who.name}) is {_a(who.role)}: {fix}")  # fmt: skip
        return who

    dependency.required_role = needed  # type: ignore[attr-defined]
    return dependency


def principal(request: Request) -> Principal:
    """The caller `require` admitted (route dependencies run before the endpoint's own)."""
    who: Principal = request.state.principal
    return who


Caller = Depends(principal)
