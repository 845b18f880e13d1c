"""Crypto exchanges through ccxt (any exchange ccxt supports): `CcxtBroker` configured by `CcxtConfig`."""

from traderbot.brokers.ccxt.broker import CcxtBroker
from traderbot.brokers.ccxt.config import CcxtConfig

__all__ = ["CcxtBroker", "CcxtConfig"]
