"""The append-only event log: every message published on the chosen bus topics, in publication order.

The bus handler only appends (topic, ts, message) to an in-memory queue: it never serialises, never touches
the database and never blocks the kernel thread. `flush()` (the service calls it every `flush_every_s` and at
shutdown) serialises with core.jsonable.dumps and inserts with one executemany per transaction of at most
`max_batch` rows. A crash loses at most the messages since the last flush; orders and fills themselves are
already in the order journal. There is no API to change or delete a row.
"""

from __future__ import annotations

import json
import time
from collections import deque
from collections.abc import Callable, Iterable
from typing import Any, NamedTuple, cast

from sqlalchemy import Engine, Table, select

from traderbot.core.bus import MessageBus
from traderbot.core.jsonable import dumps
from traderbot.store.event_models import EventLogRecord

TOPICS = ("orders", "fills", "positions", "trades", "algos", "pairs", "risk")
_TS_FIELDS = ("ts", "ts_ns", "ts_close")


class LoggedEvent(NamedTuple):
    """One stored message; `payload` is the JSON object (Decimals as exact strings), `type` its class name."""

    id: int
    ts: int
    topic: str
    type: str
    payload: dict[str, Any]


def message_ts(message: Any) -> int:
    """The message's own time (its ts, ts_ns or ts_close field), else now (UTC ns)."""
    for name in _TS_FIELDS:
        value = getattr(message, name, None)
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    return time.time_ns()


class EventLog:
    """Logs bus messages of `topics` for one trader; see the module docstring for when rows are written."""

    def __init__(
        self,
        engine: Engine,
        trader_id: str,
        bus: MessageBus | None = None,
        topics: Iterable[str] = TOPICS,
        flush_every_s: float = 0.05,
        max_batch: int = 2000,
    ) -> None:
        if max_batch < 1:
            raise ValueError(f"max_batch must be at least 1, got {max_batch}")
        self.engine = engine
        self.trader_id = trader_id
        self.topics = tuple(topics)
        self.flush_every_s = flush_every_s
        self.max_batch = max_batch
        self.written = 0  # rows committed by this instance
        # deque.append and popleft are atomic: the kernel thread appends while a service thread flushes
        self._pending: deque[tuple[str, int, Any]] = deque()
        self._handlers: dict[str, Callable[[Any], None]] = {}
        self._bus: MessageBus | None = None
        self._insert = cast(Table, EventLogRecord.__table__).insert()
        if bus is not None:
            self.attach(bus)

    # ---- capture (kernel thread) -------------------------------------------------------------------------
    def attach(self, bus: MessageBus) -> None:
        """Subscribe to the topics on `bus` (one handler per topic, so each row knows its topic)."""
        self.detach()
        self._bus = bus
        for topic in self.topics:
            handler = self._handler(topic)
            self._handlers[topic] = handler
            bus.subscribe(topic, handler)

    def detach(self) -> None:
        if self._bus is not None:
            for topic, handler in self._handlers.items():
                self._bus.unsubscribe(topic, handler)
        self._bus = None
        self._handlers = {}

    def _handler(self, topic: str) -> Callable[[Any], None]:
        append = self._pending.append

        def on_message(message: Any) -> None:
            append((topic, message_ts(message), message))

        return on_message

    def append(self, topic: str, message: Any) -> None:
        """Queue a message that was not published on the bus (e.g. a service start/stop note)."""
        self._pending.append((topic, message_ts(message), message))

    @property
    def pending(self) -> int:
        return len(self._pending)

    # ---- writing (service thread) ------------------------------------------------------------------------
    def flush(self) -> int:
        """Write everything queued so far, `max_batch` rows per transaction; returns the rows written.

        If the database refuses a batch, the batch goes back to the front of the queue (nothing is lost, the
        order is kept) and the error propagates; the next flush retries.
        """
        todo = len(self._pending)  # messages queued after this point wait for the next flush
        written = 0
        while written < todo:
            batch = [self._pending.popleft() for _ in range(min(self.max_batch, todo - written))]
            rows = [
                {"trader_id": self.trader_id, "ts": ts, "topic": topic, "type": type(m).__name__,
                 "payload": dumps(m)}
                for topic, ts, m in batch
            ]  # fmt: skip
            try:
                with self.engine.begin() as conn:
                    conn.execute(self._insert, rows)
            except BaseException:
                self._pending.extendleft(reversed(batch))
                raise
            written += len(batch)
            self.written += len(batch)
        return written

    def close(self) -> None:
        """Stop listening and write what is queued (the service calls it at shutdown)."""
        self.detach()
        self.flush()

    # ---- reading -----------------------------------------------------------------------------------------
    def read(self, since_id: int = 0, topic: str | None = None, limit: int = 1000) -> list[LoggedEvent]:
        """Stored events with id > `since_id`, oldest first (page on with the last id returned)."""
        r = EventLogRecord
        q = select(r.id, r.ts, r.topic, r.type, r.payload).where(
            r.trader_id == self.trader_id, r.id > since_id
        )
        if topic is not None:
            q = q.where(r.topic == topic)
        with self.engine.connect() as conn:
            rows = conn.execute(q.order_by(r.id).limit(limit)).all()
        return [LoggedEvent(i, ts, t, ty, json.loads(p)) for i, ts, t, ty, p in rows]
