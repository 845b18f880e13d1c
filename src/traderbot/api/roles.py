"""Who may call what: `require(role)` is the dependency every /api/v1 route carries (see router.py's table).

Credentials come as `X-API-Key: <key>` or `Authorization: Bearer <key or token>`. A missing, wrong, revoked or
expired credential is a 401; a valid one with too low a role a 403; too many calls a 429. Each answer says
what is wrong and how to fix it."""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable

from fastapi import Depends, Request, Security
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from traderbot.api.audit import claimed_key_id
from traderbot.api.context import Principal, api_context
from traderbot.api.errors import ApiError
from traderbot.api.failedauth import address_subject, locked_error, record_failure
from traderbot.api.keys import CredentialError, WrongCredential
from traderbot.api.role import Role

_api_key = APIKeyHeader(name="X-API-Key", auto_error=False, description="An API key (tb_<id>_<secret>).")
_bearer = HTTPBearer(
    auto_error=False, description="An API key, or a token from POST /api/v1/auth/token or /auth/login."
)
_CHALLENGE = {"WWW-Authenticate": "Bearer"}


def _a(role: Role) -> str:
    return f"{'an' if role.value[0] in 'aeiou' else 'a'} {role.value}"


def require(needed: Role) -> Callable[..., Awaitable[Principal]]:
    """The dependency that admits callers with at least `needed` and stores them in request.state.principal."""

    async def dependency(  # async: runs on the loop, no thread hop per call (credentials are remembered)
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
            if isinstance(exc, WrongCredential):  # a guess: a locked address gets a 429 (failedauth.py)
                subjects = (address_subject(request),)
                locked = locked_error(ctx, subjects)
                record_failure(ctx, request, subjects)
                if locked is not None:
                    raise locked from None
            raise ApiError(401, str(exc), headers=_CHALLENGE) from None
        request.state.principal = who
        wait = ctx.limiter.take(who.subject)
        if wait > 0:
            s = ctx.settings
            raise ApiError(429, f"{who.label} made more than {s.rate_per_s:g} calls a second "
                                f"(burst {s.burst}): retry in {wait:.2f} s",
                           headers={"Retry-After": str(max(1, math.ceil(wait)))})  # fmt: skip
        if not who.role.allows(needed):
            fix = f"use a key with that role (an admin creates one with `traderbot keys create --role {needed.value}`)"
            if who.user_id is not None:
                fix = (f"log in as a user with that role (an admin creates one with `traderbot users create NAME "
                       f"--role {needed.value}`)")  # fmt: skip
            raise ApiError(403, f"{request.method} {request.url.path} needs the {needed.value} role but "
                                f"{who.label} is {_a(who.role)}: {fix}")  # fmt: skip
        return who

    dependency.required_role = needed  # type: ignore[attr-defined]
    return dependency


def principal(request: Request) -> Principal:
    """The caller `require` admitted (route dependencies run before the endpoint's own)."""
    who: Principal = request.state.principal
    return who


Caller = Depends(principal)
