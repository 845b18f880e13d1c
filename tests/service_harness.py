"""Helpers for tests that run the trading service on an event loop: wait for a condition, run a body."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

from traderbot.service.service import TradingService


async def until(cond: Callable[[], object], timeout: float = 5.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not reached within {timeout} s")
        await asyncio.sleep(0.01)


def run_service(service: TradingService, body: Callable[[], Awaitable[None]]) -> None:
    """Start the service, run `body` once it has started, then stop it and wait for its clean shutdown."""

    async def main() -> None:
        task = asyncio.create_task(service.run())
        try:
            await asyncio.wait_for(service.started.wait(), 10)
            await body()
        finally:
            service.stop()
            await task

    asyncio.run(main())
