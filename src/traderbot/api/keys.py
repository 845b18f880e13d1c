"""API keys: `tb_<id>_<secret>` with a 32-byte random secret. Only the SHA-256 of the secret is stored (a fast
hash is enough for a high-entropy secret; nothing to brute-force), compared in constant time; keys are
revoked, never deleted, so the audit log keeps naming them."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, Row, insert, select, update
from sqlalchemy.exc import IntegrityError

from traderbot.api.role import Role, parse_role
from traderbot.errors import UserError
from traderbot.store.api_models import ApiKeyRecord as K
from traderbot.store.api_models import ApiSecretRecord as S

PREFIX = "tb_"
TOUCH_EVERY_NS = 60 * 10**9  # last_used_at is written at most once a minute per key
_DUMMY_HASH = hashlib.sha256(b"no such key").hexdigest()


class CredentialError(Exception):
    """A key or token that does not authenticate; the message names the problem and the fix."""


class WrongCredential(CredentialError):
    """A credential that matches nothing (malformed, wrong secret, forged): what a guesser sends, so the
    failed-auth limiter counts these; expired or revoked credentials are not counted."""


@dataclass(frozen=True, slots=True)
class ApiKey:
    """A stored key as anyone may see it: never the secret, nor its hash."""

    id: int
    name: str
    role: Role
    created_ns: int
    revoked_ns: int | None
    last_used_ns: int | None

    @property
    def revoked(self) -> bool:
        return self.revoked_ns is not None


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _key(r: Row[Any]) -> ApiKey:
    return ApiKey(r.id, r.name, Role(r.role), r.created, r.revoked_at, r.last_used_at)


def when(ts_ns: int | None) -> str:
    return "never" if ts_ns is None else time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(ts_ns / 1e9))


class KeyStore:
    """Create, verify, list and revoke the API keys of one trader."""

    def __init__(self, engine: Engine, trader_id: str = "TB") -> None:
        self.engine, self.trader_id = engine, trader_id
        self._touched: dict[int, int] = {}
        self._lock = threading.Lock()

    def create(self, role: Role | str, name: str = "") -> tuple[ApiKey, str]:
        """A new key; returns it with its plaintext, which is shown once and never stored."""
        role = role if isinstance(role, Role) else parse_role(role)
        name = name.strip() or f"{role.value}-key"
        if len(name) > 64:
            raise UserError(f"key name {name[:20]!r}... is too long: use at most 64 characters")
        secret = secrets.token_urlsafe(32)
        values = dict(trader_id=self.trader_id, name=name, role=role.value, key_hash=_hash(secret),
                      created=time.time_ns())  # fmt: skip
        with self.engine.begin() as conn:
            key_id = conn.execute(insert(K).values(values)).inserted_primary_key[0]  # type: ignore[index]
        stored = self.get(int(key_id))
        assert stored is not None
        return stored, f"{PREFIX}{key_id}_{secret}"

    def get(self, key_id: int) -> ApiKey | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(K).where(K.id == key_id, K.trader_id == self.trader_id)).first()
        return None if row is None else _key(row)

    def list(self) -> list[ApiKey]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(K).where(K.trader_id == self.trader_id).order_by(K.id)).all()
        return [_key(r) for r in rows]

    def verify(self, presented: str) -> ApiKey:
        """The key `presented` names, if its secret matches and it is not revoked; else CredentialError."""
        key_id, secret = _split(presented)
        with self.engine.connect() as conn:  # one query: the hash and the key's record
            row = conn.execute(select(K).where(K.id == key_id, K.trader_id == self.trader_id)).first()
        stored = _DUMMY_HASH if row is None else row.key_hash
        if not hmac.compare_digest(stored, _hash(secret)) or row is None:
            raise WrongCredential(
                "the API key is not valid: check that it was copied whole, or create one with "
                "`traderbot keys create --role viewer`"
            )
        key = _key(row)
        check_usable(key)
        self.touch(key.id)
        return key

    def touch(self, key_id: int) -> None:
        """Record the key's use (at most once a minute, so reads do not write on every call)."""
        now = time.time_ns()
        with self._lock:
            if now - self._touched.get(key_id, 0) < TOUCH_EVERY_NS:
                return
            self._touched[key_id] = now
        with self.engine.begin() as conn:
            conn.execute(update(K).where(K.id == key_id).values(last_used_at=now))

    def revoke(self, key_id: int) -> ApiKey:
        """Revoke a key (and every token issued for it) at once; revoking twice is refused."""
        key = self.get(key_id)
        if key is None:
            raise UserError(f"no API key {key_id}: see `traderbot keys list`")
        if key.revoked:
            raise UserError(f"API key {key_id} ({key.name}) was already revoked on {when(key.revoked_ns)}")
        with self.engine.begin() as conn:
            conn.execute(
                update(K).where(K.id == key_id, K.revoked_at.is_(None)).values(revoked_at=time.time_ns())
            )
        revoked = self.get(key_id)
        assert revoked is not None
        return revoked


def check_usable(key: ApiKey) -> None:
    if key.revoked:
        raise CredentialError(
            f"API key {key.id} ({key.name}) was revoked on {when(key.revoked_ns)}: "
            "ask an admin for a new one (`traderbot keys create`)"
        )


def _split(presented: str) -> tuple[int, str]:
    head, _, secret = presented.strip().removeprefix(PREFIX).partition("_")
    if (
        not presented.strip().startswith(PREFIX)
        or not (head.isascii() and head.isdigit() and len(head) <= 9)
        or not secret
    ):
        raise WrongCredential(
            "the API key is malformed (expected tb_<id>_<secret>): copy the whole key printed by "
            "`traderbot keys create`"
        )
    return int(head), secret


def ensure_admin_key(engine: Engine, trader_id: str = "TB") -> str | None:
    """First start: create an admin key and return its plaintext (print it once), only when this trader has no
    key at all and none was ever bootstrapped. Two processes starting together create at most one."""
    store = KeyStore(engine, trader_id)
    if store.list():
        return None
    try:
        with engine.begin() as conn:
            conn.execute(insert(S).values(trader_id=trader_id, name="bootstrap", value="admin key created",
                                          created=time.time_ns()))  # fmt: skip
    except IntegrityError:
        return None
    return store.create(Role.ADMIN, "admin (first start)")[1]
