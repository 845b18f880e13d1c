"""A logging handler that counts ERROR (and worse) records, for the error-rate rule: records per last minute.

Records of the alerts package itself are not counted (a failing notifier must not feed its own alert).
Thread-safe: records may come from any thread.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable

WINDOW_S = 60.0


class ErrorRate(logging.Handler):
    def __init__(self, clock: Callable[[], float] = time.monotonic, *, keep: int = 100_000) -> None:
        super().__init__(level=logging.ERROR)
        self.clock = clock
        self._times: deque[float] = deque(maxlen=keep)
        self._last: deque[str] = deque(maxlen=3)  # the latest messages, quoted in the alert
        self._guard = threading.Lock()

    def emit(self, record: logging.LogRecord) -> None:
        if record.name.startswith("traderbot.alerts"):
            return
        try:
            text = f"{record.name}: {record.getMessage()}"
        except Exception:  # a record whose arguments do not format still counts
            text = record.name
        with self._guard:
            self._times.append(self.clock())
            self._last.append(text[:300])

    def per_minute(self) -> int:
        """ERROR records in the last 60 seconds."""
        cutoff = self.clock() - WINDOW_S
        with self._guard:
            while self._times and self._times[0] < cutoff:
                self._times.popleft()
            return len(self._times)

    def latest(self) -> list[str]:
        with self._guard:
            return list(self._last)

    def install(self, logger: logging.Logger | None = None) -> None:
        (logger or logging.getLogger()).addHandler(self)

    def remove(self, logger: logging.Logger | None = None) -> None:
        (logger or logging.getLogger()).removeHandler(self)
