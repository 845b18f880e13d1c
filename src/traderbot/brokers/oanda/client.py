"""The OANDA v20 REST client: httpx, Bearer token, the documented rate limit, and error mapping.

Retry policy (order safety first):
- 429: nothing was executed, so any request waits (Retry-After when given) and is sent again;
- 5xx, timeouts and dropped connections: GETs are retried with backoff; anything else (an order POST, a
  cancel or replace PUT) raises BrokerTimeout / BrokerUnavailable at once, because it may have been executed
  and the caller must look it up by client order id before sending again.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Mapping
from decimal import Decimal
from typing import Any, NamedTuple

import httpx

from traderbot.brokers.base import (
    BrokerAuthError,
    BrokerError,
    BrokerRateLimited,
    BrokerRejected,
    BrokerTimeout,
    BrokerUnavailable,
    MalformedMessage,
)
from traderbot.brokers.oanda.config import ACCOUNT_ENV, TOKEN_ENV, OandaConfig
from traderbot.brokers.ratelimit import RateLimiter

log = logging.getLogger("traderbot.brokers.oanda")

JSON = dict[str, Any]
# OANDA asks for persistent connections and few new ones (2 per second): a small keep-alive pool
REST_POOL = httpx.Limits(max_connections=4, max_keepalive_connections=4, keepalive_expiry=60)


class Reply(NamedTuple):
    status: int
    body: JSON


def headers(config: OandaConfig) -> dict[str, str]:
    return {
        "Authorization": f"Bearer {config.token.reveal()}",
        "Accept-Datetime-Format": "UNIX",
        "Content-Type": "application/json",
    }


def parse_body(raw: bytes) -> JSON:
    """A JSON object body; numbers become exact Decimals. MalformedMessage otherwise."""
    try:
        body = json.loads(raw or b"{}", parse_float=Decimal)
    except ValueError as exc:
        raise MalformedMessage(f"OANDA answered with a body that is not JSON ({exc})") from exc
    if not isinstance(body, dict):
        raise MalformedMessage("OANDA answered with JSON that is not an object")
    return body


def retry_after(response: httpx.Response, default: float) -> float:
    value = response.headers.get("Retry-After", "")
    try:
        seconds = float(value)
    except ValueError:
        return default
    return max(0.0, seconds)


def reason_code(body: Mapping[str, Any]) -> str:
    """OANDA's machine-readable reason: errorCode, else the reject transaction's rejectReason."""
    if body.get("errorCode"):
        return str(body["errorCode"])
    for key, value in body.items():
        if key.endswith("RejectTransaction") and isinstance(value, dict) and value.get("rejectReason"):
            return str(value["rejectReason"])
    return ""


def error_for(status: int, body: Mapping[str, Any], what: str, config: OandaConfig) -> BrokerError:
    """The BrokerError for a non-success answer, as one sentence with OANDA's own reason."""
    message = str(body.get("errorMessage") or "no error message").rstrip(".")
    code = reason_code(body)
    if status == 401:
        return BrokerAuthError(
            f"OANDA refused the token for {what} (401: {message}); check {TOKEN_ENV} and that it is a "
            f"{config.environment} token.",
            status=status,
        )
    if status == 403:
        return BrokerAuthError(
            f"OANDA forbade {what} (403: {message}); check that {ACCOUNT_ENV}={config.account_id} "
            "belongs to this token.",
            status=status,
        )
    if status >= 500:
        return BrokerUnavailable(f"OANDA failed {what} with HTTP {status} ({message}).", status=status)
    return BrokerRejected(
        f"OANDA rejected {what} with HTTP {status}: {code or 'no code'} ({message}).",
        code=code or f"HTTP_{status}",
        status=status,
    )


class OandaClient:
    """REST calls against one account. `request` returns the decoded JSON or raises a BrokerError."""

    def __init__(self, config: OandaConfig, transport: httpx.AsyncBaseTransport | None = None) -> None:
        self.config = config
        self.limiter = RateLimiter(config.requests_per_second)
        self.last_transaction_id = 0  # the highest lastTransactionID seen in any answer
        self._http = httpx.AsyncClient(
            base_url=config.rest_base,
            headers=headers(config),
            timeout=httpx.Timeout(config.timeout),
            limits=REST_POOL,
            transport=transport,
        )

    @property
    def account_path(self) -> str:
        return f"/v3/accounts/{self.config.account_id}"

    async def close(self) -> None:
        await self._http.aclose()

    async def get(self, path: str, params: Mapping[str, Any] | None = None) -> JSON:
        return (await self.request("GET", path, params=params)).body

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        body: Mapping[str, Any] | None = None,
        accept: tuple[int, ...] = (),
    ) -> Reply:
        """Send one request. 2xx and the statuses in `accept` are returned; others raise a BrokerError."""
        what = f"{method} {path.replace(self.account_path, '/accounts/{id}')}"
        idempotent = method == "GET"
        failures = throttled = 0
        while True:
            await self.limiter.acquire()
            try:
                response = await self._http.request(method, path, params=params, json=body)
            except httpx.TimeoutException as exc:
                error: BrokerError = BrokerTimeout(
                    f"OANDA did not answer {what} within {self.config.timeout:g} s"
                    + (
                        "." if idempotent else "; the outcome is unknown: look it up before sending it again."
                    ),
                )
                cause: Exception = exc
            except httpx.TransportError as exc:
                error = BrokerUnavailable(f"OANDA connection failed during {what} ({type(exc).__name__}).")
                cause = exc
            else:
                if response.status_code == 429:
                    wait = retry_after(response, self.config.retry_backoff)
                    throttled += 1
                    if throttled > self.config.rate_limit_retries or wait > self.config.max_retry_after:
                        limited = BrokerRateLimited(
                            f"OANDA kept rate-limiting {what} (429, retry after {wait:g} s).",
                            retry_after=wait,
                        )
                        log.warning("%s", limited)
                        raise limited
                    log.warning("OANDA rate-limited %s (429); retrying in %.2f s", what, wait)
                    self.limiter.pause(wait)
                    continue
                if response.status_code >= 500 and idempotent and failures < self.config.get_retries:
                    failures += 1
                    await self._backoff(what, f"HTTP {response.status_code}", failures)
                    continue
                return self._reply(response, what, accept)
            if not idempotent or failures >= self.config.get_retries:
                log.warning("%s", error)
                raise error from cause
            failures += 1
            await self._backoff(what, type(cause).__name__, failures)

    def check(self, reply: Reply, what: str) -> Reply:
        """Raise the BrokerError for an accepted non-success answer (e.g. a 400 order reject)."""
        if reply.status < 300:
            return reply
        error = error_for(reply.status, reply.body, what, self.config)
        log.warning("%s", error)
        raise error

    def _reply(self, response: httpx.Response, what: str, accept: tuple[int, ...]) -> Reply:
        status = response.status_code
        try:
            body = parse_body(response.content)
        except MalformedMessage:
            if 200 <= status < 300:
                log.warning("OANDA answered %s with a body that is not a JSON object", what)
                raise
            body = {}
        last = body.get("lastTransactionID")
        if isinstance(last, str | int) and str(last).isdigit():
            self.last_transaction_id = max(self.last_transaction_id, int(last))
        if 200 <= status < 300 or status in accept:
            return Reply(status, body)
        error = error_for(status, body, what, self.config)
        log.warning("%s", error)
        raise error

    async def _backoff(self, what: str, why: str, attempt: int) -> None:
        wait = self.config.retry_backoff * 2 ** (attempt - 1)
        log.info("OANDA %s failed (%s); retry %d in %.2f s", what, why, attempt, wait)
        await asyncio.sleep(wait)
