"""Clocks: simulated time for backtests and replays, real time for live. All times are UTC ns since epoch."""

from __future__ import annotations

import heapq
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol


class Clock(Protocol):
    def now_ns(self) -> int: ...

    def set_timer(self, name: str, at_ns: int, callback: Callable[[int], None]) -> None: ...

    def cancel_timer(self, name: str) -> None: ...


@dataclass(order=True, slots=True)
class _Timer:
    at_ns: int
    seq: int
    name: str = field(compare=False)
    callback: Callable[[int], None] = field(compare=False)
    cancelled: bool = field(default=False, compare=False)


class _TimerQueue:
    def __init__(self) -> None:
        self._heap: list[_Timer] = []
        self._by_name: dict[str, _Timer] = {}
        self._seq = 0

    def set_timer(self, name: str, at_ns: int, callback: Callable[[int], None]) -> None:
        self.cancel_timer(name)
        self._seq += 1
        t = _Timer(at_ns, self._seq, name, callback)
        self._by_name[name] = t
        heapq.heappush(self._heap, t)

    def cancel_timer(self, name: str) -> None:
        t = self._by_name.pop(name, None)
        if t is not None:
            t.cancelled = True

    def next_due(self) -> int | None:
        while self._heap and self._heap[0].cancelled:
            heapq.heappop(self._heap)
        return self._heap[0].at_ns if self._heap else None

    def pop_due(self, now_ns: int) -> list[_Timer]:
        due: list[_Timer] = []
        while self._heap and self._heap[0].at_ns <= now_ns:
            t = heapq.heappop(self._heap)
            if not t.cancelled:
                self._by_name.pop(t.name, None)
                due.append(t)
        return due


class SimulatedClock(_TimerQueue):
    """Time moves only when the kernel advances it (bar to bar); timers fire in time order when passed."""

    def __init__(self, start_ns: int = 0) -> None:
        super().__init__()
        self._now = start_ns

    def now_ns(self) -> int:
        return self._now

    def advance_to(self, ts_ns: int) -> None:
        """Move time forward, firing every timer due on the way at its own time."""
        if ts_ns < self._now:
            raise ValueError(f"simulated time cannot go backwards ({ts_ns} < {self._now})")
        if self._heap:
            for t in self.pop_due(ts_ns):
                self._now = max(self._now, t.at_ns)
                t.callback(t.at_ns)
        self._now = ts_ns


class LiveClock(_TimerQueue):
    """Wall-clock time; the live service polls `fire_due()` from its event loop."""

    def now_ns(self) -> int:
        return time.time_ns()

    def advance_to(self, ts_ns: int) -> None:
        """A bar dispatched by the kernel does not move a wall clock: only the timers due by now fire."""
        self.fire_due()

    def fire_due(self) -> int:
        due = self.pop_due(self.now_ns())
        for t in due:
            t.callback(t.at_ns)
        return len(due)
