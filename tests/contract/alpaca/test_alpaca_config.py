"""Configuration, credentials and secrecy: missing keys are one clear line; secrets never appear anywhere."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path

import pytest
from tests.contract.alpaca.harness import order, run, until
from tests.fakes.alpaca_fake import AlpacaFake

from traderbot.brokers.alpaca import AlpacaBroker, AlpacaConfig
from traderbot.brokers.base import BrokerEvent, BrokerRejected, MissingCredential
from traderbot.brokers.credentials import Secret
from traderbot.brokers.factory import create_broker
from traderbot.core.messages import OrderFilled

SECRET = "fake-secret"  # AlpacaFake's default secret key


def test_missing_key_id_is_one_line_naming_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("APCA_API_KEY_ID", raising=False)
    monkeypatch.delenv("TRADERBOT_SECRETS_FILE", raising=False)
    monkeypatch.setenv("APCA_API_SECRET_KEY", "s3cr3t")
    with pytest.raises(MissingCredential) as err:
        AlpacaConfig.from_env()
    assert "APCA_API_KEY_ID" in str(err.value) and "\n" not in str(err.value)
    with pytest.raises(MissingCredential, match="APCA_API_KEY_ID"):
        create_broker("alpaca")  # the one-line configuration path
    with pytest.raises(MissingCredential, match="APCA_API_SECRET_KEY"):
        AlpacaConfig.from_env({"APCA_API_KEY_ID": "PK1"})


def test_credentials_come_from_a_secrets_file_too(tmp_path: Path) -> None:
    path = tmp_path / "secrets.env"
    path.write_text("APCA_API_KEY_ID=PKFILE\nexport APCA_API_SECRET_KEY='from-file'\n")
    cfg = AlpacaConfig.from_env({}, secrets_file=path, timeout=3.0)
    assert cfg.key_id.reveal() == "PKFILE" and cfg.secret_key.reveal() == "from-file" and cfg.timeout == 3.0


def test_paper_is_the_default_and_live_must_be_asked_for() -> None:
    paper = AlpacaConfig(Secret("k"), Secret("s"))
    assert paper.trading_base == "https://paper-api.alpaca.markets"
    assert paper.stream_endpoint == "wss://paper-api.alpaca.markets/stream"
    live = AlpacaConfig(Secret("k"), Secret("s"), paper=False)
    assert live.trading_base == "https://api.alpaca.markets" and live.stream_endpoint.startswith("wss://api.")


@pytest.mark.parametrize(
    "bad",
    [{"timeout": 0}, {"max_retries": -1}, {"feed": "nasdaq"}, {"max_reconnects": 0}, {"reconnect_min": -1}],
)
def test_an_invalid_configuration_cannot_be_built(bad: dict[str, object]) -> None:
    with pytest.raises(ValueError, match="AlpacaConfig"):
        AlpacaConfig(Secret("k"), Secret("s"), **bad)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="Secret"):
        AlpacaConfig("k", "s")  # type: ignore[arg-type]


def test_secrets_never_appear_in_repr_or_logs(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)  # everything, including websockets, urllib3 and alpaca-py

    async def scenario(fake: AlpacaFake, broker: AlpacaBroker) -> None:
        assert (
            SECRET not in repr(broker.config)
            and SECRET not in repr(broker)
            and SECRET not in str(broker.config)
        )
        await broker.connect()
        stream = broker.transactions()
        fill = asyncio.create_task(_first(stream, OrderFilled))
        await until(lambda: fake.stream_connections == 1, "the stream")
        fake.fail_next("GET", "/v2/positions", 500)  # a retried failure is logged
        await broker.positions()
        with pytest.raises(BrokerRejected) as err:
            await broker.submit(order("buy", "1000000"))  # a refusal is logged
        assert SECRET not in str(err.value)
        await broker.submit(order())
        await asyncio.wait_for(fill, 5)
        await stream.aclose()  # type: ignore[attr-defined]

    run(scenario)
    assert "retry 1 of 3" in caplog.text and "insufficient buying power" in caplog.text  # the run did log
    assert "authenticate" not in caplog.text  # websocket frames (our login among them) are never logged
    assert SECRET not in caplog.text and "PKFAKEKEY" not in caplog.text


async def _first(stream: AsyncIterator[BrokerEvent], kind: type) -> BrokerEvent:
    async for ev in stream:
        if isinstance(ev, kind):
            return ev
    raise AssertionError(f"the stream ended without a {kind.__name__}")


def test_prices_quantities_and_money_stay_exact_decimals() -> None:
    async def scenario(fake: AlpacaFake, broker: AlpacaBroker) -> None:
        fake.set_price("AAPL", Decimal("190.07"))
        await broker.submit(order("buy", "3"))
        (pos,) = await broker.positions()
        account = await broker.account()
        assert pos.avg_price == Decimal("190.07") and pos.quantity == Decimal("3")
        assert account.balance == Decimal("100000") - Decimal("570.21")

    run(scenario)
