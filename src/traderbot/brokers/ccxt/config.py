"""`CcxtConfig`: which exchange, which credentials, sandbox or live, and how the adapter polls.

Credentials come from `CcxtConfig.from_env("binance")`, which reads `CCXT_BINANCE_API_KEY`,
`CCXT_BINANCE_SECRET` and, only where the exchange's `requiredCredentials` asks for one (e.g. OKX, KuCoin),
`CCXT_<EXCHANGE>_PASSWORD`, through `traderbot.brokers.credentials.credential` (environment, then secrets file).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

import ccxt

from traderbot.brokers.credentials import Secret, credential

VALID_IDS_HINT = 'see the valid ids with: python -c "import ccxt; print(ccxt.exchanges)"'


def check_exchange_id(exchange_id: str) -> str:
    """The exchange id in ccxt's spelling, or ValueError in one line saying how to list the valid ones."""
    key = exchange_id.strip().lower()
    if key not in ccxt.exchanges:
        raise ValueError(f"unknown ccxt exchange id {exchange_id!r}: {VALID_IDS_HINT}")
    return key


def required_credentials(exchange_id: str) -> dict[str, bool]:
    """ccxt's `requiredCredentials` of the exchange (apiKey, secret, password, ...)."""
    cls = getattr(ccxt, check_exchange_id(exchange_id))
    return dict(cls().requiredCredentials)


@dataclass(frozen=True, slots=True)
class CcxtConfig:
    """One exchange account through ccxt. Secrets are `Secret`s, so repr() and logs never show them.

    `symbols` maps our instrument ids to ccxt symbols ({"BTCUSDT": "BTC/USDT"}); those markets are the ones
    the adapter watches for open orders, fills, positions and the transaction stream (plus any market it
    traded in this session). Without a map, ids are derived from markets (spot "BTC/USDT" -> "BTCUSDT").
    `urls` replaces entries of ccxt's `exchange.urls` by section before sandbox selection, e.g.
    {"api": {"public": "http://127.0.0.1:8080/api/v3", ...}} or {"test": {...}} (tests point them at fakes).
    `rate_limit_ms` overrides the exchange's documented request spacing (None keeps ccxt's value);
    the limiter itself (`enableRateLimit`) is always on.
    """

    exchange_id: str = "binance"
    api_key: Secret | None = None
    secret: Secret | None = None
    password: Secret | None = None
    sandbox: bool = True
    options: Mapping[str, Any] = field(default_factory=dict)
    urls: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    timeout_ms: int = 10_000
    symbols: Mapping[str, str] = field(default_factory=dict)
    quote_currency: str = "USDT"
    account_id: str = ""
    poll_interval: float = 1.0  # transactions(): seconds between polls
    price_interval: float = 1.0  # prices(): seconds between polls
    stall_timeout: float = 30.0  # prices(): no fresh quote for this long -> BrokerUnavailable
    max_backoff: float = 30.0  # transactions(): longest wait between failed polls
    replay_ms: int = (
        5_000  # transactions(): fills/orders this much older than the subscription are re-reported
    )
    trades_window_ms: int = 86_400_000  # fills(): widest since..until span per call (Binance allows 24 h)
    rate_limit_ms: int | None = None
    ohlcv_limit: int | None = None  # candles per call; None -> the exchange's documented maximum
    client_id_lookup: bool | None = None  # fetch_order by client id; None -> known to work (Binance family)
    replace_mode: Literal["auto", "cancel_create"] = "auto"
    close_wait_ms: int = 250  # close(): time given to TLS connections to shut down (ccxt's timeout_on_exit)

    def __post_init__(self) -> None:
        object.__setattr__(self, "exchange_id", check_exchange_id(self.exchange_id))
        for name in ("timeout_ms", "poll_interval", "price_interval", "stall_timeout", "max_backoff"):
            if getattr(self, name) <= 0:
                raise ValueError(f"CcxtConfig.{name} must be positive, got {getattr(self, name)!r}")
        if self.replace_mode not in ("auto", "cancel_create"):
            raise ValueError(
                f"CcxtConfig.replace_mode must be 'auto' or 'cancel_create', got {self.replace_mode!r}"
            )
        if self.ohlcv_limit is not None and self.ohlcv_limit < 1:
            raise ValueError("CcxtConfig.ohlcv_limit must be at least 1")

    @classmethod
    def from_env(
        cls,
        exchange_id: str,
        *,
        env: Mapping[str, str] | None = None,
        secrets_file: str | Path | None = None,
        **overrides: Any,
    ) -> CcxtConfig:
        """Credentials from CCXT_<EXCHANGE>_API_KEY / _SECRET (/ _PASSWORD when the exchange needs one)."""
        key = check_exchange_id(exchange_id)
        prefix = f"CCXT_{key.upper()}_"

        def read(suffix: str) -> Secret | None:
            return credential(prefix + suffix, env=env, secrets_file=secrets_file)

        needs = required_credentials(key)
        api_key, secret = read("API_KEY"), read("SECRET")
        password = read("PASSWORD") if needs.get("password") else None
        return cls(exchange_id=key, api_key=api_key, secret=secret, password=password, **overrides)

    def with_overrides(self, **changes: Any) -> CcxtConfig:
        return replace(self, **changes)
