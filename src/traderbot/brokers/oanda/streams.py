"""OANDA streaming connections: newline-delimited JSON with heartbeats, stall detection and reconnects.

A connection that sends no line at all (OANDA heartbeats every 5 s) for `stall_timeout` seconds is stalled;
it is closed and reopened, like a dropped or ended one, after a backoff that doubles while reconnects fail
and is reset by the first line received. New connections are limited to OANDA's 2 per second. After
`max_reconnects` consecutive attempts without a line the stream raises BrokerUnavailable. Malformed lines
are logged and skipped; a 401/403 raises BrokerAuthError at once.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator, Mapping
from decimal import Decimal
from typing import Any

import httpx

from traderbot.brokers.base import BrokerError, BrokerUnavailable
from traderbot.brokers.oanda.client import JSON, error_for, headers, parse_body, retry_after
from traderbot.brokers.oanda.config import OandaConfig
from traderbot.brokers.ratelimit import RateLimiter

log = logging.getLogger("traderbot.brokers.oanda")


class StreamClosed(Exception):
    """The current connection ended (dropped, stalled or closed by the server); `reason` says which."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class StreamHost:
    """The stream host's HTTP client and its new-connection limiter, shared by all streams of a broker."""

    def __init__(self, config: OandaConfig) -> None:
        self.config = config
        self.limiter = RateLimiter(config.stream_connects_per_second, burst=1)
        self.http = httpx.AsyncClient(
            base_url=config.stream_base,
            headers=headers(config),
            timeout=httpx.Timeout(config.timeout, read=config.stall_timeout),
        )

    async def close(self) -> None:
        await self.http.aclose()


class StreamSession:
    """One logical stream (e.g. the transactions of an account) across as many connections as it takes."""

    def __init__(self, host: StreamHost, path: str, params: Mapping[str, Any] | None, label: str) -> None:
        self.host, self.path, self.params, self.label = host, path, dict(params or {}), label
        self.config = host.config
        self._response: httpx.Response | None = None
        self._lines: AsyncIterator[str] | None = None
        self._failures = 0  # consecutive connections that ended without a line

    async def open(self) -> None:
        """Connect (first time, or again after `StreamClosed`), waiting out backoff and the connection limit."""
        await self.close()
        while True:
            if self._failures:
                if self._failures > self.config.max_reconnects:
                    raise BrokerUnavailable(
                        f"OANDA {self.label} stream failed {self._failures} times in a row; giving up."
                    )
                wait = min(
                    self.config.reconnect_backoff * 2 ** (self._failures - 1),
                    self.config.max_reconnect_backoff,
                )
                await asyncio.sleep(wait)
            await self.host.limiter.acquire()
            try:
                await self._connect()
                return
            except StreamClosed as exc:
                self._failures += 1
                log.warning("OANDA %s stream could not connect (%s); retrying", self.label, exc.reason)

    async def _connect(self) -> None:
        request = self.host.http.build_request("GET", self.path, params=self.params)
        try:
            response = await self.host.http.send(request, stream=True)
        except httpx.TransportError as exc:
            raise StreamClosed(type(exc).__name__) from exc
        if response.status_code != 200:
            raw = await response.aread()
            await response.aclose()
            try:
                body = parse_body(raw)
            except BrokerError:
                body = {}
            if response.status_code == 429:
                self.host.limiter.pause(retry_after(response, self.config.reconnect_backoff))
            if response.status_code == 429 or response.status_code >= 500:
                raise StreamClosed(f"HTTP {response.status_code}")
            error = error_for(response.status_code, body, f"the {self.label} stream", self.config)
            log.warning("%s", error)
            raise error
        self._response, self._lines = response, response.aiter_lines()

    async def next(self) -> JSON:
        """The next JSON object; raises StreamClosed when the connection drops, ends or stalls."""
        if self._lines is None:
            raise StreamClosed("not connected")
        while True:
            try:
                line = await self._lines.__anext__()
            except StopAsyncIteration:
                reason = "ended"
            except httpx.ReadTimeout:
                reason = f"stalled: no line for {self.config.stall_timeout:g} s"
            except httpx.HTTPError as exc:
                reason = f"dropped ({type(exc).__name__})"
            else:
                message = self._parse(line)
                if message is None:
                    continue
                return message
            self._failures += 1
            log.warning("OANDA %s stream %s; reconnecting", self.label, reason)
            await self.close()
            raise StreamClosed(reason)

    def _parse(self, line: str) -> JSON | None:
        if not line.strip():
            return None
        try:
            message = json.loads(line, parse_float=Decimal)
        except ValueError:
            message = None
        if not isinstance(message, dict):
            log.warning("OANDA %s stream sent a malformed line, skipped: %.200r", self.label, line)
            return None
        self._failures = 0  # any well-formed line proves the connection alive
        return message

    def note_failure(self) -> None:
        """Count a failed connection (e.g. its recovery failed) so the next `open` backs off."""
        self._failures += 1

    async def close(self) -> None:
        response, self._response, self._lines = self._response, None, None
        if response is not None:
            await response.aclose()
