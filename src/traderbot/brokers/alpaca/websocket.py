"""A reconnecting Alpaca websocket: connect, log in, then yield decoded JSON messages until closed.

Why not alpaca-py's `TradingStream`: its loop (`_run_forever`) reconnects silently, so a caller cannot learn
that events may have been missed (we must yield StreamReconnected), its backoff is private, it owns the
consumer side (callbacks, `run()` starts its own event loop) and it parses numbers as floats. Speaking the
documented protocol with `websockets` keeps the stream an async iterator on our own loop.

Liveness: Alpaca's streams have no heartbeat messages (a quiet account is normal), so a stalled connection
is found by websocket pings: no pong within `stream_ping_timeout` closes it, and we reconnect with backoff.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import InvalidURI, WebSocketException

from traderbot.brokers.alpaca.config import AlpacaConfig
from traderbot.brokers.base import BrokerAuthError, BrokerError, BrokerUnavailable, MalformedMessage

log = logging.getLogger("traderbot.brokers.alpaca")

Handshake = Callable[[ClientConnection], Awaitable[None]]


class _NoFrameLogger(logging.LoggerAdapter[logging.Logger]):
    """websockets logs every frame at DEBUG, including our login frame with the secret: never at DEBUG."""

    def isEnabledFor(self, level: int) -> bool:
        return level > logging.DEBUG and self.logger.isEnabledFor(level)


_WIRE_LOG = _NoFrameLogger(logging.getLogger("traderbot.brokers.alpaca.wire"), {})


@dataclass(frozen=True, slots=True)
class Reconnected:
    """The connection was re-established after `reason`: messages in between may be lost."""

    reason: str


@dataclass(frozen=True, slots=True)
class Interrupted:
    """The connection was lost (`reason`); reconnecting follows."""

    reason: str


def decode(frame: str | bytes, name: str) -> list[dict[str, Any]]:
    """One frame (text, or binary as Alpaca's trading stream sends) -> its JSON objects; [] if malformed."""
    try:
        body = json.loads(frame.decode("utf-8") if isinstance(frame, bytes) else frame, parse_float=Decimal)
    except (UnicodeDecodeError, ValueError):
        log.warning("%s: skipping a malformed message (not JSON): %.120r", name, frame)
        return []
    items = body if isinstance(body, list) else [body]
    good = [m for m in items if isinstance(m, dict)]
    if len(good) != len(items):
        log.warning("%s: skipping a message that is not a JSON object: %.120r", name, frame)
    return good


async def expect(
    ws: ClientConnection, name: str, timeout: float, accept: Callable[[dict[str, Any]], bool]
) -> dict[str, Any]:
    """The first message `accept` takes, within `timeout` seconds (a slow login counts as a failure)."""
    async with asyncio.timeout(timeout):
        while True:
            for msg in decode(await ws.recv(), name):
                if accept(msg):
                    return msg


def _describe(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return f"{type(exc).__name__}: {text}" if text != type(exc).__name__ else text


async def messages(
    name: str, url: str, handshake: Handshake, config: AlpacaConfig
) -> AsyncIterator[dict[str, Any] | Reconnected | Interrupted]:
    """Decoded messages from `url` forever; at a break yield Interrupted, reconnect with backoff, and yield
    Reconnected once back.

    Refused credentials (BrokerAuthError) end the iterator at once; `max_reconnects` consecutive failures
    raise BrokerUnavailable. Malformed frames are logged and skipped.
    """
    failures = 0
    broken: str | None = None  # why the previous connection (attempt) ended; None before the first
    up = False  # connected (and logged in) since the last Interrupted
    while True:
        try:
            async with connect(
                url,
                open_timeout=config.stream_open_timeout,
                ping_interval=config.stream_ping_interval,
                ping_timeout=config.stream_ping_timeout,
                close_timeout=1.0,
                max_size=2**23,
                logger=_WIRE_LOG,
            ) as ws:
                await handshake(ws)
                up = True
                log.info("%s connected to %s", name, url)
                if broken is not None:
                    yield Reconnected(broken)
                failures = 0
                async for frame in ws:
                    for msg in decode(frame, name):
                        yield msg
                broken = "the server closed the connection"
        except InvalidURI as exc:
            raise BrokerError(f"{name}: {url!r} is not a websocket URL ({exc}).", code="CONFIG") from exc
        except BrokerAuthError:
            raise
        except (WebSocketException, OSError, TimeoutError, BrokerUnavailable, MalformedMessage) as exc:
            broken = _describe(exc)
        failures += 1
        if up:  # the connection was up: the outage starts now (later failed attempts are the same outage)
            up = False
            yield Interrupted(broken)
        if config.max_reconnects is not None and failures > config.max_reconnects:
            raise BrokerUnavailable(f"{name}: gave up after {failures} failed connections; last: {broken}.")
        delay = min(config.reconnect_max, config.reconnect_min * 2 ** (failures - 1))
        log.warning("%s: %s; reconnecting in %.2fs", name, broken, delay)
        await asyncio.sleep(delay)
