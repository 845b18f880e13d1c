"""/api/v1/auth/login (public: a username and password for a short-lived token carrying the user's role) and
/api/v1/users (admin: list, create, disable users)."""

from __future__ import annotations

import time
from typing import Any

from fastapi import Depends, Path, Request

from traderbot.api.context import ApiContext, Principal, api_context
from traderbot.api.errors import ApiError
from traderbot.api.failedauth import address_subject, locked_error, record_failure, username_subject
from traderbot.api.keys import CredentialError
from traderbot.api.schemas import NO_NUL, CreateUser, Login
from traderbot.api.users import BadPassword
from traderbot.api.views import iso, user_json

Ctx = Depends(api_context)
Username = Path(min_length=1, max_length=64, pattern=NO_NUL, description="A username, e.g. alice.")
_CHALLENGE = {"WWW-Authenticate": "Bearer"}


def login(body: Login, request: Request, ctx: ApiContext = Ctx) -> dict[str, Any]:
    """Log in with a username and password: a short-lived bearer token carrying the user's role. Needs no
    credentials; repeated failures from one address or against one username get a 429 for a while."""
    subjects = (address_subject(request), username_subject(body.username))
    locked = locked_error(ctx, subjects)
    if locked is not None:  # refused before the password is checked: a locked guesser learns nothing
        request.state.outcome = f"login of {body.username!r} refused: {locked.message}"
        raise locked
    try:
        user = ctx.users.verify(body.username, body.password)
    except CredentialError as exc:
        if isinstance(exc, BadPassword):
            record_failure(ctx, request, subjects)
        request.state.outcome = f"failed login of {body.username!r}: {exc}"
        raise ApiError(401, str(exc), headers=_CHALLENGE) from None
    ctx.auth_failures.clear(username_subject(user.username))
    ttl = ctx.settings.token_ttl_s
    now = time.time()
    token = ctx.tokens.issue_user(user.id, user.role, ttl, epoch=str(user.password_changed_ns), now_s=now)
    request.state.principal = Principal(None, f"user:{user.username}", user.role, "token", user.id)
    request.state.outcome = f"user {user.username} logged in ({user.role.value}), token for {ttl} s"
    return {"token": token, "token_type": "bearer", "role": user.role.value, "username": user.username,
            "expires": iso(int(now + ttl) * 10**9), "expires_in": ttl}  # fmt: skip


def list_users(ctx: ApiContext = Ctx) -> dict[str, Any]:
    """Every user of this trader (never a password hash), disabled ones included."""
    return {"users": [user_json(u) for u in ctx.users.list()]}


def create_user(body: CreateUser, request: Request, ctx: ApiContext = Ctx) -> dict[str, Any]:
    """A new user who logs in with this password (POST /api/v1/auth/login)."""
    if ctx.users.find(body.username) is not None:
        raise ApiError(409, f"user {body.username!r} already exists: pick another username")
    user = ctx.users.create(body.username, body.role, body.password)
    request.state.outcome = f"created user {user.username} ({user.role.value})"
    return user_json(user)


def disable_user(request: Request, username: str = Username, ctx: ApiContext = Ctx) -> dict[str, Any]:
    """Disable a user: their logins and every token they hold stop working at once (never deleted)."""
    existing = ctx.users.find(username)
    if existing is None:
        raise ApiError(404, f"no user {username!r}: see GET /api/v1/users")
    if existing.disabled:
        raise ApiError(409, f"user {username!r} is already disabled")
    user = ctx.users.disable(username)
    ctx.forget_credentials()  # the user's tokens stop working at once, not after auth_cache_s
    request.state.outcome = f"disabled user {user.username}"
    return user_json(user)
