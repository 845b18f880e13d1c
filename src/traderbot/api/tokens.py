"""Short-lived bearer tokens: `tbt.<key id>.<role>.<expiry>.<signature>`, the signature an HMAC-SHA256 over
the trader, key id, role and expiry with a secret created once per trader and kept in the database (so every
API process of the trader accepts the tokens of the others). A token dies with its key: revoking the key
refuses its tokens too (roles.py checks the key on every call)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import threading
import time
from dataclasses import dataclass

from sqlalchemy import Engine, insert, select
from sqlalchemy.exc import IntegrityError

from traderbot.api.keys import CredentialError, when
from traderbot.api.role import Role
from traderbot.store.api_models import ApiSecretRecord as S

PREFIX = "tbt."
SECRET_NAME = "token_signing"
DEFAULT_TTL_S = 15 * 60


@dataclass(frozen=True, slots=True)
class TokenClaims:
    key_id: int
    role: Role
    expires_s: int  # unix seconds


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


class TokenSigner:
    """Issues and verifies the tokens of one trader."""

    def __init__(self, engine: Engine, trader_id: str = "TB") -> None:
        self.engine, self.trader_id = engine, trader_id
        self._secret: bytes | None = None
        self._lock = threading.Lock()

    def issue(
        self, key_id: int, role: Role, ttl_s: int = DEFAULT_TTL_S, *, now_s: float | None = None
    ) -> str:
        expires = int((time.time() if now_s is None else now_s) + ttl_s)
        body = f"{key_id}.{role.value}.{expires}"
        return f"{PREFIX}{body}.{self._sign(body)}"

    def verify(self, token: str, *, now_s: float | None = None) -> TokenClaims:
        """The claims of a genuine, unexpired token; else CredentialError naming which."""
        parts = token.strip().removeprefix(PREFIX).split(".")
        fix = "ask for a new one with POST /api/v1/auth/token (your API key in X-API-Key)"
        if not token.strip().startswith(PREFIX) or len(parts) != 4:
            raise CredentialError(f"the token is malformed: {fix}")
        kid, role, expires, signature = parts
        if not hmac.compare_digest(self._sign(f"{kid}.{role}.{expires}"), signature):
            raise CredentialError(f"the token is not valid (its signature does not match): {fix}")
        if not (
            f"{kid}{expires}".isascii() and kid.isdigit() and len(kid) <= 9 and expires.isdigit()
        ) or role not in {r.value for r in Role}:
            raise CredentialError(f"the token is malformed: {fix}")
        if (time.time() if now_s is None else now_s) >= int(expires):
            raise CredentialError(f"the token expired at {when(int(expires) * 10**9)}: {fix}")
        return TokenClaims(int(kid), Role(role), int(expires))

    def _sign(self, body: str) -> str:
        mac = hmac.new(self._key(), f"{self.trader_id}|{body}".encode(), hashlib.sha256)
        return _b64(mac.digest())

    def _key(self) -> bytes:
        """The trader's signing secret: read once, created on first use (the first writer wins a race)."""
        with self._lock:
            if self._secret is None:
                self._secret = base64.urlsafe_b64decode(self._load_or_create() + "==")
            return self._secret

    def _load_or_create(self) -> str:
        q = select(S.value).where(S.trader_id == self.trader_id, S.name == SECRET_NAME)
        with self.engine.connect() as conn:
            value = conn.execute(q).scalar()
        if value is not None:
            return str(value)
        try:
            with self.engine.begin() as conn:
                conn.execute(insert(S).values(trader_id=self.trader_id, name=SECRET_NAME,
                                              value=_b64(secrets.token_bytes(32)), created=time.time_ns()))  # fmt: skip
        except IntegrityError:
            pass  # another process created it first: use theirs
        with self.engine.connect() as conn:
            return str(conn.execute(q).scalar_one())
