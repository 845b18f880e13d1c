"""Runs one scenario against a real AlpacaBroker wired to a fresh AlpacaFake on 127.0.0.1."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import Any

from tests.fakes.alpaca_fake import AlpacaFake

from traderbot.brokers.alpaca import AlpacaBroker, AlpacaConfig
from traderbot.brokers.credentials import Secret
from traderbot.model.enums import OrderSide, OrderType
from traderbot.model.order import Order

Scenario = Callable[[AlpacaFake, AlpacaBroker], Awaitable[None]]
_seq = iter(range(1, 1_000_000))


def config_for(fake: AlpacaFake, **overrides: Any) -> AlpacaConfig:
    """Short timeouts and backoffs so failures show within a second."""
    fields: dict[str, Any] = {
        "key_id": Secret(fake.key_id),
        "secret_key": Secret(fake.secret_key),
        "trading_url": fake.trading_url,
        "data_url": fake.data_url,
        "stream_url": fake.stream_url,
        "quotes_url": fake.quotes_url,
        "timeout": 2.0,
        "retry_backoff": 0.01,
        "stream_ping_interval": 0.2,
        "stream_ping_timeout": 0.3,
        "stream_open_timeout": 2.0,
        "reconnect_min": 0.05,
        "reconnect_max": 0.2,
    }
    fields.update(overrides)
    return AlpacaConfig(**fields)


def run(scenario: Scenario, **overrides: Any) -> None:
    async def main() -> None:
        async with AlpacaFake() as fake:
            broker = AlpacaBroker(config_for(fake, **overrides))
            try:
                await asyncio.wait_for(scenario(fake, broker), 20)
            finally:
                await broker.close()

    asyncio.run(main())


async def until(condition: Callable[[], bool], what: str, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.01)


def order(
    side: str = "buy",
    qty: str = "10",
    type: OrderType = OrderType.MARKET,
    *,
    price: str | None = None,
    trigger: str | None = None,
    instrument_id: str = "AAPL",
    **fields: Any,
) -> Order:
    return Order(
        client_order_id=f"O-T1-S1-{next(_seq)}",
        instrument_id=instrument_id,
        strategy_id="S1",
        side=OrderSide(side),
        type=type,
        quantity=Decimal(qty),
        ts_init=0,
        price=Decimal(price) if price else None,
        trigger_price=Decimal(trigger) if trigger else None,
        **fields,
    )
