"""The fake run standalone in another process (as the crash-safety test runs it), driven over its control routes."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import httpx
import pytest
from tests.contract.broker_contract import make_order
from tests.fakes.oanda_fake import OandaFake

from traderbot.brokers.base import BrokerUnavailable
from traderbot.brokers.credentials import Secret
from traderbot.brokers.oanda import OandaBroker, OandaConfig
from traderbot.model.enums import OrderStatus

ROOT = Path(__file__).resolve().parents[3]
ACCOUNT = "101-004-7777777-001"


@pytest.fixture
def server() -> Iterator[str]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.fakes.oanda_fake", "--port", "0", "--token", "T0", "--account", ACCOUNT,
         "--heartbeat", "0.2"],
        cwd=ROOT, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert line.startswith("OANDA fake listening on http://127.0.0.1:"), line
        yield line.rsplit(" ", 1)[1].strip()
    finally:
        proc.terminate()
        proc.wait(10)


def test_standalone_fake_serves_the_adapter_and_obeys_its_control_routes(server: str) -> None:
    config = OandaConfig(
        account_id=ACCOUNT, token=Secret("T0"), rest_url=server, stream_url=server, timeout=2
    )

    async def main() -> None:
        broker = OandaBroker(config)
        async with httpx.AsyncClient(base_url=server) as control:
            try:
                await broker.connect()
                r = await control.post(
                    "/_fake/price", json={"instrument": "EURUSD", "bid": "1.2", "ask": "1.2002"}
                )
                assert r.status_code == 200
                await control.post("/_fake/partial", json={"fraction": "0.5"})
                order = make_order("EURUSD", "buy", Decimal(10))
                ack = await broker.submit(order)
                assert (ack.status, ack.filled_qty, ack.avg_price) == (
                    OrderStatus.PARTIALLY_FILLED, Decimal(5), Decimal("1.20020"),
                )  # fmt: skip
                r = await control.post(
                    "/_fake/fill_remaining", json={"client_order_id": order.client_order_id}
                )
                assert r.json()["orderFillTransaction"]["units"] == "5"
                seen = await broker.order(order.client_order_id)
                assert seen is not None and seen.status is OrderStatus.FILLED and seen.filled_qty == 10
                await control.post("/_fake/fail", json={"route": "orders.create", "status": 503})
                again = make_order("EURUSD", "buy", Decimal(1))
                with pytest.raises(BrokerUnavailable):
                    await broker.submit(again)
                counts = (await control.get("/_fake/submissions")).json()
                assert counts == {order.client_order_id: 1, again.client_order_id: 1}
            finally:
                await broker.close()

    asyncio.run(main())


def test_fake_also_runs_inside_the_tests_own_event_loop() -> None:
    async def main() -> None:
        fake = await OandaFake(token="T1", heartbeat=0.2).start_async()
        config = OandaConfig(
            account_id=fake.account_id, token=Secret("T1"), rest_url=fake.url, stream_url=fake.url
        )
        broker = OandaBroker(config)
        try:
            await broker.connect()
            fake.set_price("EURUSD", "1.30000", "1.30010")
            ack = await broker.submit(make_order("EURUSD", "sell", Decimal(3)))
            assert (ack.status, ack.avg_price) == (OrderStatus.FILLED, Decimal("1.30000"))
            assert fake.submission_count(ack.client_order_id) == 1
        finally:
            await broker.close()
            await fake.stop_async()

    asyncio.run(main())
