"""What feeds the WebSocket hub, each running only while a client wants one of its topics.

In the service's process (`traderbot run`): the kernel bus (prices = bars and live ticks, orders, fills,
positions, trades, risk), subscribed on the service's loop, so the handler runs on the kernel's thread and
only appends. Standalone (`traderbot api`): the event log the service writes (orders, fills, positions,
trades, risk), read every `tail_every_s`; prices are not stored, so they are only streamed in-process.
Both: pairs from the pair registry's audit trail (every change, whichever process made it), training from the
training queue, logs from the process's `traderbot` loggers. Database reads run in worker threads, never on
the loop."""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, func, select

from traderbot.api.hub import Hub, Source
from traderbot.core.bus import MessageBus
from traderbot.pairs import PairRegistry
from traderbot.store.event_log import EventLog, message_ts
from traderbot.store.event_models import EventLogRecord
from traderbot.store.pair_models import PairEventRow
from traderbot.store.training_store import TrainingStore

if TYPE_CHECKING:
    from traderbot.api.context import ApiContext

log = logging.getLogger("traderbot.api.ws")
Item = tuple[str, int, str, Any]  # topic, ts, type, data

# hub topic -> the kernel bus topics it carries
BUS_ROUTES: dict[str, tuple[str, ...]] = {
    "prices": ("bars", "prices"),
    "orders": ("orders",),
    "fills": ("fills",),
    "positions": ("positions",),
    "trades": ("trades",),
    "risk": ("risk",),
}
_FORMATTER = logging.Formatter()
LOGGED = ("orders", "fills", "positions", "trades", "risk")  # in the event log (store/event_log.py TOPICS)
PRICES_STANDALONE = (
    "prices are streamed only by the API that `traderbot run` serves (they are not stored): "
    "connect to that API for prices"
)


@dataclass(frozen=True)
class WsSettings:
    """Limits and poll intervals of the WebSocket (defaults suit a dashboard on loopback)."""

    max_queue: int = 1000  # frames waiting for one client; a client that falls this far behind is dropped
    auth_timeout_s: float = 10.0  # for the first message when no ?token= was given
    send_timeout_s: float = (
        30.0  # one frame (or the close) that cannot be written within this drops the client
    )
    recheck_s: float = 60.0  # credentials checked again (revoked key, expired token: the connection closes)
    tail_every_s: float = 0.2  # event log and pair audit trail
    training_every_s: float = 1.0


def _ts(message: Any) -> int:
    close = getattr(message, "ts_close", None)  # a bar is known when it closes
    return close if isinstance(close, int) else message_ts(message)


class BusSource:
    """Kernel bus topics -> hub topics; subscribed only while wanted, so an unwatched topic costs the kernel
    nothing (e.g. "bars" is published only when someone listens)."""

    def __init__(self, bus: MessageBus, hub: Hub) -> None:
        self.bus, self.hub = bus, hub
        self._handlers: dict[tuple[str, str], Callable[[Any], None]] = {}

    def want(self, topic: str) -> None:
        for bus_topic in BUS_ROUTES[topic]:
            handler = self._handler(topic)
            self._handlers[(topic, bus_topic)] = handler
            self.bus.subscribe(bus_topic, handler)

    def unwant(self, topic: str) -> None:
        for bus_topic in BUS_ROUTES[topic]:
            handler = self._handlers.pop((topic, bus_topic), None)
            if handler is not None:
                self.bus.unsubscribe(bus_topic, handler)

    def _handler(self, topic: str) -> Callable[[Any], None]:
        publish = self.hub.publish

        def on_message(message: Any) -> None:  # on the kernel's thread: append only
            publish(topic, _ts(message), type(message).__name__, message)

        return on_message


class Poller:
    """Runs `read` (in a worker thread) every `every_s` while any of its topics is wanted; `read` returns the
    items to publish. `baseline` (also in a thread) runs once per start: only what happens after is sent."""

    def __init__(self, hub: Hub, every_s: float, name: str) -> None:
        self.hub, self.every_s, self.name = hub, every_s, name
        self._wanted: set[str] = set()
        self._task: asyncio.Task[None] | None = None
        self.ready = False  # the baseline is taken: what happens from now on is sent

    def want(self, topic: str) -> None:
        self._wanted.add(topic)
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._run(), name=f"ws-{self.name}")

    def unwant(self, topic: str) -> None:
        self._wanted.discard(topic)
        if not self._wanted and self._task is not None:
            self._task.cancel()
            self._task = None
            self.ready = False

    def baseline(self) -> None: ...

    def read(self) -> list[Item]:
        raise NotImplementedError

    async def _run(self) -> None:
        started = False
        while True:
            try:
                if not started:
                    await asyncio.to_thread(self.baseline)
                    started = self.ready = True
                items = await asyncio.to_thread(self.read)
            except Exception as exc:  # a database hiccup: say so, keep following
                log.warning("WebSocket %s: reading failed (%s); trying again", self.name, exc)
                await asyncio.sleep(max(self.every_s, 1.0))
                continue
            for topic, ts, type_, data in items:
                if topic in self._wanted:
                    self.hub.publish(topic, ts, type_, data)
            await asyncio.sleep(self.every_s)


def _max_id(engine: Engine, column: Any, trader_column: Any, trader_id: str) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.max(column)).where(trader_column == trader_id)).scalar() or 0)


class EventLogTail(Poller):
    """Standalone: the bus messages the service wrote to the event log, as they are written."""

    def __init__(self, engine: Engine, trader_id: str, hub: Hub, every_s: float) -> None:
        super().__init__(hub, every_s, "event log")
        self.engine, self.trader_id = engine, trader_id
        self.log = EventLog(engine, trader_id)
        self.last_id = 0

    def baseline(self) -> None:
        self.last_id = _max_id(self.engine, EventLogRecord.id, EventLogRecord.trader_id, self.trader_id)

    def read(self) -> list[Item]:
        out: list[Item] = []
        while True:
            rows = self.log.read(self.last_id, limit=1000)
            for ev in rows:
                self.last_id = ev.id
                out.append((ev.topic, ev.ts, ev.type, ev.payload))
            if len(rows) < 1000:
                return out


class PairEvents(Poller):
    """Every pair change from the registry's audit trail (added, enabled, state moves, parameters)."""

    def __init__(self, engine: Engine, trader_id: str, hub: Hub, every_s: float) -> None:
        super().__init__(hub, every_s, "pairs")
        self.engine, self.trader_id = engine, trader_id
        self.registry = PairRegistry(engine, trader_id)
        self.last_id = 0

    def baseline(self) -> None:
        self.last_id = _max_id(self.engine, PairEventRow.id, PairEventRow.trader_id, self.trader_id)

    def read(self) -> list[Item]:
        out: list[Item] = []
        while True:
            events = self.registry.events_since(self.last_id)
            for ev in events:
                self.last_id = ev.id
                out.append(("pairs", ev.ts_ns, "PairEvent", ev))
            if len(events) < 1000:
                return out


class TrainingProgress(Poller):
    """Training jobs as they are queued, progress, finish or fail (a frame per change, "TrainingJob")."""

    def __init__(self, engine: Engine, hub: Hub, every_s: float) -> None:
        super().__init__(hub, every_s, "training")
        self.store = TrainingStore(engine)
        self._seen: dict[int, tuple[Any, ...]] = {}

    @staticmethod
    def _key(job: Any) -> tuple[Any, ...]:
        return (job.status, job.attempts, job.progress, job.message, job.error)

    def baseline(self) -> None:
        self._seen = {j.id: self._key(j) for j in self.store.waiting() + self.store.running()}

    def read(self) -> list[Item]:
        active = {j.id: j for j in self.store.waiting() + self.store.running()}
        gone = [self.store.get(i) for i in self._seen if i not in active]
        out: list[Item] = []
        for job in [*active.values(), *(j for j in gone if j is not None)]:
            if self._seen.get(job.id) != self._key(job):
                data = {k: v for k, v in job.to_dict().items() if k != "payload"}
                ts = job.finished_ns or job.heartbeat_ns or job.started_ns or job.created_ns
                out.append(("training", ts, "TrainingJob", data))
        self._seen = {i: self._key(j) for i, j in active.items()}
        return out


class LogSource(logging.Handler):
    """Records of the `traderbot` loggers at INFO and above (as far as the process's log level lets them
    through), while someone wants "logs"."""

    def __init__(self, hub: Hub, logger: str = "traderbot") -> None:
        super().__init__(logging.INFO)
        self.hub, self.logger = hub, logging.getLogger(logger)
        self._inside = threading.local()

    def want(self, topic: str) -> None:
        self.logger.addHandler(self)

    def unwant(self, topic: str) -> None:
        self.logger.removeHandler(self)

    def emit(self, record: logging.LogRecord) -> None:
        if getattr(self._inside, "on", False):  # a record logged while publishing one: not again
            return
        self._inside.on = True
        try:
            data = {"logger": record.name, "level": record.levelname, "message": record.getMessage()}
            if record.exc_info:
                data["exception"] = _FORMATTER.formatException(record.exc_info)[-4000:]
            self.hub.publish("logs", int(record.created * 1e9), "LogRecord", data)
        except Exception:
            self.handleError(record)
        finally:
            self._inside.on = False


def build_sources(ctx: ApiContext, hub: Hub, s: WsSettings) -> tuple[dict[str, Source], dict[str, str]]:
    """Each topic's source for this API, and the topics it cannot serve with why."""
    sources: dict[str, Source] = {
        "pairs": PairEvents(ctx.engine, ctx.trader_id, hub, s.tail_every_s),
        "training": TrainingProgress(ctx.engine, hub, s.training_every_s),
        "logs": LogSource(hub),
    }
    unavailable: dict[str, str] = {}
    service = ctx.service
    if service is not None:
        bus = BusSource(service.kernel.bus, hub)
        sources.update(dict.fromkeys(BUS_ROUTES, bus))
    else:
        tail = EventLogTail(ctx.engine, ctx.trader_id, hub, s.tail_every_s)
        sources.update(dict.fromkeys(LOGGED, tail))
        unavailable["prices"] = PRICES_STANDALONE
    return sources, unavailable
