"""The alert dispatcher: `fire` (on the kernel's loop, never blocking) de-duplicates an alert and puts it in
each notifier's bounded queue; one asyncio task per notifier drains its queue, within its rate limit, with the
notifier's timeout and retries, so a notifier that is down delays only itself. A failure is logged, never
raised; a full queue drops the alert (counted and logged)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from traderbot.alerts.model import Alert
from traderbot.alerts.notifier import Notifier, deliver
from traderbot.alerts.throttle import Dedupe, RateLimit

log = logging.getLogger("traderbot.alerts")


@dataclass
class Outbox:
    """One notifier, its queue, its rate limit and what it did."""

    notifier: Notifier
    queue: asyncio.Queue[Alert]
    limit: RateLimit
    sent: int = 0
    failed: int = 0
    dropped: int = 0  # the queue was full
    last_error: str = ""
    task: asyncio.Task[None] | None = None


class AlertDispatcher:
    def __init__(self, notifiers: Sequence[Notifier], *, cooldown_s: float, max_per_minute: int,
                 queue_size: int = 1000, clock: Callable[[], float] = time.monotonic,
                 tick_s: float = 1.0, backoff_s: float = 0.5) -> None:  # fmt: skip
        """`tick_s`: how often an idle sender looks for a rate-limit summary to send; `backoff_s`: the first
        wait between retries."""
        self.clock, self.tick_s, self.backoff_s = clock, tick_s, backoff_s
        self.queue_size, self.max_per_minute = queue_size, max_per_minute
        self.dedupe = Dedupe(cooldown_s)
        self.outboxes = [self._outbox(n) for n in notifiers]
        self.fired = 0
        self._running = False

    def _outbox(self, notifier: Notifier) -> Outbox:
        return Outbox(notifier, asyncio.Queue(self.queue_size), RateLimit(self.max_per_minute))

    # ---- the kernel's side: never blocks ---------------------------------------------------------------------
    def fire(self, alert: Alert) -> bool:
        """Queue `alert` for every notifier unless its key was sent within the cooldown; True when queued."""
        if not self.dedupe.admit(alert.key, self.clock()):
            return False
        self.fired += 1
        for box in self.outboxes:
            try:
                box.queue.put_nowait(alert)
            except asyncio.QueueFull:
                box.dropped += 1
                if box.dropped in (1, 10, 100) or box.dropped % 1000 == 0:
                    log.warning(
                        "alert queue of %s is full: %d alert(s) dropped", box.notifier.label, box.dropped
                    )
        return True

    def resolve(self, key: str) -> None:
        """The condition behind `key` is over: its next alert is sent without waiting for the cooldown."""
        self.dedupe.resolve(key)

    # ---- the senders ---------------------------------------------------------------------------------------
    def start(self) -> None:
        self._running = True
        for box in self.outboxes:
            self._spawn(box)

    def _spawn(self, box: Outbox) -> None:
        if box.task is None:
            box.task = asyncio.get_running_loop().create_task(self._drain(box))

    async def stop(self, grace_s: float = 2.0) -> None:
        """Give queued alerts up to `grace_s` to go out, then stop the senders."""
        self._running = False
        deadline = self.clock() + grace_s
        while self.clock() < deadline and any(not b.queue.empty() for b in self.outboxes):
            await asyncio.sleep(0.02)
        await self._cancel(self.outboxes)

    @staticmethod
    async def _cancel(boxes: Sequence[Outbox]) -> None:
        tasks = [b.task for b in boxes if b.task is not None]
        for t in tasks:
            t.cancel()
        for t in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await t
        for b in boxes:
            b.task = None

    def configure(self, notifiers: Sequence[Notifier], *, cooldown_s: float, max_per_minute: int,
                  queue_size: int) -> None:  # fmt: skip
        """New notifiers and limits (a reloaded `[alerts]`), on the loop's thread; alerts waiting for a notifier
        that is kept (same label) move to its new queue. A send in progress on an old notifier is abandoned."""
        old = self.outboxes
        for b in old:
            if b.task is not None:
                b.task.cancel()
                b.task = None
        self.dedupe.cooldown_s, self.max_per_minute, self.queue_size = cooldown_s, max_per_minute, queue_size
        waiting = {b.notifier.label: b for b in old}
        self.outboxes = [self._outbox(n) for n in notifiers]
        for box in self.outboxes:
            prev = waiting.get(box.notifier.label)
            while prev is not None and not prev.queue.empty() and not box.queue.full():
                box.queue.put_nowait(prev.queue.get_nowait())
        if self._running:
            for box in self.outboxes:
                self._spawn(box)

    async def _drain(self, box: Outbox) -> None:
        while True:
            try:
                alert: Alert | None = await asyncio.wait_for(box.queue.get(), self.tick_s)
            except TimeoutError:
                alert = None
            summary = box.limit.summary(self.clock())
            if summary is not None:
                await self._send(box, summary)
            if alert is None:
                continue
            if box.limit.allow(self.clock()):
                await self._send(box, alert)
            else:
                box.limit.count(alert)

    async def _send(self, box: Outbox, alert: Alert) -> None:
        error = await deliver(box.notifier, alert, backoff_s=self.backoff_s)
        if error is None:
            box.sent += 1
            return
        box.failed += 1
        box.last_error = error
        log.warning("alert %s (%s) not sent by %s: %s", alert.key, alert.title, box.notifier.label, error)

    def status(self) -> list[dict[str, object]]:
        """Per notifier: sent, failed, dropped (queue full), held back by the rate limit, waiting, last error."""
        return [{"notifier": b.notifier.label, "sent": b.sent, "failed": b.failed, "dropped": b.dropped,
                 "rate_limited": b.limit.total_over, "waiting": b.queue.qsize(), "last_error": b.last_error}
                for b in self.outboxes]  # fmt: skip
