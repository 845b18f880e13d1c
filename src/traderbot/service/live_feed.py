"""The live service's feed: each pair's bars from its broker, dispatched through the kernel as a replay's are.

A pair's history is fetched before it starts (`load`, for PairHost: None while the fetch is under way, so the
pair watcher asks again on its next step) and is visible at once, so indicators are warm. While the pair runs,
a task per series asks the broker for the bars completed since its newest one: a little after the next bar's
close (`grace_s`), then every `retry_s` until one comes (late bars, market closures). New bars are appended to
the kernel's series (`Kernel.extend_series`: indicators computed again, old rows unchanged) and released in
close-time order through `Kernel._run_events`, so the cache, the risk engine and the strategies see them
exactly as in a backtest. Repeated bars are skipped, gaps accepted, and a broker error on a poll is logged and
the poll tried again later: nothing here stops the service. A pair started again after a stop first catches up
on the bars it missed, as history (visible, not dispatched: no trading on stale bars).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from array import array
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from traderbot.brokers.base import Broker, BrokerRejected
from traderbot.data.market_cache import MarketDataCache
from traderbot.data.series import BarSeries
from traderbot.errors import UserError
from traderbot.kernel.kernel import Kernel, _columns
from traderbot.model.data import Bar
from traderbot.model.timeframe import Timeframe
from traderbot.service.live_history import broker_timeframe, new_bars, warm_series

log = logging.getLogger("traderbot.service")
_EMPTY: tuple[array[Any], ...] = tuple(array("d") for _ in range(5))  # series not dispatched from here
FRESH_S = (
    5.0  # history fetched longer ago than this when its pair finally starts (it was disabled): fetch again
)


@dataclass
class _Follow:
    pair: str
    tf: Timeframe
    last_ts: int  # open time of the newest bar held (in the series or waiting to be released)
    history: bool  # the first poll catches up as history (a pair started again after a stop)
    task: asyncio.Task[None] | None = None
    pending: list[Bar] = field(default_factory=list)


class LiveFeed:
    speed: float | None = None  # paced by the market, not by a replay speed (kept for the config applier)

    def __init__(
        self,
        kernel: Kernel,
        broker: Broker,
        *,
        warm_bars: int = 500,
        grace_s: float = 2.0,
        retry_s: float = 5.0,
        market_cache: MarketDataCache | None = None,
        on_failure: Callable[[str, str], None] = lambda pair, reason: None,
    ) -> None:
        self.kernel, self.broker = kernel, broker
        self.warm_bars, self.grace_s, self.retry_s = warm_bars, grace_s, retry_s
        self.market_cache = market_cache
        self.on_failure = on_failure  # (pair, reason): a series that could not grow stops its pair
        self.released = 0
        self.now_ns = 0  # close time of the newest bar released
        self.polls = self.errors = 0
        self._follow: dict[int, _Follow] = {}
        self._known: set[int] = set()  # series followed before (their pair was stopped and started again)
        self._cols: dict[int, tuple[array[Any], ...]] = {}
        self._warming: dict[tuple[str, str], asyncio.Task[tuple[BarSeries, float]]] = {}
        self._not_before: dict[tuple[str, str], float] = {}  # after a failed fetch: when to ask again

    # ---- history, for PairHost -----------------------------------------------------------------------------
    def describe(self) -> str:
        return f"{self.broker.name} candles"

    def has(self, pair: str, timeframe: str) -> bool:
        # the broker is asked when the pair starts; what it refuses locks the pair with its reason
        return True

    def load(self, pair: str, timeframe: str) -> BarSeries | None:
        """The pair's history once fetched; None while the fetch runs (it starts here). UserError when the
        broker refuses (an unknown instrument or timeframe): the pair cannot trade."""
        key = (pair, timeframe)
        task = self._warming.get(key)
        if task is None:
            if time.monotonic() >= self._not_before.get(key, 0.0):
                self._warming[key] = asyncio.get_running_loop().create_task(self._warm(pair, timeframe))
            return None
        if not task.done():
            return None
        del self._warming[key]
        exc = task.exception()
        if exc is None:
            series, at = task.result()
            return series if time.monotonic() - at < FRESH_S else self.load(pair, timeframe)
        if isinstance(exc, UserError | BrokerRejected):
            raise UserError(f"{pair} {timeframe}: no history from {self.broker.name}: {exc}") from exc
        self.errors += 1
        log.warning("%s %s: history from %s failed (%s); asking again in %.0f s", pair, timeframe,
                    self.broker.name, exc, self.retry_s)  # fmt: skip
        self._not_before[key] = time.monotonic() + self.retry_s
        return None

    async def _warm(self, pair: str, timeframe: str) -> tuple[BarSeries, float]:
        series = await warm_series(self.broker, pair, timeframe, count=self.warm_bars, now_ns=time.time_ns(),
                                   cache=self.market_cache)  # fmt: skip
        return series, time.monotonic()

    # ---- series ----------------------------------------------------------------------------------------------
    def add_series(self, sid: int) -> None:
        """Follow series `sid` from its newest bar on; the bars it holds are visible now."""
        s = self.kernel.cache.series[sid]
        self.kernel.cache.visible[sid] = len(s)
        f = _Follow(s.instrument_id, s.timeframe, int(s.ts[-1]), history=sid in self._known)
        self._known.add(sid)
        self._cols[sid] = _columns(s)
        self._follow[sid] = f
        f.task = asyncio.get_running_loop().create_task(self._poll(sid, f))

    def remove_series(self, sid: int) -> None:
        f = self._follow.pop(sid, None)
        if f is not None and f.task is not None:
            f.task.cancel()

    async def aclose(self) -> None:
        tasks = [f.task for f in self._follow.values() if f.task is not None] + list(self._warming.values())
        self._follow.clear()
        for t in tasks:
            t.cancel()
        for t in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await t

    @property
    def exhausted(self) -> bool:
        return False  # the market goes on

    def next_close(self) -> int | None:
        """When the next bar of any followed series closes (UTC ns), None when none is followed."""
        return min((f.last_ts + 2 * f.tf.ns for f in self._follow.values()), default=None)

    def wait_s(self) -> float:
        return 0.05  # bars arrive from the poll tasks; the service's loop looks for them this often

    def rebase(self, now_ns: int) -> None:
        """Nothing to do: live time is the wall clock."""

    # ---- polling ---------------------------------------------------------------------------------------------
    def _delay(self, f: _Follow) -> float:
        """Seconds until the next bar should be complete at the broker (at least `retry_s`)."""
        due_ns = f.last_ts + 2 * f.tf.ns  # the next bar opens one length after the newest, closes one later
        return max(self.retry_s, (due_ns - time.time_ns()) / 1e9 + self.grace_s)

    async def _poll(self, sid: int, f: _Follow) -> None:
        delay = 0.0 if f.history else self._delay(f)
        name = broker_timeframe(f.tf)
        while True:
            await asyncio.sleep(delay)
            self.polls += 1
            try:
                got = await self.broker.candles(f.pair, name, f.last_ts + f.tf.ns, time.time_ns() + f.tf.ns)
            except Exception as exc:  # broker down, timeout, garbage: this poll is lost, the next asks again
                self.errors += 1
                log.warning("%s %s: bars from %s failed (%s); asking again in %.0f s", f.pair, f.tf,
                            self.broker.name, exc, self.retry_s)  # fmt: skip
                delay = self.retry_s
                continue
            bars, dropped = new_bars(got, f.last_ts)
            if dropped:
                log.info("%s %s: %d repeated or empty bar(s) skipped", f.pair, f.tf, dropped)
            if bars and bars[0].ts > f.last_ts + f.tf.ns:
                log.info("%s %s: %d bar(s) missing before %s (gap accepted)", f.pair, f.tf,
                         (bars[0].ts - f.last_ts) // f.tf.ns - 1, bars[0].ts)  # fmt: skip
            if bars:
                f.last_ts = bars[-1].ts
                if f.history:
                    self._grow(sid, bars, visible=True)
                else:
                    f.pending.extend(bars)
            f.history = False
            delay = self._delay(f)

    # ---- releasing ---------------------------------------------------------------------------------------------
    def _grow(self, sid: int, bars: list[Bar], *, visible: bool = False) -> int | None:
        """Append to the kernel's series; the row of the first new bar, or None when it could not grow."""
        cache = self.kernel.cache
        before = len(cache.series[sid])
        try:
            row: int | None = self.kernel.extend_series(sid, bars)
        except Exception as exc:  # an indicator that changed its past, bad bars: this pair stops, no other
            pair = cache.series[sid].instrument_id
            self.on_failure(pair, f"{pair}: new bars could not be added: {exc}")  # logged and paused there
            row = before if len(cache.series[sid]) > before else None
        self._cols[sid] = _columns(cache.series[sid])
        if visible:
            cache.visible[sid] = len(cache.series[sid])
        return row

    def release(self, limit: int = 5_000) -> int:
        """Dispatch the bars fetched since the last call, in close-time order; returns how many."""
        events: list[tuple[int, int, int]] = []
        for sid, f in list(self._follow.items()):
            if not f.pending:
                continue
            bars, f.pending = f.pending, []
            row = self._grow(sid, bars)
            if row is not None and sid in self._follow:
                events += [(b.ts_close, sid, row + j) for j, b in enumerate(bars)]
        if not events:
            return 0
        events.sort()
        plan = tuple(array("q", col) for col in zip(*events, strict=True))
        cols = [self._cols.get(k, _EMPTY) for k in range(len(self.kernel.cache.series))]
        self.kernel._run_events(plan, cols, whole=False)
        self.kernel.bars_processed += len(events)
        self.released += len(events)
        self.now_ns = max(self.now_ns, events[-1][0])
        return len(events)
