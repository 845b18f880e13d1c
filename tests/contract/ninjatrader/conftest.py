"""Fixtures: a fake NinjaTrader 8 on real temp folders and an adapter configured for it (short timings)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from tests.fakes.ninjatrader_fake import NinjaTraderFake

from traderbot.brokers.ninjatrader import NinjaTraderBroker, NinjaTraderConfig

ES = "ES 12-26"


def make_config(root: Path, **overrides: object) -> NinjaTraderConfig:
    settings: dict[str, object] = {
        "incoming_dir": root / "incoming",
        "outgoing_dir": root / "outgoing",
        "state_dir": root / "state",
        "instruments": {"ES": ES},
        "poll_interval": 0.01,
        "settle_time": 0.02,
        "ack_timeout": 3.0,
        "declared_balance": Decimal("100000"),
    }
    settings.update(overrides)
    return NinjaTraderConfig(**settings)  # type: ignore[arg-type]


@pytest.fixture
def fake(tmp_path: Path) -> Iterator[NinjaTraderFake]:
    with NinjaTraderFake(tmp_path) as nt:
        yield nt


@pytest.fixture
def broker(fake: NinjaTraderFake, tmp_path: Path) -> NinjaTraderBroker:
    return NinjaTraderBroker(make_config(tmp_path))


async def until(check: Callable[[], Awaitable[bool]], timeout: float = 5.0, what: str = "condition") -> None:
    """Wait for an async condition with a deadline (never a fixed sleep)."""
    deadline = time.monotonic() + timeout
    while not await check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.01)


def wait_for(check: Callable[[], bool], timeout: float = 5.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.005)
