"""What every route needs, built once per app: the database, the trader, the key and token stores, the rate
limiter, the command queue and the pair registry."""

from __future__ import annotations

from dataclasses import dataclass, field

from fastapi import Request
from sqlalchemy import Engine

from traderbot.api.commands import CommandQueue
from traderbot.api.keys import CredentialError, KeyStore, check_usable
from traderbot.api.ratelimit import RateLimiter
from traderbot.api.role import Role
from traderbot.api.settings import ApiSettings
from traderbot.api.tokens import PREFIX as TOKEN_PREFIX
from traderbot.api.tokens import TokenSigner
from traderbot.pairs import PairRegistry


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: the key (directly, or through a token issued for it) and its role."""

    key_id: int
    name: str
    role: Role
    via: str  # "key" or "token"


@dataclass
class ApiContext:
    engine: Engine
    trader_id: str
    settings: ApiSettings
    keys: KeyStore = field(init=False)
    tokens: TokenSigner = field(init=False)
    limiter: RateLimiter = field(init=False)
    commands: CommandQueue = field(init=False)
    registry: PairRegistry = field(init=False)

    def __post_init__(self) -> None:
        self.keys = KeyStore(self.engine, self.trader_id)
        self.tokens = TokenSigner(self.engine, self.trader_id)
        self.limiter = RateLimiter(self.settings.rate_per_s, self.settings.burst)
        self.commands = CommandQueue(self.engine, self.trader_id)
        # no trading guard here: the API never starts a pair trading itself; the service's registry guards
        self.registry = PairRegistry(self.engine, self.trader_id)

    def authenticate(self, presented: str) -> Principal:
        """The caller behind an API key or a token; CredentialError says why not."""
        if presented.startswith(TOKEN_PREFIX):
            claims = self.tokens.verify(presented)
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
