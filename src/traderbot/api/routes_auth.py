"""/api/v1/auth (tokens, who am I) and /api/v1/keys (admin: create, list, revoke API keys)."""

from __future__ import annotations

from typing import Any

from fastapi import Depends, Path, Request

from traderbot.api.context import ApiContext, Principal, api_context
from traderbot.api.errors import ApiError
from traderbot.api.roles import Caller
from traderbot.api.schemas import CreateKey, TokenRequest
from traderbot.api.views import iso, key_json

Ctx = Depends(api_context)


def issue_token(request: Request, body: TokenRequest | None = None, ctx: ApiContext = Ctx,
                who: Principal = Caller) -> dict[str, Any]:  # fmt: skip
    """Exchange an API key for a short-lived bearer token (default 15 min) carrying the key's role."""
    if who.via != "key" or who.key_id is None:
        raise ApiError(403, "a token cannot be exchanged for another token: send the API key itself "
                            "(X-API-Key) to POST /api/v1/auth/token")  # fmt: skip
    limit = ctx.settings.token_ttl_s
    ttl = min(limit, body.ttl_s) if body is not None and body.ttl_s is not None else limit
    token = ctx.tokens.issue(who.key_id, who.role, ttl)
    claims = ctx.tokens.verify(token)
    request.state.outcome = f"token issued for key {who.key_id}, {ttl} s"
    return {"token": token, "token_type": "bearer", "role": who.role.value, "expires_in": ttl,
            "expires_at": iso(claims.expires_s * 10**9)}  # fmt: skip


def whoami(who: Principal = Caller) -> dict[str, Any]:
    """The key (or logged-in user) behind this call, its role, and whether it came as the key or a token."""
    body: dict[str, Any] = {"key_id": who.key_id, "name": who.name, "role": who.role.value, "via": who.via}
    if who.user_id is not None:
        body["username"] = who.name.removeprefix("user:")
    return body


def list_keys(ctx: ApiContext = Ctx) -> dict[str, Any]:
    """Every API key of this trader (never a secret), revoked ones included."""
    return {"keys": [key_json(k) for k in ctx.keys.list()]}


def create_key(body: CreateKey, request: Request, ctx: ApiContext = Ctx) -> dict[str, Any]:
    """A new API key; its plaintext is in this answer only and is never stored."""
    key, plaintext = ctx.keys.create(body.role, body.name)
    request.state.outcome = f"created key {key.id} ({key.name}, {key.role.value})"
    return {**key_json(key), "key": plaintext}


def revoke_key(
    request: Request, key_id: int = Path(ge=1, le=2**31 - 1), ctx: ApiContext = Ctx
) -> dict[str, Any]:
    """Revoke an API key: it and every token issued for it stop working at once."""
    existing = ctx.keys.get(key_id)
    if existing is None:
        raise ApiError(404, f"no API key {key_id}: see GET /api/v1/keys")
    if existing.revoked:
        raise ApiError(409, f"API key {key_id} ({existing.name}) is already revoked")
    key = ctx.keys.revoke(key_id)
    ctx.forget_credentials()  # the key and its tokens stop working at once, not after auth_cache_s
    request.state.outcome = f"revoked key {key.id} ({key.name})"
    return key_json(key)
