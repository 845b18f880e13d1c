"""Runs one scenario against a real CcxtBroker (ccxt's binance class) wired to a fresh BinanceFake."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import Any
from urllib.parse import urlsplit

import ccxt
from tests.fakes.binance_fake import BinanceFake

from traderbot.brokers.ccxt import CcxtBroker, CcxtConfig
from traderbot.brokers.credentials import Secret
from traderbot.model.enums import OrderSide, OrderType
from traderbot.model.order import Order

Scenario = Callable[[BinanceFake, CcxtBroker], Awaitable[None]]
_seq = iter(range(1, 1_000_000))
# ccxt options that keep binance on the spot endpoints the fake serves (no sapi/fapi/dapi calls)
SPOT_ONLY = {"fetchMarkets": {"types": ["spot"]}, "fetchCurrencies": False, "fetchMargins": False}
CLOSED = "http://127.0.0.1:9"  # nothing listens there: a request that goes there fails loudly


def urls_at(base: str, section: str = "api") -> dict[str, str]:
    """Every URL ccxt's binance class has in `section`, moved to `base` with the same path."""
    return {key: base + urlsplit(url).path for key, url in ccxt.binance().urls[section].items()}


def config_for(fake: BinanceFake, **overrides: Any) -> CcxtConfig:
    """Live URLs at the fake (sandbox off), tiny request spacing, short timeouts and poll intervals."""
    fields: dict[str, Any] = {
        "exchange_id": "binance",
        "api_key": Secret(fake.api_key),
        "secret": Secret(fake.secret),
        "sandbox": False,
        "options": SPOT_ONLY,
        "urls": {"api": urls_at(fake.url), "test": urls_at(CLOSED, "test")},
        "timeout_ms": 1500,
        "rate_limit_ms": 1,
        "symbols": {"BTCUSDT": "BTC/USDT", "ETHUSDT": "ETH/USDT"},
        "poll_interval": 0.05,
        "price_interval": 0.05,
        "max_backoff": 0.2,
        "close_wait_ms": 0,  # plain HTTP to the fake: no TLS shutdown to wait for
    }
    fields.update(overrides)
    return CcxtConfig(**fields)


def run(scenario: Scenario, *, connect: bool = True, **overrides: Any) -> None:
    async def main() -> None:
        async with BinanceFake() as fake:
            broker = CcxtBroker(config_for(fake, **overrides))
            try:
                if connect:
                    await broker.connect()
                await asyncio.wait_for(scenario(fake, broker), 20)
            finally:
                await broker.close()

    asyncio.run(main())


def order(
    side: str,
    qty: str,
    *,
    type: OrderType = OrderType.MARKET,
    price: str | None = None,
    trigger: str | None = None,
    instrument: str = "BTCUSDT",
) -> Order:
    return Order(
        client_order_id=f"O-T1-S1-{next(_seq)}",
        instrument_id=instrument,
        strategy_id="S1",
        side=OrderSide(side),
        type=type,
        quantity=Decimal(qty),
        ts_init=0,
        price=Decimal(price) if price is not None else None,
        trigger_price=Decimal(trigger) if trigger is not None else None,
    )


async def until(condition: Callable[[], bool], what: str, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.01)
