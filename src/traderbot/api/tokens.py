"""Short-lived bearer tokens: `tbt.<key id>.<role>.<expiry>.<signature>`, the signature an HMAC-SHA256 over
the trader, key id, role and expiry with a secret created once per trader and kept in the database (so every
API process of the trader accepts the tokens of the others). A token dies with its key: revoking the key
refuses its tokens too (roles.py checks the key on every call).

A user's token (POST /api/v1/auth/login) is `tbt.u<user id>.<role>.<expiry>.<signature>`; its signature also
covers the user's `epoch` (when their password last changed), so a new password ends every older token."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import Engine, insert, select
from sqlalchemy.exc import IntegrityError

from traderbot.api.keys import CredentialError, WrongCredential, when
from traderbot.api.role import Role
from traderbot.store.api_models import ApiSecretRecord as S

PREFIX = "tbt."
SECRET_NAME = "token_signing"
DEFAULT_TTL_S = 15 * 60


KEY_FIX = "ask for a new one with POST /api/v1/auth/token (your API key in X-API-Key)"
USER_FIX = "log in again with POST /api/v1/auth/login"


@dataclass(frozen=True, slots=True)
class TokenClaims:
    key_id: int | None  # the API key it was issued for; None for a user's token
    role: Role
    expires_s: int  # unix seconds
    user_id: int | None = None  # the user it was issued to at login


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

    def issue_user(self, user_id: int, role: Role, ttl_s: int, *, epoch: str,
                   now_s: float | None = None) -> str:  # fmt: skip
        """A token for a logged-in user, bound to `epoch` (UserStore: when the password last changed)."""
        expires = int((time.time() if now_s is None else now_s) + ttl_s)
        body = f"u{user_id}.{role.value}.{expires}"
        return f"{PREFIX}{body}.{self._sign(body, epoch)}"

    def verify(self, token: str, *, now_s: float | None = None,
               user_epoch: Callable[[int], str | None] | None = None) -> TokenClaims:  # fmt: skip
        """The claims of a genuine, unexpired token; else CredentialError naming which. `user_epoch(user id)`:
        the epoch a user's token must be bound to (None: no such user); without it user tokens are refused."""
        parts = token.strip().removeprefix(PREFIX).split(".")
        fix = USER_FIX if parts[0].startswith("u") else KEY_FIX
        if not token.strip().startswith(PREFIX) or len(parts) != 4:
            raise WrongCredential(f"the token is malformed: {fix}")
        kid, role, expires, signature = parts
        user = kid.startswith("u")
        number = kid.removeprefix("u")
        well_formed = f"{number}{expires}".isascii() and number.isdigit() and len(number) <= 9
        epoch = ""
        if user:
            found = None if user_epoch is None or not well_formed else user_epoch(int(number))
            epoch = "\x00none" if found is None else found  # no such user: a signature that never matches
        expected = self._sign(f"{kid}.{role}.{expires}", epoch)
        if not hmac.compare_digest(expected.encode(), signature.encode(errors="replace")):
            raise WrongCredential(f"the token is not valid (its signature does not match): {fix}")
        if not (well_formed and expires.isdigit()) or role not in {r.value for r in Role}:
            raise WrongCredential(f"the token is malformed: {fix}")
        if (time.time() if now_s is None else now_s) >= int(expires):
            raise CredentialError(f"the token expired at {when(int(expires) * 10**9)}: {fix}")
        if user:
            return TokenClaims(None, Role(role), int(expires), int(number))
        return TokenClaims(int(number), Role(role), int(expires))

    def _sign(self, body: str, epoch: str = "") -> str:
        bound = f"|{epoch}" if epoch else ""  # key tokens: exactly the signature they always had
        mac = hmac.new(self._key(), f"{self.trader_id}|{body}{bound}".encode(), hashlib.sha256)
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
