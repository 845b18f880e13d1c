"""Configuration: credentials from the environment, hosts per environment, and the token kept secret."""

from __future__ import annotations

import asyncio
import logging
from decimal import Decimal
from pathlib import Path

import pytest
from tests.contract.broker_contract import make_order
from tests.contract.oanda.support import TOKEN, eventually, run
from tests.fakes.oanda_fake import OandaFake

from traderbot.brokers.base import BrokerError, MissingCredential, PriceTick
from traderbot.brokers.credentials import Secret
from traderbot.brokers.oanda import OandaBroker, OandaConfig

ACCOUNT = "101-004-1234567-001"


def test_missing_token_is_one_line_naming_the_variable() -> None:
    with pytest.raises(MissingCredential) as err:
        OandaConfig.from_env(env={"OANDA_ACCOUNT_ID": ACCOUNT})
    message = str(err.value)
    assert "OANDA_API_TOKEN" in message and "\n" not in message and message.endswith(".")
    with pytest.raises(MissingCredential, match="OANDA_ACCOUNT_ID"):
        OandaConfig.from_env(env={"OANDA_API_TOKEN": TOKEN})


def test_environment_selects_practice_or_live_hosts_and_tests_can_override_them(tmp_path: Path) -> None:
    practice = OandaConfig.from_env(env={"OANDA_API_TOKEN": TOKEN, "OANDA_ACCOUNT_ID": ACCOUNT})
    assert practice.environment == "practice" and practice.account_id == ACCOUNT
    assert (practice.rest_base, practice.stream_base) == (
        "https://api-fxpractice.oanda.com", "https://stream-fxpractice.oanda.com",
    )  # fmt: skip
    secrets = tmp_path / "secrets.env"
    secrets.write_text(f"OANDA_API_TOKEN={TOKEN}\nOANDA_ACCOUNT_ID={ACCOUNT}\n", encoding="utf-8")
    live = OandaConfig.from_env(env={"OANDA_ENVIRONMENT": "live"}, secrets_file=secrets)
    assert live.token == Secret(TOKEN)
    assert (live.rest_base, live.stream_base) == (
        "https://api-fxtrade.oanda.com",
        "https://stream-fxtrade.oanda.com",
    )
    local = OandaConfig(
        account_id=ACCOUNT, token=Secret(TOKEN), rest_url="http://127.0.0.1:1/", stream_url="http://x"
    )
    assert (local.rest_base, local.stream_base) == ("http://127.0.0.1:1", "http://x")


def test_invalid_settings_cannot_be_constructed() -> None:
    with pytest.raises(ValueError, match="use 'practice' or 'live'"):
        OandaConfig(account_id=ACCOUNT, token=Secret(TOKEN), environment="demo")
    with pytest.raises(ValueError, match="M \\(mid\\), B \\(bid\\) or A \\(ask\\)"):
        OandaConfig(account_id=ACCOUNT, token=Secret(TOKEN), price_component="X")
    with pytest.raises(ValueError, match="stall_timeout must be positive"):
        OandaConfig(account_id=ACCOUNT, token=Secret(TOKEN), stall_timeout=0)


def test_token_never_appears_in_repr_logs_or_errors(
    fake: OandaFake, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)  # every logger, httpx and httpcore included
    config = OandaConfig(account_id=ACCOUNT, token=Secret(TOKEN))
    assert TOKEN not in repr(config) and TOKEN not in str(config) and "***" in repr(config)
    errors: list[BaseException] = []

    async def body(broker: OandaBroker) -> None:
        assert TOKEN not in repr(broker)
        fake.fail_next("orders.create", 400, error_code="MARKET_HALTED")
        fake.fail_next("positions.open", 500)
        fake.delay_next("orders.pending", 1.0)
        for call in (
            broker.submit(make_order("EURUSD", "buy", Decimal(1))),
            broker.submit(make_order("EURUSD", "buy", Decimal("1.5"))),
            broker.positions(),
            broker.open_orders(),
        ):
            try:
                await call
            except BrokerError as exc:
                errors.append(exc)
        await broker.submit(make_order("EURUSD", "buy", Decimal(1)))
        ticks: list[PriceTick] = []

        async def consume() -> None:
            async for tick in broker.prices(["EURUSD"]):
                ticks.append(tick)

        task = asyncio.create_task(consume())
        await eventually(lambda: len(ticks) == 1, what="a price")
        task.cancel()

    run(fake, body, timeout=0.5)
    assert len(errors) == 2  # the reject and the precision check; the timed-out GET was retried
    assert "retry 1" in caplog.text
    assert "HTTP Request" in caplog.text  # httpx did log its requests
    assert TOKEN not in caplog.text
    assert all(TOKEN not in str(e) and TOKEN not in repr(e) for e in errors)


def test_wrong_token_is_not_logged_either(fake: OandaFake, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)

    async def body(broker: OandaBroker) -> None:
        with pytest.raises(BrokerError) as err:
            await broker.connect()
        assert "tok-wrong-123" not in str(err.value)

    run(fake, body, connect=False, token=Secret("tok-wrong-123"))
    assert "tok-wrong-123" not in caplog.text
