"""What every route needs, built once per app: the database, the trader, the key and token stores, the rate
limiter, the command queue and the pair registry."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from fastapi import Request
from sqlalchemy import Engine

from traderbot.api.authlimit import FailedAuthLimiter
from traderbot.api.commands import CommandQueue
from traderbot.api.keys import CredentialError, KeyStore, check_usable
from traderbot.api.pairs_view import PairsListing
from traderbot.api.ratelimit import RateLimiter
from traderbot.api.role import Role
from traderbot.api.settings import ApiSettings
from traderbot.api.tokens import PREFIX as TOKEN_PREFIX
from traderbot.api.tokens import TokenSigner
from traderbot.api.users import User, UserStore, check_enabled
from traderbot.pairs import PairRegistry

if TYPE_CHECKING:
    from traderbot.service.service import TradingService


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: the key (directly, or through a token issued for it) or the user (through the token of
    their login), and the role."""

    key_id: int | None  # None for a user
    name: str  # the key's name, or "user:<username>"
    role: Role
    via: str  # "key" or "token"
    user_id: int | None = None

    @property
    def subject(self) -> str:
        """What the per-caller rate limit counts: the key, or the user."""
        return f"user:{self.user_id}" if self.user_id is not None else f"key:{self.key_id}"

    @property
    def label(self) -> str:
        """How messages name the caller, e.g. `API key 3 (desk)` or `user alice`."""
        if self.user_id is not None:
            return f"user {self.name.removeprefix('user:')}"
        return f"API key {self.key_id} ({self.name})"


@dataclass
class ApiContext:
    engine: Engine
    trader_id: str
    settings: ApiSettings
    # the service this API is served by (`traderbot run`), for live reads and streams on its loop; None when
    # served on its own (`traderbot api`): then everything comes from the database. Never written through.
    service: TradingService | None = None
    keys: KeyStore = field(init=False)
    tokens: TokenSigner = field(init=False)
    users: UserStore = field(init=False)
    auth_failures: FailedAuthLimiter = field(init=False)
    limiter: RateLimiter = field(init=False)
    commands: CommandQueue = field(init=False)
    registry: PairRegistry = field(init=False)
    pairs_listing: PairsListing = field(init=False)

    def __post_init__(self) -> None:
        self._recent: dict[str, tuple[Principal, float]] = {}  # credential -> (caller, remembered until)
        self.keys = KeyStore(self.engine, self.trader_id)
        self.tokens = TokenSigner(self.engine, self.trader_id)
        self.users = UserStore(self.engine, self.trader_id)
        s = self.settings
        self.auth_failures = FailedAuthLimiter(s.failed_auth_limit, s.failed_auth_window_s)
        self.limiter = RateLimiter(self.settings.rate_per_s, self.settings.burst)
        self.commands = CommandQueue(self.engine, self.trader_id)
        # no trading guard here: PUT /pairs/{pair}/start uses the CLI's guard (routes_pairs._guarded); the service's
        # registry guards its own moves
        self.registry = PairRegistry(self.engine, self.trader_id)
        self.pairs_listing = PairsListing(self.engine, self.trader_id, self.registry)

    def authenticate(self, presented: str) -> Principal:
        """The caller behind an API key or a token; CredentialError says why not.

        A credential found good is remembered for `auth_cache_s` (1 s by default), so a dashboard or a script
        polling many times a second costs one database read a second, not one a call. Revoking a key or
        disabling a user through this API forgets every remembered credential at once; a change made by
        another process (`traderbot keys revoke`) takes effect within `auth_cache_s`."""
        now = time.monotonic()
        hit = self._recent.get(presented)
        if hit is not None and hit[1] > now:
            return hit[0]
        who = self._authenticate(presented)
        if self.settings.auth_cache_s > 0:
            if len(self._recent) >= 10_000:  # bounded: many distinct credentials only cost a reread
                self._recent.clear()
            self._recent[presented] = (who, now + self.settings.auth_cache_s)
        return who

    def forget_credentials(self) -> None:
        """Drop remembered credentials (after a key is revoked or a user disabled or given a new password)."""
        self._recent.clear()

    def _authenticate(self, presented: str) -> Principal:
        if presented.startswith(TOKEN_PREFIX):
            seen: list[User] = []  # the user record read to check the signature, reused below

            def epoch(user_id: int) -> str | None:
                seen.extend(u for u in [self.users.get(user_id)] if u is not None)
                return str(seen[0].password_changed_ns) if seen else None

            claims = self.tokens.verify(presented, user_epoch=epoch)
            if claims.user_id is not None:
                user = seen[0]  # a valid signature means the user's record was found
                check_enabled(user)
                return Principal(None, f"user:{user.username}", user.role, "token", user.id)
            assert claims.key_id is not None
            key = self.keys.get(claims.key_id)
            if key is None:
                raise CredentialError("the token names an API key that does not exist: ask for a new token")
            check_usable(key)
            return Principal(key.id, key.name, key.role, "token")
        key = self.keys.verify(presented)
        return Principal(key.id, key.name, key.role, "key")


def api_context(request: Request) -> ApiContext:
    ctx: ApiContext = request.app.state.api
    return ctx
