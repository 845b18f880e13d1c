"""The shared Broker contract, run by the real AlpacaBroker against the local Alpaca fake."""

from __future__ import annotations

from decimal import Decimal

from tests.contract.alpaca.harness import run
from tests.contract.broker_contract import check_broker_contract
from tests.fakes.alpaca_fake import AlpacaFake

from traderbot.brokers.alpaca import AlpacaBroker
from traderbot.brokers.base import Broker


def test_alpaca_broker_passes_the_broker_contract() -> None:
    async def scenario(fake: AlpacaFake, broker: AlpacaBroker) -> None:
        await broker.connect()
        await check_broker_contract(
            broker, instrument_id="AAPL", quantity=Decimal("5"), far_limit_price=Decimal("100.00")
        )
        assert set(fake.submissions.values()) == {1}, fake.submissions  # every order sent exactly once
        assert len(fake.submissions) == 3

    run(scenario)


def test_alpaca_broker_is_a_broker() -> None:
    async def scenario(fake: AlpacaFake, broker: AlpacaBroker) -> None:
        assert isinstance(broker, Broker) and broker.name == "alpaca"

    run(scenario)
