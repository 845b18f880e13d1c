"""Optional Redis mirror of the bus: latest state in keys and every message on a channel, for other processes.

`RedisBridge` runs inside the trading service. Its bus handlers only append to a bounded deque (never block the
kernel); a background task sends what is queued with one pipeline per batch. When Redis is slow or down the
oldest queued messages are dropped and counted, and the service keeps trading. `RedisFollower` is the reading
side for another process (the API server). Layout (all namespaced by trader id): docs/redis.md.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections import deque
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError
from redis.typing import EncodableT, FieldT

from traderbot.core.bus import MessageBus
from traderbot.core.jsonable import to_jsonable
from traderbot.core.messages import OrderFilled
from traderbot.errors import UserError
from traderbot.model.data import Bar
from traderbot.pairs.events import PairAdded, PairRemoved, PairStateChanged

log = logging.getLogger(__name__)

DEFAULT_TOPICS: tuple[str, ...] = ("bars", "orders", "fills", "trades", "pairs", "risk", "account")
_BAD_NAME_CHARS = set(":*?[]{} \t\r\n")


def _safe_url(url: str) -> str:
    """The URL with any password replaced by ***, for messages and logs."""
    try:
        parts = urlsplit(url)
        if parts.password:
            netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
            return urlunsplit(parts._replace(netloc=netloc))
    except ValueError:
        pass
    return url


def _check_name(kind: str, value: str) -> str:
    if not value or _BAD_NAME_CHARS & set(value):
        raise UserError(f"Redis {kind} {value!r} is invalid: use letters, digits, '-', '_' or '.' only.")
    return value


def _connect(url: str, *, decode: bool) -> aioredis.Redis:
    """A client that fails fast (no silent retries): reconnecting with backoff is the bridge's own job."""
    try:
        return aioredis.from_url(
            url,
            decode_responses=decode,
            socket_connect_timeout=3,
            socket_timeout=10,
            retry=Retry(NoBackoff(), 0),
        )
    except (ValueError, RedisError) as exc:
        raise UserError(
            f"service.redis_url {_safe_url(url)!r} is not a valid Redis URL ({exc}): "
            "use redis://host:port/db or clear service.redis_url."
        ) from exc


class RedisBridge:
    """Mirrors bus topics to Redis. `dropped`, `errors` and `sent` count messages lost, failures, deliveries."""

    def __init__(
        self,
        url: str,
        bus: MessageBus,
        *,
        trader_id: str = "TB",
        topics: Sequence[str] = DEFAULT_TOPICS,
        prefix: str = "traderbot",
        max_queue: int = 100_000,
        batch_size: int = 500,
        flush_interval_s: float = 0.02,
        max_backoff_s: float = 5.0,
    ) -> None:
        self.url = url
        self.bus = bus
        self.topics = tuple(topics)
        self.base = f"{_check_name('prefix', prefix)}:{_check_name('trader id', trader_id)}"
        self.max_queue = max_queue
        self.batch_size = batch_size
        self.flush_interval_s = flush_interval_s
        self.max_backoff_s = max_backoff_s
        self.dropped = 0
        self.errors = 0
        self.sent = 0
        self.connected = False
        self._queue: deque[tuple[str, Any]] = deque(maxlen=max_queue)
        self._handlers: dict[str, Callable[[Any], None]] = {}
        self._redis: aioredis.Redis | None = None
        self._task: asyncio.Task[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wake = asyncio.Event()
        self._send_lock = asyncio.Lock()
        self._closing = False
        self._stopping = asyncio.Event()

    # ---- lifecycle ------------------------------------------------------------------------------------------
    async def start(self) -> None:
        """Connect and PING (a UserError naming the URL when that fails), then subscribe to the bus topics."""
        client = _connect(self.url, decode=False)
        try:
            await client.ping()
        except (RedisError, OSError) as exc:
            await client.aclose()
            raise UserError(
                f"Redis at {_safe_url(self.url)} is not reachable ({type(exc).__name__}: {exc}): "
                "is Redis running? start it or clear service.redis_url."
            ) from exc
        self._redis, self.connected, self._closing = client, True, False
        self._stopping.clear()
        self._loop = asyncio.get_running_loop()
        for topic in self.topics:
            self._handlers[topic] = self._handler(topic)
            self.bus.subscribe(topic, self._handlers[topic])
        self._task = asyncio.create_task(self._run(), name="redis-bridge-flush")

    async def stop(self) -> None:
        """Unsubscribe, send what is queued (if Redis is up), close."""
        for topic, handler in self._handlers.items():
            self.bus.unsubscribe(topic, handler)
        self._handlers.clear()
        self._closing = True
        self._stopping.set()
        self._wake.set()
        if self._task is not None:
            await self._task
            self._task = None
        if self._redis is not None:
            await self._redis.aclose()
            self._redis = None
        self.connected = False

    async def flush(self) -> None:
        """Send everything queued now, in order; returns early (leaving it queued) while Redis is down."""
        while self._queue and self.connected:
            if not await self._send_next():
                self._wake.set()  # the background task reconnects
                return

    # ---- bus side (kernel thread): O(1), never blocks ------------------------------------------------------
    def _handler(self, topic: str) -> Callable[[Any], None]:
        queue, maxlen, batch = self._queue, self.max_queue, self.batch_size

        def enqueue(message: Any) -> None:
            if len(queue) >= maxlen:
                self.dropped += 1  # the deque drops its oldest entry on append
            queue.append((topic, message))
            if len(queue) == batch:
                self._poke()

        return enqueue

    def _poke(self) -> None:
        loop = self._loop
        if loop is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(self._wake.set)

    # ---- Redis side (event loop) ----------------------------------------------------------------------------
    async def _run(self) -> None:
        while True:
            if not self.connected:
                if self._closing:  # Redis is down at shutdown: what is left cannot be sent
                    self.dropped += len(self._queue)
                    self._queue.clear()
                    return
                await self._reconnect()
                continue
            if len(self._queue) < self.batch_size and not self._closing:
                self._wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), self.flush_interval_s)
            if self._queue:
                await self._send_next()
            elif self._closing:
                return

    async def _send_next(self) -> bool:
        """Send one batch in one pipeline; on failure count it as dropped and mark the bridge disconnected."""
        async with self._send_lock:
            n = min(len(self._queue), self.batch_size)
            batch = [self._queue.popleft() for _ in range(n)]
            if not batch:
                return True
            try:
                assert self._redis is not None
                pipe = self._pipeline(self._redis, batch)
            except Exception:  # a message that cannot be encoded must not stop the mirror
                log.exception("cannot encode a batch of %d bus messages for Redis; dropped", len(batch))
                self.errors += 1
                self.dropped += len(batch)
                return True
            try:
                await pipe.execute()
            except (RedisError, OSError) as exc:
                self.errors += 1
                self.dropped += len(batch)
                if self.connected:
                    log.warning(
                        "Redis at %s went away (%s: %s); mirroring paused, trading goes on, retrying",
                        _safe_url(self.url),
                        type(exc).__name__,
                        exc,
                    )
                self.connected = False
                return False
            self.sent += len(batch)
            return True

    def _pipeline(self, client: aioredis.Redis, batch: list[tuple[str, Any]]) -> Any:
        """PUBLISH every message; write only the newest state per key (a batch often holds many bars per pair)."""
        pipe = client.pipeline(transaction=False)
        prices: dict[FieldT, EncodableT] = {}
        fills: dict[FieldT, EncodableT] = {}
        pairs: dict[str, str | None] = {}
        account: str | None = None
        for topic, message in batch:
            body = to_jsonable(message)
            text = json.dumps(body, separators=(",", ":"))
            pipe.publish(f"{self.base}:{topic}", text)
            if isinstance(message, Bar):
                prices[message.instrument_id] = text
            elif isinstance(message, OrderFilled):
                fills[message.instrument_id] = text
            elif isinstance(message, PairStateChanged | PairAdded):
                pairs[message.pair] = str(message.state.value)
            elif isinstance(message, PairRemoved):
                pairs[message.pair] = None
            if topic == "account":
                if isinstance(message, Mapping) and "type" not in message:
                    body.pop("type", None)  # a plain snapshot dict: keep only its own fields
                account = json.dumps(body, separators=(",", ":"))
        if prices:
            pipe.hset(f"{self.base}:prices", mapping=prices)
        if fills:
            pipe.hset(f"{self.base}:fills", mapping=fills)
        for pair, state in pairs.items():
            if state is None:
                pipe.hdel(f"{self.base}:pairs", pair)
            else:
                pipe.hset(f"{self.base}:pairs", pair, state)
        if account is not None:
            pipe.set(f"{self.base}:account", account)
        return pipe

    async def _reconnect(self) -> None:
        """PING with exponential backoff until Redis answers or the bridge stops; messages keep queueing."""
        delay = 0.05
        while not self._closing:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), delay)
            if self._closing:
                return
            try:
                assert self._redis is not None
                await self._redis.ping()
            except (RedisError, OSError):
                delay = min(delay * 2, self.max_backoff_s)
                continue
            self.connected = True
            log.warning(
                "Redis at %s is back; mirroring resumed (%d dropped)", _safe_url(self.url), self.dropped
            )
            return


class RedisFollower:
    """The reading side, for another process: latest state from the keys, events from the channels."""

    def __init__(
        self,
        url: str,
        trader_id: str = "TB",
        topics: Sequence[str] = DEFAULT_TOPICS,
        prefix: str = "traderbot",
    ) -> None:
        self.url = url
        self.topics = frozenset(topics)
        self.base = f"{_check_name('prefix', prefix)}:{_check_name('trader id', trader_id)}"
        self.subscribed = asyncio.Event()  # set once events() is subscribed: later publications reach it
        self._redis = _connect(url, decode=True)

    async def latest_prices(self) -> dict[str, dict[str, Any]]:
        """Pair -> its last bar as published ({"type": "Bar", "ts", "close", ...})."""
        raw = await self._redis.hgetall(f"{self.base}:prices")
        return {str(k): json.loads(v) for k, v in raw.items()}

    async def last_fills(self) -> dict[str, dict[str, Any]]:
        """Pair -> its last OrderFilled (money as exact decimal strings)."""
        raw = await self._redis.hgetall(f"{self.base}:fills")
        return {str(k): json.loads(v) for k, v in raw.items()}

    async def pair_states(self) -> dict[str, str]:
        """Pair -> lifecycle state ("trading", "ready", ...)."""
        raw = await self._redis.hgetall(f"{self.base}:pairs")
        return {str(k): str(v) for k, v in raw.items()}

    async def account(self) -> dict[str, Any] | None:
        """The last snapshot published on topic "account", or None before the first one."""
        raw = await self._redis.get(f"{self.base}:account")
        return None if raw is None else dict(json.loads(raw))

    async def events(self) -> AsyncIterator[tuple[str, dict[str, Any]]]:
        """(topic, message) for every message this trader publishes from now on, in publication order."""
        pubsub = self._redis.pubsub()
        cut = len(self.base) + 1
        try:
            await pubsub.psubscribe(f"{self.base}:*")
            async for item in pubsub.listen():
                kind = item.get("type")
                if kind == "psubscribe":
                    self.subscribed.set()
                elif kind == "pmessage":
                    topic = str(item["channel"])[cut:]
                    if topic in self.topics:
                        yield topic, json.loads(item["data"])
        finally:
            self.subscribed.clear()
            await pubsub.aclose()

    async def aclose(self) -> None:
        await self._redis.aclose()
