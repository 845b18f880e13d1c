"""Creating the ccxt exchange object: credentials, rate limiter, timeouts, URLs, sandbox, and a logger that
cannot leak the credentials (ccxt logs request headers, which carry the API key, at DEBUG)."""

from __future__ import annotations

import logging
from collections import Counter
from typing import Any

import ccxt.async_support as ccxt_async

from traderbot.brokers.base import BrokerError
from traderbot.brokers.ccxt.config import CcxtConfig

HTTP_LOG = "traderbot.brokers.ccxt.http"


class NoSandbox(BrokerError):
    """Sandbox mode was requested but the exchange has no test environment in ccxt."""

    code = "NO_SANDBOX"


class _Redact(logging.Filter):
    """Replaces every registered credential value in a record's final text with ***."""

    def __init__(self) -> None:
        super().__init__()
        self.secrets: Counter[str] = Counter()

    def filter(self, record: logging.LogRecord) -> bool:
        text = record.getMessage()
        hits = [s for s in self.secrets if s in text]
        if hits:
            for s in hits:
                text = text.replace(s, "***")
            record.msg, record.args = text, ()
        return True


_REDACT = _Redact()
_HTTP_LOGGER = logging.getLogger(HTTP_LOG)
_HTTP_LOGGER.addFilter(_REDACT)


def _secret_values(config: CcxtConfig) -> list[str]:
    return [s.reveal() for s in (config.api_key, config.secret, config.password) if s is not None]


def make_exchange(config: CcxtConfig) -> Any:
    """The ccxt.async_support exchange for `config`, not yet connected (no request is made here)."""
    cls = getattr(ccxt_async, config.exchange_id)
    settings: dict[str, Any] = {
        "enableRateLimit": True,  # ccxt's documented limiter, spacing requests by the exchange's rateLimit
        "timeout": config.timeout_ms,
        "options": dict(config.options),
        "timeout_on_exit": config.close_wait_ms,
    }
    if config.rate_limit_ms is not None:
        settings["rateLimit"] = config.rate_limit_ms
    for key, secret in (("apiKey", config.api_key), ("secret", config.secret), ("password", config.password)):
        if secret is not None:
            settings[key] = secret.reveal()
    exchange = cls(settings)
    exchange.number = str  # unified numbers stay the exchange's strings: exact Decimals, never floats
    for section, entries in config.urls.items():
        current = exchange.urls.get(section)
        exchange.urls[section] = {**current, **entries} if isinstance(current, dict) else dict(entries)
    if config.sandbox:
        if not exchange.urls.get("test"):
            raise NoSandbox(
                f"{config.exchange_id} has no sandbox (test) environment in ccxt: set sandbox=False to trade the "
                "live exchange on purpose."
            )
        exchange.set_sandbox_mode(True)
    _REDACT.secrets.update(_secret_values(config))
    exchange.logger = _HTTP_LOGGER
    return exchange


def forget_secrets(config: CcxtConfig) -> None:
    """After close(): stop redacting this broker's credentials (other brokers' stay registered)."""
    _REDACT.secrets.subtract(_secret_values(config))
    for key in [k for k, n in _REDACT.secrets.items() if n <= 0]:
        del _REDACT.secrets[key]
