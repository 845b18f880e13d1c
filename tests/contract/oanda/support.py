"""Helpers for the OANDA adapter's contract tests: a fast-timing broker against the fake."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from tests.fakes.oanda_fake import OandaFake

from traderbot.brokers.credentials import Secret
from traderbot.brokers.oanda import OandaBroker, OandaConfig

TOKEN = "tok-7f3a9c-very-secret-5e21"
T = TypeVar("T")


def config_for(fake: OandaFake, **overrides: Any) -> OandaConfig:
    """Short timeouts so failure paths run in well under a second; OANDA's limits stay as documented."""
    settings: dict[str, Any] = {
        "account_id": fake.account_id,
        "token": Secret(TOKEN),
        "rest_url": fake.url,
        "stream_url": fake.url,
        "timeout": 1.0,
        "stall_timeout": 0.6,
        "retry_backoff": 0.02,
        "reconnect_backoff": 0.05,
    }
    settings.update(overrides)
    return OandaConfig(**settings)


def run(
    fake: OandaFake, body: Callable[[OandaBroker], Awaitable[T]], *, connect: bool = True, **overrides: Any
) -> T:
    """Run `body(broker)` in a fresh event loop against the fake, closing the broker afterwards."""

    async def main() -> T:
        broker = OandaBroker(config_for(fake, **overrides))
        try:
            if connect:
                await broker.connect()
            return await asyncio.wait_for(body(broker), 20)
        finally:
            await broker.close()

    return asyncio.run(main())


async def eventually(check: Callable[[], bool], timeout: float = 5.0, what: str = "condition") -> None:
    """Wait for `check()` with a deadline (no fixed sleeps)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not check():
        if loop.time() > deadline:
            raise AssertionError(f"{what} not reached within {timeout} s")
        await asyncio.sleep(0.02)
