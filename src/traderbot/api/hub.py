"""The WebSocket hub: topics -> subscribed clients, each with a bounded queue.

Publishing never blocks and never waits for a client: a frame is appended to each subscriber's queue (O(1));
a client whose queue is full is dropped at once (flagged "slow consumer", its queue emptied, no more frames),
and its connection closes it. A frame is turned into JSON once, lazily, by the first sender that needs it, so
the publisher (the kernel's bus handler) only appends. Everything runs on one event loop (in `traderbot run`
the service's own); a publish from another thread (a log record) is handed to that loop.

Sources feed the hub and run only while some client wants one of their topics (`want` / `unwant`)."""

from __future__ import annotations

import asyncio
import json
import threading
from collections import Counter, deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from traderbot.core.jsonable import to_jsonable

SLOW_CONSUMER = "slow consumer"


class Frame:
    """One data frame: `{"topic", "ts", "type", "data"}`; `data` a bus message (converted with core.jsonable)
    or a JSON-ready dict. Shared by every subscriber's queue."""

    __slots__ = ("_text", "data", "topic", "ts", "type")

    def __init__(self, topic: str, ts: int, type_: str, data: Any) -> None:
        self.topic, self.ts, self.type, self.data = topic, ts, type_, data
        self._text: str | None = None

    @property
    def text(self) -> str:
        if self._text is None:
            body = self.data if isinstance(self.data, dict) else to_jsonable(self.data)
            body = {k: v for k, v in body.items() if k != "type"} if "type" in body else body
            self._text = json.dumps(
                {"topic": self.topic, "ts": self.ts, "type": self.type, "data": body}, separators=(",", ":")
            )
        return self._text


class Control:
    """A control frame (ack, pong, error) already turned into text."""

    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text


class Client:
    """One connection's side of the hub: its topics and its bounded queue of frames to send."""

    def __init__(self, who: str, max_queue: int) -> None:
        self.who, self.max_queue = who, max_queue
        self.topics: set[str] = set()
        self.queue: deque[Frame | Control] = deque()
        self.wake = asyncio.Event()
        self.dropped: str | None = None  # why the hub stopped feeding it
        self.peak = 0  # the longest the queue has been
        self.sent = 0

    def offer(self, frame: Frame | Control) -> bool:
        """Append without waiting; False (and the client dropped) when its queue is full."""
        if self.dropped is not None:
            return False
        q = self.queue
        if len(q) >= self.max_queue:
            self.drop(SLOW_CONSUMER)
            return False
        q.append(frame)
        if len(q) > self.peak:
            self.peak = len(q)
        self.wake.set()
        return True

    def drop(self, why: str) -> None:
        if self.dropped is None:
            self.dropped = why
            self.queue.clear()  # frees the memory now; the connection sends the close
        self.wake.set()


class Source(Protocol):
    """Feeds the hub some topics while they are wanted (called on the hub's loop)."""

    def want(self, topic: str) -> None: ...

    def unwant(self, topic: str) -> None: ...


@dataclass
class HubStats:
    published: int = 0
    dropped: int = 0


class Hub:
    def __init__(self, sources: Mapping[str, Source], max_queue: int = 1000) -> None:
        self.sources = dict(sources)  # topic -> its source (one source may feed several topics)
        self.max_queue = max_queue
        self.stats = HubStats()
        self._subs: dict[str, set[Client]] = {}  # topic -> clients fed now
        self._wanted: Counter[str] = Counter()  # topic -> connected clients subscribed (dropped or not)
        self._clients: set[Client] = set()
        self.loop: asyncio.AbstractEventLoop | None = None
        self._thread = 0
        self.on_drop: Callable[[Client], None] | None = None

    # ---- connections (on the hub's loop) -----------------------------------------------------------------
    def connect(self, who: str) -> Client:
        loop = asyncio.get_running_loop()
        if self.loop is not loop:
            if self._clients:
                raise RuntimeError("the WebSocket hub already serves another event loop")
            self.loop, self._thread = loop, threading.get_ident()
        client = Client(who, self.max_queue)
        self._clients.add(client)
        return client

    def disconnect(self, client: Client) -> None:
        self._clients.discard(client)
        self.unsubscribe(client, tuple(client.topics))

    def subscribe(self, client: Client, topics: tuple[str, ...]) -> None:
        for t in topics:
            if t in client.topics:
                continue
            client.topics.add(t)
            self._subs.setdefault(t, set()).add(client)
            self._wanted[t] += 1
            if self._wanted[t] == 1:
                self.sources[t].want(t)

    def unsubscribe(self, client: Client, topics: tuple[str, ...]) -> None:
        for t in topics:
            if t not in client.topics:
                continue
            client.topics.discard(t)
            self._subs.get(t, set()).discard(client)
            self._wanted[t] -= 1
            if self._wanted[t] <= 0:
                del self._wanted[t]
                self.sources[t].unwant(t)

    def wanted(self, topic: str) -> bool:
        return bool(self._subs.get(topic))

    @property
    def clients(self) -> tuple[Client, ...]:
        """The connected clients (a dropped one until its connection has ended)."""
        return tuple(self._clients)

    # ---- publishing (never blocks) -----------------------------------------------------------------------
    def publish(self, topic: str, ts: int, type_: str, data: Any) -> None:
        """Queue a frame for the topic's subscribers; from another thread it is handed to the hub's loop."""
        subs = self._subs.get(topic)
        if not subs:
            return
        if threading.get_ident() != self._thread:
            loop = self.loop
            if loop is not None and not loop.is_closed():
                loop.call_soon_threadsafe(self.publish, topic, ts, type_, data)
            return
        self.stats.published += 1
        frame = Frame(topic, ts, type_, data)
        for client in tuple(subs):
            if not client.offer(frame):
                self._dropped(client)

    def reply(self, client: Client, text: str) -> None:
        """Queue a control frame (ack, pong, error) behind the data already queued for the client."""
        if not client.offer(Control(text)):
            self._dropped(client)

    def drop(self, client: Client, why: str) -> None:
        client.drop(why)
        self._dropped(client)

    def _dropped(self, client: Client) -> None:
        """Stop feeding a client (its queue was full); its sources stay until its connection ends (never
        unsubscribed from the bus here: this runs inside the bus's delivery)."""
        for t in client.topics:
            self._subs.get(t, set()).discard(client)
        if client.dropped == SLOW_CONSUMER:
            self.stats.dropped += 1
        if self.on_drop is not None:
            self.on_drop(client)
