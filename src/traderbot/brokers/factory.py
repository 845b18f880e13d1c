"""One line of configuration picks the broker: `oanda`, `alpaca`, `ccxt:<exchange id>` or `ninjatrader`.

Credentials and folders come from the environment (or the secrets file named by TRADERBOT_SECRETS_FILE); a
missing one is a one-line MissingCredential naming the variable. Adapters are imported only when chosen.
OANDA_REST_URL / OANDA_STREAM_URL override OANDA's hosts (a proxy, or a local fake in tests).
"""

from __future__ import annotations

import os
from typing import Any

from traderbot.brokers.base import Broker
from traderbot.errors import UserError

BROKERS = ("oanda", "alpaca", "ccxt:<exchange id>", "ninjatrader")


def create_broker(spec: str) -> Broker:
    name, _, arg = spec.strip().partition(":")
    name = name.lower()
    if name == "oanda":
        from traderbot.brokers.oanda import OandaBroker, OandaConfig

        hosts = (("rest_url", "OANDA_REST_URL"), ("stream_url", "OANDA_STREAM_URL"))
        urls: dict[str, Any] = {k: os.environ[e] for k, e in hosts if os.environ.get(e)}
        return OandaBroker(OandaConfig.from_env(**urls))
    if name == "alpaca":
        from traderbot.brokers.alpaca import AlpacaBroker, AlpacaConfig

        return AlpacaBroker(AlpacaConfig.from_env())
    if name == "ccxt":
        if not arg:
            raise UserError("ccxt needs an exchange id, e.g. ccxt:binance or ccxt:kraken")
        from traderbot.brokers.ccxt import CcxtBroker, CcxtConfig

        return CcxtBroker(CcxtConfig.from_env(arg))
    if name == "ninjatrader":
        from traderbot.brokers.ninjatrader import NinjaTraderBroker, NinjaTraderConfig

        return NinjaTraderBroker(NinjaTraderConfig.from_env())
    raise UserError(f"unknown broker {spec!r}; choose one of: {', '.join(BROKERS)}")
