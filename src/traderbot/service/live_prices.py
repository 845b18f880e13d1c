"""Live top of book for the pairs that trade: the risk engine's price reference and the spread guards.

Each tick from the broker's price stream becomes the pair's reference price (the mid) for the price collar, so
a limit or stop is checked against the market now rather than the last bar's close, and feeds the market
breakers' spread and stale-data checks when they are configured. The stream follows the running pairs: when
the set changes it is opened again for the new set. A stream that fails is logged and opened again after
`retry_s`; prices are an aid to the checks, never a reason to stop trading.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Collection
from decimal import Decimal

from traderbot.brokers.base import Broker, PriceTick
from traderbot.kernel.kernel import Kernel

log = logging.getLogger("traderbot.service")
TWO = Decimal(2)


class PricePump:
    def __init__(
        self, kernel: Kernel, broker: Broker, pairs: Callable[[], Collection[str]], *, retry_s: float = 5.0
    ) -> None:
        self.kernel, self.broker, self.pairs, self.retry_s = kernel, broker, pairs, retry_s
        self.ticks = 0

    def on_tick(self, tick: PriceTick) -> None:
        self.ticks += 1
        self.kernel.risk.on_price(tick.instrument_id, tick.ts, (tick.bid + tick.ask) / TWO)
        bus = self.kernel.bus
        if bus.has_subscribers("prices"):  # the API's WebSocket, when a client follows prices
            bus.publish("prices", tick)
        market = self.kernel.risk_parts.market
        if market is not None:
            market.on_tick(tick.instrument_id, tick.ts, tick.bid, tick.ask)

    async def run(self, check_s: float = 0.25) -> None:
        """Until cancelled: one price stream for the running pairs, opened again when they change."""
        current: tuple[str, ...] = ()
        task: asyncio.Task[None] | None = None
        try:
            while True:
                wanted = tuple(sorted(self.pairs()))
                if wanted != current:
                    await _cancel(task)
                    task = asyncio.get_running_loop().create_task(self._stream(wanted)) if wanted else None
                    current = wanted
                await asyncio.sleep(check_s)
        finally:
            await _cancel(task)

    async def _stream(self, ids: tuple[str, ...]) -> None:
        while True:
            try:
                async for tick in self.broker.prices(ids):
                    self.on_tick(tick)
                log.warning("price stream of %s ended; opening it again", self.broker.name)
            except Exception as exc:
                log.warning("price stream of %s failed (%s); opening it again in %.0f s", self.broker.name, exc,
                            self.retry_s)  # fmt: skip
            await asyncio.sleep(self.retry_s)


async def _cancel(task: asyncio.Task[None] | None) -> None:
    if task is not None:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task
