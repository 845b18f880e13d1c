"""alpaca-py's synchronous REST clients, driven from asyncio with our timeouts, retries and rate limits.

What we change on alpaca-py's clients, and why (all set once, in `build_clients`):
- `raw_data=True`: we read Alpaca's JSON ourselves; its pydantic models turn quantities and prices into floats.
- The `requests` session is replaced by `_ExactSession`: alpaca-py sets no timeout (a hung connection would
  hang forever) and parses JSON numbers as floats; ours adds `config.timeout` and parses them as Decimal.
- alpaca-py's own retry (3 times on 429 and 504, sleeping 3 s in the calling thread) is switched off
  (`_retry = 0`): a 504 on POST /v2/orders has an unknown outcome and must never be resent blindly. Our
  `RestTransport.call` retries instead, by the rules in its docstring.
Both settings live in private attributes of alpaca-py's RESTClient (checked at start, pinned by the tests).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from decimal import Decimal
from functools import partial
from typing import Any, TypeVar

import requests
from alpaca.common.rest import RESTClient
from alpaca.data.historical import StockHistoricalDataClient
from alpaca.trading.client import TradingClient

from traderbot.brokers.alpaca.config import AlpacaConfig
from traderbot.brokers.alpaca.errors import translate
from traderbot.brokers.base import BrokerRateLimited, BrokerRejected, BrokerTimeout, BrokerUnavailable
from traderbot.brokers.ratelimit import RateLimiter

log = logging.getLogger("traderbot.brokers.alpaca")
T = TypeVar("T")


class _ExactSession(requests.Session):
    """A requests session with a default timeout whose responses parse JSON numbers as exact Decimals."""

    def __init__(self, timeout: float) -> None:
        super().__init__()
        self.default_timeout = timeout

    def request(self, method: str, url: Any, *args: Any, **kwargs: Any) -> requests.Response:
        kwargs.setdefault("timeout", self.default_timeout)
        response = super().request(method, url, *args, **kwargs)
        # alpaca-py calls response.json() without arguments: make that exact
        setattr(response, "json", partial(requests.Response.json, response, parse_float=Decimal))  # noqa: B010
        return response


def _configure(client: RESTClient, timeout: float) -> None:
    if not isinstance(getattr(client, "_session", None), requests.Session) or not hasattr(client, "_retry"):
        raise RuntimeError(
            "alpaca-py's RESTClient no longer has _session/_retry: the Alpaca adapter needs an update"
        )
    client._session.close()
    client._session = _ExactSession(timeout)
    client._retry = 0  # our retry policy, not alpaca-py's (see the module docstring)
    client._retry_codes = []


def build_clients(config: AlpacaConfig) -> tuple[TradingClient, StockHistoricalDataClient]:
    key, secret = config.key_id.reveal(), config.secret_key.reveal()
    trading = TradingClient(
        api_key=key, secret_key=secret, paper=config.paper, raw_data=True, url_override=config.trading_base
    )
    data = StockHistoricalDataClient(
        api_key=key, secret_key=secret, raw_data=True, url_override=config.data_base
    )
    for client in (trading, data):
        _configure(client, config.timeout)
    return trading, data


def close_clients(*clients: RESTClient) -> None:
    for client in clients:
        client._session.close()


class RestTransport:
    """Runs one blocking alpaca-py call in a worker thread, under a token bucket, with our retry rules.

    Rules: 429 is retried for every request (nothing was executed), after the wait Alpaca asks for;
    timeouts, dropped connections and 5xx are retried only for requests marked `idempotent` (GETs), with
    exponential backoff; order submissions and replacements are never retried: their BrokerTimeout /
    BrokerUnavailable says the outcome is unknown and the caller looks the order up by client order id.
    """

    def __init__(self, config: AlpacaConfig, name: str) -> None:
        rate = config.requests_per_minute * 0.75 / 60.0
        self.limiter = RateLimiter(rate, burst=max(1, config.requests_per_minute // 4))
        self.max_retries = config.max_retries
        self.backoff = config.retry_backoff
        self.name = name

    async def call(self, what: str, fn: Callable[..., T], *args: Any, idempotent: bool) -> T:
        attempt = 0
        while True:
            await self.limiter.acquire()
            try:
                return await asyncio.to_thread(fn, *args)
            except Exception as raw:  # translated below: every failure becomes one BrokerError
                err = translate(raw, what)
                cause: Exception = raw
            if isinstance(err, BrokerRateLimited):
                self.limiter.pause(err.retry_after)  # the next acquire (ours or anyone's) waits
                retryable = True
            else:
                retryable = idempotent and isinstance(err, BrokerTimeout | BrokerUnavailable)
            if not retryable or attempt >= self.max_retries:
                level = logging.INFO if isinstance(err, BrokerRejected) else logging.WARNING
                if err.status == 404:
                    level = logging.DEBUG  # a lookup miss is an answer, not a failure
                log.log(level, "%s %s failed: %s [%s]", self.name, what, err, err.code)
                raise err from cause
            attempt += 1
            delay = 0.0 if isinstance(err, BrokerRateLimited) else self.backoff * 2 ** (attempt - 1)
            log.warning(
                "%s %s: %s [%s]; retry %d of %d in %.2fs",
                self.name,
                what,
                err,
                err.code,
                attempt,
                self.max_retries,
                delay,
            )
            if delay:
                await asyncio.sleep(delay)


def not_found(exc: BaseException) -> bool:
    """True for an HTTP 404 (e.g. an unknown client order id)."""
    return isinstance(exc, BrokerRejected | BrokerUnavailable) and exc.status == 404
