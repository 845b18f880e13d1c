"""The Alpaca adapter's settings: credentials (as `Secret`), paper or live, endpoints, timeouts, limits.

An invalid configuration cannot be constructed: every number is checked in `__post_init__`. The URLs default
to Alpaca's paper endpoints; tests point them at a local fake.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from traderbot.brokers.credentials import Secret, credential

KEY_ID_ENV = "APCA_API_KEY_ID"
SECRET_KEY_ENV = "APCA_API_SECRET_KEY"

PAPER_TRADING_URL = "https://paper-api.alpaca.markets"
LIVE_TRADING_URL = "https://api.alpaca.markets"
DATA_URL = "https://data.alpaca.markets"
PAPER_STREAM_URL = "wss://paper-api.alpaca.markets/stream"
LIVE_STREAM_URL = "wss://api.alpaca.markets/stream"
QUOTES_STREAM_URL = "wss://stream.data.alpaca.markets/v2"  # + "/<feed>"
FEEDS = ("iex", "sip", "delayed_sip", "boats", "overnight", "otc")


@dataclass(frozen=True, slots=True)
class AlpacaConfig:
    """How to reach one Alpaca account. `paper=True` unless live trading is asked for explicitly.

    `requests_per_minute` is Alpaca's documented limit (200 per account); the adapter's token bucket admits a
    quarter of it as a burst and refills the rest evenly, so no rolling minute can exceed it. GET requests are
    retried `max_retries` times on 5xx, timeouts and 429; order submissions and replacements never are.
    """

    key_id: Secret
    secret_key: Secret
    paper: bool = True
    trading_url: str | None = None  # default: the paper or live trading API
    data_url: str | None = None  # default: the market data API
    stream_url: str | None = None  # default: the paper or live trade-updates websocket
    quotes_url: str | None = None  # default: the market data websocket for `feed`
    feed: str = "iex"  # market data feed: "iex" is free, "sip" needs a subscription
    timeout: float = 10.0  # seconds per HTTP request (connect and read)
    max_retries: int = 3
    retry_backoff: float = 0.5  # first retry delay in seconds, doubled each time
    requests_per_minute: int = 200
    fractional: bool = False  # True: fractionable stocks get a lot size of 1e-9 shares
    stream_ping_interval: float = 10.0  # websocket pings detect a stalled stream (no heartbeats on Alpaca)
    stream_ping_timeout: float = 20.0
    stream_open_timeout: float = 10.0
    reconnect_min: float = 0.5  # reconnect backoff in seconds, doubled per failure up to reconnect_max
    reconnect_max: float = 30.0
    max_reconnects: int | None = None  # consecutive failures before BrokerUnavailable; None: keep trying

    def __post_init__(self) -> None:
        if not isinstance(self.key_id, Secret) or not isinstance(self.secret_key, Secret):
            raise TypeError("AlpacaConfig: key_id and secret_key must be Secret values (see credential())")
        positive = {
            "timeout": self.timeout,
            "requests_per_minute": self.requests_per_minute,
            "stream_ping_interval": self.stream_ping_interval,
            "stream_ping_timeout": self.stream_ping_timeout,
            "stream_open_timeout": self.stream_open_timeout,
            "reconnect_min": self.reconnect_min,
            "reconnect_max": self.reconnect_max,
        }
        for name, value in positive.items():
            if not value > 0:
                raise ValueError(f"AlpacaConfig: {name} must be positive, got {value}")
        if self.max_retries < 0 or self.retry_backoff < 0:
            raise ValueError("AlpacaConfig: max_retries and retry_backoff must not be negative")
        if self.max_reconnects is not None and self.max_reconnects < 1:
            raise ValueError("AlpacaConfig: max_reconnects must be at least 1 (or None to keep trying)")
        if self.feed not in FEEDS:
            raise ValueError(f"AlpacaConfig: unknown feed {self.feed!r}; use one of {', '.join(FEEDS)}")

    @classmethod
    def from_env(
        cls,
        env: Mapping[str, str] | None = None,
        *,
        secrets_file: str | Path | None = None,
        **overrides: Any,
    ) -> AlpacaConfig:
        """Credentials from APCA_API_KEY_ID / APCA_API_SECRET_KEY (environment or secrets file).

        A missing variable raises MissingCredential naming it; `overrides` set any other field.
        """
        key_id = credential(KEY_ID_ENV, env=env, secrets_file=secrets_file)
        secret_key = credential(SECRET_KEY_ENV, env=env, secrets_file=secrets_file)
        assert key_id is not None and secret_key is not None  # required=True raises instead of None
        return cls(key_id=key_id, secret_key=secret_key, **overrides)

    @property
    def trading_base(self) -> str:
        return (self.trading_url or (PAPER_TRADING_URL if self.paper else LIVE_TRADING_URL)).rstrip("/")

    @property
    def data_base(self) -> str:
        return (self.data_url or DATA_URL).rstrip("/")

    @property
    def stream_endpoint(self) -> str:
        return self.stream_url or (PAPER_STREAM_URL if self.paper else LIVE_STREAM_URL)

    @property
    def quotes_endpoint(self) -> str:
        return self.quotes_url or f"{QUOTES_STREAM_URL}/{self.feed}"
