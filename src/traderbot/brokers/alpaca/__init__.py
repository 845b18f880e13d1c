"""Alpaca adapter: `AlpacaBroker(AlpacaConfig.from_env())` (paper trading unless `paper=False`)."""

from traderbot.brokers.alpaca.broker import AlpacaBroker
from traderbot.brokers.alpaca.config import AlpacaConfig

__all__ = ["AlpacaBroker", "AlpacaConfig"]
