"""The cache kept fresh on its schedule: each pair is refreshed when `RefreshSchedule.next_due` says so (every
N minutes while its market is open, once ahead of the open), then validated, so a pair whose cache went bad is
reported through the cache's `on_invalid` (which stops it trading). `run_due(now)` does one round; `run` loops
on a clock until stopped (the service, or `traderbot cache refresh --follow`)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field

from traderbot.data.cache_repair import CandleSource
from traderbot.data.cache_schedule import RefreshResult, RefreshSchedule
from traderbot.data.cache_validate import CacheHealth
from traderbot.data.market_cache import MarketDataCache
from traderbot.data.store import normalize_instrument

Sleep = Callable[[float], Awaitable[None]]


@dataclass
class RoundResult:
    """What one round did: the pairs refreshed (with their health after it) and when the next one is due."""

    refreshed: list[RefreshResult] = field(default_factory=list)
    health: list[CacheHealth] = field(default_factory=list)
    next_due_ns: int = 0


class CacheRefresher:
    def __init__(self, cache: MarketDataCache, source: CandleSource, pairs: Sequence[str], *,
                 timeframe: str = "1m", schedule: RefreshSchedule | None = None) -> None:  # fmt: skip
        self.cache, self.source, self.timeframe = cache, source, timeframe
        self.pairs = [normalize_instrument(p) for p in pairs]
        self.schedule = schedule or RefreshSchedule()
        self.last: dict[str, int] = {}  # pair -> time of its last refresh

    def due(self, now_ns: int) -> list[str]:
        return [p for p in self.pairs if self.schedule.next_due(p, now_ns, self.last.get(p)) <= now_ns]

    def next_due(self, now_ns: int) -> int:
        return min(self.schedule.next_due(p, now_ns, self.last.get(p)) for p in self.pairs)

    async def run_due(self, now_ns: int) -> RoundResult:
        """Refresh and validate the pairs due at `now_ns`."""
        out = RoundResult()
        due = self.due(now_ns)
        if due:
            out.refreshed = await self.cache.refresh(due, self.timeframe, self.source)
            for pair in due:
                self.last[pair] = now_ns
                out.health.append(self.cache.validate(pair, self.timeframe))
        out.next_due_ns = self.next_due(now_ns)
        return out

    async def run(self, now_ns: Callable[[], int], sleep: Sleep = asyncio.sleep, rounds: int | None = None,
                  on_round: Callable[[RoundResult], None] | None = None) -> None:  # fmt: skip
        """Loop: refresh what is due, then sleep until the next refresh (`rounds` bounds it for tests)."""
        done = 0
        while rounds is None or done < rounds:
            result = await self.run_due(now_ns())
            if on_round is not None:
                on_round(result)
            done += 1
            wait = max(0.0, (result.next_due_ns - now_ns()) / 1e9)
            await sleep(wait)
