"""The shared Broker contract, for CcxtBroker driving ccxt's binance class against the Binance fake."""

from __future__ import annotations

from decimal import Decimal

from tests.contract.broker_contract import check_broker_contract
from tests.contract.ccxt.harness import run
from tests.fakes.binance_fake import BinanceFake

from traderbot.brokers.ccxt import CcxtBroker


async def _contract(fake: BinanceFake, broker: CcxtBroker) -> None:
    await check_broker_contract(
        broker, instrument_id="BTCUSDT", quantity=Decimal("0.001"), far_limit_price=Decimal("10000.00")
    )
    assert fake.requests.count(("POST", "/api/v3/order")) == 3  # buy, far limit, sell: nothing sent twice
    assert set(fake.submissions.values()) == {1}


def test_contract_with_lookup_by_client_order_id() -> None:
    async def scenario(fake: BinanceFake, broker: CcxtBroker) -> None:
        await _contract(fake, broker)
        assert fake.client_id_queries > 0 and fake.requests.count(("GET", "/api/v3/allOrders")) == 0

    run(scenario)


def test_contract_with_the_scan_fallback_for_client_ids() -> None:
    """Exchanges without a lookup by client id: the adapter scans recent orders (allOrders on Binance)."""

    async def scenario(fake: BinanceFake, broker: CcxtBroker) -> None:
        await _contract(fake, broker)
        assert fake.requests.count(("GET", "/api/v3/allOrders")) > 0
        assert fake.client_id_queries == 0

    run(scenario, client_id_lookup=False)
