"""The shared Broker contract, with the real adapter against the fake NinjaTrader 8 on real folders."""

from __future__ import annotations

import asyncio
from decimal import Decimal

from tests.contract.broker_contract import check_broker_contract
from tests.fakes.ninjatrader_fake import NinjaTraderFake

from traderbot.brokers.base import Broker
from traderbot.brokers.ninjatrader import NinjaTraderBroker


def test_ninjatrader_adapter_passes_the_broker_contract(
    fake: NinjaTraderFake, broker: NinjaTraderBroker
) -> None:
    async def run() -> None:
        await broker.connect()
        await check_broker_contract(
            broker, instrument_id="ES", quantity=Decimal(1), far_limit_price=Decimal("1000")
        )
        await broker.close()

    asyncio.run(run())
    assert isinstance(broker, Broker)
    assert fake.malformed == []
    assert fake.place_counts and set(fake.place_counts.values()) == {1}, fake.place_counts
