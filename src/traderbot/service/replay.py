"""The paper service's feed: recorded bars released in close-time order as the replay clock passes them.

The replay clock runs from a start time at `speed` times real time (or as fast as possible). Each series has a
cursor; a heap holds the next bar of every active series, so releasing the bars due is O(log n) per bar however
many pairs there are. Released bars go through the kernel's own dispatch (`Kernel._run_events`), exactly as in a
backtest: the cache, the venue's fills, the risk engine and the strategies see them the same way. A series added
while running starts at the replay time (its earlier bars visible at once, for warming indicators); a removed one
is simply no longer released.
"""

from __future__ import annotations

import heapq
import time
from array import array
from typing import Any

import numpy as np

from traderbot.kernel.kernel import Kernel, _columns

FOREVER = 2**62


class ReplayFeed:
    def __init__(self, kernel: Kernel, start_ns: int, speed: float | None) -> None:
        """`speed`: replay seconds per wall second; None: as fast as possible."""
        self.kernel = kernel
        self.start_ns = start_ns
        self.speed = speed
        self._wall0 = time.perf_counter()
        self._base_ns = start_ns  # replay time at _wall0
        self._heap: list[tuple[int, int, int]] = []  # (close ns, series, row)
        self._cols: list[tuple[array[Any], ...]] = []
        self._closes: list[array[Any]] = []  # close times per series, as a Python array (cheap to index)
        self._active: set[int] = set()
        self.released = 0
        self.now_ns = start_ns  # the replay clock as of the last release

    # ---- series ----------------------------------------------------------------------------------------------
    def add_series(self, sid: int) -> None:
        """Start releasing series `sid` from the replay time on; its bars closed by then become visible now."""
        cache = self.kernel.cache
        while len(self._cols) <= sid:
            s = cache.series[len(self._cols)]
            self._cols.append(_columns(s))
            self._closes.append(array("q", s.ts_close.astype(np.int64).tobytes()))
        closes = self._closes[sid]
        row = int(np.searchsorted(cache.series[sid].ts_close, self.now_ns, side="right"))
        cache.visible[sid] = max(cache.visible[sid], row)
        self._active.add(sid)
        if row < len(closes):
            heapq.heappush(self._heap, (closes[row], sid, row))

    def remove_series(self, sid: int) -> None:
        self._active.discard(sid)

    @property
    def exhausted(self) -> bool:
        return not any(sid in self._active for _, sid, _ in self._heap)

    def next_close(self) -> int | None:
        while self._heap and self._heap[0][1] not in self._active:
            heapq.heappop(self._heap)
        return self._heap[0][0] if self._heap else None

    # ---- the clock -------------------------------------------------------------------------------------------
    def clock(self) -> int:
        """Replay time now."""
        if self.speed is None:
            return FOREVER
        return self._base_ns + int((time.perf_counter() - self._wall0) * self.speed * 1e9)

    def wait_s(self) -> float:
        """Wall seconds until the next bar is due (0 when one is due now; 1 when nothing is left)."""
        nxt = self.next_close()
        if nxt is None:
            return 1.0
        if self.speed is None:
            return 0.0
        return max(0.0, (nxt - self.clock()) / (self.speed * 1e9))

    # ---- releasing ---------------------------------------------------------------------------------------------
    def release(self, limit: int = 5_000) -> int:
        """Dispatch the bars due by the replay clock (at most `limit`); returns how many."""
        until = self.clock()
        heap, active = self._heap, self._active
        ts_a, sid_a, row_a = array("q"), array("q"), array("q")
        all_closes = self._closes
        while heap and len(ts_a) < limit:
            t, sid, row = heap[0]
            if sid not in active:
                heapq.heappop(heap)
                continue
            if t > until:
                break
            heapq.heappop(heap)
            ts_a.append(t)
            sid_a.append(sid)
            row_a.append(row)
            closes = all_closes[sid]
            if row + 1 < len(closes):
                heapq.heappush(heap, (closes[row + 1], sid, row + 1))
        if ts_a:
            self.kernel._run_events((ts_a, sid_a, row_a), self._cols, whole=False)
            self.kernel.bars_processed += len(ts_a)
            self.released += len(ts_a)
            self.now_ns = ts_a[-1]
        elif self.speed is not None:
            self.now_ns = max(self.now_ns, until)
        return len(ts_a)

    def rebase(self, now_ns: int) -> None:
        """Continue the replay clock from `now_ns` (after a pause or a restart)."""
        self._wall0, self._base_ns, self.now_ns = time.perf_counter(), now_ns, now_ns
