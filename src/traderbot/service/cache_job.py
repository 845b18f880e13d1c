"""Live mode's scheduled cache refresh: the data folder's market-data cache (`store/`) kept fresh for the
running pairs, each at its own timeframe (the series `live_history.warm_series` reads when a pair starts).

Each pair has its own `CacheRefresher` (data/cache_refresher.py), created when the pair starts running and
dropped when it stops: it refreshes the pair on the `[cache]` schedule (every N minutes while its market is
open, once before the open), then validates it with the `[cache]` thresholds; the cache's `on_invalid` stops a
pair whose cache turns invalid, the others keep trading. A failed refresh (the broker down, a timeout, a bad
answer) is logged and tried again at the pair's next scheduled refresh: nothing here stops the service.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping

from traderbot.data.cache_refresher import CacheRefresher, RoundResult
from traderbot.data.cache_repair import CandleSource
from traderbot.data.cache_schedule import RefreshSchedule
from traderbot.data.cache_validate import CacheConfig, CacheHealth
from traderbot.data.market_cache import MarketDataCache

log = logging.getLogger("traderbot.service")


class CacheJob:
    """Refreshes and validates the cache of every running pair on the schedule; `run` loops until stopped."""

    def __init__(self, cache: MarketDataCache, source: CandleSource, pairs: Callable[[], Mapping[str, str]],
                 schedule: RefreshSchedule, *, tick_s: float = 1.0) -> None:  # fmt: skip
        """`pairs()`: the running pairs and their timeframes, read every `tick_s` (pairs join and leave)."""
        self.cache, self.source, self.pairs = cache, source, pairs
        self.schedule, self.tick_s = schedule, tick_s
        self.refreshers: dict[str, CacheRefresher] = {}  # pair -> its refresher (one pair, its timeframe)
        self.due_ns: dict[str, int] = {}  # pair -> when it is refreshed next
        self.health: dict[str, CacheHealth] = {}  # pair -> its health after its last refresh
        self.rounds = self.errors = 0  # rounds that refreshed at least one pair; refreshes that failed

    def configure(self, config: CacheConfig, schedule: RefreshSchedule) -> None:
        """New thresholds and schedule (a reloaded `[cache]`): every pair is refreshed again at once."""
        self.cache.config, self.schedule = config, schedule
        for r in self.refreshers.values():
            r.schedule = schedule
            r.last.clear()
        self.due_ns.clear()

    def sync(self) -> None:
        """Follow the running pairs: a new one (or one whose timeframe changed) is refreshed at once."""
        wanted = dict(self.pairs())
        for pair in [p for p, r in self.refreshers.items() if wanted.get(p) != r.timeframe]:
            del self.refreshers[pair]
            self.due_ns.pop(pair, None)
            self.health.pop(pair, None)
        for pair, tf in wanted.items():
            if pair not in self.refreshers:
                self.refreshers[pair] = CacheRefresher(self.cache, self.source, [pair], timeframe=tf,
                                                       schedule=self.schedule)  # fmt: skip

    async def run_due(self) -> list[RoundResult]:
        """One round: refresh and validate the pairs that are due now; returns what each refresh did."""
        self.sync()
        now = self.cache.now_ns()
        done: list[RoundResult] = []
        for pair, refresher in list(self.refreshers.items()):
            if self.due_ns.get(pair, now) > now:
                continue
            try:
                result = await refresher.run_due(now)
            except Exception as exc:  # broker down, timeout, garbage: this refresh is lost, the next one runs
                self.errors += 1
                refresher.last[refresher.pairs[0]] = now  # tried: due again at its next scheduled time
                self.due_ns[pair] = refresher.next_due(now)
                log.warning("cache refresh %s %s failed (%s: %s); trying again at the next refresh", pair,
                            refresher.timeframe, type(exc).__name__, exc)  # fmt: skip
                continue
            self.due_ns[pair] = result.next_due_ns
            if result.refreshed:
                self._report(pair, result)
                done.append(result)
        if done:
            self.rounds += 1
        return done

    def _report(self, pair: str, result: RoundResult) -> None:
        for refreshed, health in zip(result.refreshed, result.health, strict=True):
            self.health[pair] = health
            if health.valid:
                log.info("cache refresh %s; valid, score %.1f", refreshed.message, health.score)
            else:
                log.warning("cache refresh %s; INVALID: %s", refreshed.message, "; ".join(health.failures))

    def wait_s(self) -> float:
        """Seconds until the next pair is due, at most `tick_s` (so pairs that start are picked up)."""
        now = self.cache.now_ns()
        soonest = min(self.due_ns.values(), default=now + int(self.tick_s * 1e9))
        return min(self.tick_s, max(0.0, (soonest - now) / 1e9))

    async def run(self, stopping: asyncio.Event) -> None:
        while not stopping.is_set():
            try:
                await self.run_due()
            except Exception:  # a bug here must not end the job (nor the service): logged, next round runs
                log.exception("cache refresh round failed")
            await asyncio.sleep(self.wait_s())
