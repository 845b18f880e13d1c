"""The message bus: topic pub/sub delivered synchronously, in order, on the kernel thread.

Handlers published to while another publish is being delivered are queued and run afterwards, so the order of
delivery is the order of publication (breadth-first), which keeps runs deterministic.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from typing import Any

Handler = Callable[[Any], None]


class MessageBus:
    def __init__(self) -> None:
        self._subs: dict[str, list[Handler]] = {}
        self._queue: deque[tuple[str, Any]] = deque()
        self._delivering = False
        self.published = 0

    def subscribe(self, topic: str, handler: Handler) -> None:
        handlers = self._subs.setdefault(topic, [])
        if handler not in handlers:
            handlers.append(handler)

    def unsubscribe(self, topic: str, handler: Handler) -> None:
        handlers = self._subs.get(topic, [])
        if handler in handlers:
            handlers.remove(handler)

    def has_subscribers(self, topic: str) -> bool:
        """True when a publish on `topic` reaches anyone (its own subscribers or '*' taps): callers may skip
        building a message nobody would receive."""
        return bool(self._subs.get(topic) or self._subs.get("*"))

    def publish(self, topic: str, message: Any) -> None:
        """Deliver to subscribers of `topic` and of '*' (taps such as loggers and stores)."""
        self.published += 1
        subs = self._subs
        if not subs.get(topic) and not subs.get("*"):
            return  # nobody listens: nothing to deliver or queue
        if self._delivering:
            self._queue.append((topic, message))
            return
        self._delivering = True
        try:
            self._deliver(topic, message)
            while self._queue:
                t, m = self._queue.popleft()
                self._deliver(t, m)
        finally:
            self._delivering = False
            self._queue.clear()

    def _deliver(self, topic: str, message: Any) -> None:
        for h in self._subs.get(topic, ()):
            h(message)
        for h in self._subs.get("*", ()):
            h(message)
