"""Credentials, configuration errors, secrets kept out of logs and reprs, and sandbox URL selection."""

from __future__ import annotations

import asyncio
import logging
from decimal import Decimal

import pytest
from tests.contract.ccxt.harness import CLOSED, SPOT_ONLY, config_for, order, run, urls_at
from tests.fakes.binance_fake import BinanceFake

from traderbot.brokers.base import BrokerAuthError, BrokerUnavailable, MissingCredential
from traderbot.brokers.ccxt import CcxtBroker, CcxtConfig
from traderbot.brokers.ccxt.session import NoSandbox
from traderbot.brokers.credentials import Secret


def test_a_wrong_secret_fails_the_signature_check_with_an_auth_error() -> None:
    async def scenario(fake: BinanceFake, broker: CcxtBroker) -> None:
        with pytest.raises(BrokerAuthError) as err:
            await broker.connect()
        assert err.value.code == "-1022" and "Signature for this request is not valid" in str(err.value)
        assert "CCXT_BINANCE_" in str(err.value)

    run(scenario, connect=False, secret=Secret("not-the-secret"))


def test_an_unknown_api_key_is_refused_with_401_and_an_auth_error() -> None:
    async def scenario(fake: BinanceFake, broker: CcxtBroker) -> None:
        with pytest.raises(BrokerAuthError) as err:
            await broker.connect()
        assert err.value.code == "-2015"

    run(scenario, connect=False, api_key=Secret("someone-elses-key"))


def test_missing_credential_is_one_line_naming_the_variable(tmp_path: object) -> None:
    with pytest.raises(MissingCredential) as err:
        CcxtConfig.from_env("binance", env={})
    message = str(err.value)
    assert "CCXT_BINANCE_API_KEY" in message and "\n" not in message
    with pytest.raises(MissingCredential, match="CCXT_BINANCE_SECRET"):
        CcxtConfig.from_env("binance", env={"CCXT_BINANCE_API_KEY": "k"})


def test_from_env_reads_a_password_only_where_the_exchange_requires_one() -> None:
    cfg = CcxtConfig.from_env("binance", env={"CCXT_BINANCE_API_KEY": "k", "CCXT_BINANCE_SECRET": "s"})
    assert cfg.api_key == Secret("k") and cfg.secret == Secret("s") and cfg.password is None and cfg.sandbox
    with pytest.raises(MissingCredential, match="CCXT_OKX_PASSWORD"):
        CcxtConfig.from_env("okx", env={"CCXT_OKX_API_KEY": "k", "CCXT_OKX_SECRET": "s"})
    okx = CcxtConfig.from_env(
        "okx", env={"CCXT_OKX_API_KEY": "k", "CCXT_OKX_SECRET": "s", "CCXT_OKX_PASSWORD": "p"}
    )
    assert okx.password == Secret("p")


def test_an_unknown_exchange_id_is_one_line_saying_how_to_list_valid_ids() -> None:
    with pytest.raises(ValueError) as err:
        CcxtConfig(exchange_id="binanse")
    assert "'binanse'" in str(err.value) and "ccxt.exchanges" in str(err.value) and "\n" not in str(err.value)


def test_secrets_never_reach_logs_reprs_or_errors(caplog: pytest.LogCaptureFixture) -> None:
    errors: list[str] = []

    async def scenario(fake: BinanceFake, broker: CcxtBroker) -> None:
        await broker.submit(order("buy", "0.001"))
        fake.fail_next("POST /api/v3/order", 400, body={"code": -2010, "msg": "Duplicate order sent."})
        try:
            await broker.submit(order("buy", "0.001"))
        except Exception as exc:
            errors.append(str(exc))
        errors.extend([repr(broker), repr(broker.config), str(broker.config)])

    with caplog.at_level(logging.DEBUG):
        run(scenario)
    text = caplog.text + "\n".join(errors)
    assert "POST" in caplog.text and "/api/v3/order" in caplog.text  # ccxt's request log was captured
    assert "fake-api-key" not in text and "fake-secret" not in text
    assert "***" in caplog.text  # the API key header was there, redacted


def test_sandbox_mode_sends_everything_to_the_exchanges_test_urls() -> None:
    async def main() -> None:
        async with BinanceFake() as fake:
            config = config_for(
                fake, sandbox=True, urls={"api": urls_at(CLOSED), "test": urls_at(fake.url, "test")}
            )
            broker = CcxtBroker(config)
            try:
                await broker.connect()  # live URLs point nowhere: only the test URLs can answer
                assert (await broker.account()).balance == Decimal("100000")
                assert broker.exchange.urls["api"]["private"] == f"{fake.url}/api/v3"
            finally:
                await broker.close()
            live = CcxtBroker(config_for(fake, sandbox=False, urls={"api": urls_at(CLOSED)}, timeout_ms=500))
            try:
                with pytest.raises(BrokerUnavailable):
                    await live.connect()  # sandbox off really means the live URLs
            finally:
                await live.close()

    asyncio.run(main())


def test_sandbox_is_refused_clearly_where_the_exchange_has_none() -> None:
    cfg = CcxtConfig(exchange_id="kraken", options=SPOT_ONLY)

    async def main() -> None:
        with pytest.raises(NoSandbox, match=r"kraken has no sandbox.*sandbox=False"):
            await CcxtBroker(cfg).connect()

    asyncio.run(main())
