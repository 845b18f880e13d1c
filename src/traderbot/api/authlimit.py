"""Failed-authentication limiting: after `limit` failures within `window_s` seconds from one client address
(or, for password logins, against one username), that subject is locked until its oldest failure leaves the
window. Only guesses count (a wrong or malformed key, a forged token, a wrong password), never an expired
token or a call without credentials. In memory, per API process (a restart forgets)."""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable

MAX_SUBJECTS = 10_000  # bounded memory under a spray of addresses: the stalest subjects are forgotten first


class FailedAuthLimiter:
    def __init__(self, limit: int, window_s: float, *, clock: Callable[[], float] = time.monotonic) -> None:
        if limit < 1 or window_s <= 0:
            raise ValueError(f"failed-auth limit needs limit >= 1 and window > 0 (got {limit}, {window_s})")
        self.limit, self.window_s, self.clock = limit, window_s, clock
        self._failures: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def locked_for(self, subject: str) -> float:
        """Seconds until `subject` may try again; 0.0 when it is not locked."""
        now = self.clock()
        with self._lock:
            times = self._recent(subject, now)
            if len(times) < self.limit:
                return 0.0
            return max(0.0, times[-self.limit] + self.window_s - now)

    def fail(self, subject: str) -> bool:
        """Count one failure of `subject`; True when this failure locks it (the moment to audit)."""
        now = self.clock()
        with self._lock:
            times = self._recent(subject, now)
            was_locked = len(times) >= self.limit
            times.append(now)  # a failure while locked keeps the lock on
            self._failures[subject] = times
            if len(self._failures) > MAX_SUBJECTS:
                del self._failures[next(iter(self._failures))]
            return not was_locked and len(times) >= self.limit

    def clear(self, subject: str) -> None:
        """Forget `subject`'s failures (a username after its correct password)."""
        with self._lock:
            self._failures.pop(subject, None)

    def _recent(self, subject: str, now: float) -> deque[float]:
        times = self._failures.pop(subject, None) or deque(
            maxlen=self.limit
        )  # re-inserted: order = staleness
        while times and times[0] <= now - self.window_s:
            times.popleft()
        if times:
            self._failures[subject] = times
        return times
