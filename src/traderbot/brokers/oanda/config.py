"""OANDA v20 settings: environment (practice or live), account, token and the client's limits.

The token is a `Secret`, so `repr(config)` and logs never show it. Hosts come from the environment unless
`rest_url` / `stream_url` override them (tests point them at a local fake).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from traderbot.brokers.credentials import Secret, credential

HOSTS = {
    "practice": ("https://api-fxpractice.oanda.com", "https://stream-fxpractice.oanda.com"),
    "live": ("https://api-fxtrade.oanda.com", "https://stream-fxtrade.oanda.com"),
}
TOKEN_ENV = "OANDA_API_TOKEN"
ACCOUNT_ENV = "OANDA_ACCOUNT_ID"
ENVIRONMENT_ENV = "OANDA_ENVIRONMENT"
PRICE_COMPONENTS = ("M", "B", "A")


@dataclass(frozen=True, slots=True)
class OandaConfig:
    """How to reach one OANDA v20 account. Durations are in seconds.

    `symbol_map` maps our instrument ids to OANDA names where the default rule (quote = the last three
    letters: "EURUSD" -> "EUR_USD", "XAUUSD" -> "XAU_USD") does not fit, e.g. {"USA500IDXUSD": "SPX500_USD"}.
    """

    account_id: str
    token: Secret
    environment: str = "practice"
    rest_url: str | None = None
    stream_url: str | None = None
    timeout: float = 10.0  # per REST request; an order POST without an answer in time is outcome-unknown
    stall_timeout: float = 10.0  # no stream line (OANDA heartbeats every 5 s) for this long: reconnect
    price_component: str = "M"  # candles: M (mid), B (bid) or A (ask)
    symbol_map: Mapping[str, str] = field(default_factory=dict)
    daily_alignment: int | None = None  # D1 candles: hour of the day they start (OANDA default 17)
    alignment_timezone: str | None = None  # ... in this timezone (OANDA default America/New_York)
    requests_per_second: float = 100.0  # OANDA: at most 100 requests per second per connection
    stream_connects_per_second: float = 2.0  # OANDA: at most 2 new connections per second
    get_retries: int = 3  # GETs retried after 5xx, timeouts and dropped connections
    retry_backoff: float = 0.25  # first wait between GET retries, doubled each time
    rate_limit_retries: int = 3  # requests retried after a 429 (they were not executed)
    max_retry_after: float = 30.0  # a 429 asking to wait longer raises BrokerRateLimited instead
    reconnect_backoff: float = 0.5  # first wait before a stream reconnect, doubled while they fail
    max_reconnect_backoff: float = 30.0
    max_reconnects: int = 20  # consecutive stream reconnects without a line before BrokerUnavailable

    def __post_init__(self) -> None:
        if self.environment not in HOSTS:
            raise ValueError(f"OANDA environment {self.environment!r} is unknown: use 'practice' or 'live'")
        if not self.account_id.strip():
            raise ValueError(
                f"OANDA account id is empty: set {ACCOUNT_ENV} to an id like 101-004-1234567-001"
            )
        if self.price_component not in PRICE_COMPONENTS:
            raise ValueError(
                f"OANDA candle price component {self.price_component!r} is unknown: use M (mid), B (bid) or A (ask)"
            )
        for name in ("timeout", "stall_timeout", "requests_per_second", "stream_connects_per_second"):
            if getattr(self, name) <= 0:
                raise ValueError(f"OANDA setting {name} must be positive, got {getattr(self, name)!r}")
        for name in ("get_retries", "rate_limit_retries", "max_reconnects"):
            if getattr(self, name) < 0:
                raise ValueError(f"OANDA setting {name} must not be negative, got {getattr(self, name)!r}")

    @property
    def rest_base(self) -> str:
        return (self.rest_url or HOSTS[self.environment][0]).rstrip("/")

    @property
    def stream_base(self) -> str:
        return (self.stream_url or HOSTS[self.environment][1]).rstrip("/")

    @classmethod
    def from_env(
        cls,
        *,
        env: Mapping[str, str] | None = None,
        secrets_file: str | Path | None = None,
        **overrides: Any,
    ) -> OandaConfig:
        """Token and account from OANDA_API_TOKEN / OANDA_ACCOUNT_ID (environment or secrets file).

        A missing one raises MissingCredential naming it. OANDA_ENVIRONMENT (practice or live) is optional,
        practice by default; keyword overrides win over everything.
        """
        source = os.environ if env is None else env
        token = credential(TOKEN_ENV, env=source, secrets_file=secrets_file)
        account = credential(ACCOUNT_ENV, env=source, secrets_file=secrets_file)
        assert token is not None and account is not None  # required=True raises instead of returning None
        settings: dict[str, Any] = {"environment": source.get(ENVIRONMENT_ENV) or "practice"}
        settings.update(overrides)
        return cls(account_id=account.reveal(), token=token, **settings)
